"""Blast radius of a change to an IAM role's trust policy (``iam.update_trust_policy``): every principal
whose ``sts:AssumeRole`` decision it alters (re-decided with the caller's own policies, SCPs and boundary),
the workloads AWS services run as the role, and the pods that assume it with a web identity; the rollback
verified by re-deciding all of them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np

from analyzer.changes import get_kind
from analyzer.errors import BadInput
from analyzer.iam.evaluate import Decision
from analyzer.scoring.assume import (
    ACTION,
    STATE_NAMES,
    TRUST_ARRAYS_FROM,
    TrustVariants,
    touched_candidates,
    trust_statements,
    trust_states,
)
from analyzer.scoring.context import Context
from analyzer.scoring.outcome import UNOBSERVED_LISTED, Outcome, config_digest, in_window
from analyzer.scoring.service_trust import service_trust_change
from analyzer.scoring.web_identity_trust import web_identity_trust_change
from analyzer.timeutil import iso


def trust_change(ctx: Context, proposal: dict[str, Any], start: datetime, as_of: datetime) -> Outcome:
    """The scorer of changes whose target is a role (``analyzer.providers.aws``)."""
    target = str(proposal["change"].get("target") or "")
    node = ctx.snap.node(target) if target else None
    out = Outcome(evidence_sources=("cloudtrail",))
    if node is None or node.kind != "IamRole":
        return out.target_missing(f"{target} is not in the snapshot")
    sev, exp, rb, unk, applied, unlisted = _trust_change(
        ctx, proposal, node.id, node.props["trust_policy"], start, as_of
    )
    out.severed, out.exposure, out.rollback, out.applied, out.unlisted = sev, exp, rb, applied, unlisted
    out.unknowns += unk
    return out


def _trust_change(
    ctx: Context, proposal: dict[str, Any], role: str, before_doc: Any, start: datetime, as_of: datetime
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any], list[dict[str, str]], bool, int]:
    kind = get_kind(proposal["change"]["kind"])
    assert kind.apply is not None and kind.invert is not None
    delta = proposal["change"]["delta"]
    unknowns: list[dict[str, str]] = []
    try:
        after_doc = kind.apply(before_doc, delta)
        before_ps = trust_statements(role, before_doc)
        after_ps = trust_statements(role, after_doc)
    except BadInput as exc:
        return (
            [],
            [],
            {"change": None, "verified": False, "detail": str(exc)},
            [{"reason": "malformed_policy", "detail": str(exc)}],
            False,
            0,
        )
    applied = before_ps.items == after_ps.items
    evidence = {e.src: e for e in ctx.snap.edges_into("OBSERVED_ASSUME", role)}
    lo, hi = iso(start), iso(as_of)
    observed_in_window = {src for src, e in evidence.items() if in_window(e, lo, hi)}
    severed, exposure = [], []
    inverse = kind.invert(before_doc, delta)
    restored = kind.apply(after_doc, inverse)
    restored_ps = trust_statements(role, restored)
    mismatch: list[str] = []
    trusts = [before_ps, after_ps, restored_ps]
    same_restored = restored_ps == before_ps  # the usual case: the rollback is the original document
    used = [before_ps, after_ps] if same_restored else trusts
    cands = touched_candidates(ctx, role, before_doc, [after_doc, restored], set(evidence))
    # (principal, state before, state after, its evaluation if made) for every decision the change alters
    changed: list[tuple[str, str, str, TrustVariants | None]] = []
    if len(cands) >= TRUST_ARRAYS_FROM:
        # a role whole accounts may assume: every caller's state in arrays (callers grouped by the
        # statements of their policies), explanations made below only for what the result lists
        st = trust_states(ctx, role, cands, used)
        if not same_restored:
            mismatch += [cands[i] for i in np.flatnonzero(st[:, 2] != st[:, 0])]
        for i in np.flatnonzero(st[:, 1] != st[:, 0]):
            changed.append((cands[i], STATE_NAMES[st[i, 0]], STATE_NAMES[st[i, 1]], None))
    else:
        for p in cands:
            # the cheap check first: where the trust policy answers the same, so does the whole evaluation
            variants = TrustVariants(ctx, p, role, used)
            tb, ta = variants.sides[:2]
            if (
                not same_restored
                and variants.sides[2] != tb
                and variants.decision(2).state != variants.decision(0).state
            ):
                mismatch.append(p)
            if ta != tb and variants.decision(0).state != variants.decision(1).state:
                changed.append((p, variants.decision(0).state, variants.decision(1).state, variants))

    def decisions(p: str, variants: TrustVariants | None) -> tuple[Decision, Decision]:
        v = variants or TrustVariants(ctx, p, role, [before_ps, after_ps])
        return v.decision(0), v.decision(1)

    unobserved: list[tuple[str, TrustVariants | None]] = []
    for p, b_state, a_state, made in changed:
        if b_state != "denied" and a_state == "denied":
            if p in observed_in_window:
                b, a = decisions(p, made)
                severed.append(_severed_entry(ctx, p, role, b, a, evidence.get(p), True))
            else:  # listed by name up to a cap, entries made only for those (a hub has tens of thousands)
                unobserved.append((p, made))
            if b_state == "conditional":
                b, _ = decisions(p, made)
                unknowns.append(
                    {
                        "reason": "conditional_access",
                        "detail": f"{p} -> {role} was allowed only {_missing(b)}",
                    }
                )
        elif b_state == "denied" and a_state != "denied":
            _, a = decisions(p, made)
            exposure.append(
                {
                    "principal": p,
                    "resource": role,
                    "access": ACTION,
                    "after": a.state,
                    "statements": list(a.statements),
                }
            )
    # the workloads AWS services run as the role (instances, functions, tasks)
    svc = service_trust_change(ctx, role, trusts if not same_restored else [before_ps, after_ps], lo, hi)
    mismatch += svc.mismatch
    severed += svc.severed
    exposure += svc.exposure
    unknowns += svc.unknowns
    # the pods that assume it with their service account's token (IRSA)
    web = web_identity_trust_change(ctx, role, trusts if not same_restored else [before_ps, after_ps], lo, hi)
    mismatch += web.mismatch
    severed += web.severed
    exposure += web.exposure
    unknowns += web.unknowns
    # rollback: invert, re-apply, and every access decision must equal the original (checked above)
    rollback = {
        "change": {"kind": kind.name, "target": role, "delta": inverse},
        "verified": not mismatch,
        "detail": "apply then invert restores every access decision"
        if not mismatch
        else f"rollback does not restore: {', '.join(mismatch)}",
        "before_digest": config_digest(before_doc),
        "after_digest": config_digest(after_doc),
    }
    severed.sort(key=lambda s: (not s["observed"], -s["events"], s["consumer"]))
    unobserved.sort(key=lambda x: x[0])
    for p, made in unobserved[:UNOBSERVED_LISTED]:
        b, a = decisions(p, made)
        severed.append(_severed_entry(ctx, p, role, b, a, evidence.get(p), False))
    return severed, exposure, rollback, unknowns, applied, max(0, len(unobserved) - UNOBSERVED_LISTED)


def _missing(d: Decision) -> str:
    return f"if {', '.join(d.missing_context)} held" if d.missing_context else "under conditions"


def _severed_entry(
    ctx: Context, consumer: str, provider: str, before: Decision, after: Decision, edge: Any, observed: bool
) -> dict[str, Any]:
    documented, why = ctx.documented_between(consumer, provider)
    return {
        "consumer": consumer,
        "provider": provider,
        "access": ACTION,
        "observed": observed,
        "events": int(edge.count) if edge is not None and observed else 0,
        "first_seen": edge.first_seen if edge is not None and observed else None,
        "last_seen": edge.last_seen if edge is not None and observed else None,
        "documented": documented,
        "documentation": why,
        "consumer_cis": ctx.ci_names(ctx.ci_of.get(consumer, [])),
        "provider_cis": ctx.ci_names(ctx.ci_of.get(provider, [])),
        "before": {
            "decision": before.state,
            "statements": list(before.statements),
            "missing_context": list(before.missing_context),
        },
        "after": {"decision": after.state, "reason": after.reason},
    }
