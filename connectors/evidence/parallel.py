"""Evidence files read on every core: each file parsed and folded into its own aggregate by a worker
process, the aggregates folded in the order of the files (so the result does not depend on which worker
finished first), and loaded by the caller in one write as before."""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

_WORK: Callable[[Path], Any] | None = None
"""The function a forked worker runs on each file (set before the pool is made: workers inherit it, so it
may be a closure over what the parent built, e.g. the flow-log attribution)."""

MIN_FILES = 4
"""Fewer files than this are read in this process (a pool costs more than it saves)."""


def default_workers() -> int:
    """The cores this process may use (``$BLASTWALL_INGEST_WORKERS`` overrides; 1 reads in-process)."""
    env = os.environ.get("BLASTWALL_INGEST_WORKERS")
    if env:
        return max(1, int(env))
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _call(path: Path) -> Any:
    assert _WORK is not None
    return _WORK(path)


def over_files(files: list[Path], work: Callable[[Path], T], workers: int | None = None) -> Iterator[T]:
    """``work(f)`` for each of ``files``, yielded in their order; on ``workers`` forked processes where
    the platform forks and there are enough files, else here. ``work`` reports a bad file in what it
    returns (it must not raise for one): a worker that dies ends the command with its error."""
    global _WORK
    workers = default_workers() if workers is None else workers
    if workers <= 1 or len(files) < MIN_FILES or "fork" not in mp.get_all_start_methods():
        for f in files:
            yield work(f)
        return
    _WORK = work
    try:
        with ProcessPoolExecutor(min(workers, len(files)), mp_context=mp.get_context("fork")) as pool:
            # a few files per task: each result crosses a pipe, and small files are many
            yield from pool.map(_call, files, chunksize=max(1, min(16, len(files) // (workers * 8))))
    finally:
        _WORK = None
