"""An Azure tenant from ``az`` CLI JSON exports -> graph rows.

**Get.** A directory holding, in any file names, the JSON the Azure CLI prints (``-o json``):

* ``az account management-group show --name ROOT --expand --recurse`` (the management group tree, its
  ``children`` nested, subscriptions among them);
* ``az account list --all`` (subscriptions: ``id`` the GUID, ``tenantId``, ``name``);
* ``az role definition list`` (custom and built-in roles: ``name`` the GUID, ``roleName``, ``permissions``);
* ``az role assignment list --all`` (``principalId``, ``principalType``, ``roleDefinitionId``, ``scope``,
  ``condition``);
* deny assignments as ``az rest --url .../providers/Microsoft.Authorization/denyAssignments`` returns them
  (``{"value": [...]}`` with ``properties``);
* ``az network vnet list``, ``az network nsg list``, ``az network nic list``, ``az storage account list``.

Each object is recognised by its ARM ``type`` (subscriptions, which ``az account list`` prints without one,
by ``tenantId`` and ``state``); a file of anything else is an error that names it.

**Transform** (pure). Ids are ARM resource ids, lower case (ARM compares them without regard to case), so
an id written two ways is one node; the id as printed stays in ``arm_id``. Management groups and
subscriptions with the tree between them (``MEMBER_OF``); role definitions; principals (by Entra object
id) with their role assignments as ``ASSIGNED`` edges to the scope (keyed by the assignment's id, role and
condition on the edge); deny assignments; virtual networks, subnets (``IN_VPC``), network interfaces
(``IN_SUBNET``, their addresses and application security groups), NSGs with their rules, and which
subnet or interface each is associated with (``HAS_SECURITY_GROUP``); storage accounts with their public
access, shared key and network rule settings.

**Load.** One batch per tenant (its own source; the subscription is the account).
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analyzer.errors import BadInput
from analyzer.graph.lease import writes
from analyzer.graph.schema import Batch, EdgeRow, NodeRow
from analyzer.graph.store import GraphStore
from analyzer.inputs import guard
from connectors.jsonfile import load_json

SOURCE = "azure:"
_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
PRINCIPAL_PREFIX = "urn:azure:principal:"
MG = "microsoft.management/managementgroups"


def arm(id_: str) -> str:
    """An ARM id as Blastwall keys it: lower case, no trailing slash."""
    return id_.strip().rstrip("/").lower()


def principal_id(object_id: str) -> str:
    return PRINCIPAL_PREFIX + object_id.strip().lower()


def subscription_of(node_id: str) -> str:
    """``/subscriptions/<guid>/...`` -> the GUID ("" for a management group, a principal or the root)."""
    parts = node_id.split("/")
    return parts[2] if len(parts) > 2 and parts[1] == "subscriptions" else ""


@dataclass
class Export:
    """What the directory holds, by kind, each object with where it was read (``file#[i]``)."""

    objects: dict[str, list[tuple[dict[str, Any], str]]] = field(default_factory=dict)


KINDS = {
    "microsoft.management/managementgroups": "management_group",
    "microsoft.authorization/roledefinitions": "role_definition",
    "microsoft.authorization/roleassignments": "role_assignment",
    "microsoft.authorization/denyassignments": "deny_assignment",
    "microsoft.network/virtualnetworks": "vnet",
    "microsoft.network/networksecuritygroups": "nsg",
    "microsoft.network/networkinterfaces": "nic",
    "microsoft.storage/storageaccounts": "storage_account",
    "microsoft.compute/virtualmachines": "vm",
    "microsoft.managedidentity/userassignedidentities": "identity",
}


def kind_of(obj: dict[str, Any]) -> str | None:
    t = str(obj.get("type") or "").lower()
    if t in KINDS:
        return KINDS[t]
    if "tenantId" in obj and "state" in obj and "id" in obj and not t:
        return "subscription"  # az account list
    return None


def get_export(directory: Path) -> Export:
    """Read every ``*.json`` under ``directory`` (get: recognised, not interpreted)."""
    out = Export()
    files = sorted(p for p in Path(directory).rglob("*.json") if p.is_file())
    if not files:
        raise BadInput("no *.json files (az ... -o json output)", file=str(directory))
    for f in files:
        doc = load_json(f)
        items = doc.get("value") if isinstance(doc, dict) and isinstance(doc.get("value"), list) else doc
        items = items if isinstance(items, list) else [items]
        if f.parent.name == "group-members":  # az ad group member list --group <id>: the file names the group
            if not _GUID.fullmatch(f.stem.lower()):
                raise BadInput("a group's member list is named for the group's object id (GUID)", file=str(f))
            for i, obj in enumerate(items):
                if not isinstance(obj, dict) or not isinstance(obj.get("id"), str):
                    raise BadInput("a member needs its object id", file=f"{f}#[{i}]")
                out.objects.setdefault("group_member", []).append(
                    ({**obj, "group": f.stem.lower()}, f"{f}#[{i}]")
                )
            out.objects.setdefault("group_listed", []).append(({"group": f.stem.lower()}, str(f)))
            continue
        for i, obj in enumerate(items):
            where = f"{f}#[{i}]"
            if not isinstance(obj, dict):
                raise BadInput(f"expected a JSON object, found {type(obj).__name__}", file=where)
            kind = kind_of(obj)
            if kind is None:
                raise BadInput(
                    f"not an az export this reader knows (type {obj.get('type')!r}); known: "
                    "management groups, subscriptions, role definitions/assignments, deny assignments, "
                    "vnets, NSGs, NICs, storage accounts, VMs, managed identities",
                    file=where,
                )
            out.objects.setdefault(kind, []).append((obj, where))
    return out


@dataclass
class Transformed:
    batch: Batch
    counts: Counter[str]


def _ids(refs: Any) -> list[str]:
    return [arm(r["id"]) for r in refs or [] if isinstance(r, dict) and isinstance(r.get("id"), str)]


def _strings(value: Any, many: Any) -> list[str]:
    """A rule's single and plural field (``sourceAddressPrefix`` / ``sourceAddressPrefixes``)."""
    out = [str(v) for v in many or []]
    if value not in (None, ""):
        out.insert(0, str(value))
    return out


def _rule(r: dict[str, Any]) -> dict[str, Any]:
    p = _props(r)
    return {
        "name": r.get("name"),
        "priority": int(p.get("priority") or 0),
        "direction": p.get("direction"),
        "access": p.get("access"),
        "protocol": p.get("protocol") or "*",
        "source": _strings(p.get("sourceAddressPrefix"), p.get("sourceAddressPrefixes")),
        "source_asgs": _ids(p.get("sourceApplicationSecurityGroups")),
        "source_ports": _strings(p.get("sourcePortRange"), p.get("sourcePortRanges")) or ["*"],
        "destination": _strings(p.get("destinationAddressPrefix"), p.get("destinationAddressPrefixes")),
        "destination_asgs": _ids(p.get("destinationApplicationSecurityGroups")),
        "destination_ports": _strings(p.get("destinationPortRange"), p.get("destinationPortRanges")) or ["*"],
    }


def _props(obj: dict[str, Any]) -> dict[str, Any]:
    """An ARM object's ``properties`` (the REST shape), or the object itself (the CLI's flattened one)."""
    inner = obj.get("properties")
    return inner if isinstance(inner, dict) else obj


def _permissions(perms: Any) -> list[dict[str, list[str]]]:
    return [
        {
            "actions": list(p.get("actions") or []),
            "not_actions": list(p.get("notActions") or []),
            "data_actions": list(p.get("dataActions") or []),
            "not_data_actions": list(p.get("notDataActions") or []),
        }
        for p in perms or []
        if isinstance(p, dict)
    ]


def _mg_tree(obj: dict[str, Any], parent: str | None) -> Iterator[tuple[dict[str, Any], str | None]]:
    yield obj, parent
    for child in obj.get("children") or []:
        if isinstance(child, dict):
            yield from _mg_tree(child, arm(str(obj.get("id") or "")))


def transform(export: Export, *, seen: str) -> Transformed:
    """The tenant's objects as rows (pure: nothing read or written)."""
    b = Batch(SOURCE + "tenant")
    counts: Counter[str] = Counter()

    def node(node_id: str, kind: str, props: dict[str, Any]) -> None:
        b.nodes.append(NodeRow(node_id, kind, props, subscription_of(node_id) or None, seen, seen))

    def edge(src: str, kind: str, dst: str, props: dict[str, Any] | None = None) -> None:
        b.edges.append(EdgeRow(src, kind, dst, props or {}, subscription_of(src) or None, 0, seen, seen))

    for obj, where in export.objects.get("management_group", []):
        for mg, parent in _mg_tree(obj, None):
            mid = arm(str(mg.get("id") or ""))
            if not mid:
                raise BadInput("a management group without an id", file=where)
            if str(mg.get("type") or "").lower() == "/subscriptions":  # a subscription among the children
                sid = "/subscriptions/" + str(mg.get("name") or mid.rsplit("/", 1)[-1]).lower()
                b.stub(sid, "AzureSubscription")
                if parent:
                    b.stub(parent, "AzureManagementGroup")
                    edge(sid, "MEMBER_OF", parent)
                continue
            node(
                mid,
                "AzureManagementGroup",
                {"name": mg.get("name"), "display_name": mg.get("displayName"), "arm_id": mg.get("id")},
            )
            counts["management_groups"] += 1
            if parent:
                edge(mid, "MEMBER_OF", parent)
    for obj, _ in export.objects.get("subscription", []):
        sid = "/subscriptions/" + str(obj["id"]).lower()
        node(
            sid,
            "AzureSubscription",
            {"name": obj.get("name"), "tenant_id": obj.get("tenantId"), "state": obj.get("state")},
        )
        counts["subscriptions"] += 1
    for obj, where in export.objects.get("role_definition", []):
        guid = str(obj.get("name") or "").lower()
        if not guid:
            raise BadInput("a role definition without its name (GUID)", file=where)
        node(
            "/providers/microsoft.authorization/roledefinitions/" + guid,
            "AzureRoleDefinition",
            {
                "role_name": obj.get("roleName"),
                "role_type": obj.get("roleType"),
                "permissions": _permissions(obj.get("permissions")),
                "assignable_scopes": [arm(s) or "/" for s in obj.get("assignableScopes") or []],
            },
        )
        counts["role_definitions"] += 1
    for obj, where in export.objects.get("role_assignment", []):
        p = _props(obj)
        who, scope, role = p.get("principalId"), p.get("scope"), p.get("roleDefinitionId")
        if not (isinstance(who, str) and isinstance(scope, str) and isinstance(role, str)):
            raise BadInput("a role assignment needs principalId, scope and roleDefinitionId", file=where)
        pid, scope_id = principal_id(who), arm(scope) or "/"
        b.stub(pid, "AzurePrincipal")
        b.stub(scope_id, "AzureScope")
        edge(
            pid,
            "ASSIGNED",
            scope_id,
            {
                "assignment": arm(str(obj.get("id") or "")),
                "role": str(role).rsplit("/", 1)[-1].lower(),
                "role_name": obj.get("roleDefinitionName"),
                "principal_type": p.get("principalType"),
                "condition": p.get("condition"),
            },
        )
        counts["role_assignments"] += 1
    for obj, where in export.objects.get("deny_assignment", []):
        p = _props(obj)
        node(
            arm(str(obj.get("id") or where)),
            "AzureDenyAssignment",
            {
                "name": p.get("denyAssignmentName"),
                "scope": arm(str(p.get("scope") or "")) or "/",
                "permissions": _permissions(p.get("permissions")),
                "principals": [str(x.get("id")).lower() for x in p.get("principals") or []],
                "exclude_principals": [str(x.get("id")).lower() for x in p.get("excludePrincipals") or []],
                "do_not_apply_to_child_scopes": bool(p.get("doNotApplyToChildScopes")),
            },
        )
        counts["deny_assignments"] += 1
    for obj, _ in export.objects.get("vnet", []):
        vid = arm(obj["id"])
        peers = [
            {
                "remote": arm(str((x.get("remoteVirtualNetwork") or {}).get("id") or "")),
                "state": x.get("peeringState"),
                "remote_prefixes": list((x.get("remoteAddressSpace") or {}).get("addressPrefixes") or []),
            }
            for x in obj.get("virtualNetworkPeerings") or []
        ]
        node(
            vid,
            "AzureVnet",
            {
                "name": obj.get("name"),
                "prefixes": list((obj.get("addressSpace") or {}).get("addressPrefixes") or []),
                "peerings": peers,
            },
        )
        counts["vnets"] += 1
        for s in obj.get("subnets") or []:
            sid = arm(s["id"])
            node(
                sid,
                "AzureSubnet",
                {
                    "name": s.get("name"),
                    "prefixes": _strings(s.get("addressPrefix"), s.get("addressPrefixes")),
                },
            )
            edge(sid, "IN_VPC", vid)
            for nsg in _ids([s.get("networkSecurityGroup")] if s.get("networkSecurityGroup") else []):
                b.stub(nsg, "AzureNsg")
                edge(sid, "HAS_SECURITY_GROUP", nsg)
            counts["subnets"] += 1
    for obj, _ in export.objects.get("nsg", []):
        node(
            arm(obj["id"]),
            "AzureNsg",
            {"name": obj.get("name"), "rules": [_rule(r) for r in obj.get("securityRules") or []]},
        )
        counts["nsgs"] += 1
    for obj, _ in export.objects.get("nic", []):
        nid = arm(obj["id"])
        configs = obj.get("ipConfigurations") or []
        node(
            nid,
            "AzureNic",
            {
                "name": obj.get("name"),
                "private_ips": [c.get("privateIPAddress") for c in configs if c.get("privateIPAddress")],
                "asgs": sorted({a for c in configs for a in _ids(c.get("applicationSecurityGroups"))}),
                "virtual_machine": arm(str((obj.get("virtualMachine") or {}).get("id") or "")) or None,
                "tags": obj.get("tags") or {},
            },
        )
        for subnet in sorted(
            {a for c in configs for a in _ids([c.get("subnet")] if c.get("subnet") else [])}
        ):
            b.stub(subnet, "AzureSubnet")
            edge(nid, "IN_SUBNET", subnet)
        for nsg in _ids([obj.get("networkSecurityGroup")] if obj.get("networkSecurityGroup") else []):
            b.stub(nsg, "AzureNsg")
            edge(nid, "HAS_SECURITY_GROUP", nsg)
        counts["nics"] += 1
    # managed identities: the principal Entra ID knows, and the resource it is (its tags name its CI)
    for obj, _ in export.objects.get("identity", []):
        if isinstance(obj.get("principalId"), str):
            node(
                principal_id(obj["principalId"]),
                "AzurePrincipal",
                {
                    "kind": "UserAssignedIdentity",
                    "name": obj.get("name"),
                    "resource": arm(obj["id"]),
                    "client_id": obj.get("clientId"),
                    "tags": obj.get("tags") or {},
                },
            )
            counts["managed_identities"] += 1
    for obj, _ in export.objects.get("vm", []):
        ident = obj.get("identity") or {}
        if isinstance(ident.get("principalId"), str):  # its system-assigned identity is the VM's own
            node(
                principal_id(ident["principalId"]),
                "AzurePrincipal",
                {
                    "kind": "SystemAssignedIdentity",
                    "name": obj.get("name"),
                    "resource": arm(obj["id"]),
                    "nics": _ids((obj.get("networkProfile") or {}).get("networkInterfaces")),
                    "tags": obj.get("tags") or {},
                },
            )
            counts["managed_identities"] += 1
        counts["vms"] += 1
    # group memberships: member -[MEMBER_OF]-> group; a group whose list was read says so
    for obj, _ in export.objects.get("group_listed", []):
        node(principal_id(obj["group"]), "AzurePrincipal", {"kind": "Group", "members_collected": True})
        counts["groups_with_members"] += 1
    for obj, _ in export.objects.get("group_member", []):
        member = principal_id(obj["id"])
        b.stub(member, "AzurePrincipal")
        kind = str(obj.get("@odata.type") or "").rsplit(".", 1)[-1]
        edge(member, "MEMBER_OF", principal_id(obj["group"]), {"member_type": kind})
        counts["group_memberships"] += 1
    for obj, _ in export.objects.get("storage_account", []):
        rules = obj.get("networkRuleSet") or {}
        node(
            arm(obj["id"]),
            "AzureStorageAccount",
            {
                "name": obj.get("name"),
                "allow_blob_public_access": obj.get("allowBlobPublicAccess"),
                "allow_shared_key_access": obj.get("allowSharedKeyAccess"),
                "public_network_access": obj.get("publicNetworkAccess"),
                "default_action": rules.get("defaultAction"),
                "bypass": rules.get("bypass"),
                "ip_rules": [r.get("ipAddressOrRange") or r.get("value") for r in rules.get("ipRules") or []],
                "vnet_rules": [
                    arm(str(r.get("virtualNetworkResourceId") or r.get("id") or ""))
                    for r in rules.get("virtualNetworkRules") or []
                ],
                "tags": obj.get("tags") or {},
            },
        )
        counts["storage_accounts"] += 1
    return Transformed(b, counts)


@dataclass
class IngestReport:
    counts: dict[str, int]
    warnings: list[str]


@writes("ingest azure")
def ingest_azure(store: GraphStore, directory: Path, *, seen: str) -> IngestReport:
    """Load a tenant's exports (everything read and checked before anything is written)."""
    return load_export(store, get_export(Path(directory)), seen=seen, where=str(directory))


def load_export(
    store: GraphStore, export: Export, *, seen: str, where: str, unread: list[str] | None = None
) -> IngestReport:
    """Transform, check and load a tenant's objects (the caller holds the write lease)."""
    with guard(where):
        made = transform(export, seen=seen)
        made.batch.validate()
    tag = time.time_ns() // 1000
    store.load(made.batch, update_tag=tag)
    # rows carry their subscription as their account (tenant-wide ones none): each is cleaned up
    accounts = {n.account for n in made.batch.nodes} | {e.account for e in made.batch.edges}
    for account in sorted(accounts, key=str):
        store.cleanup(source=made.batch.source, account=account, update_tag=tag)
    warnings = [f"not read: {u}" for u in unread or []] + list(made.batch.warnings)
    return IngestReport(dict(made.counts), warnings)
