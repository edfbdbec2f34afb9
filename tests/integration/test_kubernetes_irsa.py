"""EKS workloads and their IAM, end to end from exports: a cluster's kubectl export, its describe-cluster
and Pod Identity outputs, and CloudTrail's web identity records loaded beside the sample organization
(tests/kubernetes_world.py); then the trust changes a CSPM proposes, scored with the pods, workloads,
services and CMDB impact they reach."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from analyzer import api
from analyzer.demo import SAMPLE_AS_OF, load_directory
from analyzer.governance.tier_policy import load_policy
from analyzer.graph.store import GraphStore, open_store
from analyzer.scoring.blast import score_proposal
from analyzer.timeutil import parse_time
from tests import kubernetes_world as w
from tests.conftest import blastwall_cmd, emptied

pytestmark = pytest.mark.integration

SCORING = f"k8s://{w.FRAUD}/{w.REGION}/{w.CLUSTER}/namespaces/fraud/deployments/fraud-scoring"
BATCH = f"k8s://{w.FRAUD}/{w.REGION}/{w.CLUSTER}/namespaces/fraud/deployments/fraud-batch"
ALERTS = f"k8s://{w.FRAUD}/{w.REGION}/{w.CLUSTER}/namespaces/fraud/deployments/fraud-alerts"
SA = f"k8s://{w.FRAUD}/{w.REGION}/{w.CLUSTER}/namespaces/fraud/serviceaccounts/fraud-scoring"


@pytest.fixture(scope="module")
def world(sample_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return w.build(sample_dir, tmp_path_factory.mktemp("k8s") / "acme-fin")


@pytest.fixture(scope="module", params=["sqlite", "neo4j"])
def store(
    request: pytest.FixtureRequest, world: Path, tmp_path_factory: pytest.TempPathFactory
) -> GraphStore:
    if request.param == "sqlite":
        uri = str(tmp_path_factory.mktemp("k8s-store") / "store")
    else:
        uri = emptied(request.getfixturevalue("falkordb_server"))  # not what another module loaded
    s = open_store(uri)
    errors = load_directory(s, world, seen="2026-05-15T00:00:00Z")
    assert errors == []
    return s


def _score(store: GraphStore, role: str, delta: dict[str, Any]) -> dict[str, Any]:
    proposal = {
        "proposal_id": "p-k8s",
        "source": {"format": "test", "finding_id": "f", "title": "t", "severity": "HIGH"},
        "change": {
            "kind": "iam.update_trust_policy",
            "target": role,
            "account": role.split(":")[4],
            "delta": delta,
            "fidelity": "exact",
        },
    }
    return score_proposal(proposal, api.analysis_context(store), load_policy(None), parse_time(SAMPLE_AS_OF))


def test_the_export_becomes_the_cluster_graph(store: GraphStore) -> None:
    snap = api.analysis_context(store).snap
    pods = {n.id: n for n in snap.of_kind("Pod")}
    assert len(pods) == 4
    # a pod reaches its Deployment through its ReplicaSet, exported or recognised by pod-template-hash
    owners = {e.src.rsplit("/", 1)[-1]: e.dst for e in snap.edge_records("PART_OF")}
    assert sorted(set(owners.values())) == sorted([SCORING, BATCH, ALERTS])
    assert {p for p, o in owners.items() if o == SCORING} == {
        "fraud-scoring-7d9f8c6b5-ax0q",
        "fraud-scoring-7d9f8c6b5-bx1q",
    }
    # the Service and the NetworkPolicy select exactly the scoring pods
    for kind in ("services/fraud-scoring", "networkpolicies/scoring-ingress"):
        selected = {e.dst.rsplit("/", 1)[-1] for e in snap.edge_records("SELECTS") if e.src.endswith(kind)}
        assert selected == {"fraud-scoring-7d9f8c6b5-ax0q", "fraud-scoring-7d9f8c6b5-bx1q"}, kind
    runs = {
        (e.src.rsplit("/", 1)[-1], e.dst, e.props["method"])
        for e in snap.edge_records("RUNS_AS")
        if e.src.startswith("k8s://")
    }
    assert runs == {
        ("fraud-scoring", w.IRSA_ROLE, "irsa"),
        ("fraud-batch", w.IRSA_ROLE, "irsa"),
        ("fraud-alerts", w.POD_IDENTITY_ROLE, "pod-identity"),
    }
    # CloudTrail's web identity and the service account meet on one node
    identity = f"urn:aws:web-identity:{w.ISSUER}:system:serviceaccount:fraud:fraud-scoring"
    assert [e.dst for e in snap.edges_from("AUTHENTICATES_AS", SA)] == [identity]
    (assumed,) = snap.edges_from("OBSERVED_ASSUME", identity)
    assert assumed.dst == w.IRSA_ROLE and assumed.count == 14 * 24
    # the workload and its pods map to the CMDB through the cmdb_ci label
    ctx = api.analysis_context(store)
    assert ctx.ci_names(ctx.ci_of[SCORING]) == ["Fraud Scoring Engine"]
    scoring_pods = [e.src for e in snap.edge_records("PART_OF") if e.dst == SCORING]
    assert [ctx.ci_names(ctx.ci_of[p]) for p in scoring_pods] == [["Fraud Scoring Engine"]] * 2


def test_narrowing_the_irsa_trust_severs_the_workload_it_leaves_out(store: GraphStore) -> None:
    r = _score(
        store, w.IRSA_ROLE, {"restrict_web_identity_subjects": ["system:serviceaccount:fraud:fraud-batch"]}
    )
    web = [s for s in r["severed"] if s.get("via_web_identity")]
    assert [s["consumer"] for s in web] == [SCORING], web
    (s,) = web
    assert s["via_service_account"] == SA and len(s["pods"]) == 2
    assert s["observed"] and s["events"] == 14 * 24
    assert s["consumer_cis"] == ["Fraud Scoring Engine"] and not s["documented"]
    # decided, not conditional: the service account gives the token's sub and aud
    assert s["before"]["decision"] == "allowed" and s["before"]["missing_context"] == []
    assert s["access"] == "sts:AssumeRoleWithWebIdentity as system:serviceaccount:fraud:fraud-scoring"
    assert any(svc["name"] == "Fraud Detection" for svc in r["impacted_services"]), r["impacted_services"]
    assert not [
        u for u in r["unknowns"] if u["reason"] in ("access_may_be_severed", "workloads_not_collected")
    ]
    assert r["rollback"]["verified"] is True and r["tier"] != "auto"


def test_a_narrowing_that_keeps_every_service_account_severs_nothing(store: GraphStore) -> None:
    subjects = ["system:serviceaccount:fraud:fraud-batch", "system:serviceaccount:fraud:fraud-scoring"]
    r = _score(store, w.IRSA_ROLE, {"restrict_web_identity_subjects": subjects})
    assert not [s for s in r["severed"] if s.get("via_web_identity")]
    assert not [u for u in r["unknowns"] if u["reason"] == "access_may_be_severed"]


def test_a_condition_the_token_cannot_answer_is_may_be_severed(store: GraphStore) -> None:
    trust = w.irsa_trust()
    trust["Statement"][0]["Condition"]["StringEquals"][f"{w.ISSUER}:amr"] = "authenticated"
    r = _score(store, w.IRSA_ROLE, {"new_document": trust})
    assert not [s for s in r["severed"] if s.get("via_web_identity")]
    unknown = [u for u in r["unknowns"] if u["reason"] == "access_may_be_severed"]
    assert len(unknown) == 2 and all(f"{w.ISSUER}:amr" in u["detail"] for u in unknown), unknown


def test_dropping_pod_identity_severs_the_associated_workload(store: GraphStore) -> None:
    r = _score(store, w.POD_IDENTITY_ROLE, {"remove_service_principals": ["pods.eks.amazonaws.com"]})
    (s,) = [s for s in r["severed"] if s.get("via_service") == "pods.eks.amazonaws.com"]
    assert s["consumer"] == ALERTS and s["consumer_cis"] == ["Fraud Scoring Engine"]
    assert not s["observed"]  # no CloudTrail of it in the sample: listed from the configuration, not cleared


def test_a_web_identity_no_cluster_explains_is_severed_and_its_workloads_unknown(store: GraphStore) -> None:
    r = _score(store, w.CI_ROLE, {"restrict_web_identity_subjects": ["repo:acme/app:ref:refs/heads/main"]})
    (s,) = [s for s in r["severed"] if s.get("via_web_identity")]
    assert s["consumer"] == f"urn:aws:web-identity:{w.GITHUB}:repo:acme/infra:ref:refs/heads/main"
    assert s["observed"] and s["events"] == 14
    (u,) = [u for u in r["unknowns"] if u["reason"] == "workloads_not_collected"]
    assert "no loaded cluster says which workloads run as it" in u["detail"]


def test_the_cli_loads_a_cluster_and_says_what_it_read(world: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    out = subprocess.run(
        [
            *blastwall_cmd(),
            "--store",
            str(store),
            "ingest",
            "kubernetes",
            str(world / "kubernetes" / w.CLUSTER),
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(out.stdout)
    assert report["cluster"] == w.CLUSTER_ARN
    assert report["counts"] == {
        "namespaces": 2,
        "workloads": 3,
        "pods": 4,
        "services": 2,
        "network_policies": 2,
        "service_accounts": 4,
        "pod_identity_associations": 1,
        "rbac_roles": 6,
        "rbac_bindings": 6,
    }
    assert report["warnings"] == []
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "objects.json").write_text(
        json.dumps({"kind": "List", "items": [{"kind": "Pod", "metadata": {}}]})
    )
    failed = subprocess.run(
        [
            *blastwall_cmd(),
            "--store",
            str(store),
            "ingest",
            "kubernetes",
            str(bad),
            "--cluster-arn",
            w.CLUSTER_ARN,
        ],
        capture_output=True,
        text=True,
    )
    assert (
        failed.returncode == 2
        and "metadata.name" in failed.stderr
        and "objects.json#items[0]" in failed.stderr
    )


def _pod_identity_trust(
    condition: dict[str, Any] | None = None, actions: list[str] | None = None
) -> dict[str, Any]:
    """The trust EKS Pod Identity needs (Amazon EKS User Guide, "Create IAM role with trust policy required
    by EKS Pod Identity"), with a condition on the session tags it sets."""
    st: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": "pods.eks.amazonaws.com"},
        "Action": actions or ["sts:AssumeRole", "sts:TagSession"],
    }
    if condition:
        st["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [st]}


def test_pod_identity_session_tags_are_decided_per_service_account(store: GraphStore) -> None:
    def run(doc: dict[str, Any]) -> dict[str, Any]:
        return _score(store, w.POD_IDENTITY_ROLE, {"new_document": doc})

    other_ns = run(
        _pod_identity_trust({"StringEquals": {"aws:RequestTag/kubernetes-namespace": ["payments"]}})
    )
    (s,) = [s for s in other_ns["severed"] if s.get("via_service") == "pods.eks.amazonaws.com"]
    assert s["consumer"] == ALERTS  # decided with the namespace Pod Identity tags the session with
    same = run(
        _pod_identity_trust(
            {
                "StringEquals": {
                    "aws:RequestTag/kubernetes-namespace": ["fraud"],
                    "aws:RequestTag/kubernetes-service-account": ["fraud-alerts"],
                }
            }
        )
    )
    assert not same["severed"] and not [u for u in same["unknowns"] if u["reason"] == "access_may_be_severed"]
    per_pod = run(
        _pod_identity_trust({"StringLike": {"aws:RequestTag/kubernetes-pod-name": ["fraud-alerts-*"]}})
    )
    assert [u["reason"] for u in per_pod["unknowns"] if u["reason"] == "access_may_be_severed"] == [
        "access_may_be_severed"
    ]  # a pod's name varies by pod: not known, so "may be severed", never safe
    no_tagging = run(_pod_identity_trust(actions=["sts:AssumeRole"]))
    assert [s["consumer"] for s in no_tagging["severed"] if s.get("via_service")] == [ALERTS]


def test_who_can_assume_with_a_web_identity_names_the_service_accounts(tmp_path: Path) -> None:
    store = tmp_path / "store"
    subprocess.run(
        [*blastwall_cmd(), "--store", str(store), "demo", "--no-app"], capture_output=True, check=True
    )
    out = subprocess.run(
        [
            *blastwall_cmd(),
            "--store",
            str(store),
            "who-can",
            "sts:AssumeRoleWithWebIdentity",
            "eks-fraud-datalake",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    principals = json.loads(out.stdout)["principals"]
    rows = {r["principal"].rsplit("/", 1)[-1]: r["decision"] for r in principals}
    # the sample's two service accounts, decided; the bare provider stays conditional (sub and aud unknown)
    assert rows["fraud-scoring (system:serviceaccount:fraud:fraud-scoring)"] == "allowed"
    assert rows["fraud-batch (system:serviceaccount:fraud:fraud-batch)"] == "allowed"
    assert [r["decision"] for r in principals if ":oidc-provider/" in r["principal"]] == ["conditional"]
