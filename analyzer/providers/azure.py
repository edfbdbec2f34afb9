"""Azure behind the provider boundary (``analyzer.providers``).

Its connectors are ``connectors/azure`` (a tenant from ``az`` CLI exports) and
``connectors/evidence/azure_logs.py`` (Activity Log and storage resource logs); its semantics are
``analyzer/azure`` (RBAC and network security groups); its change kind so far is
``azure.remove_role_assignment``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from analyzer.providers import DirectoryPart, Provider, register

if TYPE_CHECKING:
    from analyzer.graph.store import GraphStore


def subscription_of(node_id: str) -> str:
    """``/subscriptions/<guid>/…`` -> the subscription ("" for a management group, the root or a principal)."""
    parts = node_id.split("/")
    return parts[2].lower() if len(parts) > 2 and parts[1].lower() == "subscriptions" else ""


PROVIDER = register(
    Provider(
        name="azure",
        id_prefixes=("/subscriptions/", "/providers/microsoft.management/", "urn:azure:"),
        account_of=subscription_of,
        change_kinds=(
            "analyzer.changes.azure_rbac",
            "analyzer.changes.azure_storage",
            "analyzer.changes.azure_nsg",
            "analyzer.changes.azure_identity",
        ),
        scorers={
            "AzureRoleAssignment": "analyzer.scoring.azure_change:role_assignment_change",
            "AzureStorageAccount": "analyzer.scoring.azure_storage_change:storage_setting_change",
            "AzureNsg": "analyzer.scoring.azure_nsg_change:nsg_rules_change",
            "AzurePrincipal": "analyzer.scoring.azure_change:managed_identity_change",
            "AzureStorageFirewall": "analyzer.scoring.azure_storage_change:network_rules_change",
        },
        evidence={"azure-logs": "Azure Activity Log or storage resource log"},
        default_evidence=("azure-logs",),
        directory=(
            DirectoryPart("azure", "ingest the Azure tenant", "analyzer.providers.azure:load_part", 15),
            DirectoryPart("azure-logs", "ingest Azure logs", "analyzer.providers.azure:load_logs_part", 35),
            DirectoryPart(
                "azure-flowlogs",
                "ingest Azure NSG flow logs",
                "analyzer.providers.azure:load_flowlogs_part",
                45,
            ),
        ),
    )
)


def load_part(store: GraphStore, path: Path, seen: str) -> list[str]:
    from analyzer.errors import BadInput
    from connectors.azure.exports import ingest_azure

    try:
        ingest_azure(store, path, seen=seen)
    except BadInput as exc:
        return [str(exc)]
    return []


def load_logs_part(store: GraphStore, path: Path, seen: str) -> list[str]:
    from connectors.evidence.azure_logs import ingest_azure_logs

    return list(ingest_azure_logs(store, [path]).errors)


def load_flowlogs_part(store: GraphStore, path: Path, seen: str) -> list[str]:
    from connectors.evidence.azure_flowlogs import ingest_azure_flowlogs

    return list(ingest_azure_flowlogs(store, [path]).errors)
