"""bench/run.py keeps working on the smallest synthetic enterprise: it generates S, loads it, scores the
batch, checks the condensed sweep against SciPy on its sample (it exits non-zero if they disagree) and
writes its JSON. Timings are the benchmark's business, not this test's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "run.py"


def test_scale_bench_runs_on_s_and_reports_every_row(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, str(BENCH), "--scale", "S", "--no-dask", "--store", str(tmp_path / "store")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "the sweep and SciPy disagree" not in out.stderr
    written = Path(out.stdout.rsplit("written: ", 1)[1].strip())
    try:
        rows = json.loads(written.read_text())
        assert rows["scale"] == "S" and rows["proposals"] > 0 and rows["batch_proposals"] == rows["proposals"]
        assert rows["baseline_sample"]["sets"] > 0
        assert rows["peak_mib_scoring_one_process"] > 0
        assert set(rows["propagation_ms_per_proposal"]) == {
            "condensed_sweep",
            "scipy_bfs",
            "networkx_recompute",
        }
    finally:
        written.unlink()
