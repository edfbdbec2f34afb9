"""Store -> arrays: a node index plus per-edge-kind integer arrays, and CSR matrices built from them.

A snapshot is reused while the store's generation is unchanged (``load_snapshot``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from analyzer.graph.store import GraphContents, GraphStore, StoredEdge, StoredNode

NAT = np.datetime64("NaT", "s")
MEMO_SIZE = 16


@dataclass(frozen=True)
class EdgeArrays:
    """Edges of one kind: ``src[i] -> dst[i]`` with their count and first/last seen (``NaT`` if unknown)."""

    src: np.ndarray
    dst: np.ndarray
    count: np.ndarray
    first_seen: np.ndarray
    last_seen: np.ndarray
    records: tuple[StoredEdge, ...]


@dataclass(frozen=True)
class Snapshot:
    generation: int
    ids: tuple[str, ...]
    index: dict[str, int]
    nodes: tuple[StoredNode, ...]
    edges: dict[str, EdgeArrays]
    _cache: OrderedDict[object, object] = field(default_factory=OrderedDict, compare=False, repr=False)

    @property
    def n(self) -> int:
        return len(self.ids)

    def node(self, node_id: str) -> StoredNode | None:
        i = self.index.get(node_id)
        return self.nodes[i] if i is not None else None

    def of_kind(self, *kinds: str) -> list[StoredNode]:
        return [n for n in self.nodes if n.kind in kinds]

    def edge_records(self, kind: str) -> tuple[StoredEdge, ...]:
        arr = self.edges.get(kind)
        return arr.records if arr else ()

    def edges_from(self, kind: str, src: str) -> list[StoredEdge]:
        """The ``kind`` edges leaving ``src`` (an index built once per kind)."""

        def build() -> dict[str, list[StoredEdge]]:
            out: dict[str, list[StoredEdge]] = {}
            for e in self.edge_records(kind):
                out.setdefault(e.src, []).append(e)
            return out

        index = self.memo(("edges-from", kind), build)
        return list(index.get(src, ()))  # type: ignore[attr-defined]

    def edges_under(self, kind: str, dst: str) -> list[StoredEdge]:
        """The ``kind`` edges into ``dst`` or into anything below it (``dst/…``: an object of a bucket),
        in stored order (an index of every ``/``-prefix of each target, built once per kind)."""

        def build() -> dict[str, list[StoredEdge]]:
            out: dict[str, list[StoredEdge]] = {}
            for e in self.edge_records(kind):
                out.setdefault(e.dst, []).append(e)
                cut = e.dst.rfind("/")
                while cut > 0:
                    out.setdefault(e.dst[:cut], []).append(e)
                    cut = e.dst.rfind("/", 0, cut)
            return out

        index = self.memo(("edges-under", kind), build)
        return list(index.get(dst, ()))  # type: ignore[attr-defined]

    def csr(self, srcs: list[np.ndarray], dsts: list[np.ndarray]) -> sp.csr_array:
        """A boolean n x n CSR adjacency from parallel lists of (src, dst) index arrays; duplicates collapse."""
        return _csr(self.n, srcs, dsts)

    def memo(self, key: object, build: Callable[[], object]) -> object:
        """Cache a derived structure for the life of this snapshot (it is immutable); the least recently
        used entries go beyond ``MEMO_SIZE``."""
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        value = build()
        self._cache[key] = value
        while len(self._cache) > MEMO_SIZE:
            self._cache.popitem(last=False)
        return value


def _csr(n: int, srcs: list[np.ndarray], dsts: list[np.ndarray]) -> sp.csr_array:
    src = np.concatenate(srcs) if srcs else np.empty(0, np.int64)
    dst = np.concatenate(dsts) if dsts else np.empty(0, np.int64)
    data = np.ones(src.size, dtype=bool)
    m = sp.csr_array((data, (src, dst)), shape=(n, n))
    m.sum_duplicates()
    # int64 indices once here, so the core's per-query int64 view is not a copy of the whole graph
    m.indptr, m.indices = m.indptr.astype(np.int64), m.indices.astype(np.int64)
    return m


def _ts(values: list[str | None]) -> np.ndarray:
    return np.array([np.datetime64(v.rstrip("Z"), "s") if v else NAT for v in values], dtype="datetime64[s]")


def build_snapshot(contents: GraphContents) -> Snapshot:
    nodes = list(contents.nodes)
    index = {n.id: i for i, n in enumerate(nodes)}
    # an edge endpoint the store does not hold as a node still gets an index (never dropped silently)
    for e in contents.edges:
        for end in (e.src, e.dst):
            if end not in index:
                index[end] = len(nodes)
                nodes.append(StoredNode(end, "Resource", {}, None, None, None, None, None))
    by_kind: dict[str, list[StoredEdge]] = {}
    for e in contents.edges:
        by_kind.setdefault(e.kind, []).append(e)
    arrays = {}
    for kind, recs in by_kind.items():
        arrays[kind] = EdgeArrays(
            src=np.fromiter((index[e.src] for e in recs), np.int64, len(recs)),
            dst=np.fromiter((index[e.dst] for e in recs), np.int64, len(recs)),
            count=np.fromiter((e.count for e in recs), np.int64, len(recs)),
            first_seen=_ts([e.first_seen for e in recs]),
            last_seen=_ts([e.last_seen for e in recs]),
            records=tuple(recs),
        )
    return Snapshot(contents.generation, tuple(n.id for n in nodes), index, tuple(nodes), arrays)


_LOCK = threading.Lock()
_CACHE: dict[str, Snapshot] = {}


def load_snapshot(store: GraphStore) -> Snapshot:
    """The snapshot of ``store``, rebuilt only when the store's generation has changed."""
    gen = store.generation()
    with _LOCK:
        cached = _CACHE.get(store.uri)
        if cached is not None and cached.generation == gen:
            return cached
    snap = build_snapshot(store.read_graph())
    with _LOCK:
        _CACHE[store.uri] = snap
    return snap
