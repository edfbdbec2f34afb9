"""Blast radius of ``resource_policy.remove_statements``: every observed call to the resource and every
principal the removed statements named, decided by AWS's evaluation logic with the resource policy before
and after; severed = allowed (or conditionally allowed) before and denied after. The rollback puts the
previous document back and must restore every decision."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from analyzer.changes import get_kind
from analyzer.iam.authorize import Target, authorize
from analyzer.iam.evaluate import Decision, PolicySet
from analyzer.iam.policy import parse_lenient
from analyzer.scoring.access import ACCESS_ACTIONS
from analyzer.scoring.assume import principals_by_account
from analyzer.scoring.context import ANONYMOUS, POLICY_RESOURCE_KINDS, Context, account_of
from analyzer.scoring.outcome import Outcome, config_digest, in_window, severed_entry
from analyzer.timeutil import iso

PolicyOutcome = Outcome


def request_resource(resource: str, action: str) -> str:
    """S3 object actions are decided on the bucket's objects (``bucket/*``) when evidence names the bucket."""
    if resource.startswith("arn:aws:s3:::") and "/" not in resource and "Object" in action:
        return f"{resource}/*"
    return resource


def _with_policy(base: Target, label: str, doc: Any) -> Target:
    if doc is None:
        return Target(base.arn, base.account, base.kind, None, True, base.tags, base.org_id)
    parsed = parse_lenient(doc, where=label)
    return Target(
        base.arn,
        base.account,
        base.kind,
        PolicySet.of(label, parsed.statements, parsed.unreadable),
        True,
        base.tags,
        base.org_id,
    )


def _named(st: Any, by_account: dict[str, list[str]]) -> list[str]:
    """The principals an ``AWS`` principal list names: an account (id or root) names its principals (or its
    root when the account was not collected); ``*`` names everyone, anonymous callers included."""
    out: list[str] = []
    for value in st.principals.get("AWS", ()):
        if value == "*":
            out.append(ANONYMOUS)
            continue
        acct = value if value.isdigit() else account_of(value)
        if value.isdigit() or value.endswith(":root"):
            out += by_account.get(acct) or [f"arn:aws:iam::{acct}:root"]
        else:
            out.append(value)
    return list(dict.fromkeys(out))


def resource_policy_change(
    ctx: Context, proposal: dict[str, Any], start: datetime, as_of: datetime
) -> PolicyOutcome:
    change = proposal["change"]
    kind = get_kind(change["kind"])
    assert kind.apply is not None and kind.invert is not None
    out = PolicyOutcome()
    arn = change.get("target") or ""
    node = ctx.snap.node(arn)
    if node is None or not node.props or node.kind not in POLICY_RESOURCE_KINDS:
        return out.target_missing(f"{arn} is not in the snapshot")
    out.account = node.account or account_of(arn)
    if not node.props.get("policy_collected", True):
        out.unknowns.append(
            {"reason": "policy_not_collected", "detail": f"the policy of {arn} was not collected"}
        )
    before_doc = node.props.get("policy")
    after_doc = kind.apply(before_doc, change["delta"])
    before_parsed = parse_lenient(before_doc).statements if before_doc is not None else []
    after_parsed = parse_lenient(after_doc).statements if after_doc is not None else []
    out.applied = before_parsed == after_parsed
    label = f"{arn}#{'key-policy' if node.kind == 'KmsKey' else 'policy'}"
    base = ctx.target(arn)
    t_after = _with_policy(base, label, after_doc)
    removed = [s for s in before_parsed if s not in after_parsed]

    # requests: observed calls to the resource, and the principals the removed statements named
    rows: dict[tuple[str, str, str], Any] = {}
    for e in ctx.snap.edges_under("OBSERVED_CALL", arn):
        action = str(e.props.get("action") or e.key or "")
        if ":" in action:
            rows.setdefault((e.src, action, request_resource(e.dst, action)), e)
    service = arn.split(":")[2]
    by_account = principals_by_account(ctx)
    for st in removed:
        actions = [a for a in st.actions if "*" not in a and "?" not in a] or list(
            ACCESS_ACTIONS.get(service, ())
        )
        for who in _named(st, by_account):
            for act in actions:
                rows.setdefault((who, act, request_resource(arn, act)), None)
    lo, hi = iso(start), iso(as_of)
    before_states: dict[tuple[str, str, str], str] = {}
    for (principal, action, resource), edge in sorted(rows.items(), key=lambda kv: kv[0]):
        subject = ctx.subject(principal)
        tb = Target(resource, base.account, base.kind, base.policy, base.policy_known, base.tags, base.org_id)
        ta = Target(
            resource, t_after.account, t_after.kind, t_after.policy, True, t_after.tags, t_after.org_id
        )
        b: Decision = authorize(subject, action, tb)
        a: Decision = authorize(subject, action, ta)
        before_states[(principal, action, resource)] = b.state
        if b.state == "allowed" and a.state == "conditional":
            out.unknowns.append(
                {
                    "reason": "access_may_be_severed",
                    "detail": f"{principal} -> {arn} ({action}) would be allowed only if {', '.join(a.missing_context)}",
                }
            )
        if b.state == "denied" or a.state != "denied":
            continue
        observed = in_window(edge, lo, hi)
        out.severed.append(
            severed_entry(
                ctx,
                principal,
                arn,
                action,
                edge=edge,
                observed=observed,
                before={
                    "decision": b.state,
                    "statements": list(b.statements),
                    "missing_context": list(b.missing_context),
                },
                reason=a.reason,
            )
        )
        if b.state == "conditional":
            out.unknowns.append(
                {
                    "reason": "conditional_access",
                    "detail": f"{principal} -> {arn} ({action}) was allowed only if {', '.join(b.missing_context)}",
                }
            )
    out.severed.sort(key=lambda s: (not s["observed"], -s["events"], s["consumer"]))
    if any(s["consumer"] == ANONYMOUS for s in out.severed):
        out.notes.append(f"ends public access to {arn}: anonymous callers are refused after the change")
    # exposure: what the statements the change adds newly let in (another account, or anyone)
    for st in (x for x in after_parsed if x not in before_parsed and x.effect == "Allow"):
        actions = [a for a in st.actions if "*" not in a and "?" not in a] or list(
            ACCESS_ACTIONS.get(service, ())
        )
        for who in _named(st, by_account):
            for act in actions:
                resource = request_resource(arn, act)
                subject = ctx.subject(who)
                tb = Target(
                    resource, base.account, base.kind, base.policy, base.policy_known, base.tags, base.org_id
                )
                ta = Target(
                    resource,
                    t_after.account,
                    t_after.kind,
                    t_after.policy,
                    True,
                    t_after.tags,
                    t_after.org_id,
                )
                if authorize(subject, act, tb).state != "denied":
                    continue
                a = authorize(subject, act, ta)
                if a.state == "denied":
                    continue
                owner = account_of(who) if who != ANONYMOUS else None
                out.exposure.append(
                    {
                        "principal": who,
                        "resource": resource,
                        "access": act,
                        "after": a.state,
                        "statements": list(a.statements),
                        "scope": "public"
                        if who == ANONYMOUS
                        else "another account"
                        if owner and owner != out.account
                        else "same account",
                    }
                )
    # rollback: the previous document back must restore every decision
    inverse = kind.invert(before_doc, change["delta"])
    restored = kind.apply(after_doc, inverse)
    t_restored = _with_policy(base, label, restored)
    mismatch = []
    for (principal, action, resource), state in before_states.items():
        tr = Target(
            resource,
            t_restored.account,
            t_restored.kind,
            t_restored.policy,
            base.policy_known,
            t_restored.tags,
            t_restored.org_id,
        )
        if authorize(ctx.subject(principal), action, tr).state != state:
            mismatch.append(f"{principal} {action}")
    out.rollback = {
        "change": {"kind": kind.name, "target": arn, "delta": inverse},
        "verified": not mismatch,
        "detail": "apply then invert restores every access decision"
        if not mismatch
        else f"rollback does not restore: {', '.join(mismatch[:5])}",
        "before_digest": config_digest(before_doc),
        "after_digest": config_digest(after_doc),
    }
    return out
