"""Blast radius of removing an Azure role assignment (``azure.remove_role_assignment``).

Every request the Activity Log and storage resource logs show the assignment's principal making under its
scope (or any principal making through this assignment, as the log names it: a group's members) is
decided again by the RBAC engine (``analyzer.azure.rbac``) with the tenant's assignments as they are and
without this one. Allowed and then denied is severed (observed, with its evidence); allowed and then
conditional (a group whose memberships were not collected, a condition on attributes) is "may be
severed"; nothing observed and no other assignment of the same role at or above the scope: the role is
lost, an unobserved severed dependency. The rollback re-creates the assignment and must restore every
decision.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from analyzer.azure.graph import authorization, memberships
from analyzer.azure.rbac import Authorization, Request, decide, scopes_above
from analyzer.changes import get_kind
from analyzer.scoring.context import Context
from analyzer.scoring.outcome import Outcome, config_digest, in_window, severed_entry
from analyzer.timeutil import iso

PRINCIPAL_PREFIX = "urn:azure:principal:"


def _authz(ctx: Context) -> Authorization:
    return ctx.snap.memo(("azure-authorization",), lambda: authorization(ctx.snap))  # type: ignore[return-value]


def role_assignment_change(
    ctx: Context, proposal: dict[str, Any], start: datetime, as_of: datetime
) -> Outcome:
    change = proposal["change"]
    kind = get_kind(change["kind"])
    assert kind.apply is not None and kind.invert is not None
    out = Outcome(evidence_sources=("azure-logs",))
    target = str(change.get("target") or "").strip().rstrip("/").lower()
    guid = target.rsplit("/", 1)[-1]
    authz = _authz(ctx)
    mine = next((a for a in authz.assignments if a.id == target or a.id.rsplit("/", 1)[-1] == guid), None)
    if mine is None:
        return out.target_missing(f"{change.get('target')} is not a role assignment of the loaded tenant")
    parts = mine.scope.split("/")
    out.account = parts[2] if len(parts) > 2 and parts[1] == "subscriptions" else ""
    before_state = {"assigned": True}
    after_state = kind.apply(before_state, change["delta"])
    out.applied = after_state == before_state
    without = replace(authz, assignments=[a for a in authz.assignments if a is not mine])
    inverse = kind.invert(before_state, change["delta"])
    restored_state = kind.apply(after_state, inverse)
    worlds = {"before": authz, "after": without if not after_state["assigned"] else authz}
    worlds["restored"] = authz if restored_state["assigned"] else without
    role = authz.roles.get(mine.role)
    role_name = role.name if role is not None else mine.role
    principal = PRINCIPAL_PREFIX + mine.principal
    lo, hi = iso(start), iso(as_of)
    # the requests to decide again: the principal's under the scope, and any made through this assignment
    scope = mine.scope
    mine_guid = mine.id.rsplit("/", 1)[-1].replace("-", "")
    edges = {}
    if "OBSERVED_AZURE_ACCESS" in ctx.snap.edges:
        for e in ctx.snap.edge_records("OBSERVED_AZURE_ACCESS"):
            through = str(e.props.get("assignment") or "") == mine_guid
            under = (
                scope == "/"
                or e.dst == scope
                or e.dst.startswith(scope + "/")
                or scope in scopes_above(e.dst, authz.parents)
            )
            if through or (e.src == principal and under):
                edges[(e.src, e.dst, e.key)] = e
    mismatch: list[str] = []
    for e in sorted(edges.values(), key=lambda e: (e.src, e.dst, e.key)):
        listed_in, not_in = memberships(ctx.snap, e.src)
        member_of = listed_in | (
            frozenset({mine.principal})
            if e.src != principal and str(e.props.get("assignment") or "")
            else frozenset()
        )
        request = Request(
            e.src.removeprefix(PRINCIPAL_PREFIX),
            None,  # the complete set is never known: the collected member lists say what they say
            str(e.props.get("action") or ""),
            e.dst,
            e.props.get("plane") == "data",
            member_of,
            not_in,
        )
        b, a, r = (decide(request, worlds[w]) for w in ("before", "after", "restored"))
        if r.state != b.state:
            mismatch.append(f"{e.src} {request.action} on {e.dst}")
        if b.state == a.state:
            continue
        if a.state == "denied":
            entry = severed_entry(
                ctx,
                e.src,
                e.dst,
                request.action,
                edge=e,
                observed=in_window(e, lo, hi),
                reason=a.reason,
            )
            entry["before"] = {
                "decision": b.state,
                "statements": list(b.assignments),
                "missing_context": list(b.missing),
            }
            out.severed.append(entry)
        else:
            out.unknowns.append(
                {
                    "reason": "access_may_be_severed",
                    "detail": f"{e.src} {request.action} on {e.dst}: {a.reason}",
                }
            )
    if not out.severed and not any(u["reason"] == "access_may_be_severed" for u in out.unknowns):
        covered = any(
            a is not mine
            and a.principal == mine.principal
            and a.role == mine.role
            and not a.condition
            and (a.scope == "/" or a.scope in scopes_above(scope, authz.parents))
            for a in authz.assignments
        )
        if not covered and not out.applied:
            out.severed.append(
                severed_entry(
                    ctx,
                    principal,
                    scope,
                    f"role {role_name}",
                    observed=False,
                    reason=f"no other assignment gives {mine.principal} {role_name} at or above {scope}",
                )
            )
    group = ctx.snap.node(principal)
    listed = bool(group is not None and group.props and group.props.get("members_collected"))
    if mine.principal_type.lower() == "group" and listed:
        members = sorted(e.src for e in ctx.snap.edges_into("MEMBER_OF", principal))
        seen = {s["consumer"] for s in out.severed if s["observed"]}
        quiet = [m for m in members if m not in seen]
        if quiet:
            out.notes.append(
                f"{len(quiet)} member(s) of the group lose {role_name} at {scope} with no use seen: "
                + ", ".join(m.removeprefix(PRINCIPAL_PREFIX) for m in quiet[:5])
                + (" …" if len(quiet) > 5 else "")
            )
    elif "ASSIGNED" in ctx.snap.edges and any(
        str(e.props.get("principal_type") or "").lower() == "group"
        for e in ctx.snap.edges_from("ASSIGNED", principal)
    ):
        out.unknowns.append(
            {
                "reason": "group_members_unknown",
                "detail": f"{mine.principal} is a group and its members were not collected: requests the logs "
                "do not attribute to this assignment cannot be told apart",
            }
        )
    out.notes.append(f"removes {role_name} from {mine.principal} at {scope}")
    out.rollback = {
        "change": {"kind": kind.name, "target": change.get("target"), "delta": inverse},
        "verified": not mismatch,
        "detail": "re-creating the assignment restores every decision"
        if not mismatch
        else f"rollback does not restore: {', '.join(mismatch[:5])}",
        "before_digest": config_digest({"assignment": mine.id, "role": mine.role, "scope": mine.scope}),
        "after_digest": config_digest(after_state),
    }
    return out


def managed_identity_change(
    ctx: Context, proposal: dict[str, Any], start: datetime, as_of: datetime
) -> Outcome:
    """``azure.remove_managed_identity``: every request the logs show the identity making is severed (it
    no longer exists, whatever its roles), and each of its role assignments is lost with it."""
    change = proposal["change"]
    kind = get_kind(change["kind"])
    assert kind.apply is not None
    out = Outcome(evidence_sources=("azure-logs",))
    target = str(change.get("target") or "").strip().lower()
    principal = target if target.startswith(PRINCIPAL_PREFIX) else PRINCIPAL_PREFIX + target
    authz = _authz(ctx)
    mine = [a for a in authz.assignments if PRINCIPAL_PREFIX + a.principal == principal]
    used = (
        ctx.snap.edges_from("OBSERVED_AZURE_ACCESS", principal)
        if "OBSERVED_AZURE_ACCESS" in ctx.snap.edges
        else []
    )
    if not mine and not used and ctx.snap.node(principal) is None:
        return out.target_missing(f"{change.get('target')} is no principal of the loaded tenant")
    parts = (mine[0].scope if mine else (used[0].dst if used else "")).split("/")
    out.account = parts[2] if len(parts) > 2 and parts[1] == "subscriptions" else ""
    lo, hi = iso(start), iso(as_of)
    for e in sorted(used, key=lambda e: (e.dst, e.key)):
        out.severed.append(
            severed_entry(
                ctx,
                principal,
                e.dst,
                str(e.props.get("action") or ""),
                edge=e,
                observed=in_window(e, lo, hi),
                reason="the identity no longer exists",
            )
        )
    seen_scopes = {e.dst for e in used}
    for a in mine:
        if any(s == a.scope or s.startswith(a.scope + "/") for s in seen_scopes):
            continue  # its use there is listed above
        role = authz.roles.get(a.role)
        out.severed.append(
            severed_entry(
                ctx,
                principal,
                a.scope,
                f"role {role.name if role is not None else a.role}",
                observed=False,
                reason="the identity no longer exists",
            )
        )
    out.severed.sort(key=lambda s: (not s["observed"], -s["events"], s["provider"]))
    out.notes.append(
        f"deletes the identity {principal.removeprefix(PRINCIPAL_PREFIX)} and with it {len(mine)} role "
        "assignment(s); it cannot be restored (a new identity is a new principal)"
    )
    out.rollback = {
        "change": None,
        "verified": False,
        "detail": "a deleted managed identity cannot be restored: a new one needs every assignment and "
        "workload configured again",
        "before_digest": config_digest({"principal": principal, "assignments": sorted(a.id for a in mine)}),
        "after_digest": config_digest({"state": "deleted"}),
    }
    return out
