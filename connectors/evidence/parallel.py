"""Evidence files read on every core: each file parsed and folded into its own aggregate by a worker
process, the aggregates folded in the order of the files (so the result does not depend on which worker
finished first), and loaded by the caller in one write as before (``over_files``); and items made by a
worker while the caller writes the ones before (``ahead``: a snapshot's accounts)."""

from __future__ import annotations

import multiprocessing as mp
import os
import pickle
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

_WORK: Callable[[Any], Any] | None = None
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


def _call(path: Any) -> Any:
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


def _call_pickled(item: Any) -> bytes:
    """``_call``'s result pickled here, so the caller's process receives bytes: its pool thread then
    never unpickles (which would hold the GIL against the caller's thread, a store's write that gives
    it up and must win it back at every row), and the caller unpickles when it takes the result."""
    return pickle.dumps(_call(item), protocol=pickle.HIGHEST_PROTOCOL)


def ahead(items: list[T], work: Callable[[T], R], depth: int = 4, workers: int = 1) -> Iterator[R]:
    """``work(x)`` for each of ``items``, yielded in their order, made on ``workers`` forked processes
    while the caller uses the results before: the caller's own work (a store's write, on one core)
    overlaps theirs (the next items' parsing). At most ``depth`` results are made and not yet taken, so
    a caller slower than the workers holds a bounded number of them. Here, one after another, where the
    platform does not fork, ``$BLASTWALL_INGEST_WORKERS`` is 1 or there are fewer than ``MIN_FILES``
    items. ``work`` reports a bad item in what it returns; anything it raises is raised here."""
    global _WORK
    if default_workers() <= 1 or len(items) < MIN_FILES or "fork" not in mp.get_all_start_methods():
        for x in items:
            yield work(x)
        return
    _WORK = work
    try:
        with ProcessPoolExecutor(workers, mp_context=mp.get_context("fork")) as pool:
            pending: deque[Future[bytes]] = deque()
            todo = iter(items)
            for x in todo:
                pending.append(pool.submit(_call_pickled, x))
                if len(pending) >= depth:
                    break
            while pending:
                got: R = pickle.loads(pending.popleft().result())
                for x in todo:  # one more in flight for each taken
                    pending.append(pool.submit(_call_pickled, x))
                    break
                yield got
    finally:
        _WORK = None
