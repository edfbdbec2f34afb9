"""A cluster's objects from ``kubectl get -o json`` exports -> graph rows.

**Get.** A directory per cluster holding, in any file names:

* ``kubectl get <kinds> -A -o json`` output (a ``List`` of objects, each with its ``kind``), or one
  object per file;
* ``aws eks describe-cluster --name NAME`` output (``{"cluster": {...}}``: the ARN, and the OIDC issuer
  service accounts' tokens are signed by);
* ``aws eks describe-pod-identity-association`` outputs (``{"association": {...}}``), one per file or as
  a list (``{"associations": [...]}`` with ``roleArn`` in each).

Without a describe-cluster file the cluster is named by ``--cluster-arn`` (and ``--oidc-issuer``).

**Transform** (pure). Namespaces; Deployments, StatefulSets, DaemonSets, Jobs and CronJobs (workloads);
pods, linked to their workload through their ReplicaSet (``ownerReferences``; a ReplicaSet not exported is
recognised by the ``pod-template-hash`` label); Services and NetworkPolicies with the pods their selectors
select (``matchLabels`` and ``matchExpressions`` as the API defines them); service accounts with the IAM
role their pods get: the ``eks.amazonaws.com/role-arn`` annotation (IRSA) or a Pod Identity association,
and the web identity their token is (issuer and ``system:serviceaccount:<ns>:<name>``). RBAC objects are
read and counted, not yet modelled. An object of another kind is skipped and counted.

**Load.** One batch per cluster (its own source, so loading one cluster never removes another's rows).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analyzer.errors import BadInput
from analyzer.graph.lease import writes
from analyzer.graph.schema import Batch, EdgeRow, NodeRow
from analyzer.graph.store import GraphStore
from analyzer.inputs import guard
from analyzer.kubernetes.selectors import selects
from analyzer.timeutil import iso, parse_time
from connectors.jsonfile import load_json
from connectors.kubernetes.ids import Cluster

SOURCE_PREFIX = "kubernetes:"
IRSA_ANNOTATION = "eks.amazonaws.com/role-arn"
AUDIENCE_ANNOTATION = "eks.amazonaws.com/audience"

WORKLOAD_KINDS = {
    "Deployment": "deployments",
    "StatefulSet": "statefulsets",
    "DaemonSet": "daemonsets",
    "Job": "jobs",
    "CronJob": "cronjobs",
}
READ_NOT_MODELLED = {
    "Endpoints",
    "EndpointSlice",
    "ConfigMap",
    "Node",
}


@dataclass
class Export:
    """What a cluster directory holds, as read (nothing interpreted yet)."""

    objects: list[tuple[dict[str, Any], str]] = field(default_factory=list)
    """Each object with where it was read (``file#items[i]``)."""
    cluster: dict[str, Any] | None = None
    """``describe-cluster``'s ``cluster``."""
    associations: list[tuple[dict[str, Any], str]] = field(default_factory=list)


def get_export(directory: Path) -> Export:
    """Read every ``*.json`` (or ``.json.gz``) file under ``directory`` (get: only the envelope is read)."""
    out = Export()
    files = (
        sorted(p for p in directory.rglob("*") if p.is_file() and p.name.endswith((".json", ".json.gz")))
        if directory.is_dir()
        else [directory]
    )
    if not files:
        raise BadInput("no .json files (kubectl get -o json exports)", file=str(directory))
    for f in files:
        doc = load_json(f)
        where = str(f)
        if not isinstance(doc, dict):
            raise BadInput(f"expected a JSON object, found {type(doc).__name__}", file=where)
        if isinstance(doc.get("cluster"), dict):
            out.cluster = doc["cluster"]
        elif isinstance(doc.get("association"), dict):
            out.associations.append((doc["association"], where))
        elif isinstance(doc.get("associations"), list):
            out.associations += [(a, f"{where}#associations[{i}]") for i, a in enumerate(doc["associations"])]
        elif isinstance(doc.get("items"), list):
            out.objects += [(o, f"{where}#items[{i}]") for i, o in enumerate(doc["items"])]
        elif "kind" in doc:
            out.objects.append((doc, where))
        else:
            raise BadInput(
                "neither a kubectl export (kind, items) nor an EKS describe output (cluster, association)",
                file=where,
            )
    return out


def cluster_of(export: Export, arn: str | None = None, issuer: str | None = None) -> Cluster:
    """The cluster the export is of: from its describe-cluster output, else the given ARN."""
    described = export.cluster or {}
    arn = arn or described.get("arn")
    if not isinstance(arn, str | None):
        raise BadInput("cluster.arn must be an ARN", path="cluster.arn")
    if not arn:
        raise BadInput(
            "which cluster is this? give --cluster-arn, or add `aws eks describe-cluster` output to the export"
        )
    identity = described.get("identity")
    oidc_block = identity.get("oidc") if isinstance(identity, dict) else None
    oidc = oidc_block.get("issuer") if isinstance(oidc_block, dict) else None
    if oidc is not None and not isinstance(oidc, str):
        raise BadInput("cluster.identity.oidc.issuer must be a URL", path="cluster.identity.oidc.issuer")
    try:
        return Cluster(str(arn), issuer or oidc)
    except ValueError as exc:
        raise BadInput(str(exc)) from None


def _meta(obj: dict[str, Any], where: str) -> tuple[str, str, dict[str, str], dict[str, str]]:
    meta = obj.get("metadata")
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str) or not meta["name"]:
        raise BadInput("object without metadata.name", file=where, path="metadata.name")
    labels = meta.get("labels") or {}
    annotations = meta.get("annotations") or {}
    if not isinstance(labels, dict) or not isinstance(annotations, dict):
        raise BadInput("labels and annotations must be maps", file=where, path="metadata")
    return meta["name"], str(meta.get("namespace") or ""), labels, annotations


def _lifetime(status: Mapping[str, Any], where: str) -> dict[str, str]:
    """When the pod held its address: ``started`` (``status.startTime``) and, for a pod whose containers
    all ended (phase Succeeded or Failed), ``finished`` (the last ``terminated.finishedAt``); a time that
    does not parse is left out, not guessed."""
    out: dict[str, str] = {}
    try:
        if status.get("startTime"):
            out["started"] = iso(parse_time(str(status["startTime"]), field=f"{where}: status.startTime"))
        if status.get("phase") in ("Succeeded", "Failed"):
            ends = [
                str(((c.get("state") or {}).get("terminated") or {}).get("finishedAt") or "")
                for c in status.get("containerStatuses") or []
            ]
            if ends and all(ends):
                out["finished"] = max(
                    iso(parse_time(e, field=f"{where}: containerStatuses[].state.terminated.finishedAt"))
                    for e in ends
                )
    except BadInput:
        return out
    return out


def _pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    spec = obj.get("spec") or {}
    if obj.get("kind") == "CronJob":
        spec = ((spec.get("jobTemplate") or {}).get("spec")) or {}
    if obj.get("kind") != "Pod":
        spec = ((spec.get("template") or {}).get("spec")) or {}
    return spec if isinstance(spec, dict) else {}


@dataclass
class Transformed:
    batch: Batch
    counts: Counter[str]
    skipped: Counter[str]


def transform(export: Export, cluster: Cluster, *, seen: str) -> Transformed:
    """The cluster's objects as rows (pure: nothing read or written)."""
    b = Batch(SOURCE_PREFIX + cluster.arn)
    counts: Counter[str] = Counter()
    skipped: Counter[str] = Counter()
    acct = cluster.account

    def node(node_id: str, kind: str, props: dict[str, Any]) -> None:
        b.nodes.append(NodeRow(node_id, kind, props, acct, seen, seen))

    def edge(src: str, kind: str, dst: str, props: dict[str, Any] | None = None) -> None:
        b.edges.append(EdgeRow(src, kind, dst, props or {}, account=acct, first_seen=seen, last_seen=seen))

    node(
        cluster.arn,
        "EksCluster",
        {"name": cluster.name, "region": cluster.region, "oidc_issuer": cluster.issuer},
    )
    namespaces: set[str] = set()

    def in_namespace(obj_id: str, ns: str) -> None:
        ns_id = cluster.namespace_id(ns)
        if ns not in namespaces:
            namespaces.add(ns)
            b.stub(ns_id, "KubernetesNamespace", acct)
            b.edges.append(EdgeRow(ns_id, "IN_CLUSTER", cluster.arn, {}, account=acct))
        edge(obj_id, "IN_NAMESPACE", ns_id)

    service_accounts: dict[tuple[str, str], str] = {}

    def service_account(ns: str, name: str) -> str:
        sa = cluster.object_id(ns, "serviceaccounts", name)
        if (ns, name) not in service_accounts:
            service_accounts[ns, name] = sa
            b.stub(sa, "ServiceAccount", acct)
        return sa

    by_kind: dict[str, list[tuple[dict[str, Any], str]]] = {}
    for obj, where in export.objects:
        kind = obj.get("kind")
        if not isinstance(kind, str):
            raise BadInput("object without kind", file=where, path="kind")
        by_kind.setdefault(kind, []).append((obj, where))

    for obj, where in by_kind.get("Namespace", []):
        name, _, labels, _ = _meta(obj, where)
        node(cluster.namespace_id(name), "KubernetesNamespace", {"name": name, "labels": labels})
        namespaces.add(name)
        b.edges.append(EdgeRow(cluster.namespace_id(name), "IN_CLUSTER", cluster.arn, {}, account=acct))
        counts["namespaces"] += 1

    workloads: dict[tuple[str, str, str], str] = {}  # (ns, kind, name) -> id
    for kind, plural in WORKLOAD_KINDS.items():
        for obj, where in by_kind.get(kind, []):
            name, ns, labels, annotations = _meta(obj, where)
            ns = ns or "default"
            wid = cluster.object_id(ns, plural, name)
            spec = _pod_spec(obj)
            sa_name = str(spec.get("serviceAccountName") or "default")
            template = (obj.get("spec") or {}).get("template") or {}
            node(
                wid,
                "KubernetesWorkload",
                {
                    "workload_kind": kind,
                    "name": name,
                    "namespace": ns,
                    "labels": labels,
                    "pod_labels": (template.get("metadata") or {}).get("labels") or {},
                    "replicas": (obj.get("spec") or {}).get("replicas"),
                    "service_account": sa_name,
                    "cluster": cluster.arn,
                },
            )
            in_namespace(wid, ns)
            edge(wid, "USES_SERVICE_ACCOUNT", service_account(ns, sa_name))
            workloads[ns, kind, name] = wid
            counts["workloads"] += 1

    replica_sets: dict[tuple[str, str], str | None] = {}  # (ns, name) -> the Deployment that owns it
    for obj, where in by_kind.get("ReplicaSet", []):
        name, ns, _, _ = _meta(obj, where)
        owner = next(
            (
                o.get("name")
                for o in obj["metadata"].get("ownerReferences") or []
                if o.get("kind") == "Deployment"
            ),
            None,
        )
        replica_sets[ns or "default", name] = owner

    pods_in: dict[str, list[tuple[str, dict[str, str]]]] = {}  # namespace -> its pods and their labels
    for obj, where in by_kind.get("Pod", []):
        name, ns, labels, _ = _meta(obj, where)
        ns = ns or "default"
        pid = cluster.object_id(ns, "pods", name)
        spec = _pod_spec(obj)
        status = obj.get("status") or {}
        ips = [str(p.get("ip")) for p in status.get("podIPs") or [] if p.get("ip")] or (
            [str(status["podIP"])] if status.get("podIP") else []
        )
        sa_name = str(spec.get("serviceAccountName") or "default")
        node(
            pid,
            "Pod",
            {
                "name": name,
                "namespace": ns,
                "labels": labels,
                "service_account": sa_name,
                "node_name": spec.get("nodeName"),
                "host_network": bool(spec.get("hostNetwork")),
                "phase": status.get("phase"),
                "pod_ips": ips,
                **_lifetime(status, where),
                "cluster": cluster.arn,
            },
        )
        in_namespace(pid, ns)
        edge(pid, "USES_SERVICE_ACCOUNT", service_account(ns, sa_name))
        owner = _owner(obj, ns, labels, replica_sets, workloads)
        if owner is not None:
            edge(pid, "PART_OF", owner)
        pods_in.setdefault(ns, []).append((pid, labels))
        counts["pods"] += 1

    for obj, where in by_kind.get("Service", []):
        name, ns, labels, _ = _meta(obj, where)
        ns = ns or "default"
        sid = cluster.object_id(ns, "services", name)
        spec = obj.get("spec") or {}
        selector = spec.get("selector")
        node(
            sid,
            "KubernetesService",
            {
                "name": name,
                "namespace": ns,
                "labels": labels,
                "type": spec.get("type", "ClusterIP"),
                "cluster_ip": spec.get("clusterIP"),
                "selector": selector or {},
                "ports": spec.get("ports") or [],
            },
        )
        in_namespace(sid, ns)
        if selector:  # a Service without a selector has its endpoints managed by hand
            for pid, plabels in pods_in.get(ns, ()):
                if selects({"matchLabels": selector}, plabels):
                    edge(sid, "SELECTS", pid)
        counts["services"] += 1

    for obj, where in by_kind.get("NetworkPolicy", []):
        name, ns, labels, _ = _meta(obj, where)
        ns = ns or "default"
        nid = cluster.object_id(ns, "networkpolicies", name)
        spec = obj.get("spec") or {}
        node(nid, "NetworkPolicy", {"name": name, "namespace": ns, "labels": labels, "spec": spec})
        in_namespace(nid, ns)
        with guard(where):
            try:
                for pid, plabels in pods_in.get(ns, ()):
                    if selects(spec.get("podSelector") or {}, plabels):
                        edge(nid, "SELECTS", pid)
            except ValueError as exc:
                raise BadInput(str(exc), file=where, path="spec.podSelector") from None
        counts["network_policies"] += 1

    roles: dict[tuple[str, str], list[tuple[str, dict[str, Any]]]] = {}  # (ns, sa) -> [(role, RUNS_AS props)]
    for obj, where in by_kind.get("ServiceAccount", []):
        name, ns, labels, annotations = _meta(obj, where)
        ns = ns or "default"
        sa = cluster.object_id(ns, "serviceaccounts", name)
        service_accounts[ns, name] = sa
        node(
            sa,
            "ServiceAccount",
            {
                "name": name,
                "namespace": ns,
                "labels": labels,
                "irsa_role": annotations.get(IRSA_ANNOTATION),
                "audience": annotations.get(AUDIENCE_ANNOTATION),
            },
        )
        in_namespace(sa, ns)
        role = annotations.get(IRSA_ANNOTATION)
        if isinstance(role, str) and role.startswith("arn:"):
            roles.setdefault((ns, name), []).append((role, {"method": "irsa"}))
        counts["service_accounts"] += 1
    for assoc, where in export.associations:
        a_ns, a_name, a_role = assoc.get("namespace"), assoc.get("serviceAccount"), assoc.get("roleArn")
        if not (isinstance(a_ns, str) and isinstance(a_name, str) and isinstance(a_role, str)):
            raise BadInput(
                "a Pod Identity association needs namespace, serviceAccount and roleArn", file=where
            )
        if assoc.get("clusterName") not in (None, cluster.name):
            skipped["pod identity association of another cluster"] += 1
            continue
        props: dict[str, Any] = {
            "method": "pod-identity",
            "session_tags": not assoc.get("disableSessionTags"),
        }
        if isinstance(assoc.get("targetRoleArn"), str):
            props["target_role"] = assoc["targetRoleArn"]
        roles.setdefault((a_ns, a_name), []).append((a_role, props))
        counts["pod_identity_associations"] += 1
    for (ns, name), used in roles.items():
        sa = service_account(ns, name)
        for role, how in used:
            b.stub(role, "IamRole")
            edge(sa, "RUNS_AS", role, how)
    for (ns, name), sa in service_accounts.items():
        identity = cluster.web_identity(ns, name)
        if identity is not None:
            b.stub(identity, "WebIdentity", acct)
            edge(sa, "AUTHENTICATES_AS", identity)

    _rbac(by_kind, cluster, node, edge, in_namespace, service_account, b, counts)
    modelled = {
        "Namespace",
        "ReplicaSet",
        "Pod",
        "Service",
        "NetworkPolicy",
        "ServiceAccount",
        *WORKLOAD_KINDS,
        *RBAC_KINDS,
    }
    for kind, objs in by_kind.items():
        if kind in READ_NOT_MODELLED:
            counts[f"read, not modelled: {kind}"] += len(objs)
        elif kind not in modelled:
            skipped[kind] += len(objs)
    return Transformed(b, counts, skipped)


RBAC_KINDS = ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")


def _rbac(
    by_kind: Mapping[str, list[tuple[dict[str, Any], str]]],
    cluster: Cluster,
    node: Any,
    edge: Any,
    in_namespace: Any,
    service_account: Any,
    b: Batch,
    counts: Counter[str],
) -> None:
    """Roles and ClusterRoles with their rules; each binding's subjects ``BOUND_TO`` its role, with the
    namespace it holds in (a RoleBinding's, also when it grants a ClusterRole; none for a
    ClusterRoleBinding)."""
    for kind in ("Role", "ClusterRole"):
        for obj, where in by_kind.get(kind, []):
            name, ns, _, _ = _meta(obj, where)
            rules = obj.get("rules") or []
            if not isinstance(rules, list):
                raise BadInput("rules must be a list", file=where, path="rules")
            rid = (
                cluster.object_id(ns or "default", "roles", name)
                if kind == "Role"
                else cluster.cluster_object_id("clusterroles", name)
            )
            node(
                rid,
                "KubernetesRole",
                {"name": name, "role_kind": kind, "namespace": ns or None, "rules": rules},
            )
            if kind == "Role":
                in_namespace(rid, ns or "default")
            counts["rbac_roles"] += 1
    for kind in ("RoleBinding", "ClusterRoleBinding"):
        for obj, where in by_kind.get(kind, []):
            name, ns, _, _ = _meta(obj, where)
            ref = obj.get("roleRef") or {}
            if ref.get("kind") not in ("Role", "ClusterRole") or not ref.get("name"):
                raise BadInput("roleRef must name a Role or ClusterRole", file=where, path="roleRef")
            ns = (ns or "default") if kind == "RoleBinding" else ""
            role = (
                cluster.object_id(ns, "roles", ref["name"])
                if ref["kind"] == "Role"
                else cluster.cluster_object_id("clusterroles", ref["name"])
            )
            b.stub(role, "KubernetesRole", cluster.account)
            for i, subject in enumerate(obj.get("subjects") or []):
                skind, sname = subject.get("kind"), subject.get("name")
                if not isinstance(sname, str) or skind not in ("User", "Group", "ServiceAccount"):
                    raise BadInput(
                        "a subject needs kind User, Group or ServiceAccount and a name",
                        file=where,
                        path=f"subjects[{i}]",
                    )
                if skind == "ServiceAccount":
                    sid = service_account(str(subject.get("namespace") or ns or "default"), sname)
                else:
                    sid = cluster.cluster_object_id("users" if skind == "User" else "groups", sname)
                    b.stub(sid, "KubernetesSubject", cluster.account)
                edge(
                    sid,
                    "BOUND_TO",
                    role,
                    {"binding": f"{kind}/{ns}/{name}" if ns else f"{kind}/{name}", "namespace": ns or None},
                )
            counts["rbac_bindings"] += 1


def _owner(
    pod: dict[str, Any],
    ns: str,
    labels: Mapping[str, str],
    replica_sets: Mapping[tuple[str, str], str | None],
    workloads: Mapping[tuple[str, str, str], str],
) -> str | None:
    """The workload a pod belongs to: its controller, through its ReplicaSet for a Deployment."""
    for ref in pod["metadata"].get("ownerReferences") or []:
        kind, name = ref.get("kind"), ref.get("name")
        if kind == "ReplicaSet" and isinstance(name, str):
            deployment = replica_sets.get((ns, name))
            if deployment is None and (ns, name) not in replica_sets:
                digest = labels.get("pod-template-hash")
                if digest and name.endswith("-" + digest):  # ReplicaSets not exported: <deployment>-<hash>
                    deployment = name[: -len(digest) - 1]
            if deployment is not None:
                return workloads.get((ns, "Deployment", deployment))
        elif kind in WORKLOAD_KINDS and isinstance(name, str):
            return workloads.get((ns, kind, name))
    return None


@dataclass
class IngestReport:
    cluster: str
    counts: dict[str, int]
    skipped: dict[str, int]
    warnings: list[str]


@writes("ingest kubernetes")
def ingest_kubernetes(
    store: GraphStore,
    directory: Path,
    *,
    seen: str,
    cluster_arn: str | None = None,
    oidc_issuer: str | None = None,
) -> IngestReport:
    """Load one cluster's export (everything read and checked before anything is written)."""
    export = get_export(Path(directory))
    if export.cluster is None and cluster_arn and not oidc_issuer:
        # the AWS snapshot collected the cluster (eks-DescribeCluster): its issuer is known there
        known = store.get_node(cluster_arn)
        if (
            known is not None
            and known.kind == "EksCluster"
            and isinstance(known.props.get("oidc_issuer"), str)
        ):
            oidc_issuer = known.props["oidc_issuer"]
    return load_export(store, export, cluster_of(export, cluster_arn, oidc_issuer), seen, str(directory))


def load_export(
    store: GraphStore, export: Export, cluster: Cluster, seen: str, where: str, unread: Iterable[str] = ()
) -> IngestReport:
    """Transform, check and load one cluster's objects (the caller holds the write lease)."""
    with guard(where):
        made = transform(export, cluster, seen=seen)
        made.batch.validate()
    warnings = [f"{cluster.arn}: not read: {u}" for u in unread]
    if cluster.issuer is None:
        warnings.append(
            f"{cluster.arn}: its OIDC issuer is unknown (no describe-cluster output, no --oidc-issuer): "
            "which role assumptions in CloudTrail are its service accounts' cannot be told"
        )
    tag = time.time_ns() // 1000
    store.load(made.batch, update_tag=tag, account=cluster.account)
    store.cleanup(source=made.batch.source, account=cluster.account, update_tag=tag)
    return IngestReport(cluster.arn, dict(made.counts), dict(made.skipped), warnings)


def clusters_in(root: Path) -> Iterable[Path]:
    """The cluster directories under ``root`` (each a directory of exports; ``root`` itself if it holds
    files)."""
    if any(p.is_file() and p.name.endswith((".json", ".json.gz")) for p in root.iterdir()):
        return [root]
    return sorted(p for p in root.iterdir() if p.is_dir())
