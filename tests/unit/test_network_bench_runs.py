"""bench/network_bench.py keeps working (tiny sizes; it asserts the vectorized and the per-flow
decisions agree on its sample). Timings are the benchmark's business, not this test's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "network_bench.py"


def test_network_bench_runs_and_agrees_on_a_small_estate() -> None:
    out = subprocess.run(
        [
            sys.executable,
            str(BENCH),
            "--flows",
            "20000",
            "--groups",
            "400",
            "--rules",
            "2000",
            "--enis",
            "1500",
            "--vpcs",
            "8",
            "--loop-sample",
            "500",
            "--no-write",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert "ratio:" in out.stdout and "groups held by interfaces" in out.stdout
