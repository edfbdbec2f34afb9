"""Score one proposal: severed dependencies, impacted services, undocumented dependencies, unknowns,
risk, tier and rollback. Results are plain JSON-ready dicts shaped by ``schemas/score-result.v1.json``."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np

from analyzer import __version__, providers
from analyzer.changes import get_kind
from analyzer.governance.tier_policy import TierPolicy
from analyzer.scoring.alternatives import _peer_addresses  # noqa: F401  (re-exported: the tests' import)
from analyzer.scoring.context import Context
from analyzer.scoring.impact import blind_spots, walk, worst
from analyzer.scoring.outcome import UNOBSERVED_LISTED
from analyzer.scoring.propagation import build_graphs
from analyzer.timeutil import iso

RESULT_SCHEMA_VERSION = "1.0"
CRIT_WEIGHT = {"critical": 1.0, "high": 0.75, "medium": 0.5, "low": 0.25, "unknown": 0.5}


SEVERITY_RANK = {"critical": 4, "high": 3, "medium": 2, "low": 1}


def priority(severity: str | None, severed_observed: int, impacted: int, unknowns: int, risk: int) -> int:
    """What to do first, 0-100. Safe wins first (high or critical severity, nothing observed is cut, nothing
    unknown), then high-severity changes with a blast radius (a human should look soon, the riskier first),
    then lower-severity changes without one, and last lower-severity changes with a blast radius.

    >>> priority("high", 0, 0, 0, 5) > priority("high", 1, 4, 0, 70) > priority("low", 0, 0, 0, 5)
    True
    >>> priority("low", 0, 0, 0, 5) > priority("low", 1, 2, 0, 60)
    True
    """
    sev = SEVERITY_RANK.get((severity or "").lower(), 0)
    blast = severed_observed > 0 or impacted > 0
    if sev >= 3 and not blast and not unknowns:
        band = 3
    elif sev >= 3:
        band = 2
    elif not blast:
        band = 1
    else:
        band = 0
    return band * 25 + sev * 5 + (min(4, risk // 25) if band == 2 else 0)


def risk_score(
    severed_observed: int,
    severed_config: int,
    undocumented: int,
    max_crit: str | None,
    unknowns: int,
    invertible: bool,
) -> int:
    """0-100. Independent risk factors combined as 1 - prod(1 - p):

    observed use cut 0.35; criticality of the worst impacted CI 0.40 x weight (unknown criticality
    weighs like medium, never like low); an undocumented dependency cut 0.20; unknowns 0.15;
    configuration-only access cut 0.05; a change that cannot be rolled back 0.10.

    >>> risk_score(1, 0, 1, "critical", 0, True)
    69
    >>> risk_score(0, 0, 0, None, 0, True)
    0
    """
    factors = [
        0.35 if severed_observed else 0.0,
        0.40 * CRIT_WEIGHT[max_crit] if max_crit else 0.0,
        0.20 if undocumented else 0.0,
        0.15 if unknowns else 0.0,
        0.05 if severed_config else 0.0,
        0.10 if not invertible else 0.0,
    ]
    return round(100 * (1 - float(np.prod([1 - f for f in factors]))))


def score_proposal(
    proposal: dict[str, Any], ctx: Context, policy: TierPolicy, as_of: datetime, with_alternative: bool = True
) -> dict[str, Any]:
    change = proposal["change"]
    start = as_of - timedelta(days=policy.window_days)
    unknowns: list[dict[str, str]] = []
    severed: list[dict[str, Any]] = []
    exposure: list[dict[str, Any]] = []
    rollback: dict[str, Any] = {"change": None, "verified": None, "detail": ""}
    unlisted = 0  # unobserved severed dependencies beyond UNOBSERVED_LISTED: counted, not listed
    status = "scored"
    notes: list[str] = []
    already_denied: list[dict[str, Any]] = []
    denied_unlisted = 0
    kind = get_kind(change["kind"])
    target = change.get("target")
    account = change.get("account") or (providers.account_of(target) if target else "")
    evidence_sources = providers.default_evidence(target or "")
    scorer = providers.scorer(kind.target_kind)

    if change["fidelity"] == "opaque" or kind.apply is None:
        unknowns.append(
            {
                "reason": "opaque_change",
                "detail": f"the effect of {change['delta'].get('runbook') or kind.name} cannot be seen; "
                "scored conservatively",
            }
        )
    elif scorer is None:
        unknowns.append(
            {"reason": "target_missing", "detail": f"no provider scores changes of a {kind.target_kind}"}
        )
        status = "target_missing"
    else:
        found = scorer(ctx, proposal, start, as_of)
        severed, exposure, rollback = found.severed, found.exposure, found.rollback
        unknowns += found.unknowns
        already_denied, denied_unlisted = found.already_denied, found.already_denied_unlisted
        unlisted = found.unlisted
        notes = list(found.notes)
        account = account or found.account
        evidence_sources = found.evidence_sources or evidence_sources
        if found.missing:
            status = "target_missing"
        elif found.applied:
            status = "already_applied"

    ran = proposal["source"].get("executed")
    if isinstance(ran, dict):
        notes.append(
            f"already executed by {ran.get('by')} at {ran.get('at') or 'an unrecorded time'} "
            f"(run {ran.get('execution_id') or 'unknown'}, not a dry run) without a gate pass: this is the "
            "impact of what ran, not a request for approval"
        )
    collected = ctx.collection.get(account) if account else None
    if collected and collected.get("partial"):
        unknowns.append(
            {
                "reason": "partial_collection",
                "detail": f"collection of account {account} was refused: "
                f"{', '.join(collected['missing_calls'][:5])}",
            }
        )

    # evidence coverage of the account whose logs would show the use
    days, _window = ctx.covered_days(account, start, as_of, evidence_sources) if account else (0, 0)
    if account and days == 0:
        what = providers.evidence_name(evidence_sources)
        unknowns.append(
            {
                "reason": "no_evidence_coverage",
                "detail": f"no {what} evidence for account {account} between {iso(start)} and "
                f"{iso(as_of)}: unused access cannot be told from unseen use",
            }
        )

    # propagation
    graphs = build_graphs(ctx, start, as_of)
    seeds = sorted(
        {ctx.snap.index[s["consumer"]] for s in severed if s["observed"] and s["consumer"] in ctx.snap.index}
    )
    doc_seeds = sorted(
        {
            ctx.snap.index[s["consumer"]]
            for s in severed
            if s["observed"] and s["documented"] and s["consumer"] in ctx.snap.index
        }
    )
    found_impact = walk(ctx, graphs, seeds, doc_seeds)
    impacted = found_impact.services
    if found_impact.shared_writes:
        shown = "; ".join(f"{w} writes {d} as {r}" for w, r, d in found_impact.shared_writes[:3]) + (
            " …" if len(found_impact.shared_writes) > 3 else ""
        )
        unknowns.append(
            {
                "reason": "shared_role_writes",
                "detail": f"{shown}, a role others assume too: CloudTrail records the writes as the role's, "
                "so whether the readers depend on these sessions cannot be told",
            }
        )
    blind = blind_spots(ctx, impacted, start, as_of)
    if blind:
        shown = ", ".join(f"{name} (account {a})" for name, a in blind[:5]) + (" …" if len(blind) > 5 else "")
        unknowns.append(
            {
                "reason": "impact_beyond_evidence",
                "detail": f"{shown} run where no logs were kept in the window (CloudTrail, flow logs, "
                "audit or Azure logs): what "
                "depends on them there cannot be seen, so the impact may reach further than listed",
            }
        )
    max_crit = worst(impacted)
    max_crit_observed = worst(impacted, ("membership", "observed"))

    severed, unlisted = _listed(severed, unlisted)
    severed_total = len(severed) + unlisted
    severed_observed = sum(1 for s in severed if s["observed"])
    undocumented = sum(1 for s in severed if s["observed"] and not s["documented"])
    invertible = kind.invertible and (rollback.get("verified") is not False)
    if rollback.get("verified") is False:
        unknowns.append({"reason": "rollback_unverified", "detail": rollback.get("detail", "")})
    facts = {
        "change_kind": kind.name,
        "fidelity": change["fidelity"],
        "severed": severed_total,
        "severed_observed": severed_observed,
        "undocumented": undocumented,
        "unknowns": len(unknowns),
        "max_criticality": max_crit if max_crit else "none",
        "max_criticality_observed": max_crit_observed if max_crit_observed else "none",
        "exposure_added": len(exposure),
        "coverage_days": days,
    }
    decision = policy.decide(facts)
    risk = risk_score(
        severed_observed, severed_total - severed_observed, undocumented, max_crit, len(unknowns), invertible
    )
    alternative = None
    propose = providers.alternative(kind.name) if with_alternative else None
    if propose is not None and status == "scored" and any(s["observed"] for s in severed):
        alternative = propose(proposal, ctx, policy, as_of, severed, _rescore)
    return {
        "proposal_id": proposal["proposal_id"],
        "status": status,
        "source": {
            k: proposal["source"].get(k) for k in ("format", "finding_id", "product", "title", "severity")
        }
        # a tool's record that it already ran this: the verdict and the review say so
        | ({"executed": ran} if isinstance(ran, dict) else {}),
        "change": {
            "kind": kind.name,
            "target": target,
            "account": account,
            "delta": change.get("delta"),
            "fidelity": change["fidelity"],
            "lookup": change.get("lookup"),
            "derivation": change.get("derivation"),
        },
        "tier": decision.tier,
        "tier_rule": decision.rule,
        "approver_role": decision.approver_role,
        "tier_notes": list(decision.notes),
        "risk_score": risk,
        "priority": priority(
            proposal["source"].get("severity"), severed_observed, len(impacted), len(unknowns), risk
        ),
        "notes": notes,
        "severed": severed,
        "severed_unlisted": unlisted,
        "already_denied": already_denied,
        "already_denied_unlisted": denied_unlisted,
        "exposure_added": exposure,
        "impacted_services": impacted,
        "undocumented_dependencies": undocumented,
        "unknowns": unknowns,
        "rollback": rollback,
        "evidence": {
            "window_start": iso(start),
            "window_end": iso(as_of),
            "window_days": policy.window_days,
            "coverage_days": days,
            "account": account,
        },
        "safer_alternative": alternative,
        "policy": policy.header(),
        "policy_facts": facts,
        "analyzer_version": __version__,
    }


def _rescore(proposal: dict[str, Any], ctx: Context, policy: TierPolicy, as_of: datetime) -> dict[str, Any]:
    """A modified proposal scored the same way, without an alternative of its own (for the alternatives)."""
    return score_proposal(proposal, ctx, policy, as_of, with_alternative=False)


def _listed(severed: list[dict[str, Any]], unlisted: int) -> tuple[list[dict[str, Any]], int]:
    """``severed`` cut to every observed entry plus the first ``UNOBSERVED_LISTED`` unobserved ones (order
    kept), and the count of those left out added to ``unlisted``."""
    unobserved = [s for s in severed if not s["observed"]]
    if len(unobserved) <= UNOBSERVED_LISTED:
        return severed, unlisted
    cut = {id(s) for s in unobserved[UNOBSERVED_LISTED:]}
    return [s for s in severed if id(s) not in cut], unlisted + len(cut)


def failed_result(
    proposal: dict[str, Any], policy: TierPolicy, as_of: datetime, reason: str, detail: str
) -> dict[str, Any]:
    """The result of a proposal that could not be scored (``status: error``), in the same shape as a scored
    one: blocked, highest risk, and the reason as an unknown, so a failure never reads as safe."""
    change = proposal.get("change") or {}
    start = as_of - timedelta(days=policy.window_days)
    target = change.get("target")
    unknowns = [{"reason": reason, "detail": detail}]
    return {
        "proposal_id": proposal["proposal_id"],
        "status": "error",
        "error": detail,
        "source": {
            k: (proposal.get("source") or {}).get(k)
            for k in ("format", "finding_id", "product", "title", "severity")
        },
        "change": {
            "kind": change.get("kind"),
            "target": target,
            "account": change.get("account") or (providers.account_of(target) if target else ""),
            "delta": change.get("delta"),
            "fidelity": change.get("fidelity", "opaque"),
            "lookup": change.get("lookup"),
        },
        "tier": "blocked",
        "tier_rule": "scoring-error",
        "approver_role": None,
        "tier_notes": [f"not scored: {detail}"],
        "risk_score": 100,
        "priority": 0,
        "severed": [],
        "severed_unlisted": 0,
        "already_denied": [],
        "already_denied_unlisted": 0,
        "exposure_added": [],
        "impacted_services": [],
        "undocumented_dependencies": 0,
        "unknowns": unknowns,
        "rollback": {"change": None, "verified": None, "detail": "not scored"},
        "evidence": {
            "window_start": iso(start),
            "window_end": iso(as_of),
            "window_days": policy.window_days,
            "coverage_days": 0,
            "account": change.get("account") or "",
        },
        "safer_alternative": None,
        "policy": policy.header(),
        "policy_facts": {},
        "analyzer_version": __version__,
    }


def score_or_fail(
    proposal: dict[str, Any], ctx: Context, policy: TierPolicy, as_of: datetime
) -> dict[str, Any]:
    """``score_proposal``, except that a proposal whose scoring raises becomes a ``status: error`` result
    (with the exception named) and the batch goes on."""
    try:
        return score_proposal(proposal, ctx, policy, as_of)
    except Exception as exc:  # one bad proposal must not stop a batch of thousands
        return failed_result(proposal, policy, as_of, "scoring_error", f"{type(exc).__name__}: {exc}")


__all__ = ["RESULT_SCHEMA_VERSION", "risk_score", "score_proposal"]
