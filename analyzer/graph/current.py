"""The snapshot each store has in this process, brought up to date when the store changes: by difference
when its journal can say what changed (``analyzer.graph.delta``), else read whole."""

from __future__ import annotations

import threading

from analyzer.collector import paused
from analyzer.graph.delta import Unpatchable, patch
from analyzer.graph.snapshot import Snapshot, build_snapshot
from analyzer.graph.store import GraphStore
from analyzer.timings import phase

BY_DIFFERENCE_SHARE = 0.05
"""Beyond this share of the snapshot's rows changed, reading the whole graph is the cheaper way. Measured
at L (10.4M rows, 2 cores): a day of flow logs and a re-collected snapshot, 1.26M edges changed (12 %),
took 38 s to read and 46 s to apply, against 116 s to read the whole graph: about even, so a share of
that size reads whole and a small one (the app between two writes, a snapshot collected again) patches."""

_LOCK = threading.Lock()
_CACHE: dict[str, Snapshot] = {}


def load_snapshot(store: GraphStore) -> Snapshot:
    """The snapshot of ``store``, brought up to date only when what analysis reads has changed (its
    ``graph_generation``; saving results or proposals does not)."""
    gen = store.graph_generation()
    with _LOCK:
        cached = _CACHE.get(store.uri)
    if cached is not None and cached.graph_generation == gen:
        return cached
    snap = updated(store, cached) if cached is not None else None
    if snap is None:
        if cached is not None:  # of no use now: let it go before the whole graph is read (at L the two
            _drop(store, cached)  # together were 4.5 GB, and 6 GB once the structures were built)
            cached.release()
            cached = None
        with phase("read the whole graph"), paused():  # millions of objects: see analyzer.collector
            snap = build_snapshot(store.read_graph())
    remember(store, snap)
    return snap


def updated(store: GraphStore, snap: Snapshot) -> Snapshot | None:
    """``snap`` brought to the store's current graph generation by difference; None when the store
    cannot say what changed since (or so much did that reading it whole is cheaper)."""
    rows = snap.n + sum(len(a.src) for a in snap.edges.values())
    with phase("read what changed"), paused():  # not read at all when there are too many changes
        changes = store.changes_since(
            snap.graph_generation, snap.instance, at_most=int(BY_DIFFERENCE_SHARE * max(rows, 1))
        )
    if changes is None:
        return None
    if changes.graph_generation == snap.graph_generation:
        return snap
    try:
        with phase("apply the difference"), paused():
            snap.release()  # what it derived is built anew for the patched one: its memory goes first
            return patch(snap, changes)
    except Unpatchable:
        return None


def holds_snapshots() -> bool:
    """Whether this process holds any store's snapshot (its heap is then large)."""
    with _LOCK:
        return bool(_CACHE)


def current_snapshot(store: GraphStore, graph_generation: int) -> Snapshot | None:
    """The snapshot this process holds for ``store`` if it is of ``graph_generation`` (else None)."""
    with _LOCK:
        cached = _CACHE.get(store.uri)
    return cached if cached is not None and cached.graph_generation == graph_generation else None


def held_snapshot(store: GraphStore) -> Snapshot | None:
    """The snapshot this process holds for ``store``, of whichever generation."""
    with _LOCK:
        return _CACHE.get(store.uri)


def remember(store: GraphStore, snap: Snapshot) -> None:
    """Make ``snap`` what ``load_snapshot`` answers for ``store`` (one read from elsewhere: a persisted
    analysis context, or one brought up to date)."""
    with _LOCK:
        _CACHE[store.uri] = snap


def _drop(store: GraphStore, snap: Snapshot) -> None:
    """Stop holding ``snap`` for ``store`` (if it is still what this process holds for it)."""
    with _LOCK:
        if _CACHE.get(store.uri) is snap:
            del _CACHE[store.uri]


def forget() -> None:
    """Drop every snapshot this process holds (the next use reads again)."""
    with _LOCK:
        _CACHE.clear()
