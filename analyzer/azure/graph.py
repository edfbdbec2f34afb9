"""The tenant's RBAC as the store holds it (``connectors/azure``), for ``analyzer.azure.rbac``."""

from __future__ import annotations

from typing import Any

from analyzer.azure.rbac import Authorization, DenyAssignment, Permission, RoleAssignment, RoleDefinition

PRINCIPAL_PREFIX = "urn:azure:principal:"
MG_PREFIX = "/providers/microsoft.management/managementgroups/"


def _permissions(raw: Any) -> tuple[Permission, ...]:
    return tuple(
        Permission(
            tuple(p.get("actions") or ()),
            tuple(p.get("not_actions") or ()),
            tuple(p.get("data_actions") or ()),
            tuple(p.get("not_data_actions") or ()),
        )
        for p in raw or []
    )


def authorization(snap: Any) -> Authorization:
    """Role definitions, role and deny assignments and the management group tree of a snapshot."""
    roles = {
        n.id.rsplit("/", 1)[-1]: RoleDefinition(
            n.id.rsplit("/", 1)[-1],
            str(n.props.get("role_name") or ""),
            _permissions(n.props.get("permissions")),
        )
        for n in snap.of_kind("AzureRoleDefinition")
        if n.props
    }
    assignments = [
        RoleAssignment(
            str(e.props.get("assignment") or ""),
            e.dst,
            str(e.props.get("role") or ""),
            e.src.removeprefix(PRINCIPAL_PREFIX),
            e.props.get("condition") or None,
            str(e.props.get("principal_type") or ""),
        )
        for e in (snap.edge_records("ASSIGNED") if "ASSIGNED" in snap.edges else [])
    ]
    denies = [
        DenyAssignment(
            n.id,
            str(n.props.get("scope") or "/"),
            _permissions(n.props.get("permissions")),
            tuple(n.props.get("principals") or ()),
            tuple(n.props.get("exclude_principals") or ()),
            bool(n.props.get("do_not_apply_to_child_scopes")),
        )
        for n in snap.of_kind("AzureDenyAssignment")
        if n.props
    ]
    parents: dict[str, str] = {}
    for e in snap.edge_records("MEMBER_OF") if "MEMBER_OF" in snap.edges else []:
        child = e.src.rsplit("/", 1)[-1] if e.src.startswith(("/subscriptions/", MG_PREFIX)) else None
        if child is not None and e.dst.startswith(MG_PREFIX):
            parents[child] = e.dst.removeprefix(MG_PREFIX)
    return Authorization(roles, assignments, denies, parents)


def memberships(snap: Any, principal: str) -> tuple[frozenset[str], frozenset[str]]:
    """(groups ``principal`` is in, groups it is known not to be in) from the collected member lists
    (``az ad group member list``), nested groups followed; object ids, lower case. A collected group holding
    a group whose own list was not collected may hold the principal: in neither set."""
    parents: dict[str, list[str]] = {}
    nested: dict[str, list[str]] = {}  # group -> the groups among its members
    for e in snap.edge_records("MEMBER_OF") if "MEMBER_OF" in snap.edges else []:
        if e.src.startswith(PRINCIPAL_PREFIX) and e.dst.startswith(PRINCIPAL_PREFIX):
            parents.setdefault(e.src, []).append(e.dst)
            if str(e.props.get("member_type") or "").lower() == "group":
                nested.setdefault(e.dst, []).append(e.src)
    collected = {n.id for n in snap.of_kind("AzurePrincipal") if n.props and n.props.get("members_collected")}
    inside: set[str] = set()
    todo = [principal]
    while todo:
        for g in parents.get(todo.pop(), []):
            if g not in inside:
                inside.add(g)
                todo.append(g)

    def closed(group: str, seen: frozenset[str]) -> bool:
        """Whether every group nested in ``group`` had its members read too."""
        return all(c in seen or (c in collected and closed(c, seen | {c})) for c in nested.get(group, []))

    outside = {g for g in collected if g not in inside and closed(g, frozenset({g}))}
    strip = lambda ids: frozenset(i.removeprefix(PRINCIPAL_PREFIX) for i in ids)  # noqa: E731
    return strip(inside), strip(outside)
