"""The synthetic enterprise with Azure subscriptions (``blastwall synth --subscriptions N``): it loads from
its own exports and logs, and every Defender shared-key recommendation is scored with exactly the key-based
reads the generator put in the storage logs."""

from __future__ import annotations

from pathlib import Path

import pytest

from analyzer import api
from analyzer.demo import load_directory
from analyzer.graph.store import open_store
from analyzer.synth import generate
from analyzer.timeutil import parse_time

pytestmark = pytest.mark.integration


def test_synthetic_subscriptions_load_and_score(tmp_path: Path) -> None:
    counts = generate("S", 5, tmp_path / "synth", subscriptions=3)
    assert counts["azure_storage_accounts"] == 15 and counts["azure_key_dependencies"] == 5
    store = open_store(str(tmp_path / "store"))
    assert load_directory(store, tmp_path / "synth", seen="2026-05-08T00:00:00Z") == []
    results = api.score(store, as_of=parse_time("2026-05-08T00:00:00Z"))["results"]
    azure = [r for r in results if r["change"]["kind"] == "azure.storage_setting"]
    assert len(azure) == counts["azure_defender_recommendations"] == 15
    cutting = [r for r in azure if any(s["observed"] for s in r["severed"])]
    assert len(cutting) == counts["azure_key_dependencies"]
    for r in cutting:
        (cut,) = r["severed"]
        assert (
            cut["consumer"].endswith("-nic")
            and cut["access"] == "GetBlob (accountkey)"
            and cut["events"] == 7
        )
    assert all(r["status"] == "scored" and r["tier"] != "auto" for r in azure)
    assert not any(u["reason"] == "no_evidence_coverage" for r in azure for u in r["unknowns"])
