"""Isolating a pod (k8s.quarantine_pod), scored on the sample organization with its EKS cluster
(tests/kubernetes_world.py): one replica of two costs capacity, not a dependency; the last replica takes
its workload's AWS access (observed in CloudTrail through its service account's web identity) and its
Service with it, and the business services above reach the result; what the export cannot say (is
NetworkPolicy enforced? who calls the Service?) is unknown, never clean."""

from __future__ import annotations

import uuid
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
from tests.conftest import emptied

pytestmark = pytest.mark.integration
NS = f"k8s://{w.FRAUD}/{w.REGION}/{w.CLUSTER}/namespaces/fraud"


@pytest.fixture(scope="module", params=["sqlite", "neo4j"])
def store(
    request: pytest.FixtureRequest, sample_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> GraphStore:
    world = w.build(sample_dir, tmp_path_factory.mktemp("k8s-q") / "acme-fin")
    if request.param == "sqlite":
        uri = str(tmp_path_factory.mktemp("k8s-q-store") / "store")
    else:
        uri = emptied(request.getfixturevalue("falkordb_server"))  # not what another module loaded
    s = open_store(uri)
    assert load_directory(s, world, seen="2026-05-15T00:00:00Z") == []
    return s


def _pod(store: GraphStore, deployment: str, which: int = 0) -> str:
    snap = api.analysis_context(store).snap
    return sorted(e.src for e in snap.edge_records("PART_OF") if e.dst == f"{NS}/deployments/{deployment}")[
        which
    ]


def _quarantine(store: GraphStore, pod: str, delta: dict[str, Any] | None = None) -> dict[str, Any]:
    proposal = {
        "proposal_id": "p-quarantine",
        "source": {"format": "test", "finding_id": "f", "title": "t", "severity": "CRITICAL"},
        "change": {
            "kind": "k8s.quarantine_pod",
            "target": pod,
            "account": w.FRAUD,
            "delta": delta if delta is not None else {"method": "network_policy"},
            "fidelity": "exact",
        },
    }
    return score_proposal(proposal, api.analysis_context(store), load_policy(None), parse_time(SAMPLE_AS_OF))


def test_one_replica_of_two_costs_capacity_not_a_dependency(store: GraphStore) -> None:
    r = _quarantine(store, _pod(store, "fraud-scoring"))
    assert r["severed"] == [] and r["impacted_services"] == []
    assert any(
        "capacity, not a dependency" in n and "keeps 1 other running replica" in n for n in r["notes"]
    ), r["notes"]
    assert any("Service fraud-scoring keeps 1 other endpoint" in n for n in r["notes"])
    assert [u["reason"] for u in r["unknowns"]] == ["enforcement_unknown"]
    assert r["rollback"]["verified"] is True and r["tier"] != "auto"


def test_the_last_replica_takes_its_workloads_observed_aws_access(store: GraphStore) -> None:
    r = _quarantine(store, _pod(store, "fraud-batch"))
    (s,) = r["severed"]
    assert s["consumer"] == f"{NS}/deployments/fraud-batch" and s["provider"] == w.IRSA_ROLE
    assert s["observed"] and s["events"] == 14 * 24
    assert s["consumer_cis"] == ["Fraud Feature Pipeline"]
    names = {svc["name"] for svc in r["impacted_services"]}
    assert {"Fraud Feature Pipeline", "Fraud Detection"} <= names, r["impacted_services"]


def test_the_last_replica_loses_its_callers_its_peers_and_its_service(store: GraphStore) -> None:
    """fraud-alerts runs one pod: the node's flow log (the VPC CNI gives pods the node interface's
    addresses) shows both fraud-scoring pods calling it and it calling 10.30.1.25."""
    pod = _pod(store, "fraud-alerts")
    r = _quarantine(store, pod)
    got = {
        (
            s["consumer"].removeprefix(NS + "/"),
            s["provider"].removeprefix(NS + "/"),
            s["access"],
            s["observed"],
        )
        for s in r["severed"]
    }
    scoring = {_pod(store, "fraud-scoring", i).removeprefix(NS + "/") for i in (0, 1)}
    here = pod.removeprefix(NS + "/")
    eni = f"arn:aws:ec2:us-east-1:{w.FRAUD}:network-interface/eni-7f2b8efb2e3be72c1"
    assert got == {
        *((caller, here, "tcp/8080", True) for caller in scoring),  # its callers, seen
        ("deployments/fraud-alerts", eni, "tcp/443", True),  # what it calls, seen
        (
            "deployments/fraud-alerts",
            w.POD_IDENTITY_ROLE,
            "AWS APIs as eks-fraud-alerts (pod-identity)",
            False,
        ),
        ("services/fraud-alerts", here, "Service endpoint", False),  # its Service has no endpoint left
    }
    assert all(s["consumer_cis"] == ["Fraud Scoring Engine"] for s in r["severed"])
    # the callers are in the evidence (the account's flow logs cover the window): not an unknown
    assert [u["reason"] for u in r["unknowns"]] == ["enforcement_unknown"]


def test_a_relabel_drops_the_pod_from_its_service_without_isolating_it(store: GraphStore) -> None:
    pod = _pod(store, "fraud-alerts")
    r = _quarantine(store, pod, {"method": "label", "set": {"app.kubernetes.io/name": "quarantined"}})
    assert [s["consumer"] for s in r["severed"]] == [f"{NS}/services/fraud-alerts"]
    assert "enforcement_unknown" not in {u["reason"] for u in r["unknowns"]}
    assert r["rollback"]["verified"] is True
    assert any("starts a replacement" in n for n in r["notes"])  # its controller selects by that label
    assert r["rollback"]["change"]["delta"] == {
        "method": "unquarantine",
        "set": {"app.kubernetes.io/name": "fraud-alerts"},
    }


def test_a_pod_not_in_any_cluster_is_missing_not_safe(store: GraphStore) -> None:
    r = _quarantine(store, f"{NS}/pods/no-such-pod")
    assert r["status"] == "target_missing" and r["tier"] != "auto"


def _falco_alert(rule: str, priority: str, ns: str, pod: str, node: str, when: str) -> dict[str, Any]:
    """An alert as Falco writes it with json_output (falco.org, "Supported Fields for Conditions and
    Outputs": the output's fields are in output_fields; <NA> where a field has no value) and as
    Falcosidekick forwards it (uuid)."""
    return {
        "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{rule}/{priority}/{ns}/{pod}")),
        "output": f"{when[11:19]}.123456789: {priority} A shell was spawned in a container with an attached "
        f"terminal (user=root user_loginuid=-1 k8s.ns={ns} k8s.pod={pod} container=3f1a9c2e7b44 "
        "shell=bash parent=runc cmdline=bash terminal=34816 container_id=3f1a9c2e7b44 image=acme/app)",
        "priority": priority,
        "rule": rule,
        "source": "syscall",
        "tags": ["container", "maturity_stable", "mitre_execution", "shell", "T1059"],
        "time": when,
        "hostname": node,
        "output_fields": {
            "container.id": "3f1a9c2e7b44",
            "container.image.repository": "acme/app",
            "evt.time": 1778824800123456789,
            "k8s.ns.name": ns,
            "k8s.pod.name": pod,
            "proc.cmdline": "bash",
            "proc.name": "bash",
            "user.name": "root",
        },
    }


def test_falco_alerts_become_isolations_of_the_pods_they_name(store: GraphStore, tmp_path: Path) -> None:
    import json

    from connectors.proposals import import_proposals

    snap = api.analysis_context(store).snap
    pod = snap.node(_pod(store, "fraud-batch"))
    assert pod is not None
    name, node = pod.props["name"], pod.props["node_name"]
    when = "2026-05-15T05:40:00.123456789Z"
    alerts = [
        _falco_alert("Terminal shell in container", "Critical", "fraud", name, node, when),
        _falco_alert("Contact K8S API Server From Container", "Notice", "fraud", name, node, when),
        _falco_alert("Terminal shell in container", "Critical", "<NA>", "<NA>", node, when),
        _falco_alert("Terminal shell in container", "Error", "fraud", "gone-7d9f8c6b5-zz0q", node, when),
    ]
    lines = tmp_path / "falco_events.jsonl"  # Falco's file output: one alert per line
    lines.write_text("".join(json.dumps(a) + "\n" for a in alerts))
    report = import_proposals(store, [lines])
    assert report.errors == [] and len(report.imported) == 2
    assert report.skipped == {"informational": 1, "not_a_pod": 1}
    stored = [store.get_document("proposals", pid) for pid in report.imported]
    by_target = {p["change"]["target"]: p for p in stored if p}
    isolate = by_target[pod.id]  # found among the loaded pods by namespace and name
    assert isolate["change"]["kind"] == "k8s.quarantine_pod" and isolate["source"]["severity"] == "critical"
    assert (
        f"pod:fraud/gone-7d9f8c6b5-zz0q@{node}" in by_target
    )  # no loaded cluster holds it: named as Falco did
    ctx = api.analysis_context(store)
    r = score_proposal(isolate, ctx, load_policy(None), parse_time(SAMPLE_AS_OF))
    assert [s["consumer"] for s in r["severed"]] == [f"{NS}/deployments/fraud-batch"]
    missing = score_proposal(
        by_target[f"pod:fraud/gone-7d9f8c6b5-zz0q@{node}"], ctx, load_policy(None), parse_time(SAMPLE_AS_OF)
    )
    assert missing["status"] == "target_missing" and missing["tier"] != "auto"


def _policy(store: GraphStore, delta: dict[str, Any]) -> dict[str, Any]:
    proposal = {
        "proposal_id": "p-netpol",
        "source": {"format": "test", "finding_id": "f", "title": "t", "severity": "MEDIUM"},
        "change": {
            "kind": "k8s.network_policy",
            "target": NS,
            "account": w.FRAUD,
            "delta": delta,
            "fidelity": "exact",
        },
    }
    return score_proposal(proposal, api.analysis_context(store), load_policy(None), parse_time(SAMPLE_AS_OF))


def _workload(node_id: str) -> str:
    """A pod by its workload's name (``fraud-scoring-7d9f8c6b5-ax0q`` -> ``fraud-scoring``)."""
    if not node_id.startswith(NS + "/pods/"):
        return node_id
    return "-".join(node_id.removeprefix(NS + "/pods/").split("-")[:2])


def _cut(r: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {
        (_workload(s["consumer"]), _workload(s["provider"]), s["access"])
        for s in r["severed"]
        if s["observed"]
    }


def test_a_default_deny_ingress_cuts_the_observed_calls_into_the_namespace(store: GraphStore) -> None:
    r = _policy(
        store,
        {"add": {"name": "default-deny-ingress", "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}},
    )
    assert _cut(r) == {("fraud-scoring", "fraud-alerts", "tcp/8080")}  # both scoring pods call alerts
    assert len([s for s in r["severed"] if s["observed"]]) == 2
    assert "enforcement_unknown" in {u["reason"] for u in r["unknowns"]} and r["rollback"]["verified"] is True
    assert "Fraud Detection" in {i["name"] for i in r["impacted_services"]}


def test_a_default_deny_egress_cuts_what_the_namespace_calls_too(store: GraphStore) -> None:
    r = _policy(
        store,
        {"add": {"name": "default-deny-egress", "spec": {"podSelector": {}, "policyTypes": ["Egress"]}}},
    )
    eni = f"arn:aws:ec2:us-east-1:{w.FRAUD}:network-interface/eni-7f2b8efb2e3be72c1"
    assert _cut(r) == {("fraud-scoring", "fraud-alerts", "tcp/8080"), ("fraud-alerts", eni, "tcp/443")}


def test_a_policy_that_allows_what_is_used_cuts_nothing(store: GraphStore) -> None:
    spec = {
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "fraud-alerts"}},
        "policyTypes": ["Ingress"],
        "ingress": [
            {
                "from": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "fraud-scoring"}}}],
                "ports": [{"port": 8080}],
            }
        ],
    }
    assert _cut(_policy(store, {"add": {"name": "alerts-from-scoring", "spec": spec}})) == set()
    named = {**spec, "ingress": [{"ports": [{"port": "http"}]}]}
    r = _policy(store, {"replace": {"name": "alerts-from-scoring", "spec": named}})
    assert _cut(r) == set() and len([u for u in r["unknowns"] if u["reason"] == "access_may_be_severed"]) == 2


def test_removing_a_policy_nothing_was_refused_by_changes_nothing(store: GraphStore) -> None:
    r = _policy(store, {"remove": "scoring-ingress"})
    assert r["severed"] == [] and r["exposure_added"] == [] and r["rollback"]["verified"] is True
    assert r["rollback"]["change"]["delta"]["replace"]["name"] == "scoring-ingress"


def test_a_kyverno_report_requiring_a_network_policy_proposes_the_default_deny(store: GraphStore) -> None:
    from connectors.proposals import import_proposals

    data = Path(__file__).resolve().parents[1] / "data" / "proposals" / "kyverno-policyreports.json"
    report = import_proposals(store, [data])
    assert report.errors == [] and len(report.imported) == 2 and report.skipped == {"passed": 1}
    stored = [store.get_document("proposals", pid) for pid in report.imported]
    (deny,) = [p for p in stored if p and p["change"]["kind"] == "k8s.network_policy"]
    assert deny["change"]["target"] == NS and deny["change"]["fidelity"] == "inferred"
    (runbook,) = [p for p in stored if p and p["change"]["kind"] == "opaque.runbook"]
    assert runbook["change"]["delta"]["runbook"] == "require-labels/check-for-labels"
    r = score_proposal(deny, api.analysis_context(store), load_policy(None), parse_time(SAMPLE_AS_OF))
    eni = f"arn:aws:ec2:us-east-1:{w.FRAUD}:network-interface/eni-7f2b8efb2e3be72c1"
    assert _cut(r) == {("fraud-scoring", "fraud-alerts", "tcp/8080"), ("fraud-alerts", eni, "tcp/443")}
    assert r["tier"] != "auto"


def test_gatekeeper_violations_are_runbooks_blastwall_cannot_see(store: GraphStore) -> None:
    from connectors.proposals import import_proposals

    data = Path(__file__).resolve().parents[1] / "data" / "proposals" / "gatekeeper-constraints.json"
    report = import_proposals(store, [data])
    assert report.errors == [] and len(report.imported) == 2 and report.skipped == {"not_available": 1}
    stored = [store.get_document("proposals", pid) for pid in report.imported]
    assert {p["change"]["kind"] for p in stored if p} == {"opaque.runbook"}
    assert {p["source"]["severity"] for p in stored if p} == {"low"}  # dryrun constraints
    r = score_proposal(stored[0], api.analysis_context(store), load_policy(None), parse_time(SAMPLE_AS_OF))
    assert "opaque_change" in {u["reason"] for u in r["unknowns"]} and r["tier"] != "auto"


def _revoke(store: GraphStore, group: str, delta: dict[str, Any]) -> dict[str, Any]:
    proposal = {
        "proposal_id": "p-sg",
        "source": {"format": "test", "finding_id": "f", "title": "t", "severity": "HIGH"},
        "change": {
            "kind": "sg.revoke_rules",
            "target": f"arn:aws:ec2:{w.REGION}:{w.FRAUD}:security-group/{group}",
            "account": w.FRAUD,
            "delta": delta,
            "fidelity": "exact",
        },
    }
    return score_proposal(proposal, api.analysis_context(store), load_policy(None), parse_time(SAMPLE_AS_OF))


WORKLOAD_SG = "sg-9d52e219abbad9982"  # the node's group, and the group of the interface fraud-alerts calls


def test_a_node_groups_egress_revoked_severs_the_pods_calls_through_it(store: GraphStore) -> None:
    """The VPC CNI gives pods addresses of their node's interface, so the node's security groups decide
    what its pods send and receive across the VPC (composed with the NetworkPolicies): revoking the
    group's egress severs the fraud-alerts pod's call, credited to the pod and through it to its service,
    while the scoring pods' calls to fraud-alerts on the same node never cross an interface."""
    r = _revoke(store, WORKLOAD_SG, {"egress": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]})
    cut = _cut(r)
    eni = f"arn:aws:ec2:us-east-1:{w.FRAUD}:network-interface/eni-7f2b8efb2e3be72c1"
    assert ("fraud-alerts", eni, "tcp/443") in cut
    assert not any(c.startswith("fraud-scoring") for c, _, _ in cut)
    (entry,) = [s for s in r["severed"] if _workload(s["consumer"]) == "fraud-alerts"]
    assert entry["consumer"].startswith(NS + "/pods/") and "egress" in entry["after"]["reason"]
    assert entry["consumer_cis"] == ["Fraud Scoring Engine"]  # its cmdb_ci label, through the pod
    assert "Fraud Detection" in {i["name"] for i in r["impacted_services"]}
    assert r["rollback"]["verified"] is True


def test_pods_on_one_node_are_not_held_to_the_nodes_ingress_rules(store: GraphStore) -> None:
    """The node's group admits only 443; the scoring pods call fraud-alerts on 8080 on the same node.
    That traffic stays in the host, so no change of the group can cut it and it is not already denied."""
    r = _revoke(
        store,
        WORKLOAD_SG,
        {
            "ingress": [
                {
                    "IpProtocol": "tcp",
                    "FromPort": 443,
                    "ToPort": 443,
                    "IpRanges": [{"CidrIp": "10.30.0.0/16"}],
                }
            ]
        },
    )
    eni = f"arn:aws:ec2:us-east-1:{w.FRAUD}:network-interface/eni-7f2b8efb2e3be72c1"
    assert ("fraud-alerts", eni, "tcp/443") in _cut(r)  # the pod's call into the other interface
    assert not any(d["consumer"].startswith(NS) for d in r["already_denied"])
