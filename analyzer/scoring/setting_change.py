"""Blast radius of ``setting.harden``:

* SSE-KMS default encryption: each observed S3 writer needs ``kms:GenerateDataKey`` and each reader
  ``kms:Decrypt`` on the key, decided by AWS's evaluation logic (key policy required); those denied are
  severed, those conditional are unknowns;
* TLS-only access: callers CloudTrail recorded without ``tlsDetails`` (not over TLS) are severed; calls
  that all carried it are safe;
* IMDSv2-only: an instance whose IMDSv1 use cannot be seen (no ``MetadataNoToken`` evidence collected) is
  an unknown; one already requiring tokens is already applied;
* SQS encryption: callers CloudTrail recorded without TLS are severed (an encrypted queue takes HTTPS
  only); with a KMS key, each observed producer needs ``kms:GenerateDataKey`` and each consumer
  ``kms:Decrypt``, decided as for S3. A queue already encrypted (with either key) passes SQS.1, so a
  change to the SQS-owned key is then already applied.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from analyzer.changes import get_kind
from analyzer.iam.authorize import authorize
from analyzer.scoring.context import Context, account_of
from analyzer.scoring.outcome import Outcome, config_digest, in_window, severed_entry
from analyzer.timeutil import iso

SettingOutcome = Outcome


def _current(node: Any, setting: str) -> Any:
    props = node.props or {}
    if setting == "imdsv2_required":
        return (props.get("metadata_options") or {}).get("HttpTokens")
    if setting in ("s3_default_encryption", "sqs_encryption"):
        return props.get("encryption")  # None: not collected
    return None


def _kms_action_for(action: str) -> str | None:
    """The KMS permission a call needs once its data is encrypted with a customer key: writing (S3 put,
    SQS send) needs ``kms:GenerateDataKey``, reading (S3 get, SQS receive) ``kms:Decrypt``."""
    if action.startswith(("s3:Put", "sqs:SendMessage")):
        return "kms:GenerateDataKey"
    if action.startswith(("s3:Get", "sqs:ReceiveMessage")):
        return "kms:Decrypt"
    return None


def setting_change(
    ctx: Context, proposal: dict[str, Any], start: datetime, as_of: datetime
) -> SettingOutcome:
    change = proposal["change"]
    kind = get_kind(change["kind"])
    assert kind.apply is not None and kind.invert is not None
    delta = change["delta"]
    setting = delta["setting"]
    out = SettingOutcome()
    target = change.get("target") or ""
    node = ctx.snap.node(target)
    if node is None and setting == "imdsv2_required":
        node = next((n for n in ctx.snap.of_kind("Ec2Instance") if n.id.endswith("/" + target)), None)
    if node is None or not node.props:
        return out.target_missing(f"{target} is not in the snapshot")
    out.account = node.account or account_of(node.id)
    before = {"setting": setting, "value": _current(node, setting)}
    after = kind.apply(before, delta)
    out.applied = before == after
    if setting == "sqs_encryption" and not delta.get("kms_key"):
        out.applied = bool((before["value"] or {}).get("sse"))  # either key passes SQS.1
    lo, hi = iso(start), iso(as_of)
    if setting == "imdsv2_required" and not out.applied:
        used = node.props.get("imdsv1_requests")
        if used is None:
            out.unknowns.append(
                {
                    "reason": "no_imdsv1_evidence",
                    "detail": f"whether software on {node.id} still uses IMDSv1 cannot be seen: collect the "
                    "instance's CloudWatch MetadataNoToken metric",
                }
            )
        elif used > 0:
            out.severed.append(
                severed_entry(
                    ctx,
                    node.id,
                    "urn:aws:imds",
                    "IMDSv1 (instance metadata without a session token)",
                    observed=True,
                    events=int(used),
                    reason="the metadata service answers IMDSv2 requests only",
                )
            )
    elif setting in ("s3_default_encryption", "s3_require_tls", "sqs_encryption"):
        calls = [e for e in ctx.snap.edges_under("OBSERVED_CALL", node.id)]
        without_tls = {
            (e.src, e.dst, str(e.props.get("action") or "")): e
            for e in ctx.snap.edge_records("OBSERVED_WITHOUT_TLS")
        }
        for e in calls:
            action = str(e.props.get("action") or "")
            observed = in_window(e, lo, hi)
            if setting in ("s3_require_tls", "sqs_encryption"):
                plain = without_tls.get((e.src, e.dst, action))
                if plain is not None and not out.applied:
                    out.severed.append(
                        severed_entry(
                            ctx,
                            e.src,
                            node.id,
                            f"{action} (without TLS)",
                            edge=plain,
                            observed=in_window(plain, lo, hi),
                            reason="a bucket-policy Deny on aws:SecureTransport false"
                            if setting == "s3_require_tls"
                            else "an encrypted queue accepts HTTPS requests only",
                        )
                    )
                    continue
                if setting == "s3_require_tls" or not delta.get("kms_key") or out.applied:
                    continue  # every recorded call carried tlsDetails
            kms_action = _kms_action_for(action) if delta.get("kms_key") else None
            if kms_action is None:  # SSE-S3 / SSE-SQS: the service's own key, no permission needed
                continue
            d = authorize(ctx.subject(e.src), kms_action, ctx.target(delta["kms_key"]))
            if d.state == "conditional":
                out.unknowns.append(
                    {
                        "reason": "conditional_access",
                        "detail": f"{e.src} -> {delta['kms_key']} ({kms_action}) is allowed only if {', '.join(d.missing_context)}",
                    }
                )
            if d.state != "denied":
                continue
            out.severed.append(
                severed_entry(
                    ctx,
                    e.src,
                    node.id,
                    f"{action} (needs {kms_action} on {delta['kms_key']})",
                    edge=e,
                    observed=observed,
                    reason=d.reason,
                )
            )
        if setting in ("s3_default_encryption", "sqs_encryption") and before["value"] is None:
            out.unknowns.append(
                {
                    "reason": "setting_not_collected",
                    "detail": f"the current encryption of {node.id} was not collected",
                }
            )
    inverse = kind.invert(before, delta)
    restored = kind.apply(after, inverse)
    out.rollback = {
        "change": {"kind": kind.name, "target": node.id, "delta": inverse},
        "verified": restored == before,
        "detail": "apply then invert restores the setting"
        if restored == before
        else "the previous setting is not restorable",
        "before_digest": config_digest(before),
        "after_digest": config_digest(after),
    }
    return out
