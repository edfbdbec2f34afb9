"""Azure subscriptions for the synthetic enterprise (``blastwall synth --subscriptions N``): the same formats as
a real tenant (``az ... -o json`` exports, storage resource logs and NSG flow logs as diagnostic settings and
Network Watcher archive them, Defender for Cloud recommendations), so the batch is measured with Azure in it.

Each subscription (under a management group per twenty) has a virtual network with one subnet and its NSG,
twenty VMs' network interfaces, five storage accounts each read by a managed identity through a Storage
Blob Data Reader assignment, and a Contributor group. Every day of the window: each identity reads its
account over OAuth; every third account is also read with the account key by one of the VMs (the
dependency Defender's "prevent shared key access" fix would cut); the VMs call each other on 443 through
the NSG. Defender recommends preventing shared key access on every account.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

NICS = 20
STORAGE = 5
PER_GROUP = 20
READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"


def _guid(*parts: object) -> str:
    import hashlib

    h = hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def _write(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, separators=(",", ":")))


def write_subscriptions(out: Path, n: int, start: datetime, days: int) -> dict[str, int]:
    """Write ``azure/``, ``azure-logs/``, ``azure-flowlogs/`` and ``findings/defender-assessments.json``."""
    if n <= 0:
        return {}
    tenant = _guid("synth", "tenant")
    subs = [_guid("synth", "subscription", i) for i in range(n)]
    base = out / "azure"
    groups = -(-n // PER_GROUP)
    _write(
        base / "management-group-show.json",
        {
            "id": f"/providers/Microsoft.Management/managementGroups/{tenant}",
            "name": tenant,
            "displayName": "Tenant Root Group",
            "type": "Microsoft.Management/managementGroups",
            "children": [
                {
                    "id": f"/providers/Microsoft.Management/managementGroups/workloads-{g:02d}",
                    "name": f"workloads-{g:02d}",
                    "displayName": f"Workloads {g:02d}",
                    "type": "Microsoft.Management/managementGroups",
                    "children": [
                        {
                            "id": f"/subscriptions/{s}",
                            "name": s,
                            "displayName": f"sub-{i:03d}",
                            "type": "/subscriptions",
                            "children": None,
                        }
                        for i, s in enumerate(subs)
                        if i // PER_GROUP == g
                    ],
                }
                for g in range(groups)
            ],
        },
    )
    _write(
        base / "account-list.json",
        [
            {"id": s, "name": f"sub-{i:03d}", "tenantId": tenant, "state": "Enabled", "isDefault": i == 0}
            for i, s in enumerate(subs)
        ],
    )
    _write(
        base / "role-definition-list.json",
        [
            {
                "name": READER,
                "id": f"/providers/Microsoft.Authorization/roleDefinitions/{READER}",
                "roleName": "Storage Blob Data Reader",
                "roleType": "BuiltInRole",
                "type": "Microsoft.Authorization/roleDefinitions",
                "assignableScopes": ["/"],
                "permissions": [
                    {
                        "actions": [
                            "Microsoft.Storage/storageAccounts/blobServices/containers/read",
                            "Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action",
                        ],
                        "notActions": [],
                        "dataActions": [
                            "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"
                        ],
                        "notDataActions": [],
                    }
                ],
            },
            {
                "name": CONTRIBUTOR,
                "id": f"/providers/Microsoft.Authorization/roleDefinitions/{CONTRIBUTOR}",
                "roleName": "Contributor",
                "roleType": "BuiltInRole",
                "type": "Microsoft.Authorization/roleDefinitions",
                "assignableScopes": ["/"],
                "permissions": [
                    {
                        "actions": ["*"],
                        "notActions": [
                            "Microsoft.Authorization/*/Delete",
                            "Microsoft.Authorization/*/Write",
                            "Microsoft.Authorization/elevateAccess/Action",
                        ],
                        "dataActions": [],
                        "notDataActions": [],
                    }
                ],
            },
        ],
    )
    assignments, vnets, nsgs, nics, accounts, assessments = [], [], [], [], [], []
    storage_logs: dict[tuple[str, str], list[dict[str, Any]]] = {}
    flow_records: dict[str, list[dict[str, Any]]] = {}
    made = {
        "subscriptions": n,
        "nics": 0,
        "storage_accounts": 0,
        "key_dependencies": 0,
        "defender_recommendations": 0,
    }
    for i, s in enumerate(subs):
        rg = f"/subscriptions/{s}/resourceGroups/app-rg"
        prefix = f"10.{i % 250}.{(i // 250) * 16}"
        vnet = f"{rg}/providers/Microsoft.Network/virtualNetworks/app-vnet"
        subnet = f"{vnet}/subnets/app"
        nsg = f"{rg}/providers/Microsoft.Network/networkSecurityGroups/app-nsg"
        vnets.append(
            {
                "id": vnet,
                "name": "app-vnet",
                "type": "Microsoft.Network/virtualNetworks",
                "addressSpace": {"addressPrefixes": [f"{prefix}.0/20"]},
                "subnets": [
                    {
                        "id": subnet,
                        "name": "app",
                        "addressPrefix": f"{prefix}.0/24",
                        "networkSecurityGroup": {"id": nsg},
                    }
                ],
                "virtualNetworkPeerings": [],
            }
        )
        rules = [
            {
                "name": "allow-https-vnet",
                "priority": 100,
                "direction": "Inbound",
                "access": "Allow",
                "protocol": "Tcp",
                "sourceAddressPrefix": "VirtualNetwork",
                "sourcePortRange": "*",
                "destinationAddressPrefix": "*",
                "destinationPortRange": "443",
            },
            {
                "name": "deny-rdp",
                "priority": 200,
                "direction": "Inbound",
                "access": "Deny",
                "protocol": "Tcp",
                "sourceAddressPrefix": "*",
                "sourcePortRange": "*",
                "destinationAddressPrefix": "*",
                "destinationPortRange": "3389",
            },
        ]
        nsgs.append(
            {
                "id": nsg,
                "name": "app-nsg",
                "type": "Microsoft.Network/networkSecurityGroups",
                "securityRules": rules,
            }
        )
        ips = [f"{prefix}.{k + 4}" for k in range(NICS)]
        for k, ip in enumerate(ips):
            nic = f"{rg}/providers/Microsoft.Network/networkInterfaces/vm-{k:02d}-nic"
            nics.append(
                {
                    "id": nic,
                    "name": f"vm-{k:02d}-nic",
                    "type": "Microsoft.Network/networkInterfaces",
                    "ipConfigurations": [
                        {"name": "ipconfig1", "privateIPAddress": ip, "subnet": {"id": subnet}}
                    ],
                    "virtualMachine": {"id": f"{rg}/providers/Microsoft.Compute/virtualMachines/vm-{k:02d}"},
                }
            )
        made["nics"] += NICS
        assignments.append(
            {
                "id": f"/subscriptions/{s}/providers/Microsoft.Authorization/roleAssignments/{_guid('ra', s, 'contrib')}",
                "name": _guid("ra", s, "contrib"),
                "type": "Microsoft.Authorization/roleAssignments",
                "principalId": _guid("group", s),
                "principalType": "Group",
                "roleDefinitionId": f"/subscriptions/{s}/providers/Microsoft.Authorization/roleDefinitions/{CONTRIBUTOR}",
                "scope": f"/subscriptions/{s}",
            }
        )
        for a in range(STORAGE):
            name = f"st{i:03d}{a}{_guid('st', i, a)[:6]}"
            acct = f"{rg}/providers/Microsoft.Storage/storageAccounts/{name}"
            accounts.append(
                {
                    "id": acct,
                    "name": name,
                    "type": "Microsoft.Storage/storageAccounts",
                    "allowBlobPublicAccess": False,
                    "allowSharedKeyAccess": True,
                    "networkRuleSet": {
                        "defaultAction": "Allow",
                        "bypass": "AzureServices",
                        "ipRules": [],
                        "virtualNetworkRules": [],
                    },
                }
            )
            identity = _guid("mi", s, a)
            ra = _guid("ra", s, a)
            assignments.append(
                {
                    "id": f"{acct}/providers/Microsoft.Authorization/roleAssignments/{ra}",
                    "name": ra,
                    "type": "Microsoft.Authorization/roleAssignments",
                    "principalId": identity,
                    "principalType": "ServicePrincipal",
                    "roleDefinitionId": f"/subscriptions/{s}/providers/Microsoft.Authorization/roleDefinitions/{READER}",
                    "scope": acct,
                }
            )
            keyed = (i * STORAGE + a) % 3 == 0
            made["key_dependencies"] += int(keyed)
            for day in range(days):
                when = start + timedelta(days=day, hours=3)
                recs = storage_logs.setdefault((acct, f"{when:%Y/%m/%d}"), [])
                t = f"{when:%Y-%m-%dT%H:%M:%S}.0000000Z"
                recs.append(
                    {
                        "time": t,
                        "resourceId": f"{acct}/blobServices/default",
                        "category": "StorageRead",
                        "operationName": "GetBlob",
                        "statusCode": 200,
                        "callerIpAddress": f"{ips[a]}:50000",
                        "identity": {
                            "type": "OAuth",
                            "requester": {"objectId": identity},
                            "authorization": [
                                {
                                    "action": "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read",
                                    "roleAssignmentId": ra,
                                    "principals": [{"id": identity, "type": "ServicePrincipal"}],
                                    "result": "Granted",
                                }
                            ],
                        },
                    }
                )
                if keyed:
                    recs.append(
                        {
                            "time": t,
                            "resourceId": f"{acct}/blobServices/default",
                            "category": "StorageRead",
                            "operationName": "GetBlob",
                            "statusCode": 200,
                            "callerIpAddress": f"{ips[(a + 7) % NICS]}:50001",
                            "identity": {"type": "AccountKey", "tokenHash": "key1(0000)"},
                        }
                    )
            assessment = _guid("assessment", acct)
            assessments.append(
                {
                    "id": f"{acct}/providers/Microsoft.Security/assessments/{assessment}",
                    "name": assessment,
                    "type": "Microsoft.Security/assessments",
                    "displayName": "Storage accounts should prevent shared key access",
                    "resourceDetails": {"Source": "Azure", "Id": acct},
                    "status": {"code": "Unhealthy"},
                    "metadata": {"severity": "Medium"},
                }
            )
        made["storage_accounts"] += STORAGE
        made["defender_recommendations"] += STORAGE
        for day in range(days):
            t0 = int((start + timedelta(days=day, hours=4)).timestamp())
            tuples = [
                f"{t0 + k},{ips[k]},{ips[(k + 1) % NICS]},{40000 + k},443,T,I,A,B,,,," for k in range(NICS)
            ]
            flow_records.setdefault(nsg, []).append(
                {
                    "time": f"{start + timedelta(days=day, hours=4):%Y-%m-%dT%H:%M:%S}.0000000Z",
                    "category": "NetworkSecurityGroupFlowEvent",
                    "resourceId": nsg.upper(),
                    "operationName": "NetworkSecurityGroupFlowEvents",
                    "properties": {
                        "Version": 2,
                        "flows": [
                            {
                                "rule": "UserRule_allow-https-vnet",
                                "flows": [{"mac": "000D3A000000", "flowTuples": tuples}],
                            }
                        ],
                    },
                }
            )
    _write(base / "role-assignment-list.json", assignments)
    _write(base / "vnet-list.json", vnets)
    _write(base / "nsg-list.json", nsgs)
    _write(base / "nic-list.json", nics)
    _write(base / "storage-account-list.json", accounts)
    for (acct, stamp), recs in storage_logs.items():
        path = (
            out
            / "azure-logs"
            / "insights-logs-storageread"
            / f"resourceId={acct.upper()}/BLOBSERVICES/DEFAULT"
            / f"y={stamp[:4]}"
            / f"m={stamp[5:7]}"
            / f"d={stamp[8:10]}"
            / "h=03"
            / "m=00"
            / "PT1H.json"
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in recs))
    for nsg, recs in flow_records.items():
        _write(
            out
            / "azure-flowlogs"
            / "insights-logs-networksecuritygroupflowevent"
            / f"resourceId={nsg.upper()}"
            / "PT1H.json",
            {"records": recs},
        )
    _write(out / "findings" / "defender-assessments.json", assessments)
    made["defender_recommendations"] = len(assessments)
    return made
