"""Resource-policy checks: statements that let anyone in (AWS Security Hub User Guide: Lambda.1, "Lambda
function policies should prohibit public access"; SQS and SNS public-access checks of Prowler), and the
removal of exactly those statements.

A statement lets anyone in when it is an ``Allow`` whose principal is ``*`` (or ``{"AWS": "*"}``) with no
condition: a condition (``aws:SourceArn``, ``aws:SourceAccount``, ``aws:PrincipalOrgID`` …) may fence it,
which the blast radius then judges; it is not removed on a check's word.
"""

from __future__ import annotations

import json
from typing import Any

from analyzer.checks import Check, Derived, register


def _statements(doc: Any) -> list[dict[str, Any]]:
    if isinstance(doc, str):
        try:
            doc = json.loads(doc)
        except json.JSONDecodeError:
            return []
    st = (doc or {}).get("Statement") if isinstance(doc, dict) else None
    return [st] if isinstance(st, dict) else [s for s in st or [] if isinstance(s, dict)]


def _public(st: dict[str, Any]) -> bool:
    p = st.get("Principal")
    everyone = p == "*" or (isinstance(p, dict) and (p.get("AWS") == "*" or p.get("AWS") == ["*"]))
    return st.get("Effect") == "Allow" and everyone and not st.get("Condition")


def remove_public(node: dict[str, Any]) -> Derived:
    rid = node.get("id")
    found = [s for s in _statements(node.get("policy")) if _public(s)]
    if not found:
        return Derived(
            {"statement_ids": []}, f"the policy of {rid} lets no one in unconditionally: the check passes"
        )
    sids = [str(s["Sid"]) for s in found if s.get("Sid")]
    bare = [s for s in found if not s.get("Sid")]
    delta: dict[str, Any] = {}
    if sids:
        delta["statement_ids"] = sids
    if bare:
        delta["statements"] = bare
    shown = ", ".join(sids + [f"#{i}" for i in range(len(bare))])
    return Derived(delta, f"the policy of {rid} allows anyone with no condition in statement(s) {shown}")


SH = "AWS Security Hub User Guide"
for ids, what in (
    (
        ("Lambda.1", "awslambda_function_not_publicly_accessible"),
        f"{SH}, Lambda.1: function policies should prohibit public access",
    ),
    (
        ("sqs_queues_not_publicly_accessible",),
        "Prowler check metadata: SQS queues should not be publicly accessible",
    ),
    (
        ("sns_topics_not_publicly_accessible",),
        "Prowler check metadata: SNS topics should not be publicly accessible",
    ),
):
    register(Check(ids, "resource_policy.remove_statements", "node", remove_public, what))


def access_point_fix(item: dict[str, Any]) -> Derived:
    return Derived(
        {},
        f"S3 cannot change the Block Public Access settings of access point {item.get('id')} after it is "
        "created (Amazon S3 User Guide, 'Managing public access to access points'): the fix replaces the "
        "access point, which no change kind here expresses, so it stays a runbook",
        determined=False,
    )


register(
    Check(
        ("S3.19", "s3_access_point_public_access_block"),
        "opaque.runbook",
        "finding",
        access_point_fix,
        f"{SH}, S3.19: S3 access points should have block public access settings enabled",
    )
)
