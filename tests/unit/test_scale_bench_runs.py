"""bench/run.py keeps working on the smallest synthetic enterprise: it generates S, runs ingest, prepare
(cold and again) and score each in a fresh process, checks the production walk's reach against SciPy's (it
exits non-zero if the walk reaches what SciPy does not) and writes its JSON. Timings are the benchmark's
business, not this test's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "run.py"


def test_scale_bench_runs_on_s_and_reports_every_row(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, str(BENCH), "--scale", "S", "--store", str(tmp_path / "store")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    written = Path(out.stdout.rsplit("written: ", 1)[1].strip())
    try:
        rows = json.loads(written.read_text())
    finally:
        written.unlink()
    assert rows["scale"] == "S" and rows["proposals"] > 0
    # every command ran in its own process and reported its phases and memory
    for key in ("ingest", "prepare_cold", "context_ready", "score"):
        assert rows[key]["wall_s"] > 0 and rows[key]["peak_mib_process"] > 0, key
    assert "ingest CloudTrail" in {p["phase"] for p in rows["ingest"]["phases"]}
    assert rows["score"]["results"] == rows["proposals"] and rows["score"]["errors"] == 0
    assert {p["phase"] for p in rows["score"]["phases"]} >= {"analysis context", "write the output"}
    # the second prepare found everything persisted by the first: nothing to write
    cold = {p["phase"]: p for p in rows["prepare_cold"]["phases"]}
    assert cold["persist the analysis context"]["seconds"] >= 0
    assert rows["propagating_proposals"] > 0 and rows["walk_listed_equals_its_reach"] is True
    assert set(rows["propagation_ms_per_proposal"]) >= {
        "production_walk",
        "production_reach",
        "scipy_virtual_source",
        "networkx_built_once",
        "rustworkx",  # installed with [dev]: the reference baselines, measured, not skipped
        "igraph",
    }
    # what the ratios are weighed against: the reach's size, and which baseline was best
    assert 1 <= rows["reached_nodes"]["p50"] <= rows["reached_nodes"]["max"]
    assert rows["best_baseline"] in rows["propagation_ms_per_proposal"]
    assert rows["production_walk_over_best_baseline"] >= rows["production_reach_over_best_baseline"] > 0
