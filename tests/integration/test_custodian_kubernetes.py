"""Cloud Custodian's Kubernetes provider run for real (c7n-kube, --dryrun) against the local fake API server
(mock: no cluster can run here; tests/fake_kube_api.py), its output imported, and the relabel it proposes
scored: the cluster's `quarantine` NetworkPolicy selects the new label, so the pod is isolated and its
observed callers and what it calls are cut."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from analyzer import api
from analyzer.demo import SAMPLE_AS_OF, load_directory
from analyzer.governance.tier_policy import load_policy
from analyzer.graph.store import open_store
from analyzer.scoring.blast import score_proposal
from analyzer.timeutil import parse_time
from connectors.proposals import import_proposals
from tests import fake_kube_api
from tests import kubernetes_world as w

pytestmark = pytest.mark.integration
NS = f"k8s://{w.FRAUD}/{w.REGION}/{w.CLUSTER}/namespaces/fraud"
POLICY = """\
policies:
  - name: quarantine-alerts
    resource: k8s.pod
    filters:
      - type: value
        key: metadata.labels."app.kubernetes.io/name"
        value: fraud-alerts
    actions:
      - type: label
        labels:
          quarantine: "true"
"""


def test_mock_api_server_custodian_kube_label_becomes_an_isolation(
    custodian: Path, sample_dir: Path, tmp_path: Path
) -> None:
    (tmp_path / "policy.yml").write_text(POLICY)
    with fake_kube_api.serving(w.kubectl_export()["items"], "tok") as (url, _log):
        config = fake_kube_api.kubeconfig(tmp_path / "kubeconfig", url, "tok")
        ran = subprocess.run(
            [str(custodian), "run", "--dryrun", "-s", str(tmp_path / "out"), str(tmp_path / "policy.yml")],
            capture_output=True,
            text=True,
            env={**os.environ, "KUBECONFIG": str(config)},
            timeout=300,
        )
    assert ran.returncode == 0, ran.stderr[-2000:]
    store = open_store(str(tmp_path / "store"))
    assert (
        load_directory(store, w.build(sample_dir, tmp_path / "acme-fin"), seen="2026-05-15T00:00:00Z") == []
    )
    report = import_proposals(store, [tmp_path / "out", tmp_path / "policy.yml"])
    assert report.errors == [] and len(report.imported) == 1
    proposal = store.get_document("proposals", report.imported[0])
    assert proposal is not None
    pod = next(
        e.src
        for e in api.analysis_context(store).snap.edge_records("PART_OF")
        if e.dst == f"{NS}/deployments/fraud-alerts"
    )
    assert proposal["change"] == {
        "kind": "k8s.quarantine_pod",
        "target": pod,  # Custodian's record names namespace and name; the loaded cluster has the pod
        "delta": {"method": "label", "set": {"quarantine": "true"}},
        "fidelity": "exact",
        "account": w.FRAUD,
        "region": None,
        "lookup": None,
    }
    r = score_proposal(proposal, api.analysis_context(store), load_policy(None), parse_time(SAMPLE_AS_OF))
    cut = {(s["consumer"].rsplit("/", 1)[-1], s["access"]) for s in r["severed"] if s["observed"]}
    assert cut == {
        ("fraud-scoring-7d9f8c6b5-ax0q", "tcp/8080"),
        ("fraud-scoring-7d9f8c6b5-bx1q", "tcp/8080"),
        ("fraud-alerts", "tcp/443"),
    }
    assert any("quarantine" in s["after"]["reason"] for s in r["severed"])
    assert "enforcement_unknown" in {u["reason"] for u in r["unknowns"]} and r["tier"] != "auto"
    # a label added keeps every label the controller selects by: it is not replaced
    assert any("is relabelled (quarantine)" in n for n in r["notes"])
    assert not any("starts a replacement" in n for n in r["notes"]), r["notes"]
