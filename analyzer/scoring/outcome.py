"""What every change scorer returns, and the one shape of a severed dependency."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from analyzer.changes import get_kind
from analyzer.scoring.context import Context

UNOBSERVED_LISTED = 50
"""Severed dependencies nobody was seen using are listed by name (each with its before/after explanation)
up to this many; beyond it they are counted (``severed_unlisted``; ``policy_facts.severed`` is the total).
Every observed one is listed. Narrowing the trust of a role that whole accounts may assume removes access
from tens of thousands of principals; ``blastwall who-can`` lists them all. (It was 200: explaining those
was a fifth of the L batch, for names a reviewer reads as a sample.)"""


@dataclass
class Outcome:
    """A scorer's findings for one proposal (``blast.score_proposal`` adds propagation, tier and risk)."""

    severed: list[dict[str, Any]] = field(default_factory=list)
    exposure: list[dict[str, Any]] = field(default_factory=list)
    already_denied: list[dict[str, Any]] = field(default_factory=list)
    already_denied_unlisted: int = 0
    unlisted: int = 0
    """Severed dependencies nobody was seen using beyond ``UNOBSERVED_LISTED``: counted, not listed."""
    unknowns: list[dict[str, str]] = field(default_factory=list)
    rollback: dict[str, Any] = field(default_factory=dict)
    applied: bool = False
    missing: bool = False
    account: str = ""
    evidence_sources: tuple[str, ...] = ()
    """The evidence that would show the use (``()``: the target's provider's default)."""
    notes: list[str] = field(default_factory=list)
    """What the change means in a sentence a reviewer reads first (e.g. that it ends public access)."""

    def target_missing(self, detail: str) -> Outcome:
        self.missing = True
        self.unknowns.append({"reason": "target_missing", "detail": detail})
        return self


def azure_target(
    ctx: Context, proposal: dict[str, Any], node_kind: str, what: str
) -> tuple[Any, Outcome, str, Any]:
    """The change kind, a fresh outcome on Azure's logs, the target's id (lower case) and its node: the
    start every Azure resource scorer shares. A target that is not a ``node_kind`` of the loaded tenant is
    already said so in the outcome (the node is then None)."""
    change = proposal["change"]
    kind = get_kind(change["kind"])
    assert kind.apply is not None and kind.invert is not None
    out = Outcome(evidence_sources=("azure-logs",))
    target = str(change.get("target") or "").strip().rstrip("/").lower()
    node = ctx.snap.node(target)
    if node is None or node.kind != node_kind or not node.props:
        out.target_missing(f"{change.get('target')} is not {what} of the loaded tenant")
        return kind, out, target, None
    out.account = target.split("/")[2]
    return kind, out, target, node


def record_flow_change(
    ctx: Context,
    out: Outcome,
    e: Any,
    access: str,
    before: tuple[str, tuple[str, ...] | list[str]],
    after: tuple[str, tuple[str, ...] | list[str], str],
    window: tuple[str, str],
    unknown: tuple[str, str],
) -> None:
    """One observed flow whose decision the change alters, into ``out``: ``before`` is (state, the rules
    that decided it), ``after`` (state, rules, reason); cut -> severed, unknown -> the ``unknown`` (reason,
    detail) entry, newly allowed -> exposure. Shared by the flow-deciding scorers (NSGs, NetworkPolicies)."""
    (b_state, b_rules), (a_state, a_rules, a_reason) = before, after
    if a_state == "denied":
        entry = severed_entry(
            ctx, e.src, e.dst, access, edge=e, observed=in_window(e, *window), reason=a_reason
        )
        entry["before"] = {"decision": b_state, "statements": list(b_rules), "missing_context": []}
        out.severed.append(entry)
    elif a_state == "unknown":
        out.unknowns.append({"reason": unknown[0], "detail": unknown[1]})
    elif b_state == "denied":
        out.exposure.append(
            {
                "principal": e.src,
                "resource": e.dst,
                "access": access,
                "after": a_state,
                "statements": list(a_rules),
            }
        )


def in_window(edge: Any, lo: str, hi: str) -> bool:
    """Whether an evidence edge falls in the window [lo, hi] (ISO 8601)."""
    return bool(
        edge is not None
        and edge.last_seen
        and edge.first_seen
        and edge.last_seen >= lo
        and edge.first_seen <= hi
    )


def severed_entry(
    ctx: Context,
    consumer: str,
    provider: str,
    access: str,
    *,
    edge: Any = None,
    observed: bool,
    events: int | None = None,
    first_seen: str | None = None,
    last_seen: str | None = None,
    before: dict[str, Any] | None = None,
    reason: str,
) -> dict[str, Any]:
    """A severed dependency: who loses what, its use (from ``edge`` when observed) and documentation."""
    documented, why = ctx.documented_between(consumer, provider)
    return {
        "consumer": consumer,
        "provider": provider,
        "access": access,
        "observed": observed,
        "events": (events if events is not None else int(edge.count) if edge is not None else 0)
        if observed
        else 0,
        "first_seen": (edge.first_seen if edge is not None else first_seen) if observed else None,
        "last_seen": (edge.last_seen if edge is not None else last_seen) if observed else None,
        "documented": documented,
        "documentation": why,
        "consumer_cis": ctx.ci_names(ctx.ci_of.get(consumer, [])),
        "provider_cis": ctx.ci_names(ctx.ci_of.get(provider, [])),
        "before": before or {"decision": "allowed", "statements": [], "missing_context": []},
        "after": {"decision": "denied", "reason": reason},
    }


def config_digest(doc: Any) -> str:
    """SHA-256 of a configuration document in canonical JSON: what the target looked like."""
    text = json.dumps(doc, sort_keys=True, separators=(",", ":")) if not isinstance(doc, str) else doc
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def simulated_rollback(
    kind: Any,
    target: str,
    before: dict[str, Any],
    after: dict[str, Any],
    delta: dict[str, Any],
    ok: str,
    bad: str,
) -> dict[str, Any]:
    """The rollback of a change whose effect is its target's configuration, verified by simulation: invert,
    apply the inverse to ``after``, compare with ``before``."""
    inverse = kind.invert(before, delta)
    restored = kind.apply(after, inverse)
    return {
        "change": {"kind": kind.name, "target": target, "delta": inverse},
        "verified": restored == before,
        "detail": ok if restored == before else bad,
        "before_digest": config_digest(before),
        "after_digest": config_digest(after),
    }
