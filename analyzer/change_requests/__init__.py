"""Change requests where approvers already work (ServiceNow, Jira), and their approvals back into the
ledger.

``open_request`` files one for a scored proposal whose tier needs a human: what it would sever, who
depends on it, the rollback, and the binding digest of the analysis shown. ``sync`` reads each open
request back; an approval (or rejection) counts as the decision of the identity its account is linked to
by a role-admin (``blastwall accounts link``), recorded in the ledger by the app identity (which must
hold ``app``) — and only when

* the request still says it is for that proposal (ServiceNow ``correlation_id``, a Jira label) and for
  the analysis that is current (its binding digest): a request approved for an earlier analysis, or a
  store pointed at another request, decides nothing;
* the account is linked to an identity that holds the role the tier needs, and did not request the
  change (the ledger's own rules, the same as every decision).

What the store keeps (``change_requests``) is only where the request is; authority comes from the ledger.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analyzer.change_requests.content import bound_digest, request_content
from analyzer.change_requests.systems import Approval, TicketSystem
from analyzer.errors import BadInput, BlastwallError
from analyzer.governance.authority import Authority
from analyzer.governance.decisions import binding, decide_in_app, tier_now
from analyzer.governance.ledger import Ledger
from analyzer.governance.tier_policy import TierPolicy
from analyzer.graph.lease import writes
from analyzer.graph.store import GraphStore
from analyzer.timeutil import iso, now

COLLECTION = "change_requests"
SYSTEMS = ("servicenow", "jira")


def system(name: str) -> TicketSystem:
    """The adapter for ``name``, configured from the environment."""
    if name == "servicenow":
        from analyzer.change_requests import servicenow

        return servicenow.from_env()
    if name == "jira":
        from analyzer.change_requests import jira

        return jira.from_env()
    raise BadInput(f"unknown ticket system {name!r}: {', '.join(SYSTEMS)}", path="--to")


def _current_binding(
    store: GraphStore, pid: str, policy: TierPolicy, acceptances: dict[str, dict[str, Any]]
) -> tuple[dict[str, Any], dict[str, Any]]:
    from analyzer.api import PROPOSALS, RESULTS

    result = store.get_document(RESULTS, pid)
    if result is None:
        raise BadInput(f"{pid} has not been scored (blastwall score {pid})")
    proposal = store.get_document(PROPOSALS, pid) or {}
    now_tier = tier_now(result, policy, acceptances, now())
    return result, binding(result, proposal, policy, now_tier)


@writes("change-request open")
def open_request(
    store: GraphStore,
    pid: str,
    ticketing: TicketSystem,
    *,
    policy: TierPolicy,
    acceptances: dict[str, dict[str, Any]],
    opened_by: str,
    link_base: str | None = None,
) -> dict[str, Any]:
    """File a change request for ``pid`` (or return the one already open for the same analysis)."""
    result, bound = _current_binding(store, pid, policy, acceptances)
    if bound["tier"] == "auto":
        raise BadInput(f"{pid} is tier auto under a live risk acceptance: no human decision is needed")
    if bound["tier"] == "blocked":
        raise BadInput(f"{pid} is blocked by rule {bound['tier_rule']}: no approval can let it run")
    link = f"{link_base.rstrip('/')}/proposal/{pid}" if link_base else None
    content = request_content(result, bound, link)
    held = store.get_document(COLLECTION, pid)
    if held and held["state"] == "open" and held["binding_digest"] == content.binding_digest:
        return held | {"already_open": True}
    opened = ticketing.open(content)
    record = {
        "proposal_id": pid,
        "system": opened.system,
        "number": opened.number,
        "ref": opened.ref,
        "url": opened.url,
        "binding_digest": content.binding_digest,
        "approver_role": content.approver_role,
        "opened_at": iso(now()),
        "opened_by": opened_by,
        "state": "open",
        "note": "",
    }
    store.put_documents(COLLECTION, {pid: record})
    return record


@dataclass(frozen=True)
class Synced:
    proposal_id: str
    number: str
    outcome: str  # approved | rejected | waiting | not counted | stale
    detail: str


def sync(
    store: GraphStore,
    ledger: Ledger,
    auth: Authority,
    systems: dict[str, TicketSystem],
    *,
    policy: TierPolicy,
    app_key_dir: Path | None,
) -> list[Synced]:
    """Read every open change request back; record what a linked approver decided. ``auth`` is the
    ledger's authority verified against the trust root (accounts are linked there)."""
    out = []
    for pid, rec in sorted(store.get_documents(COLLECTION).items()):
        if rec.get("state") != "open":
            continue
        ticketing = systems.get(rec["system"])
        if ticketing is None:
            continue
        done = _sync_one(store, ledger, auth, ticketing, pid, rec, policy, app_key_dir)
        out.append(done)
        if done.outcome != "waiting":
            state = {"approved": "decided", "rejected": "decided", "stale": "stale"}.get(done.outcome, "open")
            with store.lease("change-request sync"):
                store.put_documents(COLLECTION, {pid: rec | {"state": state, "note": done.detail}})
    return out


def _sync_one(
    store: GraphStore,
    ledger: Ledger,
    auth: Authority,
    ticketing: TicketSystem,
    pid: str,
    rec: dict[str, Any],
    policy: TierPolicy,
    app_key_dir: Path | None,
) -> Synced:
    number = rec["number"]
    seen = ticketing.read(rec["ref"])
    if seen.proposal_id != pid:
        return Synced(
            pid,
            number,
            "not counted",
            f"{number} says it is for {seen.proposal_id!r}, not {pid}: nothing recorded",
        )
    _, bound = _current_binding(store, pid, policy, auth.acceptances)
    from analyzer.change_requests.content import binding_digest

    shown, current_ = bound_digest(seen.description), binding_digest(bound)
    if shown != current_:
        return Synced(
            pid,
            number,
            "stale",
            f"{number} was filed for another analysis ({shown}) than the current one ({current_}): "
            "open a new change request",
        )
    decided = _deciding(seen.approvals)
    if decided is None:
        return Synced(pid, number, "waiting", f"{number}: no approval or rejection yet")
    who = auth.linked(ticketing.name, decided.account)
    if who is None:
        return Synced(
            pid,
            number,
            "not counted",
            f"{number} was {decided.state} by {ticketing.name} account {decided.account!r}, which no role-admin "
            f"linked to an identity (blastwall accounts link NAME --{ticketing.name} {decided.account})",
        )
    approve = decided.state == "approved"
    comment = decided.comment.strip() or f"{decided.state} in {ticketing.name} {number}"
    try:
        decide_in_app(
            store,
            ledger,
            pid,
            user=who,
            authenticated_by=f"{ticketing.name} {number}: {decided.state} by {decided.account} at {decided.at}",
            approve=approve,
            comment=f"{comment} ({ticketing.name} {number})",
            policy=policy,
            app_key_dir=app_key_dir,
        )
    except BlastwallError as exc:
        return Synced(pid, number, "not counted", f"{number}: {decided.state} by {who}, not recorded: {exc}")
    return Synced(pid, number, decided.state, f"{number}: {decided.state} by {who} ({decided.account})")


def _deciding(approvals: tuple[Approval, ...]) -> Approval | None:
    """A rejection outweighs approvals (as ServiceNow's approval status does); else the first approval."""
    rejected = [a for a in approvals if a.state == "rejected"]
    if rejected:
        return rejected[0]
    approved = [a for a in approvals if a.state == "approved"]
    return approved[0] if approved else None
