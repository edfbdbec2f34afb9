"""Azure behind the provider boundary (``analyzer.providers``).

Its connector is ``connectors/azure`` (a tenant from ``az`` CLI exports); its semantics are
``analyzer/azure`` (RBAC and network security groups). Change kinds, scorers, evidence (Activity Log,
resource logs, flow logs) and Defender for Cloud proposals are not built yet: an Azure proposal is scored
as a runbook whose effect cannot be seen (unknown, never safe).
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
        directory=(
            DirectoryPart("azure", "ingest the Azure tenant", "analyzer.providers.azure:load_part", 15),
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
