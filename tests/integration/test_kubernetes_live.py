"""A cluster read live: the official ``kubernetes`` client against a local fake API server (mock: a real
API server cannot run here; tests/fake_kube_api.py serves the documented list shapes, paginated), and the
EKS API of a moto server over HTTP. What it loads equals what the export of the same cluster loads."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import boto3
import pytest

from analyzer.graph.store import GraphStore, open_store
from connectors.kubernetes import live
from connectors.kubernetes.exports import ingest_kubernetes
from tests import fake_kube_api
from tests import kubernetes_world as w
from tests.conftest import blastwall_cmd

pytestmark = pytest.mark.integration
TOKEN = "k8s-aws-v1.test-token"


def _export_dir(tmp: Path) -> Path:
    d = tmp / "export"
    d.mkdir()
    (d / "objects.json").write_text(json.dumps(w.kubectl_export()))
    return d


def _cluster_rows(store: GraphStore) -> tuple[list[Any], list[Any]]:
    g = store.read_graph()
    nodes = sorted(
        (n.id, n.kind, json.dumps(n.props, sort_keys=True))
        for n in g.nodes
        if n.source.startswith("kubernetes:")
    )
    edges = sorted((e.src, e.kind, e.dst, e.key) for e in g.edges if e.source.startswith("kubernetes:"))
    return nodes, edges


def test_mock_api_server_read_live_loads_what_the_export_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live, "PAGE", 2)  # the lists come in pages: every kind with more than two items pages
    issuer = f"https://{w.ISSUER}"
    a = open_store(str(tmp_path / "a"))
    ingest_kubernetes(
        a, _export_dir(tmp_path), seen="2026-05-15T00:00:00Z", cluster_arn=w.CLUSTER_ARN, oidc_issuer=issuer
    )
    items = w.kubectl_export()["items"]
    with fake_kube_api.serving(items, TOKEN) as (url, log):
        config = fake_kube_api.kubeconfig(tmp_path / "kubeconfig", url, TOKEN)
        b = open_store(str(tmp_path / "b"))
        got = live.ingest_kubernetes_live(
            b,
            cluster_arn=w.CLUSTER_ARN,
            seen="2026-05-15T00:00:00Z",
            kubeconfig=str(config),
            oidc_issuer=issuer,
        )
    assert got.warnings == []
    assert any("continue=2" in p for p in log if p.startswith("/api/v1/pods")), log
    assert _cluster_rows(a) == _cluster_rows(b)
    nodes, edges = _cluster_rows(b)
    assert len([n for n in nodes if n[1] == "Pod"]) == 4 and any(e[1] == "AUTHENTICATES_AS" for e in edges)


def test_mock_api_server_a_list_it_may_not_read_is_named_not_taken_as_empty(tmp_path: Path) -> None:
    items = w.kubectl_export()["items"]
    with fake_kube_api.serving(items, TOKEN, forbidden=frozenset({"rolebindings", "networkpolicies"})) as (
        url,
        _,
    ):
        config = fake_kube_api.kubeconfig(tmp_path / "kubeconfig", url, TOKEN)
        read = live.get_cluster_objects(live.api_client(str(config)))
    assert sorted(read.unread) == [
        "NetworkPolicy: forbidden to these credentials",
        "RoleBinding: forbidden to these credentials",
    ]
    assert not [o for o, _ in read.export.objects if o["kind"] in ("NetworkPolicy", "RoleBinding")]
    with fake_kube_api.serving(items, "another-token") as (url, _):
        config = fake_kube_api.kubeconfig(tmp_path / "kubeconfig", url, TOKEN)
        refused = live.get_cluster_objects(live.api_client(str(config)))
    assert refused.export.objects == [] and all(u.endswith("HTTP 401") for u in refused.unread)


def test_mock_api_server_with_eks_from_moto_over_the_cli(tmp_path: Path, moto_server: str) -> None:
    eks = boto3.client("eks", region_name=w.REGION)
    made = eks.create_cluster(
        name=w.CLUSTER,
        roleArn=f"arn:aws:iam::{w.FRAUD}:role/eks-cluster-role",
        resourcesVpcConfig={"subnetIds": ["subnet-0a1b2c3d"]},
    )["cluster"]
    issuer = made["identity"]["oidc"]["issuer"]
    items = w.kubectl_export()["items"]
    store = tmp_path / "store"
    with fake_kube_api.serving(items, TOKEN) as (url, _):
        config = fake_kube_api.kubeconfig(tmp_path / "kubeconfig", url, TOKEN)
        out = subprocess.run(
            [
                *blastwall_cmd(),
                "--store",
                str(store),
                "ingest",
                "kubernetes",
                "--live",
                "--kubeconfig",
                str(config),
                "--cluster-arn",
                made["arn"],
                "--format",
                "json",
            ],
            capture_output=True,
            text=True,
            env={**os.environ},
            check=True,
        )
    report = json.loads(out.stdout)
    assert report["counts"]["pods"] == 4 and report["cluster"] == made["arn"]
    # moto does not serve Pod Identity: said, and no role is given to fraud-alerts that way
    (warning,) = report["warnings"]
    assert "Pod Identity associations" in warning and "unknown" in warning
    g = open_store(str(store)).read_graph()
    host = issuer.removeprefix("https://")
    sa = f"k8s://{made['arn'].split(':')[4]}/{w.REGION}/{w.CLUSTER}/namespaces/fraud/serviceaccounts/fraud-scoring"
    assert [(e.dst) for e in g.edges if e.kind == "AUTHENTICATES_AS" and e.src == sa] == [
        f"urn:aws:web-identity:{host}:system:serviceaccount:fraud:fraud-scoring"
    ]
    assert not [e for e in g.edges if e.kind == "RUNS_AS" and e.props.get("method") == "pod-identity"]


def test_an_export_without_the_cluster_says_what_is_missing(tmp_path: Path) -> None:
    from analyzer.errors import BadInput

    with pytest.raises(BadInput, match="--cluster-arn"):
        ingest_kubernetes(open_store(str(tmp_path / "s")), _export_dir(tmp_path), seen="2026-05-15T00:00:00Z")
