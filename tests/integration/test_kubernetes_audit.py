"""Kubernetes audit logs as evidence of RBAC use, and deleting a binding (k8s.remove_binding) scored with
it: a request the audit log shows a binding allowing, that no other binding of the same user or its
groups allows, is severed with its workload's CMDB impact; a request another binding still allows is a
note; a binding nobody was seen using is listed from the configuration; with no audit log, unknown."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from analyzer import api
from analyzer.demo import SAMPLE_AS_OF, load_directory
from analyzer.governance.tier_policy import load_policy
from analyzer.graph.store import GraphStore, open_store
from analyzer.scoring.blast import score_proposal
from analyzer.timeutil import parse_time
from connectors.evidence.k8s_audit import ingest_k8s_audit
from tests import kubernetes_world as w

pytestmark = pytest.mark.integration
BASE = f"k8s://{w.FRAUD}/{w.REGION}/{w.CLUSTER}"


def _world(sample_dir: Path, root: Path) -> GraphStore:
    world = w.build(sample_dir, root / "acme-fin")
    s = open_store(str(root / "store"))
    assert load_directory(s, world, seen="2026-05-15T00:00:00Z") == []
    return s


@pytest.fixture(scope="module")
def audited(sample_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> GraphStore:
    root = tmp_path_factory.mktemp("audit")
    s = _world(sample_dir, root)
    (root / "audit").mkdir()
    (root / "audit" / "kube-apiserver-audit.log").write_text(w.audit_log())
    report = ingest_k8s_audit(s, [root / "audit"], cluster_arn=w.CLUSTER_ARN)
    assert report.errors == [] and report.files == 1
    # one per request: an exec at the stage its stream starts, the rest when they complete
    assert report.counted == {"events": 7 * 4 + 1, "denied": 1}
    return s


def _remove(store: GraphStore, binding: str) -> dict[str, Any]:
    target = (
        f"{BASE}/namespaces/fraud/rolebindings/{binding}"
        if not binding.startswith("cluster:")
        else f"{BASE}/clusterrolebindings/{binding.removeprefix('cluster:')}"
    )
    proposal = {
        "proposal_id": "p-rbac",
        "source": {"format": "test", "finding_id": "f", "title": "t", "severity": "MEDIUM"},
        "change": {
            "kind": "k8s.remove_binding",
            "target": target,
            "account": w.FRAUD,
            "delta": {},
            "fidelity": "exact",
        },
    }
    return score_proposal(proposal, api.analysis_context(store), load_policy(None), parse_time(SAMPLE_AS_OF))


def test_the_audit_log_says_which_binding_allowed_whose_requests(audited: GraphStore) -> None:
    snap = api.analysis_context(audited).snap
    seen = {
        (e.src.removeprefix(BASE + "/"), e.props["binding"], e.props["verb"], e.props["resource"]): e.count
        for e in snap.edge_records("OBSERVED_K8S_ACCESS")
    }
    assert seen == {
        ("users/dana@acme-fin.example", "RoleBinding/fraud/oncall-debug", "create", "pods/exec"): 7,
        ("users/dana@acme-fin.example", "RoleBinding/fraud/oncall-debug", "list", "pods"): 7,
        (
            "namespaces/fraud/serviceaccounts/fraud-batch",
            "RoleBinding/fraud/batch-deployer",
            "patch",
            "deployments.apps",
        ): 7,
        (
            "namespaces/fraud/serviceaccounts/fraud-batch",
            "ClusterRoleBinding/fraud-sa-secrets",
            "get",
            "secrets",
        ): 7,
    }


def test_deleting_a_binding_a_workload_uses_severs_it_with_its_cmdb_impact(audited: GraphStore) -> None:
    r = _remove(audited, "batch-deployer")
    (s,) = r["severed"]
    assert (
        s["consumer"] == f"{BASE}/namespaces/fraud/deployments/fraud-batch"
        and s["observed"]
        and s["events"] == 7
    )
    assert s["access"] == "patch deployments.apps in fraud" and s["consumer_cis"] == [
        "Fraud Feature Pipeline"
    ]
    assert "Fraud Detection" in {i["name"] for i in r["impacted_services"]}
    assert r["rollback"]["verified"] is True and r["tier"] != "auto"


def test_a_request_another_binding_still_allows_is_a_note_not_a_cut(audited: GraphStore) -> None:
    r = _remove(audited, "oncall-debug")
    assert [(s["consumer"], s["access"]) for s in r["severed"]] == [
        (f"{BASE}/users/dana@acme-fin.example", "create pods/exec in fraud")
    ]
    # dana lists pods as a member of fraud-oncall too, which scoring-readers grants view
    assert any("may still list pods in fraud: RoleBinding/fraud/scoring-readers" in n for n in r["notes"]), r[
        "notes"
    ]


def test_a_group_binding_is_used_by_its_members(audited: GraphStore) -> None:
    r = _remove(audited, "cluster:fraud-sa-secrets")
    observed = [s for s in r["severed"] if s["observed"]]
    assert [(s["consumer"], s["access"]) for s in observed] == [
        (f"{BASE}/namespaces/fraud/deployments/fraud-batch", "get secrets in fraud")
    ]


def test_a_binding_nobody_was_seen_using_is_listed_from_the_configuration(audited: GraphStore) -> None:
    r = _remove(audited, "config-editors")
    (s,) = r["severed"]
    assert s["consumer"] == f"{BASE}/users/priya@acme-fin.example" and not s["observed"]
    assert not [u for u in r["unknowns"] if u["reason"] == "no_evidence_coverage"]


def test_without_an_audit_log_use_is_unknown(sample_dir: Path, tmp_path: Path) -> None:
    r = _remove(_world(sample_dir, tmp_path), "batch-deployer")
    assert [s["observed"] for s in r["severed"]] == [False]
    (u,) = [u for u in r["unknowns"] if u["reason"] == "no_evidence_coverage"]
    assert u["detail"].startswith("no Kubernetes audit log evidence for account 615294837560")
    assert r["tier"] != "auto"


def test_an_eks_cloudwatch_export_is_read_too(sample_dir: Path, tmp_path: Path) -> None:
    s = _world(sample_dir, tmp_path)
    events = [
        {
            "logStreamName": "kube-apiserver-audit-5f0d8a3e",
            "timestamp": 1778750000000,
            "message": line,
            "ingestionTime": 1778750001000,
            "eventId": str(i),
        }
        for i, line in enumerate(w.audit_log().splitlines())
    ]
    path = tmp_path / "filter-log-events.json"
    path.write_text(json.dumps({"events": events, "searchedLogStreams": []}))
    broken = tmp_path / "kube-apiserver-audit-broken.log"
    broken.write_text(w.audit_log().splitlines()[0] + '\n{"kind": "Event", "stage\n')
    report = ingest_k8s_audit(s, [path, broken], cluster_arn=w.CLUSTER_ARN)
    assert report.counted["events"] == 29 and report.files == 1  # the export loads; the broken file does not
    (error,) = report.errors
    assert f"{broken}:2" in error
