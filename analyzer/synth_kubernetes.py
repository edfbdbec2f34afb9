"""EKS clusters for the synthetic enterprise (``blastwall synth --pods N``): the same export formats as a
real cluster (``kubectl get -o json``, ``aws eks describe-cluster``) and Falco alerts about some of its
pods, so the batch is measured with Kubernetes in it.

Clusters of at most 5,000 pods go to the accounts that keep evidence, one per account, twenty namespaces
each; Deployments of four replicas, each with its Service and service account (the service account
annotated with one of its account's roles: IRSA); one pod in a hundred (at most 1,000) has a Falco alert
asking for its isolation.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

PODS_PER_CLUSTER = 5_000
REPLICAS = 4
NAMESPACES = 20
REGION = "us-east-1"


def write_clusters(
    out: Path, accounts: list[str], roles_of: dict[str, list[str]], pods: int
) -> dict[str, int]:
    """Write ``kubernetes/<cluster>/`` for ``pods`` pods and ``findings/falco-alerts.jsonl``; the counts."""
    if pods <= 0:
        return {}
    clusters = -(-pods // PODS_PER_CLUSTER)
    if clusters > len(accounts):
        raise ValueError(f"{pods} pods need {clusters} clusters; the enterprise has {len(accounts)} accounts")
    alerts: list[str] = []
    made = {"clusters": 0, "pods": 0, "deployments": 0, "pod_alerts": 0}
    left = pods
    for c in range(clusters):
        account = accounts[c]
        name = f"eks-{c:03d}"
        n = min(PODS_PER_CLUSTER, left)
        left -= n
        items: list[dict[str, Any]] = [
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": f"team-{k:02d}", "labels": {"team": f"t{k:02d}"}},
            }
            for k in range(NAMESPACES)
        ]
        roles = roles_of.get(account) or []
        for d in range(-(-n // REPLICAS)):
            ns = f"team-{d % NAMESPACES:02d}"
            app = f"app-{c:03d}-{d:05d}"  # unique in the enterprise: an alert names a pod by name
            labels = {"app.kubernetes.io/name": app}
            sa: dict[str, Any] = {"name": app, "namespace": ns}
            if roles:
                sa["annotations"] = {"eks.amazonaws.com/role-arn": roles[d % len(roles)]}
            items += [
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "metadata": {"name": app, "namespace": ns, "labels": labels},
                    "spec": {
                        "replicas": REPLICAS,
                        "selector": {"matchLabels": labels},
                        "template": {"metadata": {"labels": labels}, "spec": {"serviceAccountName": app}},
                    },
                },
                {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": sa},
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": {"name": app, "namespace": ns},
                    "spec": {
                        "selector": labels,
                        "ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}],
                    },
                },
            ]
            made["deployments"] += 1
            for r in range(min(REPLICAS, n - d * REPLICAS)):
                pod = f"{app}-5d8f7c9b6-{r:04d}"
                ip = f"10.{100 + c // 250}.{(d * REPLICAS + r) // 250 % 250}.{(d * REPLICAS + r) % 250 + 1}"
                items.append(
                    {
                        "apiVersion": "v1",
                        "kind": "Pod",
                        "metadata": {
                            "name": pod,
                            "namespace": ns,
                            "labels": {**labels, "pod-template-hash": "5d8f7c9b6"},
                            "ownerReferences": [{"kind": "ReplicaSet", "name": f"{app}-5d8f7c9b6"}],
                        },
                        "spec": {"serviceAccountName": app, "nodeName": f"node-{d % 50:02d}"},
                        "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}]},
                    }
                )
                made["pods"] += 1
                if (d * REPLICAS + r) % 100 == 7 and made["pod_alerts"] < 1_000:
                    made["pod_alerts"] += 1
                    alerts.append(
                        json.dumps(
                            {
                                "output": f"Critical A shell was spawned in a container (k8s.ns={ns} k8s.pod={pod})",
                                "priority": "Critical",
                                "rule": "Terminal shell in container",
                                "source": "syscall",
                                "time": "2026-05-07T12:00:00.000000000Z",
                                "hostname": f"node-{d % 50:02d}",
                                "output_fields": {
                                    "k8s.ns.name": ns,
                                    "k8s.pod.name": pod,
                                    "proc.name": "bash",
                                },
                            }
                        )
                    )
        base = out / "kubernetes" / name
        base.mkdir(parents=True, exist_ok=True)
        with gzip.open(base / "objects.json.gz", "wt") as f:
            json.dump({"apiVersion": "v1", "kind": "List", "items": items}, f)
        arn = f"arn:aws:eks:{REGION}:{account}:cluster/{name}"
        issuer = f"https://oidc.eks.{REGION}.amazonaws.com/id/{account}{c:020d}"
        (base / "describe-cluster.json").write_text(
            json.dumps({"cluster": {"name": name, "arn": arn, "identity": {"oidc": {"issuer": issuer}}}})
        )
        made["clusters"] += 1
    (out / "findings").mkdir(parents=True, exist_ok=True)
    (out / "findings" / "falco-alerts.jsonl").write_text("\n".join(alerts) + "\n")
    return made
