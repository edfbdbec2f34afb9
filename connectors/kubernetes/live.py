"""A cluster read live: the Kubernetes API through the official ``kubernetes`` client, the EKS API through
boto3. What it reads is what an export holds (``exports.Export``), so both go through one transform.

Lists are read page by page (``limit`` / ``continue``, as the API server paginates); an API list's items
carry no ``kind`` (only ``kubectl`` adds it), so each is given the kind its list is of. A list the
credentials may not read (403) or the server does not serve (404: an API group not installed) is skipped
and said, never taken as empty-and-complete: the report names it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from analyzer.errors import BadInput
from analyzer.graph.lease import writes
from analyzer.graph.store import GraphStore
from connectors.aws.session import client_for
from connectors.kubernetes.exports import Export, IngestReport, cluster_of, load_export

PAGE = 500

LISTS: tuple[tuple[str, str, str], ...] = (
    ("Namespace", "CoreV1Api", "list_namespace"),
    ("Pod", "CoreV1Api", "list_pod_for_all_namespaces"),
    ("Service", "CoreV1Api", "list_service_for_all_namespaces"),
    ("ServiceAccount", "CoreV1Api", "list_service_account_for_all_namespaces"),
    ("Deployment", "AppsV1Api", "list_deployment_for_all_namespaces"),
    ("StatefulSet", "AppsV1Api", "list_stateful_set_for_all_namespaces"),
    ("DaemonSet", "AppsV1Api", "list_daemon_set_for_all_namespaces"),
    ("ReplicaSet", "AppsV1Api", "list_replica_set_for_all_namespaces"),
    ("Job", "BatchV1Api", "list_job_for_all_namespaces"),
    ("CronJob", "BatchV1Api", "list_cron_job_for_all_namespaces"),
    ("NetworkPolicy", "NetworkingV1Api", "list_network_policy_for_all_namespaces"),
    ("Role", "RbacAuthorizationV1Api", "list_role_for_all_namespaces"),
    ("RoleBinding", "RbacAuthorizationV1Api", "list_role_binding_for_all_namespaces"),
    ("ClusterRole", "RbacAuthorizationV1Api", "list_cluster_role"),
    ("ClusterRoleBinding", "RbacAuthorizationV1Api", "list_cluster_role_binding"),
)
"""Each kind Blastwall reads, with the client class and method that list it across namespaces."""


@dataclass
class LiveRead:
    export: Export
    unread: list[str] = field(default_factory=list)
    """Lists that could not be read, and why."""


def api_client(kubeconfig: str | None = None, context: str | None = None) -> Any:
    """An API client from a kubeconfig (``$KUBECONFIG`` or ``~/.kube/config`` when None), or the pod's
    in-cluster service account when no kubeconfig exists and Blastwall runs in a pod."""
    from kubernetes import config

    try:
        return config.new_client_from_config(config_file=kubeconfig, context=context)
    except config.ConfigException as exc:
        if kubeconfig is None:
            try:
                config.load_incluster_config()
            except config.ConfigException:
                raise BadInput(f"no usable kubeconfig ({exc}) and not running in a cluster") from None
            from kubernetes import client

            return client.ApiClient()
        raise BadInput(f"kubeconfig {kubeconfig}: {exc}") from None


def get_cluster_objects(api: Any, page: int | None = None) -> LiveRead:
    """Every object of the kinds in ``LISTS`` (get: nothing interpreted but the list envelope)."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    out = LiveRead(Export())
    page = page or PAGE
    host = getattr(api.configuration, "host", "the API server")
    for kind, cls, method in LISTS:
        lister = getattr(getattr(client, cls)(api), method)
        token: str | None = None
        got: list[dict[str, Any]] = []
        try:
            while True:
                kwargs: dict[str, Any] = {"limit": page, "_preload_content": False}
                if token:
                    kwargs["_continue"] = token
                resp = lister(**kwargs)
                body = json.loads(resp.data)
                for item in body.get("items") or []:
                    item.setdefault("kind", kind)
                    got.append(item)
                token = (body.get("metadata") or {}).get("continue")
                if not token:
                    break
        except ApiException as exc:
            why = {403: "forbidden to these credentials", 404: "not served by this cluster"}.get(
                exc.status, f"HTTP {exc.status}"
            )
            out.unread.append(f"{kind}: {why}")
            continue
        out.export.objects += [(o, f"{host} {kind}[{i}]") for i, o in enumerate(got)]
    return out


def get_eks(cluster_arn: str, session: Any) -> tuple[dict[str, Any], list[dict[str, Any]], list[str]]:
    """The cluster's ``describe-cluster`` and its Pod Identity associations (each described, for its
    role), with what could not be read."""
    from botocore.exceptions import BotoCoreError, ClientError

    region, name = cluster_arn.split(":")[3], cluster_arn.rsplit("/", 1)[-1]
    eks = client_for(session, "eks", region)
    cluster = eks.describe_cluster(name=name)["cluster"]
    associations: list[dict[str, Any]] = []
    unread: list[str] = []
    try:
        for pg in eks.get_paginator("list_pod_identity_associations").paginate(clusterName=name):
            for a in pg.get("associations") or []:
                got = eks.describe_pod_identity_association(
                    clusterName=name, associationId=a["associationId"]
                )
                associations.append(got["association"])
    except (ClientError, BotoCoreError) as exc:
        unread.append(
            f"Pod Identity associations: {exc}; roles granted to service accounts that way are unknown"
        )
    return json.loads(json.dumps(cluster, default=str)), associations, unread


def get_live(
    *,
    cluster_arn: str,
    kubeconfig: str | None = None,
    context: str | None = None,
    session: Any = None,
) -> LiveRead:
    """The cluster's objects and, with an AWS session, its EKS description and Pod Identity associations."""
    read = get_cluster_objects(api_client(kubeconfig, context))
    if session is not None:
        described, associations, unread = get_eks(cluster_arn, session)
        read.export.cluster = described
        read.export.associations = [(a, f"eks {a.get('associationArn', '')}") for a in associations]
        read.unread += unread
    return read


@writes("ingest kubernetes")
def ingest_kubernetes_live(
    store: GraphStore,
    *,
    cluster_arn: str,
    seen: str,
    kubeconfig: str | None = None,
    context: str | None = None,
    session: Any = None,
    oidc_issuer: str | None = None,
) -> IngestReport:
    """Read a cluster live and load it as an export of it would be loaded."""
    read = get_live(cluster_arn=cluster_arn, kubeconfig=kubeconfig, context=context, session=session)
    cluster = cluster_of(read.export, cluster_arn, oidc_issuer)
    return load_export(store, read.export, cluster, seen, cluster_arn, read.unread)
