"""Where a command's time and memory go: named phases with their wall time and the process's peak
resident memory at their end (``blastwall --timings …`` prints them to standard error; ``bench/run.py``
reads them from ``$BLASTWALL_TIMINGS``, a file the command writes them to as JSON)."""

from __future__ import annotations

import json
import os
import resource
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

PHASES: list[dict[str, Any]] = []
_START = time.perf_counter()
_DEPTH = [0]


def peak_mib() -> float:
    """This process's peak resident memory so far, MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def workers_peak_mib() -> float:
    """The largest peak resident memory among this process's finished child processes, MiB."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


@contextmanager
def phase(name: str) -> Iterator[None]:
    """Record ``name``: its seconds, and peak memory (this process; its finished workers) at its end.
    A phase within a phase is listed after it, one level deeper (``depth``)."""
    entry: dict[str, Any] = {"phase": name, "depth": _DEPTH[0]}
    PHASES.append(entry)
    _DEPTH[0] += 1
    t = time.perf_counter()
    try:
        yield
    finally:
        _DEPTH[0] -= 1
        entry["seconds"] = round(time.perf_counter() - t, 3)
        entry["peak_mib"] = round(peak_mib())
        entry["workers_peak_mib"] = round(workers_peak_mib())


def report() -> dict[str, Any]:
    """The phases that ended, in the order they began."""
    return {
        "total_seconds": round(time.perf_counter() - _START, 3),
        "phases": [p for p in PHASES if "seconds" in p],
    }


def lines() -> list[str]:
    rep = report()
    done = [p for p in rep["phases"] if "seconds" in p]
    out = [
        f"{'  ' * p['depth'] + p['phase']:<34}{p['seconds']:>9.1f} s  peak {p['peak_mib']:>6} MiB"
        for p in done
    ]
    worker = max((p["workers_peak_mib"] for p in done), default=0)
    out.append(
        f"{'total (since start)':<34}{rep['total_seconds']:>9.1f} s  peak {round(peak_mib()):>6} MiB"
        + (f", largest worker {worker} MiB" if worker else "")
    )
    return out


def write(path: str | None = None) -> None:
    """Write the report as JSON to ``path`` (default ``$BLASTWALL_TIMINGS``; nothing when neither)."""
    path = path or os.environ.get("BLASTWALL_TIMINGS")
    if path:
        with open(path, "w") as f:
            json.dump(
                {**report(), "peak_mib": round(peak_mib()), "workers_peak_mib": round(workers_peak_mib())}, f
            )
