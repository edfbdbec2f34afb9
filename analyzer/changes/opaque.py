"""``opaque.runbook``: a remediation whose effect Blastwall cannot see (a runbook, an SSM document, a
control with no lookup entry). Scored conservatively: its effect is unknown, so it is never ``auto``."""

from __future__ import annotations

from analyzer.changes import ChangeKind, register

KIND = register(
    ChangeKind(
        name="opaque.runbook",
        summary="A runbook or control whose exact effect is not known.",
        delta_schema={"type": "object"},
        example={"runbook": "AWS-DisablePublicAccessForSecurityGroup"},
        apply=None,
        invert=None,
        invertible=False,
    )
)
