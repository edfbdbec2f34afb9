"""Score one proposal: severed dependencies, impacted services, undocumented dependencies, unknowns,
risk, tier and rollback. Results are plain JSON-ready dicts shaped by ``schemas/score-result.v1.json``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from analyzer import __version__
from analyzer.changes import get_kind
from analyzer.errors import BadInput
from analyzer.governance.tier_policy import TierPolicy
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
from analyzer.scoring.context import Context, account_of
from analyzer.scoring.impact import blind_spots, walk, worst
from analyzer.scoring.outcome import config_digest, in_window
from analyzer.scoring.propagation import build_graphs
from analyzer.scoring.service_trust import service_trust_change
from analyzer.scoring.web_identity_trust import web_identity_trust_change
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


def _scorer(module: str, name: str) -> Callable[[], Callable[..., Any]]:
    def load() -> Callable[..., Any]:
        import importlib

        return getattr(importlib.import_module(f"analyzer.scoring.{module}"), name)

    return load


SCORERS: dict[str, Callable[[], Callable[..., Any]]] = {
    "SecurityGroup": _scorer("network_change", "network_change"),
    "NetworkInterface": _scorer("network_change", "network_change"),
    "IamPrincipal": _scorer("identity_change", "identity_change"),
    "ManagedPolicy": _scorer("identity_change", "managed_policy_change"),
    "ResourcePolicy": _scorer("policy_change", "resource_policy_change"),
    "Credentials": _scorer("credentials_change", "credentials_change"),
    "PublicAccess": _scorer("public_access_change", "public_access_change"),
    "Removal": _scorer("removal_change", "removal_change"),
    "Setting": _scorer("setting_change", "setting_change"),
    "Pod": _scorer("kubernetes_change", "kubernetes_change"),
    "KubernetesBinding": _scorer("kubernetes_change", "binding_change"),
    "KubernetesNamespace": _scorer("kubernetes_change", "network_policy_change"),
}
"""Change kinds by what they target -> the scorer that re-decides what they touch (loaded when used);
each returns an ``analyzer.scoring.outcome.Outcome``. Role trust changes are scored in this module."""


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
    evidence_sources: tuple[str, ...] = ("cloudtrail",)
    kind = get_kind(change["kind"])
    target = change.get("target")
    target_node = ctx.snap.node(target) if target else None
    account = change.get("account") or (account_of(target) if target else "")

    if change["fidelity"] == "opaque" or kind.apply is None:
        unknowns.append(
            {
                "reason": "opaque_change",
                "detail": f"the effect of {change['delta'].get('runbook') or kind.name} cannot be seen; "
                "scored conservatively",
            }
        )
    elif kind.target_kind in SCORERS:
        found = SCORERS[kind.target_kind]()(ctx, proposal, start, as_of)
        severed, exposure, rollback = found.severed, found.exposure, found.rollback
        unknowns += found.unknowns
        already_denied, denied_unlisted = found.already_denied, found.already_denied_unlisted
        notes = list(found.notes)
        account = account or found.account
        evidence_sources = found.evidence_sources
        if found.missing:
            status = "target_missing"
        elif found.applied:
            status = "already_applied"
    elif target_node is None or target_node.kind not in ("IamRole",):
        unknowns.append({"reason": "target_missing", "detail": f"{target} is not in the snapshot"})
        status = "target_missing"
    else:
        sev, exp, rb, unk, applied, unlisted = _trust_change(
            ctx, proposal, target_node.id, target_node.props["trust_policy"], start, as_of
        )
        severed, exposure, rollback = sev, exp, rb
        unknowns += unk
        if applied:
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
        names: dict[tuple[str, ...], str] = {
            ("flowlogs",): "VPC flow log",
            ("k8s-audit",): "Kubernetes audit log",
        }
        what = names.get(evidence_sources, "CloudTrail")
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
                "detail": f"{shown} run where no CloudTrail or flow logs were kept in the window: what "
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
    if with_alternative and kind.name == "iam.update_trust_policy" and target_node is not None:
        alternative = safer_alternative(
            proposal, ctx, policy, as_of, target_node.props["trust_policy"], severed
        )
    elif with_alternative and kind.name == "sg.revoke_rules" and any(s["observed"] for s in severed):
        alternative = network_alternative(proposal, ctx, policy, as_of, severed)
    elif with_alternative and kind.name == "public_access.block" and any(s["observed"] for s in severed):
        alternative = public_access_alternative(proposal, ctx, policy, as_of, severed)
    return {
        "proposal_id": proposal["proposal_id"],
        "status": status,
        "source": {
            k: proposal["source"].get(k) for k in ("format", "finding_id", "product", "title", "severity")
        },
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


UNOBSERVED_LISTED = 50
"""Severed dependencies nobody was seen using are listed by name (each with its before/after explanation)
up to this many; beyond it they are counted (``severed_unlisted``; ``policy_facts.severed`` is the total).
Every observed one is listed. Narrowing the trust of a role that whole accounts may assume removes access
from tens of thousands of principals; ``blastwall who-can`` lists them all. (It was 200: explaining those
was a fifth of the L batch, for names a reviewer reads as a sample.)"""


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
            "account": change.get("account") or (account_of(target) if target else ""),
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


def _scored_alternative(
    proposal: dict[str, Any],
    ctx: Context,
    policy: TierPolicy,
    as_of: datetime,
    delta: dict[str, Any],
    description: str,
    kind: str | None = None,
) -> dict[str, Any]:
    """The proposal with its change replaced by ``delta`` (and ``kind``, if another), scored the same way,
    as the ``safer_alternative`` section of a result."""
    change = {**proposal["change"], "delta": delta, "fidelity": "exact", "lookup": "safer-alternative"}
    if kind is not None:
        change["kind"] = kind
    alt = {**proposal, "proposal_id": proposal["proposal_id"] + "-alt", "change": change}
    r = score_proposal(alt, ctx, policy, as_of, with_alternative=False)
    return {
        "description": description,
        "delta": delta,
        "tier": r["tier"],
        "tier_rule": r["tier_rule"],
        "risk_score": r["risk_score"],
        "severed": r["severed"],
        "severed_observed": sum(1 for x in r["severed"] if x["observed"]),
        "impacted_services": [
            {k: x[k] for k in ("name", "criticality", "documented", "reached")}
            for x in r["impacted_services"]
        ],
        "approver_role": r["approver_role"],
        "tier_notes": r["tier_notes"],
        "change": r["change"],
        "unknowns": r["unknowns"],
        "rollback_verified": r["rollback"].get("verified"),
    }


def safer_alternative(
    proposal: dict[str, Any],
    ctx: Context,
    policy: TierPolicy,
    as_of: datetime,
    before_doc: Any,
    severed: list[dict[str, Any]],
) -> dict[str, Any] | None:
    """Where removing an account's trust would cut observed use: keep trusting exactly the principals seen
    using it, drop the rest of that account, and score that change the same way."""
    delta = proposal["change"].get("delta") or {}
    accounts = set(delta.get("remove_principals_of_account") or [])
    keep = sorted(
        {
            s["consumer"]
            for s in severed
            if s["observed"] and account_of(s["consumer"]) in accounts and s["consumer"] in ctx.principals
        }
    )
    if not keep:
        return None
    kind = get_kind("iam.update_trust_policy")
    assert kind.apply is not None
    doc = kind.apply(before_doc, delta)
    doc["Statement"].append(
        {
            "Sid": "ObservedPrincipalsOnly",
            "Effect": "Allow",
            "Principal": {"AWS": keep[0] if len(keep) == 1 else keep},
            "Action": "sts:AssumeRole",
        }
    )
    return _scored_alternative(
        proposal,
        ctx,
        policy,
        as_of,
        {"new_document": doc},
        f"trust only the principals seen using the role ({', '.join(keep)}) instead of their "
        f"whole account{'s' if len(accounts) > 1 else ''}; the trust stays cross-account, so an external-access "
        "finding narrows but does not close until that use moves",
    )


def public_access_alternative(
    proposal: dict[str, Any], ctx: Context, policy: TierPolicy, as_of: datetime, severed: list[dict[str, Any]]
) -> dict[str, Any] | None:
    """Where blocking public access would cut observed callers: keep their access path by naming them in
    the bucket policy instead of ``*`` (so it is no longer public), and score that change the same way."""
    import copy
    import json

    from analyzer.changes.public_access import is_public_statement
    from analyzer.iam.policy import parse_lenient

    bucket = proposal["change"]["target"]
    node = ctx.snap.node(bucket)
    doc = (node.props.get("policy") if node is not None else None) or None
    if doc is None:
        return None
    doc = json.loads(doc) if isinstance(doc, str) else copy.deepcopy(doc)
    raw = doc.get("Statement", [])
    raw = [raw] if isinstance(raw, dict) else raw
    observed = sorted({s["consumer"] for s in severed if s["observed"]})
    parsed = {st.index: st for st in parse_lenient(doc).statements}
    new_statements = []
    for i, st in enumerate(raw):
        if i in parsed and is_public_statement(parsed[i]):
            st = {**st, "Principal": {"AWS": observed[0] if len(observed) == 1 else observed}}
            st.pop("NotPrincipal", None)
        new_statements.append(st)
    new_doc = {**doc, "Statement": new_statements}
    return _scored_alternative(
        proposal,
        ctx,
        policy,
        as_of,
        {"new_document": new_doc},
        f"name the callers seen using the bucket ({', '.join(observed)}) in its policy instead of "
        "everyone, so the policy is no longer public; then block public access",
        kind="resource_policy.remove_statements",
    )


def _peer_addresses(ctx: Context, peer: str) -> list[str]:
    """The addresses a flow peer is known by: an address, or an interface's private addresses (an east-west
    peer, another interface of the organization)."""
    if peer.startswith("urn:ip:"):
        return [peer.removeprefix("urn:ip:")]
    node = ctx.snap.node(peer)
    if node is not None and node.kind == "NetworkInterface":
        return [str(ip) for ip in node.props.get("private_ips") or []]
    return []


def network_alternative(
    proposal: dict[str, Any], ctx: Context, policy: TierPolicy, as_of: datetime, severed: list[dict[str, Any]]
) -> dict[str, Any] | None:
    """Where revoking a broad rule would cut observed flows: revoke it, but allow exactly the observed
    peers (one /32 or /128 per address, on the protocol and port they used), and score that the same way."""
    delta = proposal["change"].get("delta") or {}
    keep: dict[str, dict[tuple[str, int], set[str]]] = {"ingress": {}, "egress": {}}
    for s in severed:
        if not s["observed"]:
            continue
        proto, _, port = s["access"].partition("/")
        # the group's side is the destination for ingress rules and the source for egress rules
        for side, peer in (("ingress", s["consumer"]), ("egress", s["provider"])):
            if not delta.get(side):
                continue
            for ip in _peer_addresses(ctx, peer):
                keep[side].setdefault((proto, int(port)), set()).add(ip)
    authorize: dict[str, list[dict[str, Any]]] = {}
    for side, by_port in keep.items():
        for (proto, port), peers in sorted(by_port.items()):
            v4 = sorted(p for p in peers if ":" not in p)
            v6 = sorted(p for p in peers if ":" in p)
            perm: dict[str, Any] = {"IpProtocol": proto, "FromPort": port, "ToPort": port}
            if v4:
                perm["IpRanges"] = [{"CidrIp": f"{p}/32", "Description": "observed in flow logs"} for p in v4]
            if v6:
                perm["Ipv6Ranges"] = [
                    {"CidrIpv6": f"{p}/128", "Description": "observed in flow logs"} for p in v6
                ]
            authorize.setdefault(side, []).append(perm)
    if not authorize:
        return None
    new_delta = {"revoke": delta, "authorize": authorize}
    observed_peers = sorted({p for by in keep.values() for ps in by.values() for p in ps})
    shown = ", ".join(observed_peers[:5]) + (" …" if len(observed_peers) > 5 else "")
    return _scored_alternative(
        proposal,
        ctx,
        policy,
        as_of,
        new_delta,
        f"revoke the rule but allow exactly the peers observed using it ({shown}) on the "
        "protocol and port they used",
        kind="sg.replace_rules",
    )


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


__all__ = ["RESULT_SCHEMA_VERSION", "risk_score", "score_proposal"]
