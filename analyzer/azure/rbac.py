"""Azure RBAC, decided the way the Azure documentation describes it.

* A **role definition** grants, per permission block, ``actions`` less ``notActions`` (control plane) and
  ``dataActions`` less ``notDataActions`` (data plane); a role's grant is the union of its blocks. ``*``
  matches any characters (``Microsoft.Network/*/read`` is every read of the provider); action strings
  compare without regard to case ("Understand Azure role definitions").
* ``notActions`` is not a deny: another role that grants the action grants it. Effective permissions are
  the sum of the role assignments that apply ("What is Azure RBAC?", multiple role assignments).
* A **role assignment** applies to its scope and everything under it: root ``/``, management groups (nested),
  subscriptions, resource groups, resources and their child resources ("Understand scope").
* A **deny assignment** blocks its actions for its principals (the all-zero id of type ``SystemDefined``
  is everyone) except its ``excludePrincipals``, at its scope and, unless ``doNotApplyToChildScopes``, below
  it; it takes precedence over every role assignment ("Understand Azure deny assignments"; "How Azure RBAC
  determines if a user has access to a resource": deny first, then roles, then conditions).
* A role assignment with a **condition** (ABAC) grants only when the condition holds. A condition in the
  documented shape ``(!(ActionMatches{'a'}) [AND !(...)]) OR (expression)`` holds for any action it does not
  name ("Azure role assignment condition format"); otherwise it depends on attributes Blastwall does not
  see (a blob's tags, the request's): ``conditional``, never ``allowed``.
* Group assignments reach a principal through its (transitive) group memberships; memberships not
  collected make them ``conditional``.

>>> reader = RoleDefinition("acdd72a7-3385-48ef-bd42-f606fba81ae7", "Reader", (Permission(("*/read",)),))
>>> a = RoleAssignment("ra1", "/subscriptions/s1", reader.id, "u1")
>>> decide(Request("u1", frozenset(), "Microsoft.Storage/storageAccounts/read",
...        "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/acct"),
...        Authorization({reader.id: reader}, [a])).state
'allowed'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache

EVERYONE = "00000000-0000-0000-0000-000000000000"
"""The principal id of the System-Defined Principal (every user, group and service principal)."""


@dataclass(frozen=True)
class Permission:
    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] = ()
    data_actions: tuple[str, ...] = ()
    not_data_actions: tuple[str, ...] = ()

    def grants(self, action: str, data: bool) -> bool:
        allow, minus = (
            (self.data_actions, self.not_data_actions) if data else (self.actions, self.not_actions)
        )
        return matches_any(allow, action) and not matches_any(minus, action)


@dataclass(frozen=True)
class RoleDefinition:
    id: str
    """The role's GUID (the last segment of its resource id)."""
    name: str
    permissions: tuple[Permission, ...]

    def grants(self, action: str, data: bool) -> bool:
        return any(p.grants(action, data) for p in self.permissions)


@dataclass(frozen=True)
class RoleAssignment:
    id: str
    scope: str
    role: str
    """The role definition's GUID."""
    principal: str
    condition: str | None = None
    principal_type: str = ""
    """``User``, ``Group``, ``ServicePrincipal``… as the assignment says (empty: not said). Only a group's
    assignment can reach another principal."""


@dataclass(frozen=True)
class DenyAssignment:
    id: str
    scope: str
    permissions: tuple[Permission, ...]
    principals: tuple[str, ...]
    exclude_principals: tuple[str, ...] = ()
    do_not_apply_to_child_scopes: bool = False


@dataclass(frozen=True)
class Request:
    principal: str
    groups: frozenset[str] | None
    """The principal's transitive group memberships; None when they were not collected."""
    action: str
    resource: str
    data: bool = False
    member_of: frozenset[str] = frozenset()
    """Groups the principal is known to be in even when ``groups`` is None (a log named an assignment
    to one of them as what allowed its request; a collected member list)."""
    not_member_of: frozenset[str] = frozenset()
    """Groups whose collected member lists (nested ones included) do not hold the principal."""


@dataclass
class Authorization:
    """What decides requests: role definitions by GUID, role and deny assignments, and the management
    group tree (a management group or subscription id -> its parent management group's id)."""

    roles: Mapping[str, RoleDefinition]
    assignments: Sequence[RoleAssignment]
    denies: Sequence[DenyAssignment] = ()
    parents: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Verdict:
    state: str  # allowed | denied | conditional
    reason: str
    assignments: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()


# -- matching ------------------------------------------------------------------------------------------
@cache
def _pattern(p: str) -> re.Pattern[str]:
    return re.compile("".join(".*" if c == "*" else re.escape(c) for c in p), re.IGNORECASE)


def matches(pattern: str, action: str) -> bool:
    """``*`` any characters (``/`` too); no regard to case.

    >>> matches("Microsoft.Authorization/*/Delete", "microsoft.authorization/roleAssignments/delete")
    True
    >>> matches("Microsoft.Network/*/read", "Microsoft.Network/networkSecurityGroups/securityRules/read")
    True
    """
    return _pattern(pattern).fullmatch(action) is not None


def matches_any(patterns: Iterable[str], action: str) -> bool:
    return any(matches(p, action) for p in patterns)


# -- scope ---------------------------------------------------------------------------------------------
MG_PREFIX = "/providers/microsoft.management/managementgroups/"


def scopes_above(resource: str, parents: Mapping[str, str]) -> list[str]:
    """Every scope whose assignments apply to ``resource`` (lower case), nearest first: the resource, its
    parent resources, its resource group, its subscription, the management groups above the subscription
    (``parents``), and the root ``/``.

    >>> scopes_above("/subscriptions/S1/resourceGroups/RG/providers/Microsoft.Storage/storageAccounts/a/blobServices/default", {"s1": "mg-fin", "mg-fin": "tenant"})[:3]
    ['/subscriptions/s1/resourcegroups/rg/providers/microsoft.storage/storageaccounts/a/blobservices/default', '/subscriptions/s1/resourcegroups/rg/providers/microsoft.storage/storageaccounts/a', '/subscriptions/s1/resourcegroups/rg']
    >>> scopes_above("/subscriptions/S1", {"s1": "mg-fin", "mg-fin": "tenant"})
    ['/subscriptions/s1', '/providers/microsoft.management/managementgroups/mg-fin', '/providers/microsoft.management/managementgroups/tenant', '/']
    """
    r = resource.rstrip("/").lower()
    out: list[str] = []
    if r.startswith(MG_PREFIX):
        node: str | None = r.removeprefix(MG_PREFIX)
    else:
        parts = r.split("/")
        # /subscriptions/S/resourceGroups/RG/providers/NS/type/name[/type/name...]
        if "providers" in parts:
            at = parts.index("providers")
            segs = parts[at + 2 :]  # type/name pairs after the namespace
            for k in range(len(segs), 0, -2):
                out.append("/".join(parts[: at + 2] + segs[:k]))
            parts = parts[:at]
        for k in range(len(parts), 2, -2):
            out.append("/".join(parts[:k]))
        node = parts[2] if len(parts) > 2 and parts[1] == "subscriptions" else None
    seen: set[str] = set()
    while node is not None and node not in seen:
        seen.add(node)
        node = parents.get(node)
        if node is not None:
            out.append(MG_PREFIX + node)
    out.append("/")
    return out


# -- conditions ----------------------------------------------------------------------------------------
_NEGATED = re.compile(r"!\s*\(\s*ActionMatches\s*\{\s*'([^']*)'\s*\}\s*\)", re.IGNORECASE)
_ANY_ACTION = re.compile(r"ActionMatches\s*\{\s*'([^']*)'\s*\}", re.IGNORECASE)


def condition_holds(condition: str, action: str) -> bool | None:
    """Whether a role assignment condition holds for a request of ``action``: True when every action it
    names is named negated (``!(ActionMatches{...})``, the documented guard) and ``action`` is none of them
    (the condition then does not apply to it); None (unknown) otherwise.

    >>> c = "((!(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read'})) OR (@Resource[Microsoft.Storage/storageAccounts/blobServices/containers:name] StringEquals 'logs'))"
    >>> condition_holds(c, "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write")
    True
    >>> condition_holds(c, "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read") is None
    True
    """
    named = _ANY_ACTION.findall(condition)
    guarded = _NEGATED.findall(condition)
    if not named or len(named) != len(guarded):
        return None
    if any(matches(p, action) for p in named):
        return None
    return True


# -- the decision --------------------------------------------------------------------------------------
def _is(
    principal: str,
    groups: frozenset[str] | None,
    ids: Iterable[str],
    member_of: frozenset[str] = frozenset(),
    not_member_of: frozenset[str] = frozenset(),
) -> bool | None:
    """Whether the request's principal is one of ``ids`` (directly or through a group; None: unknown)."""
    ids = {i.lower() for i in ids}
    if principal.lower() in ids or ids & {g.lower() for g in member_of}:
        return True
    if groups is None:
        return False if ids <= {g.lower() for g in not_member_of} else None
    return bool(ids & {g.lower() for g in groups})


def decide(request: Request, authz: Authorization) -> Verdict:
    """Allowed, denied or conditional, with the assignments that decided it and what is not known."""
    above = scopes_above(request.resource, {k.lower(): v.lower() for k, v in authz.parents.items()})
    here = above[0]
    applies = set(above)
    action = request.action
    missing: list[str] = []
    # 1. deny assignments first: any that applies blocks
    maybe_denied: list[str] = []
    for d in authz.denies:
        scope = d.scope.rstrip("/").lower() or "/"
        if scope not in applies or (d.do_not_apply_to_child_scopes and scope != here):
            continue
        if not any(p.grants(action, request.data) for p in d.permissions):
            continue
        everyone = EVERYONE in d.principals
        member = (
            True
            if everyone
            else _is(
                request.principal, request.groups, d.principals, request.member_of, request.not_member_of
            )
        )
        excluded = (
            _is(
                request.principal,
                request.groups,
                d.exclude_principals,
                request.member_of,
                request.not_member_of,
            )
            if d.exclude_principals
            else False
        )
        if member is True and excluded is False:
            return Verdict("denied", f"deny assignment {d.id} at {d.scope} blocks {action}", (d.id,))
        if member is not False and excluded is not True:
            maybe_denied.append(d.id)
            missing.append(f"group memberships of {request.principal} (deny assignment {d.id})")
    # 2. role assignments that apply to the principal and grant the action
    granted: list[str] = []
    conditional: list[str] = []
    for a in authz.assignments:
        scope = a.scope.rstrip("/").lower() or "/"
        if scope not in applies:
            continue
        role = authz.roles.get(a.role.rsplit("/", 1)[-1].lower())
        if role is None:
            missing.append(f"role definition {a.role} (assignment {a.id})")
            conditional.append(a.id)
            continue
        if not role.grants(action, request.data):
            continue
        if (
            a.principal_type
            and a.principal_type.lower() != "group"
            and a.principal.lower() != request.principal.lower()
        ):
            continue  # a user's or a service principal's assignment is theirs alone
        who = _is(request.principal, request.groups, [a.principal], request.member_of, request.not_member_of)
        if who is False:
            continue
        held = condition_holds(a.condition, action) if a.condition else True
        if who is True and held is True:
            granted.append(a.id)
        else:
            conditional.append(a.id)
            if who is None:
                missing.append(f"group memberships of {request.principal} (assignment {a.id})")
            if held is None:
                missing.append(f"the attributes the condition of {a.id} tests")
    if granted and not maybe_denied:
        return Verdict("allowed", f"{', '.join(granted)} grant {action}", tuple(granted))
    if granted or conditional:
        return Verdict(
            "conditional",
            f"{action} is granted only if {'; '.join(dict.fromkeys(missing))} allow it",
            tuple(granted + conditional + maybe_denied),
            tuple(dict.fromkeys(missing)),
        )
    return Verdict("denied", f"no role assignment that applies grants {action}")
