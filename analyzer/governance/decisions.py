"""Humans deciding: identities, risk acceptances, approvals and rejections, and the gate.

Every act is signed by the person's Ed25519 key and appended to the ledger with the full change record
(what, why, impact analysis, policy authority, rollback), so the ledger alone answers "who authorized
this, under which authority, knowing what".
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from analyzer.criticality import criticality_rank
from analyzer.errors import BadInput, BlastwallError
from analyzer.governance import signing
from analyzer.governance.ledger import Ledger
from analyzer.governance.signing import IDENTITIES, Identity
from analyzer.graph.store import GraphStore
from analyzer.timeutil import iso, now, parse_time

ACCEPTANCES = "acceptances"
DECISIONS = "decisions"
RESULTS = "results"
PROPOSALS = "proposals"


def identity(store: GraphStore, name: str) -> Identity:
    doc = store.get_documents(IDENTITIES).get(name)
    if doc is None:
        raise BlastwallError(
            f"no identity {name!r} is registered in this store (blastwall keys init --name {name})"
        )
    return Identity.from_doc(doc)


def register_identity(
    store: GraphStore, ledger: Ledger, name: str, roles: list[str], key_dir: Path | None = None
) -> Identity:
    if name in store.get_documents(IDENTITIES):
        raise BlastwallError(f"identity {name!r} already exists in this store")
    ident = signing.create_key(name, roles, key_dir)
    ledger.append("identity", ident.as_doc())
    store.put_documents(IDENTITIES, {name: ident.as_doc()})
    return ident


def _signed_append(
    store: GraphStore, ledger: Ledger, rtype: str, who: str, payload: dict[str, Any], key_dir: Path | None
) -> dict[str, Any]:
    ident = identity(store, who)
    key = signing.load_private_key(who, key_dir)
    if signing.public_key_of(key) != ident.public_key:
        raise BlastwallError(f"the key file for {who!r} does not match the registered identity (wrong key)")
    signature = signing.sign(key, payload)
    return ledger.append(rtype, {"payload": payload, "signed": {"by": who, "signature": signature}})


# -- risk acceptance -------------------------------------------------------------------------------------
def accept_risk(
    store: GraphStore,
    ledger: Ledger,
    *,
    who: str,
    policy_owner_role: str,
    kinds: list[str],
    max_risk: int,
    max_criticality: str,
    expires: str,
    statement: str,
    key_dir: Path | None = None,
) -> dict[str, Any]:
    ident = identity(store, who)
    if policy_owner_role not in ident.roles:
        raise BlastwallError(
            f"{who} does not hold {policy_owner_role!r}, the role that owns the tier policy; "
            "only that role can accept the risk of automatic remediation"
        )
    exp = parse_time(expires, field="--expires")
    if exp <= now():
        raise BadInput(f"--expires {expires} is in the past")
    if not statement.strip():
        raise BadInput("a risk acceptance needs a statement of what is accepted and why")
    payload: dict[str, Any] = {
        "acceptance_id": "ra-" + uuid.uuid4().hex[:12],
        "accepted_by": who,
        "role": policy_owner_role,
        "scope": {"change_kinds": sorted(kinds), "max_risk": max_risk, "max_criticality": max_criticality},
        "expires": iso(exp),
        "statement": statement,
        "accepted_at": iso(now()),
    }
    rec = _signed_append(store, ledger, "risk_acceptance", who, payload, key_dir)
    store.put_documents(ACCEPTANCES, {payload["acceptance_id"]: payload | {"ledger_seq": rec["seq"]}})
    return payload


def covering_acceptance(
    acceptances: dict[str, dict[str, Any]], result: dict[str, Any], at: datetime
) -> tuple[dict[str, Any] | None, str]:
    """The live acceptance whose scope covers this result, or None and why none does."""
    if not acceptances:
        return None, "no risk acceptance has been recorded"
    worst = max((s["criticality"] for s in result["impacted_services"]), key=criticality_rank, default=None)
    reasons = []
    for a in sorted(acceptances.values(), key=lambda a: a["expires"], reverse=True):
        scope = a["scope"]
        if parse_time(a["expires"]) <= at:
            reasons.append(f"{a['acceptance_id']} expired {a['expires']}")
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


# -- approvals ---------------------------------------------------------------------------------------------
def _result(store: GraphStore, proposal_id: str) -> dict[str, Any]:
    r = store.get_documents(RESULTS).get(proposal_id)
    if r is None:
        raise BadInput(f"proposal {proposal_id} has not been scored (blastwall score {proposal_id})")
    return r


def impact_digest(result: dict[str, Any]) -> str:
    """What a human saw when deciding: the change and its impact, not the time it was computed."""
    keep = ("change", "tier", "severed", "impacted_services", "unknowns", "exposure_added", "rollback")
    return signing.sha256({k: result.get(k) for k in keep})


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
        "requester": proposal.get("requester")
        or result["source"].get("product")
        or result["source"]["format"],
        "rollback": result["rollback"],
        "before_digest": result["rollback"].get("before_digest"),
        "after_digest": result["rollback"].get("after_digest"),
        "impact_digest": impact_digest(result),
        "scored_as_of": result.get("as_of"),
    }


def decide(
    store: GraphStore,
    ledger: Ledger,
    proposal_id: str,
    *,
    who: str,
    approve: bool,
    comment: str,
    key_dir: Path | None = None,
) -> dict[str, Any]:
    """A decision signed with the deciding person's own key (the CLI)."""
    ident = identity(store, who)
    return _decide(
        store,
        ledger,
        proposal_id,
        who,
        list(ident.roles),
        approve,
        comment,
        signer=who,
        key_dir=key_dir,
        extra={},
    )


APP_IDENTITY = "blastwall-app"


def decide_in_app(
    store: GraphStore,
    ledger: Ledger,
    proposal_id: str,
    *,
    user: str,
    roles: list[str],
    authenticated_by: str,
    approve: bool,
    comment: str,
) -> dict[str, Any]:
    """A decision made in the web app: the person was authenticated by the app (a users file or a trusted
    proxy header) and the app's own key signs that it recorded their decision. The record says so."""
    if APP_IDENTITY not in store.get_documents(IDENTITIES):
        register_identity(store, ledger, APP_IDENTITY, ["app"], ledger.key_dir)
    return _decide(
        store,
        ledger,
        proposal_id,
        user,
        roles,
        approve,
        comment,
        signer=APP_IDENTITY,
        key_dir=ledger.key_dir,
        extra={"authenticated_by": authenticated_by, "recorded_by": APP_IDENTITY},
    )


def _decide(
    store: GraphStore,
    ledger: Ledger,
    proposal_id: str,
    who: str,
    roles: list[str],
    approve: bool,
    comment: str,
    *,
    signer: str,
    key_dir: Path | None,
    extra: dict[str, Any],
) -> dict[str, Any]:
    result = _result(store, proposal_id)
    proposal = store.get_documents(PROPOSALS).get(proposal_id, {})
    record = change_record(result, proposal)
    if who == record["requester"]:
        raise BlastwallError(
            f"{who} requested this change and cannot also {'approve' if approve else 'reject'} it"
        )
    if approve:
        if result["tier"] == "blocked":
            raise BlastwallError(
                f"{proposal_id} is blocked by rule {result['tier_rule']}; it cannot be approved"
            )
        needed = result.get("approver_role")
        if needed and needed not in roles:
            raise BlastwallError(
                f"tier {result['tier']} (rule {result['tier_rule']}) needs the role {needed!r}; "
                f"{who} holds {', '.join(roles) or 'no role'}"
            )
    if not comment.strip():
        raise BadInput("a decision needs a comment (why)")
    payload: dict[str, Any] = {
        "decision": "approved" if approve else "rejected",
        "approver": who,
        "approver_roles": list(roles),
        "decided_at": iso(now()),
        "comment": comment,
        "change_record": record,
        **extra,
    }
    rec = _signed_append(store, ledger, "decision", signer, payload, key_dir)
    store.put_documents(DECISIONS, {proposal_id: payload | {"ledger_seq": rec["seq"]}})
    return payload


# -- the gate ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class GateVerdict:
    allowed: bool
    reason: str
    proposal_id: str
    tier: str

    @property
    def exit_code(self) -> int:
        return 0 if self.allowed else 3


def gate(store: GraphStore, ledger: Ledger, proposal_id: str, at: datetime | None = None) -> GateVerdict:
    """May this change run now? Records the answer in the ledger either way."""
    at = at or now()
    result = _result(store, proposal_id)
    decision = store.get_documents(DECISIONS).get(proposal_id)
    tier = result["tier"]
    if decision is not None:
        same = decision["change_record"]["impact_digest"] == impact_digest(result)
        if decision["decision"] == "rejected":
            verdict = GateVerdict(
                False,
                f"rejected by {decision['approver']} at {decision['decided_at']}: {decision['comment']}",
                proposal_id,
                tier,
            )
        elif not same:
            verdict = GateVerdict(
                False,
                f"approved by {decision['approver']}, but the impact has changed since "
                "(re-scored with different severed/impacted/unknowns): a human must look again",
                proposal_id,
                tier,
            )
        else:
            verdict = GateVerdict(
                True,
                f"approved by {decision['approver']} ({', '.join(decision['approver_roles'])})"
                f" at {decision['decided_at']}",
                proposal_id,
                tier,
            )
    elif tier == "auto":
        acceptance, why = covering_acceptance(store.get_documents(ACCEPTANCES), result, at)
        verdict = GateVerdict(
            acceptance is not None,
            f"auto under a live risk acceptance: {why}"
            if acceptance
            else f"tier auto, but no live risk acceptance covers it: {why}",
            proposal_id,
            tier,
        )
    else:
        role = result.get("approver_role")
        verdict = GateVerdict(
            False,
            f"tier {tier} (rule {result['tier_rule']}): needs a decision by {role or 'a human'}",
            proposal_id,
            tier,
        )
    ledger.append(
        "gate",
        {
            "proposal_id": proposal_id,
            "allowed": verdict.allowed,
            "reason": verdict.reason,
            "tier": tier,
            "impact_digest": impact_digest(result),
        },
    )
    return verdict
