"""Store -> arrays: a node index plus per-edge-kind integer arrays, and CSR matrices built from them.

The snapshot a process holds for each store, and how it is brought up to date: ``analyzer.graph.current``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, overload

import numpy as np
import scipy.sparse as sp

from analyzer.graph.store import (
    EMPTY_PROPS,
    EdgeColumns,
    GraphContents,
    StoredEdge,
    StoredNode,
    rows_of,
)

NAT = np.datetime64("NaT", "s")
MEMO_SIZE = 16


class EdgeRecords(Sequence[StoredEdge]):
    """The edges of one kind as ``StoredEdge`` rows, made when they are asked for and not kept (the
    snapshot holds columns: see ``analyzer.graph.store.EdgeTable``). Ends are node indexes into ``ids``;
    the other fields are codes into the read's tables of values and property maps (the read's own columns
    of end codes are not kept)."""

    __slots__ = ("_cols", "_dst", "_ids", "_props", "_src", "_values")
    PERSISTABLE = True  # kept in a persisted analysis context (``analyzer.graph.persisted``)

    def __init__(
        self,
        cols: EdgeColumns,
        ids: tuple[str, ...],
        src: np.ndarray,
        dst: np.ndarray,
        values: list[Any],
        props: list[dict[str, Any]],
    ):
        self._cols, self._ids, self._src, self._dst = cols, ids, src, dst
        self._values, self._props = values, props

    def __len__(self) -> int:
        return len(self._src)

    @property
    def columns(self) -> EdgeColumns:
        """The coded columns (ends aside) the rows are made from."""
        return self._cols

    @property
    def values(self) -> list[Any]:
        """The table of values the columns' codes index (shared by every kind of one read)."""
        return self._values

    @property
    def prop_maps(self) -> list[dict[str, Any]]:
        """The table of property maps the ``props`` codes index."""
        return self._props

    @overload
    def __getitem__(self, i: int) -> StoredEdge: ...
    @overload
    def __getitem__(self, i: slice) -> list[StoredEdge]: ...
    def __getitem__(self, i: int | slice) -> StoredEdge | list[StoredEdge]:
        if isinstance(i, slice):
            return self.at(np.arange(len(self))[i])
        n = len(self)
        if not -n <= i < n:
            raise IndexError(i)
        return self.at(np.array([i % n]))[0]

    def __iter__(self) -> Iterator[StoredEdge]:
        step = 65536  # made a block at a time: a full scan never holds every row
        for lo in range(0, len(self), step):
            yield from self.at(np.arange(lo, min(lo + step, len(self))))

    def at(self, rows: np.ndarray | list[int]) -> list[StoredEdge]:
        """The rows at these positions, in the order given."""
        rows = np.asarray(rows, dtype=np.int64)
        ids = self._ids
        return rows_of(
            self._cols,
            rows,
            [ids[i] for i in self._src[rows].tolist()],
            [ids[i] for i in self._dst[rows].tolist()],
            self._values,
            self._props,
        )

    def codes(self, name: str) -> tuple[np.ndarray, list[Any]]:
        """One field as (per row, an index into ``values``; the distinct ``values``): few distinct values
        (a flow's protocol and port) can be worked out once each instead of once per row."""
        packed = self._cols.fields[name]
        values = self._props if name == "props" else self._values
        return packed.idx, [values[c] for c in packed.table.tolist()]

    def max_update_tag(self) -> int:
        tags = [self._values[c] for c in self._cols.fields["update_tag"].table.tolist()]
        return max((t for t in tags if t is not None), default=0)


@dataclass(frozen=True)
class EdgeArrays:
    """Edges of one kind: ``src[i] -> dst[i]`` with their count and first/last seen (``NaT`` if unknown);
    ``records`` makes ``StoredEdge`` rows on demand."""

    src: np.ndarray
    dst: np.ndarray
    count: np.ndarray
    first_seen: np.ndarray
    last_seen: np.ndarray
    records: EdgeRecords


@dataclass(frozen=True)
class Snapshot:
    generation: int
    ids: tuple[str, ...]
    index: dict[str, int]
    nodes: tuple[StoredNode, ...]
    edges: dict[str, EdgeArrays]
    graph_generation: int = -1
    """The store's ``graph_generation`` when it was read: the snapshot answers for the store while that
    is unchanged (saving results does not change it)."""
    stored: int = -1
    """How many of ``nodes`` the store holds as nodes (the first ones, ordered by id); the rest are the
    ends of edges it does not (stubs, ordered by id)."""
    instance: str = ""
    """The store instance it was read from (``GraphContents.instance``)."""
    how: str = "read whole"
    """How it was made: read whole, or by difference from an earlier generation (``analyzer.graph.delta``)."""
    _cache: OrderedDict[object, object] = field(default_factory=OrderedDict, compare=False, repr=False)

    @property
    def n(self) -> int:
        return len(self.ids)

    def node(self, node_id: str) -> StoredNode | None:
        i = self.index.get(node_id)
        return self.nodes[i] if i is not None else None

    def of_kind(self, *kinds: str) -> list[StoredNode]:
        return [n for n in self.nodes if n.kind in kinds]

    def edge_records(self, kind: str) -> Sequence[StoredEdge]:
        arr = self.edges.get(kind)
        return arr.records if arr else ()

    def _by_end(self, kind: str, end: str) -> tuple[np.ndarray, np.ndarray]:
        """(positions sorted by ``end`` node, CSR offsets per node) for one kind, built once."""

        def build() -> tuple[np.ndarray, np.ndarray]:
            arr = self.edges[kind]
            col = arr.src if end == "src" else arr.dst
            order = np.argsort(col, kind="stable").astype(np.int64)
            offsets = np.zeros(self.n + 1, np.int64)
            np.cumsum(np.bincount(col, minlength=self.n), out=offsets[1:])
            return order, offsets

        return self.memo(("edges-by", kind, end), build)  # type: ignore[return-value]

    def positions(self, kind: str, *, src: str | None = None, dst: str | None = None) -> np.ndarray:
        """Positions (in stored order) of the ``kind`` edges leaving ``src`` or entering ``dst``."""
        end, node = ("src", src) if src is not None else ("dst", dst)
        i = self.index.get(node) if node is not None else None
        if kind not in self.edges or i is None:
            return np.empty(0, np.int64)
        order, offsets = self._by_end(kind, end)
        return order[offsets[i] : offsets[i + 1]]

    def edges_from(self, kind: str, src: str) -> list[StoredEdge]:
        """The ``kind`` edges leaving ``src``, in stored order."""
        pos = self.positions(kind, src=src)
        return self.edges[kind].records.at(pos) if len(pos) else []

    def edges_into(self, kind: str, dst: str) -> list[StoredEdge]:
        """The ``kind`` edges entering ``dst``, in stored order."""
        pos = self.positions(kind, dst=dst)
        return self.edges[kind].records.at(pos) if len(pos) else []

    def positions_under(self, kind: str, dst: str) -> np.ndarray:
        """Positions of the ``kind`` edges into ``dst`` or into anything below it (``dst/…``: an object of
        a bucket), in stored order."""
        arr = self.edges.get(kind)
        if arr is None:
            return np.empty(0, np.int64)

        def build() -> dict[str, list[int]]:
            # every '/'-prefix of each distinct target, to the targets below it
            out: dict[str, list[int]] = {}
            ids = self.ids
            for t in np.unique(arr.dst).tolist():
                name = ids[t]
                cut = name.rfind("/")
                while cut > 0:
                    out.setdefault(name[:cut], []).append(t)
                    cut = name.rfind("/", 0, cut)
            return out

        below = self.memo(("targets-under", kind), build)
        targets = [self.index[dst]] if dst in self.index else []
        targets += below.get(dst, [])  # type: ignore[attr-defined]
        if not targets:
            return np.empty(0, np.int64)
        order, offsets = self._by_end(kind, "dst")
        parts = [order[offsets[t] : offsets[t + 1]] for t in targets]
        return np.sort(np.concatenate(parts))

    def edges_under(self, kind: str, dst: str) -> list[StoredEdge]:
        """The ``kind`` edges into ``dst`` or into anything below it, in stored order."""
        pos = self.positions_under(kind, dst)
        return self.edges[kind].records.at(pos) if len(pos) else []

    def csr(self, srcs: list[np.ndarray], dsts: list[np.ndarray]) -> sp.csr_array:
        """A boolean n x n CSR adjacency from parallel lists of (src, dst) index arrays; duplicates collapse."""
        return _csr(self.n, srcs, dsts)

    def memo_items(self) -> list[tuple[object, object]]:
        return list(self._cache.items())

    def release(self) -> None:
        """Forget what it memoizes, once a newer snapshot has superseded it: a memoized context refers back
        to its snapshot, a cycle that only a full collection would free (4 s at L), while the memory of a
        snapshot and its structures (about 2 GB at L) is wanted for the one that replaces it. A caller
        still answering from it gets what it asks for built again, for this snapshot, never another's."""
        self._cache.clear()

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


def timestamps(values: list[Any], codes: np.ndarray) -> np.ndarray:
    """``datetime64[s]`` of the stored timestamp texts at ``codes`` (each distinct text parsed once)."""
    uniq, inverse = np.unique(codes, return_inverse=True)
    parsed = np.array(
        [np.datetime64(v.rstrip("Z"), "s") if v else NAT for v in (values[c] for c in uniq.tolist())],
        dtype="datetime64[s]",
    )
    return parsed[inverse] if len(codes) else np.empty(0, "datetime64[s]")


def build_snapshot(contents: GraphContents) -> Snapshot:
    nodes = list(contents.nodes)
    index = {n.id: i for i, n in enumerate(nodes)}
    table = contents.edges
    values = table.values
    stored = len(nodes)
    # every edge end as a node index; an end the store does not hold as a node still gets one (a stub:
    # never dropped silently), after the stored nodes and ordered by id (as a patch keeps them)
    node_of = np.full(len(values), -1, np.int64)
    ends = [c for cols in table.kinds.values() for c in (cols.src, cols.dst)]
    missing: list[tuple[str, int]] = []
    for code in np.unique(np.concatenate(ends)).tolist() if ends else []:
        end = values[code]
        i = index.get(end)
        if i is None:
            missing.append((end, code))
        else:
            node_of[code] = i
    for end, code in sorted(missing):
        node_of[code] = index[end] = len(nodes)
        nodes.append(stub_node(end))
    ids = tuple(n.id for n in nodes)
    arrays = {}
    for kind, cols in table.kinds.items():
        src, dst = node_of[cols.src], node_of[cols.dst]
        arrays[kind] = EdgeArrays(
            src=src,
            dst=dst,
            count=cols.count,
            first_seen=timestamps(values, cols.fields["first_seen"].codes(slice(None))),
            last_seen=timestamps(values, cols.fields["last_seen"].codes(slice(None))),
            records=EdgeRecords(
                replace(cols, src=np.empty(0, np.int32), dst=np.empty(0, np.int32)),
                ids,
                src,
                dst,
                values,
                table.props,
            ),
        )
    graph_gen = contents.graph_generation if contents.graph_generation >= 0 else contents.generation
    return Snapshot(
        contents.generation, ids, index, tuple(nodes), arrays, graph_gen, stored, contents.instance
    )


def stub_node(node_id: str) -> StoredNode:
    """What a snapshot knows of an edge end the store holds no node for."""
    return StoredNode(node_id, "Resource", EMPTY_PROPS, None, None, None, None, None)
