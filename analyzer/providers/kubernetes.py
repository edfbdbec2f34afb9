"""Kubernetes behind the provider boundary (``analyzer.providers``): any cluster's objects, RBAC and
NetworkPolicies (``connectors/kubernetes``, ``analyzer/kubernetes``), whichever cloud runs it. What ties a
cluster to its cloud (EKS's IRSA and Pod Identity, pod addresses in VPC flow logs) stays with that cloud's
provider and reaches the cluster's nodes by their ids.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from analyzer.providers import DirectoryPart, Provider, register

if TYPE_CHECKING:
    from analyzer.graph.store import GraphStore


def cluster_account(node_id: str) -> str:
    """``k8s://ACCOUNT/REGION/CLUSTER/...`` -> the account that runs the cluster."""
    return node_id.removeprefix("k8s://").split("/", 1)[0]


PROVIDER = register(
    Provider(
        name="kubernetes",
        id_prefixes=("k8s://",),
        account_of=cluster_account,
        change_kinds=("analyzer.changes.kubernetes",),
        scorers={
            "Pod": "analyzer.scoring.kubernetes_change:kubernetes_change",
            "KubernetesBinding": "analyzer.scoring.kubernetes_change:binding_change",
            "KubernetesNamespace": "analyzer.scoring.kubernetes_change:network_policy_change",
        },
        evidence={"k8s-audit": "Kubernetes audit log"},
        default_evidence=("k8s-audit",),
        directory=(
            # before flow logs: a flow to or from a pod's address is the pod's
            DirectoryPart(
                "kubernetes", "ingest Kubernetes clusters", "analyzer.providers.kubernetes:load_part", 20
            ),
        ),
    )
)


def load_part(store: GraphStore, path: Path, seen: str) -> list[str]:
    from analyzer.errors import BadInput
    from connectors.kubernetes.exports import clusters_in, ingest_kubernetes

    errors: list[str] = []
    for cluster in clusters_in(path):
        try:
            ingest_kubernetes(store, cluster, seen=seen)
        except BadInput as exc:
            errors.append(str(exc))
    return errors
