"""Humans deciding — risk acceptances, approvals, rejections — and the gate that answers from them.

Every act is a ledger record signed by the person's own key (or by the app, holding the ``app`` role, for
a person it authenticated), admitted only if that person held the required role at that point of the
ledger. An approval carries its **binding**: digests of the change itself (kind, target, delta) and of its
scored impact, the tier, the rule that set it, the approver role that rule requires, the requester and the
policy. The gate verifies the whole ledger against the organization's trust root (and its anchors), then
recomputes that binding from the store as it is now: any difference is named, and the gate says a human
must decide again. The store's own tables are never read for authority.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from analyzer import notices
from analyzer.criticality import criticality_rank
from analyzer.errors import BadInput, BlastwallError
from analyzer.governance import signing
from analyzer.governance.authority import APP, Authority
from analyzer.governance.identities import current, own_key
from analyzer.governance.ledger import Ledger
from analyzer.governance.tier_policy import TierPolicy
from analyzer.governance.trust_root import TrustRoot
from analyzer.graph.store import GraphStore
from analyzer.timeutil import iso, now, parse_time

RESULTS = "results"
PROPOSALS = "proposals"
APP_IDENTITY = "blastwall-app"


# -- what a decision binds to ---------------------------------------------------------------------------
def change_digest(change: dict[str, Any]) -> str:
    """The change itself: kind, target and delta (what a remediation tool would execute)."""
    return signing.sha256({k: change.get(k) for k in ("kind", "target", "delta")})


def impact_digest(result: dict[str, Any]) -> str:
    """What a human saw when deciding: the change and its impact, not the time it was computed."""
    keep = ("change", "tier", "severed", "impacted_services", "unknowns", "exposure_added", "rollback")
    return signing.sha256({k: result.get(k) for k in keep})


def policy_ref(policy: TierPolicy) -> dict[str, Any]:
    return {
        "policy_id": policy.doc.get("policy_id"),
        "version": policy.doc.get("version"),
        "digest": signing.sha256(policy.doc),
    }


def default_approver(policy: TierPolicy) -> str:
    return str(policy.doc.get("default_approver_role") or policy.doc["owner_role"])


def tier_now(
    result: dict[str, Any], policy: TierPolicy, acceptances: dict[str, dict[str, Any]], at: datetime
) -> dict[str, Any]:
    """The tier, rule and approver role the policy gives this result now, with ``auto`` standing only
    under a live acceptance made under this policy (the same rule ``score`` applies)."""
    facts = result.get("policy_facts")
    if not facts:
        return {
            "tier": "blocked",
            "rule": "builtin:not-scored",
            "role": default_approver(policy),
            "acceptance": None,
        }
    d = policy.decide(facts)
    out: dict[str, Any] = {"tier": d.tier, "rule": d.rule, "role": d.approver_role, "acceptance": None}
    if d.tier == "auto":
        acceptance, why = covering_acceptance(acceptances, result, at, policy)
        if acceptance is None:
            out |= {"tier": "approval", "role": default_approver(policy), "why": why}
        else:
            out |= {"acceptance": acceptance, "why": why}
    out["role"] = out["role"] or default_approver(policy)
    return out


def requester_of(result: dict[str, Any], proposal: dict[str, Any]) -> str:
    return str(proposal.get("requester") or result["source"].get("product") or result["source"]["format"])


def binding(
    result: dict[str, Any], proposal: dict[str, Any], policy: TierPolicy, now_tier: dict[str, Any]
) -> dict[str, Any]:
    return {
        "change_digest": change_digest(proposal.get("change") or result["change"]),
        "impact_digest": impact_digest(result),
        "tier": now_tier["tier"],
        "tier_rule": now_tier["rule"],
        "required_role": now_tier["role"],
        "requester": requester_of(result, proposal),
        "policy": policy_ref(policy),
    }


def binding_differences(approved: dict[str, Any], current_: dict[str, Any]) -> list[str]:
    """Why an approval no longer covers the change as it stands (empty: it does)."""
    why = []
    if approved.get("change_digest") != current_["change_digest"]:
        why.append("the change (kind, target or delta) is not the one approved: it was re-proposed since")
    if approved.get("impact_digest") != current_["impact_digest"]:
        why.append(
            "the scored impact (severed, impacted services, unknowns, rollback) differs from what was approved"
        )
    if approved.get("tier_rule") != current_["tier_rule"] or approved.get("tier") != current_["tier"]:
        why.append(
            f"the policy now decides tier {current_['tier']} by rule {current_['tier_rule']}; the approval was "
            f"for tier {approved.get('tier')} by rule {approved.get('tier_rule')}"
        )
    if approved.get("requester") != current_["requester"]:
        why.append(
            f"the requester is now {current_['requester']!r}; the approval was for a change requested by "
            f"{approved.get('requester')!r}"
        )
    if approved.get("required_role") != current_["required_role"]:
        why.append(
            f"the policy now requires the role {current_['required_role']!r}; the approval was given under "
            f"{approved.get('required_role')!r}"
        )
    return why


# -- risk acceptance ------------------------------------------------------------------------------------
def accept_risk(
    ledger: Ledger,
    *,
    who: str,
    policy: TierPolicy,
    kinds: list[str],
    max_risk: int,
    max_criticality: str,
    expires: str,
    statement: str,
    key_dir: Path | None = None,
) -> dict[str, Any]:
    role = policy.doc["owner_role"]
    auth = current(ledger)
    if not auth.holds(who, role):
        raise BlastwallError(
            f"{who} does not hold {role!r}, the role that owns the tier policy (granted through blastwall "
            "roles grant); only that role can accept the risk of automatic remediation"
        )
    exp = parse_time(expires, field="--expires")
    if exp <= now():
        raise BadInput(f"--expires {expires} is in the past")
    if not statement.strip():
        raise BadInput("a risk acceptance needs a statement of what is accepted and why")
    payload: dict[str, Any] = {
        "acceptance_id": "ra-" + uuid.uuid4().hex[:12],
        "accepted_by": who,
        "role": role,
        "scope": {"change_kinds": sorted(kinds), "max_risk": max_risk, "max_criticality": max_criticality},
        "expires": iso(exp),
        "statement": statement,
        "accepted_at": iso(now()),
        "policy": policy_ref(policy),
    }
    ledger.append("risk_acceptance", payload, actor=who, key=_own_key(auth, who, key_dir))
    return payload


# -- adopting a suggested policy edit ------------------------------------------------------------------
def adopt_policy(
    ledger: Ledger,
    *,
    who: str,
    policy: TierPolicy,
    suggestion_id: str | None = None,
    statement: str = "",
    key_dir: Path | None = None,
) -> dict[str, Any]:
    """Put ``policy`` in force: a record signed by ``who``, who must hold the role that owns the policy in
    force (for an organization's first, the role ``policy`` names as its owner). ``suggestion_id`` names
    the review's suggested edit it adopts, if it is one. The gate answers only under the policy in force."""
    auth = current(ledger)
    in_force = auth.policy_in_force()
    role = in_force["owner_role"] if in_force else policy.doc["owner_role"]
    if not auth.holds(who, role):
        raise BlastwallError(
            f"{who} does not hold {role!r}, the role that owns the tier policy in force; only that role "
            "can put a policy in force"
        )
    payload: dict[str, Any] = {
        "adoption_id": "pa-" + uuid.uuid4().hex[:12],
        "suggestion_id": suggestion_id.strip() if suggestion_id else None,
        "adopted_by": who,
        "role": role,
        "owner_role": policy.doc["owner_role"],
        "statement": statement,
        "adopted_at": iso(now()),
        "previous": {k: in_force["policy"][k] for k in ("policy_id", "version", "digest")}
        if in_force
        else None,
        "policy": policy_ref(policy),
    }
    ledger.append("policy_adoption", payload, actor=who, key=_own_key(auth, who, key_dir))
    return payload


def in_force_problem(auth: Authority, policy: TierPolicy) -> str | None:
    """Why ``policy`` (the store's current one) is not the policy in force in the ledger, or None. A
    policy written into the store by anyone who can write it decides nothing until its owner adopts it."""
    in_force = auth.policy_in_force()
    ref = policy_ref(policy)
    if in_force is None:
        return (
            f"no tier policy was put in force in the ledger; its owner runs: blastwall policy load FILE "
            f"--as <{policy.doc['owner_role']}>"
        )
    if in_force["policy"]["digest"] != ref["digest"]:
        got = in_force["policy"]
        return (
            f"the store's tier policy ({ref['policy_id']} v{ref['version']}) is not the one in force in the "
            f"ledger ({got['policy_id']} v{got['version']}, adopted by {in_force['adopted_by']}): its owner "
            f"({in_force['owner_role']}) must put it in force (blastwall policy load FILE --as …)"
        )
    return None


def covering_acceptance(
    acceptances: dict[str, dict[str, Any]],
    result: dict[str, Any],
    at: datetime,
    policy: TierPolicy | None = None,
) -> tuple[dict[str, Any] | None, str]:
    """The live acceptance whose scope covers this result, or None and why none does. With ``policy``,
    only acceptances made under that very policy count."""
    if not acceptances:
        return None, "no risk acceptance has been recorded"
    worst = max((s["criticality"] for s in result["impacted_services"]), key=criticality_rank, default=None)
    digest = policy_ref(policy)["digest"] if policy is not None else None
    owner = policy.doc["owner_role"] if policy is not None else None
    reasons = []
    for a in sorted(acceptances.values(), key=lambda a: a["expires"], reverse=True):
        scope = a["scope"]
        if parse_time(a["expires"]) <= at:
            reasons.append(f"{a['acceptance_id']} expired {a['expires']}")
        elif owner is not None and a.get("role") != owner:
            reasons.append(
                f"{a['acceptance_id']} was made as {a.get('role')!r}, not as the policy's owner {owner!r}"
            )
        elif digest is not None and (a.get("policy") or {}).get("digest") != digest:
            made = a.get("policy") or {}
            reasons.append(
                f"{a['acceptance_id']} was accepted under policy {made.get('policy_id')} v{made.get('version')}, "
                "not the current one"
            )
        elif result["change"]["kind"] not in scope["change_kinds"]:
            reasons.append(f"{a['acceptance_id']} does not cover {result['change']['kind']}")
        elif result["risk_score"] > scope["max_risk"]:
            reasons.append(
                f"{a['acceptance_id']} covers risk up to {scope['max_risk']}, this is {result['risk_score']}"
            )
        elif worst and criticality_rank(worst) > criticality_rank(scope["max_criticality"]):
            reasons.append(
                f"{a['acceptance_id']} covers impact up to {scope['max_criticality']}, this reaches {worst}"
            )
        else:
            return (
                a,
                f"covered by {a['acceptance_id']} ({a['accepted_by']}, {a['role']}, until {a['expires']})",
            )
    return None, "; ".join(reasons)


# -- approvals -------------------------------------------------------------------------------------------
def _result(store: GraphStore, proposal_id: str) -> dict[str, Any]:
    r = store.get_document(RESULTS, proposal_id)
    if r is None:
        raise BadInput(f"proposal {proposal_id} has not been scored (blastwall score {proposal_id})")
    return r


def change_record(result: dict[str, Any], proposal: dict[str, Any]) -> dict[str, Any]:
    """The fields an auditor asks for (see docs: SOC 2 CC8.1, ISO 27001 A.8.32, PCI DSS 6.5.1, NIST CM-3)."""
    return {
        "proposal_id": result["proposal_id"],
        "source_finding": result["source"],
        "reason": result["source"].get("title"),
        "change": result["change"],
        "impact": {
            "severed": result["severed"],
            "impacted_services": result["impacted_services"],
            "undocumented_dependencies": result["undocumented_dependencies"],
            "unknowns": result["unknowns"],
            "evidence": result["evidence"],
            "analyzer_version": result.get("analyzer_version"),
        },
        "risk_score": result["risk_score"],
        "tier": result["tier"],
        "tier_rule": result["tier_rule"],
        "policy": result["policy"],
        "requester": requester_of(result, proposal),
        "rollback": result["rollback"],
        "before_digest": result["rollback"].get("before_digest"),
        "after_digest": result["rollback"].get("after_digest"),
        "impact_digest": impact_digest(result),
        "scored_as_of": result.get("as_of"),
    }


def _own_key(auth: Authority, who: str, key_dir: Path | None) -> Any:
    return own_key(auth, who, key_dir)


def decide(
    store: GraphStore,
    ledger: Ledger,
    proposal_id: str,
    *,
    who: str,
    approve: bool,
    comment: str,
    policy: TierPolicy,
    key_dir: Path | None = None,
) -> dict[str, Any]:
    """A decision signed with the deciding person's own key (the CLI)."""
    auth = current(ledger)
    return _decide(
        store, ledger, auth, proposal_id, who, approve, comment, policy, who, _own_key(auth, who, key_dir), {}
    )


def decide_in_app(
    store: GraphStore,
    ledger: Ledger,
    proposal_id: str,
    *,
    user: str,
    authenticated_by: str,
    approve: bool,
    comment: str,
    policy: TierPolicy,
    app_key_dir: Path | None,
) -> dict[str, Any]:
    """A decision made in the web app: the app authenticated the person, and the app's own identity
    (which must hold ``app``, granted by a role-admin) signs that it recorded their decision. The person's
    role is read from the ledger, never from the app's users file or a header."""
    auth = current(ledger)
    if not auth.holds(APP_IDENTITY, APP):
        m = auth.member(APP_IDENTITY)
        raise BlastwallError(
            f"the app's identity {APP_IDENTITY!r} "
            + (f"(key {m.fingerprint}) " if m and m.fingerprint else "")
            + "does not hold the 'app' role: a role-admin grants it (blastwall roles grant "
            f"{APP_IDENTITY} app --as ADMIN)"
        )
    key = _own_key(auth, APP_IDENTITY, app_key_dir)
    extra = {"authenticated_by": authenticated_by, "recorded_by": APP_IDENTITY}
    return _decide(store, ledger, auth, proposal_id, user, approve, comment, policy, APP_IDENTITY, key, extra)


def _decide(
    store: GraphStore,
    ledger: Ledger,
    auth: Authority,
    proposal_id: str,
    who: str,
    approve: bool,
    comment: str,
    policy: TierPolicy,
    signer: str,
    key: Any,
    extra: dict[str, Any],
) -> dict[str, Any]:
    result = _result(store, proposal_id)
    proposal = store.get_document(PROPOSALS, proposal_id) or {}
    unadopted = in_force_problem(auth, policy)
    if unadopted:  # recorded all the same (it is this person's word), but the gate will not honour it
        notices.say(f"this decision is recorded, but the gate will not let the change run: {unadopted}")
    if proposal and change_digest(proposal.get("change") or {}) != change_digest(result["change"]):
        raise BlastwallError(
            f"{proposal_id} was re-proposed with a different change since it was scored: score it again "
            f"(blastwall score {proposal_id}) and decide on what will run"
        )
    now_tier = tier_now(result, policy, auth.acceptances, now())
    if (now_tier["tier"], now_tier["rule"]) != (result["tier"], result["tier_rule"]):
        raise BlastwallError(
            f"{proposal_id} was scored as {result['tier']} by rule {result['tier_rule']}, but the current "
            f"policy says {now_tier['tier']} by rule {now_tier['rule']}: score it again first"
        )
    bound = binding(result, proposal, policy, now_tier)
    if signing.same_person(who, bound["requester"]):
        raise BlastwallError(
            f"{who} requested this change and cannot also {'approve' if approve else 'reject'} it"
        )
    if approve and result["tier"] == "blocked":
        raise BlastwallError(f"{proposal_id} is blocked by rule {result['tier_rule']}; it cannot be approved")
    needed = bound["required_role"]
    if not auth.holds(who, needed):
        held = ", ".join(auth.roles_of(who)) or "no role"
        raise BlastwallError(
            f"tier {result['tier']} (rule {result['tier_rule']}) needs the role {needed!r}; "
            f"{who} holds {held} in the ledger"
        )
    if not comment.strip():
        raise BadInput("a decision needs a comment (why)")
    payload: dict[str, Any] = {
        "proposal_id": proposal_id,
        "decision": "approved" if approve else "rejected",
        "approver": who,
        "approver_roles": auth.roles_of(who),
        "decided_at": iso(now()),
        "comment": comment,
        "binding": bound,
        "change_record": change_record(result, proposal),
        **extra,
    }
    rec = ledger.append("decision", payload, actor=signer, key=key)
    return payload | {"ledger_seq": rec["seq"]}


# -- the gate ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class GateVerdict:
    allowed: bool
    reason: str
    proposal_id: str
    tier: str
    differences: tuple[str, ...] = ()

    @property
    def exit_code(self) -> int:
        return 0 if self.allowed else 3


def gate(
    store: GraphStore,
    ledger: Ledger,
    proposal_id: str,
    *,
    policy: TierPolicy,
    trust_root: TrustRoot | None,
    at: datetime | None = None,
    asked_by: str | None = None,
) -> GateVerdict:
    """May this change run now? Only from a ledger that verifies against the trust root (and every
    anchored head); the answer is recorded either way (with who asked, when the API knows), and an
    answer that cannot be recorded is no."""
    at = at or now()
    result = _result(store, proposal_id)
    proposal = store.get_document(PROPOSALS, proposal_id) or {}
    verdict, bound = _answer(store, ledger, proposal_id, result, proposal, policy, trust_root, at)
    body = {
        "proposal_id": proposal_id,
        "allowed": verdict.allowed,
        "reason": verdict.reason,
        "tier": verdict.tier,
        "binding": bound,
    }
    if asked_by:
        body["asked_by"] = asked_by
    try:
        ledger.append_system("gate", body)
    except BlastwallError as exc:
        return GateVerdict(
            False,
            f"{verdict.reason} — and the answer could not be recorded ({exc}), so no",
            proposal_id,
            verdict.tier,
            verdict.differences,
        )
    return verdict


def _answer(
    store: GraphStore,
    ledger: Ledger,
    pid: str,
    result: dict[str, Any],
    proposal: dict[str, Any],
    policy: TierPolicy,
    trust_root: TrustRoot | None,
    at: datetime,
) -> tuple[GateVerdict, dict[str, Any] | None]:
    rep = ledger.verify(trust_root)
    if not rep.ok or rep.authority is None:
        why = rep.problems[0] if rep.problems else "it does not verify"
        return GateVerdict(
            False, f"no authority can be read from the ledger: {why}", pid, result["tier"]
        ), None
    auth = rep.authority
    now_tier = tier_now(result, policy, auth.acceptances, at)
    bound = binding(result, proposal, policy, now_tier)
    tier = now_tier["tier"]
    unadopted = in_force_problem(auth, policy)
    if unadopted:
        return GateVerdict(False, unadopted, pid, tier), bound
    if not proposal:
        return GateVerdict(
            False, f"{pid} is not a proposal in this store: what would run is unknown", pid, tier
        ), bound
    stale = change_digest(proposal.get("change") or {}) != change_digest(result["change"])
    decision = auth.decisions.get(pid)
    if decision is not None and decision["decision"] == "rejected":
        return GateVerdict(
            False,
            f"rejected by {decision['approver']} at {decision['decided_at']}: {decision['comment']}",
            pid,
            tier,
        ), bound
    if decision is not None:
        diffs = binding_differences(decision.get("binding") or {}, bound)
        if stale:
            diffs.insert(0, "the proposal changed since it was scored (score it again)")
        if diffs:
            return GateVerdict(
                False,
                f"approved by {decision['approver']} at {decision['decided_at']}, but since then "
                + "; ".join(diffs)
                + ": a human must decide again",
                pid,
                tier,
                tuple(diffs),
            ), bound
        return GateVerdict(
            True,
            f"approved by {decision['approver']} holding {bound['required_role']!r} at {decision['decided_at']}"
            f" (ledger record {decision['ledger_seq']})",
            pid,
            tier,
        ), bound
    if stale:
        return GateVerdict(
            False, "the proposal changed since it was scored: score it again", pid, tier
        ), bound
    if tier == "auto":
        return GateVerdict(True, f"auto under a live risk acceptance: {now_tier['why']}", pid, tier), bound
    if tier == "blocked":
        return GateVerdict(False, f"blocked by rule {now_tier['rule']}", pid, tier), bound
    extra = f" ({now_tier['why']})" if now_tier.get("why") else ""
    return GateVerdict(
        False,
        f"tier {tier} (rule {now_tier['rule']}): needs a decision by a holder of {now_tier['role']!r}{extra}",
        pid,
        tier,
    ), bound
