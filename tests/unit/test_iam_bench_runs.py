"""bench/iam_bench.py keeps working (tiny sizes; it asserts the batch and the per-request loop agree on
its sample). Timings are not checked here: they belong to the benchmark's own output."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "iam_bench.py"


def test_iam_bench_runs_and_agrees_on_a_small_org() -> None:
    out = subprocess.run(
        [
            sys.executable,
            str(BENCH),
            "--roles",
            "200",
            "--resources",
            "2000",
            "--observed",
            "5000",
            "--sensitive",
            "0.05",
            "--loop-sample",
            "400",
            "--no-write",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert "ratio:" in out.stdout and "facts; decisions" in out.stdout
