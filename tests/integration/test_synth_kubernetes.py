"""The synthetic enterprise with EKS clusters (`synth --pods`): written in the export formats, loaded by
`ingest directory`, the Falco alerts imported as isolations of pods the clusters hold, and scored with
the rest of the batch: a pod of a four-replica Deployment is capacity, not a dependency."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path

import pytest

from analyzer import api
from analyzer.demo import load_directory
from analyzer.graph.store import open_store
from analyzer.synth import generate
from analyzer.timeutil import parse_time

pytestmark = pytest.mark.integration


def test_synth_pods_load_and_score(tmp_path: Path) -> None:
    counts = generate("S", 1, tmp_path / "synth", pods=5_300)
    assert (counts["k8s_clusters"], counts["k8s_pods"], counts["k8s_pod_alerts"]) == (2, 5_300, 53)
    with gzip.open(tmp_path / "synth" / "kubernetes" / "eks-001" / "objects.json.gz", "rt") as f:
        items = json.load(f)["items"]
    assert Counter(i["kind"] for i in items)["Pod"] == 300  # 5,000 in the first cluster, the rest here
    store = open_store(str(tmp_path / "store"))
    as_of = json.loads((tmp_path / "synth" / "synth.json").read_text())["as_of"]
    assert load_directory(store, tmp_path / "synth", seen=as_of) == []
    snap = api.analysis_context(store).snap
    assert len(snap.of_kind("Pod")) == 5_300 and len(snap.edge_records("SELECTS")) == 5_300
    payload = api.score(store, as_of=parse_time(as_of))
    isolations = [r for r in payload["results"] if r["change"]["kind"] == "k8s.quarantine_pod"]
    assert len(isolations) == 53 and {r["status"] for r in isolations} == {"scored"}
    assert all(
        r["severed"] == [] and any("capacity, not a dependency" in n for n in r["notes"]) for r in isolations
    )
