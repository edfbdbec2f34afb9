"""Stale evidence never reads as a clean bill (the sample's evidence ends 2026-05-14): without --as-of the
window ends now and holds nothing, so `undocumented` says so on its first line and exits 4 instead of
printing "0 undocumented" with 0, and `score` says how old the evidence is before the table; `--as-of
latest` anchors at the newest evidence, where the story's six undocumented dependencies and the fraud
fix's change-board tier are back."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from tests.conftest import blastwall_cmd


def run(store: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*blastwall_cmd(), "--store", str(store), *args], capture_output=True, text=True)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, sample_dir: Path) -> Path:
    s = tmp_path_factory.mktemp("fresh") / "store"
    for args in (
        ("ingest", "aws-snapshot", str(sample_dir / "aws"), "--collected-at", "2026-05-15T06:00:00Z"),
        ("ingest", "kubernetes", str(sample_dir / "kubernetes" / "fraud-eks")),
        ("ingest", "azure", str(sample_dir / "azure"), "--collected-at", "2026-05-15T06:00:00Z"),
        ("ingest", "azure-logs", str(sample_dir / "azure-logs")),
        ("ingest", "cloudtrail", str(sample_dir / "cloudtrail")),
        ("ingest", "flowlogs", str(sample_dir / "flowlogs")),
        ("ingest", "cmdb", "servicenow", str(sample_dir / "servicenow")),
        ("policy", "load", str(sample_dir / "policy" / "tier-policy.yaml")),
        ("propose", str(sample_dir / "findings")),
    ):
        assert run(s, *args).returncode == 0, args
    return s


def test_undocumented_on_stale_evidence_says_so_first_and_exits_4(store: Path) -> None:
    out = run(store, "undocumented")
    assert out.returncode == 4
    first = out.stdout.splitlines()[0]
    assert first.startswith("EVIDENCE: no evidence in the window") and "739406228105" in first
    age = (datetime.now(UTC).date() - date(2026, 5, 14)).days
    assert f"{age} days old" in first and "--as-of latest" in first
    js = run(store, "undocumented", "--format", "json")
    assert js.returncode == 4
    fresh = json.loads(js.stdout)["freshness"]
    assert fresh["anchored"] == "now" and set(fresh["stale"]) == {
        "482510973311",
        "615294837560",
        "739406228105",
        "b70d1bcf-f695-5701-9925-7176ba040aaf",  # the Azure subscription: its storage logs, as stale
    }
    assert fresh["newest_evidence"] == "2026-05-14"


def test_latest_anchors_at_the_newest_evidence(store: Path) -> None:
    out = run(store, "undocumented", "--as-of", "latest")
    assert out.returncode == 0 and not out.stdout.startswith("EVIDENCE")
    head = out.stdout.splitlines()
    assert head[0].startswith("evidence 2026-02-14 to 2026-05-15 (anchored at the newest evidence")
    assert "482510973311 14" in head[0] and "739406228105 14" in head[0]
    # the six of the AWS story, fraud-scoring's use of the data lake through its IRSA role, and the Azure
    # model training's key-based reads of its training data
    assert head[1].startswith("8 undocumented observed dependenc(ies), 90 days to 2026-05-15T00:00:00Z")
    assert any("acmefraudtraining" in line and "Fraud Model Training" in line for line in head)
    score = json.loads(run(store, "score", "--as-of", "latest", "--format", "json").stdout)
    assert score["as_of"] == "2026-05-15T00:00:00Z" and score["freshness"]["anchored"] == "latest"
    story = next(r for r in score["results"] if r["proposal_id"] == "bw-87109988a633")
    assert story["tier"] == "cab" and any(i["name"] == "Fraud Detection" for i in story["impacted_services"])


def test_score_without_as_of_says_how_old_the_evidence_is_before_the_table(store: Path) -> None:
    out = run(store, "score")
    assert out.returncode == 0
    lines = out.stdout.splitlines()
    assert lines[0].startswith("EVIDENCE: no evidence in the window") and "days old" in lines[0]
    assert lines[1].startswith("evidence ") and "(anchored at now)" in lines[1]
    assert lines[2].startswith("Scored 6 proposal(s)")
    js = run(store, "score", "--format", "json")
    assert js.stderr.startswith("EVIDENCE: ") and json.loads(js.stdout)["freshness"]["stale"]
    pinned = run(store, "score", "--as-of", "2026-05-15T06:00:00Z")
    assert not pinned.stdout.startswith("EVIDENCE")


def test_explain_says_the_window_of_the_stored_result_first(store: Path) -> None:
    """`explain` reads a stored result: its window's evidence, for the accounts the result is about."""
    run(store, "score", "bw-87109988a633")  # anchored at now: the window holds nothing
    lines = run(store, "explain", "bw-87109988a633").stdout.splitlines()
    assert lines[0].startswith("EVIDENCE: no evidence in the window") and "739406228105" in lines[0]
    assert lines[1].startswith("evidence ") and lines[2].startswith("bw-87109988a633: ")
    run(store, "score", "bw-87109988a633", "--as-of", "latest")
    out = run(store, "explain", "bw-87109988a633", "--format", "json")
    fresh = json.loads(out.stdout)["freshness"]
    assert out.stderr == "" and fresh["stale"] == [] and fresh["window_end"] == "2026-05-15T00:00:00Z"
    assert {a["account"] for a in fresh["accounts"]} == {"482510973311", "739406228105"}
