"""A cluster read live: the official ``kubernetes`` client against a local fake API server (mock: a real
API server cannot run here; tests/fake_kube_api.py serves the documented list shapes, paginated), and the
EKS API of a moto server over HTTP. What it loads equals what the export of the same cluster loads."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import boto3
import pytest

from analyzer import api
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


def test_mock_api_server_collected_live_then_scored(sample_dir: Path, tmp_path: Path) -> None:
    """The issue's whole path: the cluster collected through its API (beside the sample organization and
    its CloudTrail), then a quarantine and an IRSA narrowing scored with the pods, Services and CMDB
    impact they reach."""
    from analyzer import api
    from analyzer.demo import SAMPLE_AS_OF, load_directory
    from analyzer.governance.tier_policy import load_policy
    from analyzer.scoring.blast import score_proposal
    from analyzer.timeutil import parse_time

    world = w.build(sample_dir, tmp_path / "acme-fin")
    shutil.rmtree(world / "kubernetes")  # the cluster comes from its API this time, not from an export
    store = open_store(str(tmp_path / "store"))
    assert load_directory(store, world, seen="2026-05-15T00:00:00Z") == []
    with fake_kube_api.serving(w.kubectl_export()["items"], TOKEN) as (url, _):
        config = fake_kube_api.kubeconfig(tmp_path / "kubeconfig", url, TOKEN)
        live.ingest_kubernetes_live(
            store,
            cluster_arn=w.CLUSTER_ARN,
            seen="2026-05-15T00:00:00Z",
            kubeconfig=str(config),
            oidc_issuer=f"https://{w.ISSUER}",
        )
    ctx = api.analysis_context(store)
    ns = f"k8s://{w.FRAUD}/{w.REGION}/{w.CLUSTER}/namespaces/fraud"

    def score(kind: str, target: str, delta: dict[str, Any]) -> dict[str, Any]:
        change = {
            "kind": kind,
            "target": target,
            "account": target.split("/")[2] if target.startswith("k8s://") else target.split(":")[4],
            "delta": delta,
            "fidelity": "exact",
        }
        proposal = {
            "proposal_id": "p",
            "source": {"format": "test", "finding_id": "f", "title": "t", "severity": "HIGH"},
            "change": change,
        }
        return score_proposal(proposal, ctx, load_policy(None), parse_time(SAMPLE_AS_OF))

    narrowed = score(
        "iam.update_trust_policy",
        w.IRSA_ROLE,
        {"restrict_web_identity_subjects": ["system:serviceaccount:fraud:fraud-batch"]},
    )
    (cut,) = [s for s in narrowed["severed"] if s.get("via_web_identity")]
    assert cut["consumer"] == f"{ns}/deployments/fraud-scoring" and len(cut["pods"]) == 2 and cut["observed"]
    assert {"Fraud Scoring Engine", "Fraud Detection"} <= {s["name"] for s in narrowed["impacted_services"]}
    alerts_pod = next(
        e.src for e in ctx.snap.edge_records("PART_OF") if e.dst == f"{ns}/deployments/fraud-alerts"
    )
    isolated = score("k8s.quarantine_pod", alerts_pod, {"method": "network_policy"})
    assert f"{ns}/services/fraud-alerts" in {s["consumer"] for s in isolated["severed"]}
    # the flow logs were loaded before the cluster came from its API: the node's flows are not told apart
    assert {"pod_flows_unattributed", "enforcement_unknown"} <= {u["reason"] for u in isolated["unknowns"]}


def test_the_aws_collector_brings_eks_clusters_and_oidc_providers(moto_server: str, tmp_path: Path) -> None:
    """`ingest aws` over moto: the cluster (with the issuer moto gives it) and the IAM OIDC provider become
    nodes, and an export loaded with only --cluster-arn finds its issuer there."""
    from connectors.aws import collect as collect_mod

    account = boto3.client("sts").get_caller_identity()["Account"]
    made = boto3.client("eks", region_name=w.REGION).create_cluster(
        name=w.CLUSTER,
        roleArn=f"arn:aws:iam::{account}:role/eks-cluster-role",
        resourcesVpcConfig={"subnetIds": ["subnet-0a1b2c3d"]},
    )["cluster"]
    issuer = made["identity"]["oidc"]["issuer"]
    provider = boto3.client("iam").create_open_id_connect_provider(
        Url=issuer,
        ClientIDList=["sts.amazonaws.com"],
        ThumbprintList=["9e99a48a9960b14926bb7f3b02e22da2b0ab7280"],
    )["OpenIDConnectProviderArn"]
    store = open_store(str(tmp_path / "store"))
    report = collect_mod.ingest_aws(store, save_raw=tmp_path / "raw", regions=[w.REGION])
    # moto does not serve Pod Identity: the one thing not collected, named, and the account partial
    (warning,) = report.warnings
    assert f"eks-ListPodIdentityAssociations[{w.CLUSTER}]" in warning and "does not offer" in warning
    assert report.missing == {account: [f"{w.REGION}/eks-ListPodIdentityAssociations[{w.CLUSTER}]"]}
    assert (tmp_path / "raw" / account / w.REGION / "eks-DescribeCluster.json").exists()
    g = api.analysis_context(store).snap
    cluster = g.node(made["arn"])
    assert cluster is not None and cluster.kind == "EksCluster" and cluster.props["oidc_issuer"] == issuer
    oidc = g.node(provider)
    assert (
        oidc is not None and oidc.kind == "OidcProvider" and oidc.props["client_ids"] == ["sts.amazonaws.com"]
    )
    got = ingest_kubernetes(
        store, _export_dir(tmp_path), seen="2026-05-15T00:00:00Z", cluster_arn=made["arn"]
    )
    assert got.warnings == []  # the issuer came from the collected cluster
    sa = f"k8s://{account}/{w.REGION}/{w.CLUSTER}/namespaces/fraud/serviceaccounts/fraud-scoring"
    host = issuer.removeprefix("https://")
    edges = api.analysis_context(store).snap.edges_from("AUTHENTICATES_AS", sa)
    assert [e.dst for e in edges] == [
        f"urn:aws:web-identity:{host}:system:serviceaccount:fraud:fraud-scoring"
    ]
