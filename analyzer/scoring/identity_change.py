"""Blast radius of a change to a role's or user's own policies (``iam.detach_policy``,
``iam.attach_or_put_policy``, ``iam.set_permissions_boundary``): every call and role assumption the
principal was observed making, decided by AWS's evaluation logic with its identity policies and boundary
before and after. Severed = allowed (or conditionally allowed) before and denied after; for a loosening
change, the sensitive resources it newly reaches are the exposure added. The rollback (the opposite
change) must restore every decision."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from typing import Any

from analyzer.changes import get_kind
from analyzer.iam.authorize import Subject, authorize
from analyzer.iam.evaluate import PolicySet
from analyzer.iam.policy import Unreadable
from analyzer.scoring.access import ACCESS_ACTIONS, is_sensitive
from analyzer.scoring.context import Context, _policyset, account_of
from analyzer.scoring.outcome import Outcome, config_digest, in_window, severed_entry
from analyzer.scoring.policy_change import request_resource
from analyzer.timeutil import iso

KEYS = ("managed_policies", "inline_policies", "permissions_boundary")


IdentityOutcome = Outcome


def _subject(
    ctx: Context, arn: str, config: dict[str, Any], documents: dict[str, Any] | None = None
) -> Subject:
    """The principal as it would be with ``config`` (its groups' policies unchanged), and with the managed
    policies of ``documents`` at those versions (a new default version of a managed policy)."""
    base = ctx.subject(arn)
    node = ctx.snap.node(arn)
    assert node is not None
    problems: list[str] = []
    managed = {n.id: n.props.get("document") for n in ctx.snap.of_kind("ManagedPolicy")}
    managed.update(documents or {})
    identity = PolicySet()
    for ip in config.get("inline_policies") or []:
        identity = identity + _policyset(
            f"{arn}#inline:{ip['name']}", ip["document"], problems, f"{arn} inline {ip['name']}"
        )
    missing = []
    for pa in config.get("managed_policies") or []:
        if managed.get(pa) is None:
            missing.append(pa)
        identity = identity + _policyset(pa, managed.get(pa), problems, pa)
    for g in ctx.snap.of_kind("IamGroup"):
        if g.props.get("name") in (node.props.get("groups") or []):
            for ip in g.props.get("inline_policies", []):
                identity = identity + _policyset(
                    f"{g.id}#inline:{ip['name']}", ip["document"], problems, g.id
                )
            for pa in g.props.get("managed_policies", []):
                identity = identity + _policyset(pa, managed.get(pa), problems, pa)
    if missing:
        identity = identity + PolicySet(
            (), tuple(Unreadable(m, "managed policy missing from the snapshot") for m in missing)
        )
    boundary_arn = config.get("permissions_boundary")
    boundary = None
    if boundary_arn:
        boundary = _policyset(boundary_arn, managed.get(boundary_arn), problems, boundary_arn)
        if managed.get(boundary_arn) is None:
            boundary = PolicySet((), (Unreadable(boundary_arn, "boundary policy missing from the snapshot"),))
    return dataclasses.replace(base, identity=identity, boundary=boundary)


def identity_change(
    ctx: Context, proposal: dict[str, Any], start: datetime, as_of: datetime
) -> IdentityOutcome:
    change = proposal["change"]
    kind = get_kind(change["kind"])
    assert kind.apply is not None and kind.invert is not None
    out = IdentityOutcome()
    arn = change.get("target") or ""
    node = ctx.snap.node(arn)
    if node is None or not node.props or node.kind not in ("IamRole", "IamUser"):
        return out.target_missing(f"{arn} is not a role or user of the snapshot")
    out.account = account_of(arn)
    before_cfg = {k: node.props.get(k) for k in KEYS}
    after_cfg = kind.apply(before_cfg, change["delta"])
    out.applied = after_cfg == before_cfg
    s_before, s_after = _subject(ctx, arn, before_cfg), _subject(ctx, arn, after_cfg)

    lo, hi = iso(start), iso(as_of)
    before_states = _sever(ctx, out, arn, s_before, s_after, lo, hi)
    out.severed.sort(key=lambda s: (not s["observed"], -s["events"], s["provider"]))
    _exposure(ctx, out, arn, s_before, s_after)
    # rollback
    inverse = kind.invert(before_cfg, change["delta"])
    inverse_kind = get_kind(kind.inverse_kind or kind.name)
    assert inverse_kind.apply is not None
    s_restored = _subject(ctx, arn, inverse_kind.apply(after_cfg, inverse))
    mismatch = [
        f"{a} {r}"
        for (a, r), st in before_states.items()
        if authorize(s_restored, a, ctx.target(r)).state != st
    ]
    out.rollback = {
        "change": {"kind": inverse_kind.name, "target": arn, "delta": inverse},
        "verified": not mismatch,
        "detail": "apply then invert restores every access decision"
        if not mismatch
        else f"rollback does not restore: {', '.join(mismatch[:5])}",
        "before_digest": config_digest(before_cfg),
        "after_digest": config_digest(after_cfg),
    }
    return out


def managed_policy_change(
    ctx: Context, proposal: dict[str, Any], start: datetime, as_of: datetime
) -> IdentityOutcome:
    """A new version of a customer managed policy: every principal it is attached to (directly, or through
    a group for its users) re-decided with the new document."""
    change = proposal["change"]
    kind = get_kind(change["kind"])
    assert kind.apply is not None and kind.invert is not None
    out = IdentityOutcome()
    arn = change.get("target") or ""
    node = ctx.snap.node(arn)
    if node is None or node.kind != "ManagedPolicy" or not node.props:
        return out.target_missing(f"{arn} is not a managed policy of the snapshot")
    if ":aws:policy/" in arn:
        return out.target_missing(f"{arn} is an AWS managed policy: its users cannot change it")
    out.account = account_of(arn)
    before_cfg = {"document": node.props.get("document")}
    if before_cfg["document"] is None:
        out.unknowns.append(
            {"reason": "setting_not_collected", "detail": f"the current version of {arn} was not collected"}
        )
    after_cfg = kind.apply(before_cfg, change["delta"])
    out.applied = after_cfg == before_cfg
    inverse = kind.invert(before_cfg, change["delta"])
    restored = kind.apply(after_cfg, inverse)
    groups = {
        g.props.get("name")
        for g in ctx.snap.of_kind("IamGroup")
        if arn in (g.props.get("managed_policies") or [])
    }
    lo, hi = iso(start), iso(as_of)
    narrowing = narrows(before_cfg["document"], after_cfg["document"])  # then nothing new is reachable
    principals = 0
    mismatch: list[str] = []
    for p in [*ctx.snap.of_kind("IamRole"), *ctx.snap.of_kind("IamUser")]:
        props = p.props or {}
        direct = arn in (props.get("managed_policies") or [])
        if not direct and not groups.intersection(props.get("groups") or []):
            continue
        principals += 1
        cfg = {k: props.get(k) for k in KEYS}
        s_before = _subject(ctx, p.id, cfg)
        s_after = _subject(ctx, p.id, cfg, {arn: after_cfg["document"]})
        before_states = _sever(ctx, out, p.id, s_before, s_after, lo, hi)
        if not narrowing:
            _exposure(ctx, out, p.id, s_before, s_after)
        s_restored = _subject(ctx, p.id, cfg, {arn: restored["document"]})
        mismatch += [
            f"{p.id}: {a} {r}"
            for (a, r), st in before_states.items()
            if authorize(s_restored, a, ctx.target(r)).state != st
        ]
    out.severed.sort(key=lambda s: (not s["observed"], -s["events"], s["provider"], s["consumer"]))
    out.rollback = {
        "change": {"kind": kind.name, "target": arn, "delta": inverse},
        "verified": not mismatch,
        "detail": f"the previous version made default again restores every access decision of the {principals} principal(s) it is attached to"
        if not mismatch
        else f"rollback does not restore: {', '.join(mismatch[:5])}",
        "before_digest": config_digest(before_cfg),
        "after_digest": config_digest(after_cfg),
    }
    return out


def _statements(doc: Any) -> list[dict[str, Any]]:
    if isinstance(doc, str):
        try:
            doc = json.loads(doc)
        except json.JSONDecodeError:
            return []
    st = doc.get("Statement") if isinstance(doc, dict) else None
    return [st] if isinstance(st, dict) else [x for x in st or [] if isinstance(x, dict)]


def narrows(old: Any, new: Any) -> bool:
    """Whether ``new`` can only allow less than ``old``: every Allow of ``new`` is an Allow of ``old`` on
    the same resources and conditions with its actions among the old one's, and every Deny of ``old`` is
    still there. (Sufficient, not necessary: when False, the exposure is computed.)

    >>> old = {"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    >>> narrows(old, {"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]})
    True
    >>> narrows(old, {"Statement": [{"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}]})
    False
    """
    from analyzer.iam.match import action_matches

    def listed(v: Any) -> tuple[str, ...]:
        return tuple(map(str, v if isinstance(v, list) else [] if v is None else [v]))

    def scope(st: dict[str, Any]) -> str:
        keep = ("Resource", "NotResource", "Condition", "Principal", "NotPrincipal")
        return json.dumps({k: st.get(k) for k in keep}, sort_keys=True)

    before, after = _statements(old), _statements(new)
    denies = [json.dumps(st, sort_keys=True) for st in before if st.get("Effect") == "Deny"]
    kept = {json.dumps(st, sort_keys=True) for st in after}
    if any(d not in kept for d in denies):
        return False
    for st in after:
        if st.get("Effect") != "Allow":
            continue
        if "NotAction" in st:
            if not any(json.dumps(st, sort_keys=True) == json.dumps(o, sort_keys=True) for o in before):
                return False
            continue
        actions = listed(st.get("Action"))
        if not any(
            o.get("Effect") == "Allow"
            and "NotAction" not in o
            and scope(o) == scope(st)
            and all(action_matches(listed(o.get("Action")), a) for a in actions)
            for o in before
        ):
            return False
    return True


def _sever(
    ctx: Context, out: Outcome, arn: str, s_before: Subject, s_after: Subject, lo: str, hi: str
) -> dict[tuple[str, str], str]:
    """Every call and role assumption ``arn`` was observed making, decided before and after: those allowed
    (or conditional) before and denied after are severed. Returns the decisions before, for the rollback."""
    requests: dict[tuple[str, str], Any] = {}
    for e in ctx.snap.edges_from("OBSERVED_CALL", arn):
        action = str(e.props.get("action") or e.key or "")
        if ":" in action:
            requests.setdefault((action, request_resource(e.dst, action)), e)
    for e in ctx.snap.edges_from("OBSERVED_ASSUME", arn):
        requests.setdefault(("sts:AssumeRole", e.dst), e)
    before_states: dict[tuple[str, str], str] = {}
    for (action, resource), edge in sorted(requests.items(), key=lambda kv: kv[0]):
        target = ctx.target(resource)
        b = authorize(s_before, action, target)
        a = authorize(s_after, action, target)
        before_states[(action, resource)] = b.state
        if b.state == "allowed" and a.state == "conditional":
            out.unknowns.append(
                {
                    "reason": "access_may_be_severed",
                    "detail": f"{arn} -> {resource} ({action}) would be allowed only if {', '.join(a.missing_context)}",
                }
            )
        if b.state == "denied" or a.state != "denied":
            continue
        observed = in_window(edge, lo, hi)
        provider = edge.dst
        out.severed.append(
            severed_entry(
                ctx,
                arn,
                provider,
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
    return before_states


def _exposure(ctx: Context, out: Outcome, arn: str, s_before: Subject, s_after: Subject) -> None:
    """A loosening change: the sensitive resources ``arn`` newly reaches."""
    for n in ctx.snap.nodes:
        if not n.props or not n.id.startswith("arn:") or not is_sensitive(ctx, n.id):
            continue
        service = n.id.split(":")[2]
        for action in ACCESS_ACTIONS.get(service, ()):
            resource = request_resource(n.id, action)
            target = ctx.target(resource)
            if authorize(s_before, action, target).state == "denied":
                a = authorize(s_after, action, target)
                if a.state != "denied":
                    out.exposure.append(
                        {
                            "principal": arn,
                            "resource": resource,
                            "access": action,
                            "after": a.state,
                            "statements": list(a.statements),
                        }
                    )
