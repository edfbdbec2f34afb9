"""Kubernetes audit logs -> who used which RBAC binding for what.

Each line an ``audit.k8s.io/v1`` Event, as the API server's log backend writes them and EKS control plane
logging delivers them (log group ``/aws/eks/<cluster>/cluster``, streams ``kube-apiserver-audit-*``; an
``aws logs filter-log-events`` export, ``{"events": [{"message": "<Event JSON>"}]}``, is read too). Plain or
gzipped.

An event counts once, at its ``ResponseComplete`` stage (or ``ResponseStarted`` for a watch or an exec
stream, which never completes in the log; events without a stage count as they come). One the RBAC
authorizer allowed names the binding that allowed it in ``annotations["authorization.k8s.io/reason"]``:
``RBAC: allowed by RoleBinding "<name>/<namespace>" of Role "<role>" to User "<name>"`` (or a
ClusterRoleBinding ``"<name>"``, a ClusterRole, a Group, a ServiceAccount ``"<name>/<namespace>"``).
That is the evidence that the binding is in use: an edge from the user (a service account:
``system:serviceaccount:<ns>:<name>``) to the role, keyed by binding, verb, resource and namespace, with
the user's groups. Denied requests and requests allowed by other authorizers (Node, webhook) are counted,
not kept.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analyzer.errors import BadInput
from analyzer.graph.ids import Cluster
from analyzer.graph.lease import writes
from analyzer.graph.schema import EdgeRow
from analyzer.graph.store import GraphStore
from analyzer.inputs import check_time
from connectors.evidence.coverage import day_of
from connectors.evidence.loading import (
    evidence_files,
    file_digest,
    fold_edge,
    ingested_digests,
    load_evidence,
)
from connectors.jsonfile import parse_json_text, read_text

SOURCE = "k8s-audit"
REASON = "authorization.k8s.io/reason"
_ALLOWED = re.compile(
    r'^RBAC: allowed by (RoleBinding|ClusterRoleBinding) "([^"]+)" of (Role|ClusterRole) "([^"]+)" '
    r'to (User|Group|ServiceAccount) "([^"]+)"'
)
COUNTED_STAGES = {"ResponseComplete", None}
_SHAPES: dict[str, type | tuple[type, ...]] = {
    "stage": str,
    "verb": str,
    "user": dict,
    "objectRef": dict,
    "annotations": dict,
    "stageTimestamp": str,
    "requestReceivedTimestamp": str,
}
_SHAPE_NAMES = {k: "an object" if v is dict else "text" for k, v in _SHAPES.items()}
STREAMING_VERBS = {"watch"}


def binding_key(kind: str, described: str) -> tuple[str, str | None]:
    """The binding as the graph keys it, and its namespace, from how the authorizer describes it
    (``name/namespace`` for a RoleBinding).

    >>> binding_key("RoleBinding", "oncall-debug/fraud"), binding_key("ClusterRoleBinding", "cluster-admin")
    (('RoleBinding/fraud/oncall-debug', 'fraud'), ('ClusterRoleBinding/cluster-admin', None))
    """
    if kind == "RoleBinding":
        name, _, ns = described.rpartition("/")
        return f"RoleBinding/{ns}/{name}", ns
    return f"ClusterRoleBinding/{described}", None


def actor_id(cluster: Cluster, username: str) -> tuple[str, str]:
    """The node of the user a request came from: a service account, or a user by name."""
    parts = username.split(":")
    if len(parts) == 4 and parts[:2] == ["system", "serviceaccount"]:
        return cluster.object_id(parts[2], "serviceaccounts", parts[3]), "ServiceAccount"
    return cluster.cluster_object_id("users", username), "KubernetesSubject"


@dataclass
class AuditAggregate:
    edges: dict[tuple[str, str, str, str, str, str], EdgeRow] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)
    days: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    counted: Counter[str] = field(default_factory=Counter)


def get_events(path: Path) -> Iterator[tuple[int, Any]]:
    """(line, event) of an audit log file, or of a ``filter-log-events`` export (get: only parsing)."""
    text = read_text(path)
    if text.lstrip().startswith("{") and '"events"' in text[:4096]:
        try:
            doc = parse_json_text(text, str(path))
        except BadInput:
            doc = None  # not one document: events one per line
        if isinstance(doc, dict) and isinstance(doc.get("events"), list):
            for i, ev in enumerate(doc["events"]):
                message = ev.get("message") if isinstance(ev, dict) else None
                yield i + 1, parse_json_text(str(message or ""), f"{path}#events[{i}].message")
            return
    for n, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            yield n, parse_json_text(line, f"{path}:{n}")


def transform_events(
    events: Iterable[tuple[int, Any]], cluster: Cluster, agg: AuditAggregate, file: str
) -> None:
    """Fold one file's events into ``agg`` (pure)."""
    role_ns: dict[str, str] = {}
    for n, ev in events:
        if not isinstance(ev, dict) or ev.get("kind") not in ("Event", None):
            raise BadInput("not an audit.k8s.io Event", file=file, line=n)
        for field_name, types in _SHAPES.items():
            if ev.get(field_name) is not None and not isinstance(ev[field_name], types):
                raise BadInput(f"{field_name} must be {_SHAPE_NAMES[field_name]}", file=file, line=n)
        stage = ev.get("stage")
        if stage not in COUNTED_STAGES and not (stage == "ResponseStarted" and _streams(ev)):
            continue
        if stage == "ResponseComplete" and _streams(ev):
            continue  # counted at ResponseStarted
        agg.counted["events"] += 1
        when = check_time(ev.get("stageTimestamp") or ev.get("requestReceivedTimestamp"), file, f"line {n}")
        agg.days.setdefault((cluster.account, cluster.region), set()).add(day_of(when))
        reason = str((ev.get("annotations") or {}).get(REASON) or "")
        m = _ALLOWED.match(reason)
        if not m:
            agg.counted["denied" if "forbid" in str(ev.get("annotations") or {}) else "not_by_rbac"] += 1
            continue
        bkind, bdesc, rkind, rname, _skind, _sname = m.groups()
        binding, ns = binding_key(bkind, bdesc)
        role = (
            cluster.object_id(ns or "default", "roles", rname)
            if rkind == "Role"
            else cluster.cluster_object_id("clusterroles", rname)
        )
        user = ev.get("user") or {}
        username = str(user.get("username") or "")
        if not username:
            raise BadInput("an allowed event without user.username", file=file, line=n)
        actor, akind = actor_id(cluster, username)
        ref = ev.get("objectRef") or {}
        # as `kubectl auth can-i` and `k8s who-can` name it: deployments.apps/scale
        resource = str(ref.get("resource") or "")
        if ref.get("apiGroup"):
            resource += f".{ref['apiGroup']}"
        if ref.get("subresource"):
            resource += f"/{ref['subresource']}"
        verb, namespace = str(ev.get("verb") or ""), str(ref.get("namespace") or "")
        key = (actor, role, binding, verb, resource, namespace)
        agg.kinds.setdefault(actor, akind)
        agg.kinds.setdefault(role, "KubernetesRole")
        role_ns[role] = ns or ""
        e = agg.edges.get(key)
        if e is None:
            agg.edges[key] = EdgeRow(
                actor,
                "OBSERVED_K8S_ACCESS",
                role,
                {
                    "binding": binding,
                    "verb": verb,
                    "resource": resource,
                    "namespace": namespace,
                    "groups": sorted(str(g) for g in user.get("groups") or []),
                },
                account=cluster.account,
                count=1,
                first_seen=when,
                last_seen=when,
            )
        else:
            e.count += 1
            e.first_seen = min(e.first_seen or when, when)
            e.last_seen = max(e.last_seen or when, when)


def _streams(ev: dict[str, Any]) -> bool:
    return ev.get("verb") in STREAMING_VERBS or (ev.get("objectRef") or {}).get("subresource") in (
        "exec",
        "attach",
    )


@dataclass
class IngestReport:
    files: int = 0
    skipped_already_ingested: int = 0
    counted: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


@writes("ingest k8s-audit")
def ingest_k8s_audit(store: GraphStore, paths: Iterable[Path], *, cluster_arn: str) -> IngestReport:
    """Audit log files of one cluster; a file that cannot be read is reported and the rest load."""
    try:
        cluster = Cluster(cluster_arn)
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    report = IngestReport()
    done = ingested_digests(store)
    agg = AuditAggregate()
    new_files: dict[str, dict[str, Any]] = {}
    files = evidence_files(paths)
    for f in files:
        digest = file_digest(f)
        if digest in done or digest in new_files:
            report.skipped_already_ingested += 1
            continue
        part = AuditAggregate()
        try:
            transform_events(get_events(f), cluster, part, str(f))
        except BadInput as exc:
            report.errors.append(str(exc))
            continue
        for k, e in part.edges.items():
            fold_edge(agg.edges, k, e)
        agg.kinds.update(part.kinds)
        for day_key, d in part.days.items():
            agg.days.setdefault(day_key, set()).update(d)
        agg.counted.update(part.counted)
        new_files[digest] = {"source": SOURCE, "path": str(f), "records": part.counted["events"]}
        report.files += 1
    report.counted = dict(agg.counted)
    if new_files:
        stubs = [(node, kind, cluster.account) for node, kind in agg.kinds.items()]
        load_evidence(store, SOURCE, stubs, list(agg.edges.values()), new_files, agg.days)
    return report
