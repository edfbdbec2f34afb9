"""Azure RBAC decisions, each case from the Azure documentation (learn.microsoft.com/azure/role-based-access-control/):
the built-in role definitions as the documentation prints them, the examples it works through, and the
evaluation order it describes. Page names are cited per case."""

from __future__ import annotations

from analyzer.azure.rbac import (
    EVERYONE,
    Authorization,
    DenyAssignment,
    Permission,
    Request,
    RoleAssignment,
    RoleDefinition,
    decide,
)

SUB = "/subscriptions/11111111-2222-3333-4444-555555555555"
RG = f"{SUB}/resourceGroups/fraud-rg"
ACCOUNT = f"{RG}/providers/Microsoft.Storage/storageAccounts/fraudlake"
CONTAINER = f"{ACCOUNT}/blobServices/default/containers/features"

# "Understand Azure role definitions": Contributor and Storage Blob Data Reader as the page prints them;
# Owner and Reader from "Azure built-in roles"
OWNER = RoleDefinition("8e3af657-a8ff-443c-a75c-2fe8c4bcb635", "Owner", (Permission(("*",)),))
CONTRIBUTOR = RoleDefinition(
    "b24988ac-6180-42a0-ab88-20f7382dd24c",
    "Contributor",
    (
        Permission(
            ("*",),
            (
                "Microsoft.Authorization/*/Delete",
                "Microsoft.Authorization/*/Write",
                "Microsoft.Authorization/elevateAccess/Action",
                "Microsoft.Blueprint/blueprintAssignments/write",
                "Microsoft.Blueprint/blueprintAssignments/delete",
            ),
        ),
    ),
)
READER = RoleDefinition("acdd72a7-3385-48ef-bd42-f606fba81ae7", "Reader", (Permission(("*/read",)),))
BLOB_READER = RoleDefinition(
    "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
    "Storage Blob Data Reader",
    (
        Permission(
            (
                "Microsoft.Storage/storageAccounts/blobServices/containers/read",
                "Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action",
            ),
            (),
            ("Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read",),
        ),
    ),
)
BLOB_CONTRIBUTOR = RoleDefinition(
    "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
    "Storage Blob Data Contributor",
    (
        Permission(
            (
                "Microsoft.Storage/storageAccounts/blobServices/containers/delete",
                "Microsoft.Storage/storageAccounts/blobServices/containers/read",
                "Microsoft.Storage/storageAccounts/blobServices/containers/write",
                "Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action",
            ),
            (),
            (
                "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/delete",
                "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read",
                "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/move/action",
                "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write",
            ),
        ),
    ),
)
ROLES = {r.id: r for r in (OWNER, CONTRIBUTOR, READER, BLOB_READER, BLOB_CONTRIBUTOR)}
BLOB_READ = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"


def _state(
    assignments: list[RoleAssignment],
    action: str,
    resource: str = ACCOUNT,
    *,
    principal: str = "alice",
    groups: frozenset[str] | None = frozenset(),
    data: bool = False,
    denies: list[DenyAssignment] | None = None,
    parents: dict[str, str] | None = None,
) -> str:
    authz = Authorization(ROLES, assignments, denies or [], parents or {})
    return decide(Request(principal, groups, action, resource, data), authz).state


def test_contributor_manages_everything_but_access() -> None:
    """role-definitions: Contributor's NotActions remove managing access (any case of the action)."""
    a = [RoleAssignment("ra", SUB, CONTRIBUTOR.id, "alice")]
    assert _state(a, "Microsoft.Storage/storageAccounts/write") == "allowed"
    assert _state(a, "Microsoft.Authorization/roleAssignments/write") == "denied"
    assert _state(a, "microsoft.authorization/roleassignments/delete") == "denied"
    assert _state(a, "Microsoft.Authorization/roleAssignments/read") == "allowed"


def test_not_actions_subtract_from_a_wildcard() -> None:
    """role-definitions, NotActions table: Microsoft.CostManagement/exports/* less .../exports/delete."""
    role = RoleDefinition(
        "c0570000-0000-0000-0000-000000000001",
        "exports",
        (Permission(("Microsoft.CostManagement/exports/*",), ("Microsoft.CostManagement/exports/delete",)),),
    )
    authz = Authorization({role.id: role}, [RoleAssignment("ra", SUB, role.id, "alice")])
    for action, state in (
        ("Microsoft.CostManagement/exports/read", "allowed"),
        ("Microsoft.CostManagement/exports/run/action", "allowed"),
        ("Microsoft.CostManagement/exports/delete", "denied"),
    ):
        assert decide(Request("alice", frozenset(), action, SUB), authz).state == state, action


def test_not_actions_is_not_a_deny() -> None:
    """role-definitions, note: a second role granting an action another role's NotActions excludes
    grants it."""
    a = [
        RoleAssignment("contrib", SUB, CONTRIBUTOR.id, "alice"),
        RoleAssignment("owner", RG, OWNER.id, "alice"),
    ]
    assert _state(a, "Microsoft.Authorization/roleAssignments/write") == "allowed"
    assert _state(a, "Microsoft.Authorization/roleAssignments/write", SUB) == "denied"  # above the RG


def test_role_assignments_are_additive() -> None:
    """overview, multiple role assignments: Contributor at the subscription and Reader on a resource
    group are effectively Contributor for the resource group."""
    a = [
        RoleAssignment("contrib", SUB, CONTRIBUTOR.id, "alice"),
        RoleAssignment("reader", RG, READER.id, "alice"),
    ]
    assert _state(a, "Microsoft.Storage/storageAccounts/write") == "allowed"
    only_reader = [RoleAssignment("reader", RG, READER.id, "alice")]
    assert _state(only_reader, "Microsoft.Storage/storageAccounts/write") == "denied"
    assert _state(only_reader, "Microsoft.Storage/storageAccounts/read") == "allowed"


def test_control_plane_access_does_not_reach_the_data() -> None:
    """role-definitions, data actions example: Alice (Owner of the subscription) can manage containers but
    not read blobs; Bob (Storage Blob Data Contributor on the account) can do both."""
    a = [
        RoleAssignment("alice-owner", SUB, OWNER.id, "alice"),
        RoleAssignment("bob-blob", ACCOUNT, BLOB_CONTRIBUTOR.id, "bob"),
    ]
    container_write = "Microsoft.Storage/storageAccounts/blobServices/containers/write"
    assert _state(a, container_write, CONTAINER) == "allowed"
    assert _state(a, BLOB_READ, CONTAINER, data=True) == "denied"
    assert _state(a, container_write, CONTAINER, principal="bob") == "allowed"
    assert _state(a, BLOB_READ, CONTAINER, principal="bob", data=True) == "allowed"
    # and the wildcard of Actions never grants a data action
    assert _state(a, BLOB_READ, CONTAINER, data=True) == "denied"


def test_scope_inheritance_runs_down_and_never_up() -> None:
    """scope-overview: an assignment applies to its scope and every child scope, management groups
    (nested) above subscriptions; never to a parent or a sibling."""
    parents = {SUB.rsplit("/", 1)[-1]: "fin", "fin": "root-mg"}
    at_mg = [
        RoleAssignment("mg", "/providers/Microsoft.Management/managementGroups/root-mg", READER.id, "alice")
    ]
    assert _state(at_mg, "Microsoft.Storage/storageAccounts/read", CONTAINER, parents=parents) == "allowed"
    assert _state(at_mg, "Microsoft.Storage/storageAccounts/read", CONTAINER) == "denied"  # tree unknown
    on_account = [RoleAssignment("acct", ACCOUNT, READER.id, "alice")]
    assert _state(on_account, "Microsoft.Storage/storageAccounts/read", CONTAINER) == "allowed"
    assert _state(on_account, "Microsoft.Resources/subscriptions/resourceGroups/read", RG) == "denied"
    sibling = f"{RG}/providers/Microsoft.Storage/storageAccounts/fraudlake2"
    assert _state(on_account, "Microsoft.Storage/storageAccounts/read", sibling) == "denied"
    at_root = [RoleAssignment("root", "/", READER.id, "alice")]
    assert _state(at_root, "Microsoft.Storage/storageAccounts/read", CONTAINER) == "allowed"


def test_group_assignments_need_the_membership() -> None:
    """overview, step 1: the token carries transitive group memberships; without them, a group's
    assignment is conditional (never allowed)."""
    a = [RoleAssignment("grp", RG, READER.id, "g-fraud-analysts")]
    read = "Microsoft.Storage/storageAccounts/read"
    assert _state(a, read, groups=frozenset({"g-fraud-analysts"})) == "allowed"
    assert _state(a, read, groups=frozenset({"g-other"})) == "denied"
    assert _state(a, read, groups=None) == "conditional"


def test_deny_assignments_take_precedence() -> None:
    """deny-assignments and overview step 4: a deny that applies blocks even an Owner."""
    a = [RoleAssignment("owner", SUB, OWNER.id, "alice")]
    deny = DenyAssignment("da", RG, (Permission(("Microsoft.Storage/storageAccounts/delete",)),), ("alice",))
    assert _state(a, "Microsoft.Storage/storageAccounts/delete", denies=[deny]) == "denied"
    assert _state(a, "Microsoft.Storage/storageAccounts/write", denies=[deny]) == "allowed"


def test_system_defined_everyone_less_the_excluded() -> None:
    """deny-assignments, System-Defined Principal: the zero GUID denies everyone; ExcludePrincipals
    (directly or through a group) are spared; unknown memberships leave it conditional."""
    a = [RoleAssignment("owner", SUB, OWNER.id, "alice"), RoleAssignment("owner-bob", SUB, OWNER.id, "bob")]
    deny = DenyAssignment(
        "stack", RG, (Permission(("*/delete",)),), (EVERYONE,), exclude_principals=("g-platform",)
    )
    delete = "Microsoft.Storage/storageAccounts/delete"
    assert _state(a, delete, denies=[deny]) == "denied"
    assert _state(a, delete, principal="bob", groups=frozenset({"g-platform"}), denies=[deny]) == "allowed"
    assert _state(a, delete, principal="bob", groups=None, denies=[deny]) == "conditional"


def test_do_not_apply_to_child_scopes() -> None:
    """deny-assignments, DoNotApplyToChildScopes: the deny stops at its own scope."""
    a = [RoleAssignment("owner", SUB, OWNER.id, "alice")]
    deny = DenyAssignment("da", RG, (Permission(("*",)),), (EVERYONE,), do_not_apply_to_child_scopes=True)
    assert _state(a, "Microsoft.Resources/subscriptions/resourceGroups/write", RG, denies=[deny]) == "denied"
    assert _state(a, "Microsoft.Storage/storageAccounts/write", ACCOUNT, denies=[deny]) == "allowed"


def test_a_condition_applies_only_to_the_actions_it_names() -> None:
    """conditions-format: ``(!(ActionMatches{'...blobs/read'})) OR (...)`` holds for any other action; for
    blobs/read it depends on the container's name, which is request context Blastwall does not see."""
    condition = (
        "((!(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read'})) OR "
        "(@Resource[Microsoft.Storage/storageAccounts/blobServices/containers:name] StringEquals 'features'))"
    )
    a = [RoleAssignment("ra", ACCOUNT, BLOB_CONTRIBUTOR.id, "svc-fraud", condition=condition)]
    write = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write"
    assert _state(a, write, CONTAINER, principal="svc-fraud", data=True) == "allowed"
    got = decide(
        Request("svc-fraud", frozenset(), BLOB_READ, CONTAINER, True),
        Authorization(ROLES, a),
    )
    assert got.state == "conditional" and "condition" in got.missing[0]
    # a second assignment without a condition grants it outright (conditions-troubleshoot, cause 1)
    both = [*a, RoleAssignment("plain", RG, BLOB_READER.id, "svc-fraud")]
    assert _state(both, BLOB_READ, CONTAINER, principal="svc-fraud", data=True) == "allowed"


def test_a_condition_without_the_action_guard_is_conditional_for_every_action() -> None:
    """conditions-format: without ``!(ActionMatches{...})`` the expression applies to every action the
    role grants; it tests attributes (here a blob index tag) Blastwall does not see."""
    condition = "@Resource[Microsoft.Storage/storageAccounts/blobServices/containers/blobs/tags:project<$key_case_sensitive$>] StringEquals 'fraud'"
    a = [RoleAssignment("ra", ACCOUNT, BLOB_CONTRIBUTOR.id, "svc-fraud", condition=condition)]
    write = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write"
    assert _state(a, write, CONTAINER, principal="svc-fraud", data=True) == "conditional"


def test_only_a_groups_assignment_can_reach_another_principal() -> None:
    """role-assignments ("Understand Azure role assignments"): an assignment attaches a role to one security
    principal (a user, group, service principal or managed identity); only a group has members. With the
    caller's groups unknown, a user's assignment to someone else does not make it conditional; a group's
    does, until its member list says."""
    read = "Microsoft.Storage/storageAccounts/read"
    to_user = [RoleAssignment("u", RG, READER.id, "bob", principal_type="User")]
    to_group = [RoleAssignment("g", RG, READER.id, "g-analysts", principal_type="Group")]
    assert _state(to_user, read, groups=None) == "denied"
    assert _state(to_group, read, groups=None) == "conditional"
    authz = Authorization(ROLES, to_group)
    collected_without = Request(
        "alice", None, read, ACCOUNT, member_of=frozenset(), not_member_of=frozenset({"g-analysts"})
    )
    assert decide(collected_without, authz).state == "denied"
    collected_with = Request("alice", None, read, ACCOUNT, member_of=frozenset({"g-analysts"}))
    assert decide(collected_with, authz).state == "allowed"
