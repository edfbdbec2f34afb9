"""The GraphStore protocol and ``open_store``, which picks the store from a URI or path."""

from __future__ import annotations

import json
import os
from array import array
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import msgspec
import numpy as np

from analyzer.graph.schema import Batch
from analyzer.slotted import by_constructor

DEFAULT_STORE = ".blastwall"


@by_constructor
@dataclass(frozen=True, slots=True)
class StoredNode:
    id: str
    kind: str
    props: dict[str, Any]
    source: str | None
    account: str | None
    update_tag: int | None
    first_seen: str | None
    last_seen: str | None


@by_constructor
@dataclass(frozen=True, slots=True)
class StoredEdge:
    src: str
    kind: str
    dst: str
    key: str
    props: dict[str, Any]
    source: str | None
    account: str | None
    update_tag: int | None
    count: int
    first_seen: str | None
    last_seen: str | None


class FrozenProps(dict[str, Any]):
    """An empty property map that refuses writes: one object shared by every node and edge without
    properties (most structural edges), so a million of them cost nothing."""

    PERSISTABLE = True

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("stored properties are read-only")

    __setitem__ = __delitem__ = setdefault = update = pop = popitem = clear = __ior__ = _refuse

    def __reduce__(self) -> str | tuple[Any, ...]:
        # the shared empty map stays the one object (``is EMPTY_PROPS``) through a persisted context
        return "EMPTY_PROPS" if self is EMPTY_PROPS else (FrozenProps, ())


EMPTY_PROPS: dict[str, Any] = FrozenProps()


class Interner:
    """Rows read from a store share their repeated parts: one string object per distinct id, kind,
    source, account or timestamp (a node's id is the same object in every edge naming it), and property
    maps decoded with msgspec, whose key cache shares the repeated keys. At a million nodes this is most of
    the snapshot's memory."""

    def __init__(self) -> None:
        self._strings: dict[str, str] = {}
        self._ints: dict[int, int] = {}
        self._parts: dict[bytes, Any] = {}
        self._encode: Callable[[Any], bytes] | None = None

    def s(self, value: Any) -> Any:
        """``value`` (a string, or None) as the one shared object equal to it."""
        if value is None or type(value) is not str:
            return value
        return self._strings.setdefault(value, value)

    def i(self, value: Any) -> Any:
        """An integer (an update tag, a count) as the one shared object equal to it."""
        if type(value) is not int:
            return value
        return self._ints.setdefault(value, value)

    def props(self, text: str | bytes | None) -> dict[str, Any]:
        """Stored JSON text as a property map (empty ones: the shared read-only ``EMPTY_PROPS``)."""
        if not text or text == "{}":
            return EMPTY_PROPS
        try:
            value = _msgspec_decode(text)
        except Exception:  # e.g. NaN, which json.dumps writes and msgspec refuses
            value = json.loads(text)
        return value if value else EMPTY_PROPS

    def node_props(self, text: str | bytes | None) -> dict[str, Any]:
        """``props``, with the values repeated across nodes shared too: equal strings, and equal lists or
        maps (a tag set, an inline policy many roles carry, an empty list) as one object. Stored
        properties are read-only, so sharing them is safe; at a million nodes it is a third of their
        memory."""
        value = self.props(text)
        if value is EMPTY_PROPS:
            return value
        if self._encode is None:
            self._encode = _msgspec_encode()
        encode, parts = self._encode, self._parts
        for k, v in value.items():
            if type(v) is str:
                value[k] = self._strings.setdefault(v, v)
            elif type(v) in (dict, list):
                try:
                    key = encode(v)
                except (TypeError, ValueError, OverflowError):
                    continue
                if b"null" not in key:  # NaN would encode as null too: never share what may differ
                    value[k] = parts.setdefault(key, v)
        return value


def _msgspec_decode(text: str | bytes) -> Any:
    import msgspec

    return msgspec.json.decode(text)


def _msgspec_encode() -> Callable[[Any], bytes]:
    import msgspec

    return msgspec.json.Encoder(order="deterministic").encode


EDGE_FIELDS = ("key", "props", "source", "account", "update_tag", "first_seen", "last_seen")
"""The columns of an edge besides its ends and count, each held as codes into shared tables."""


@dataclass(frozen=True, slots=True)
class Packed:
    """A column of codes into a table of values, stored as its distinct codes (``table``) and per row an
    index into them in the smallest unsigned type; a column with one value (an update tag, a source, most
    keys) is a zero-stride view and costs nothing per row, in memory and when pickled.

    >>> import pickle
    >>> one = Packed.of(np.full(1_000_000, 7))
    >>> one.idx.strides, len(pickle.dumps(one, protocol=5)) < 1000
    ((0,), True)
    >>> again = pickle.loads(pickle.dumps(one, protocol=5))
    >>> again.idx.strides, len(again.idx), again.table.tolist()
    ((0,), 1000000, [7])
    """

    table: np.ndarray
    idx: np.ndarray

    def __post_init__(self) -> None:
        if isinstance(self.idx, int):  # rebuilt from a pickle: the length of a one-value column
            object.__setattr__(self, "idx", _one_value(self.idx))

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled through its constructor (``analyzer.slotted``); a one-value column as its length, as
        pickle would write a zero-stride view out in full (8 MB a column at a million rows)."""
        idx = self.idx
        if idx.ndim == 1 and len(idx) > 1 and idx.strides == (0,) and not idx[:1].any():
            return (Packed, (self.table, len(idx)))
        return (Packed, (self.table, idx))

    @classmethod
    def of(cls, codes: np.ndarray) -> Packed:
        table, inverse = np.unique(codes, return_inverse=True)
        if len(table) <= 1:
            return cls(table.astype(np.int64), _one_value(len(codes)))
        dtype = np.uint8 if len(table) <= 1 << 8 else np.uint16 if len(table) <= 1 << 16 else np.uint32
        return cls(table.astype(np.int64), inverse.astype(dtype))

    def codes(self, rows: np.ndarray | slice) -> np.ndarray:
        return self.table[self.idx[rows]]


def _one_value(n: int) -> np.ndarray:
    """``n`` zero codes, as a zero-stride view of one."""
    return np.broadcast_to(np.zeros(1, np.uint8), (n,))


@by_constructor
@dataclass(frozen=True, slots=True)
class EdgeColumns:
    """The edges of one kind: ``src``/``dst`` codes into the table's values, ``count``, and the other
    fields as ``Packed`` codes (values, or property maps for ``props``)."""

    kind: str
    src: np.ndarray
    dst: np.ndarray
    count: np.ndarray
    fields: dict[str, Packed]

    def __len__(self) -> int:
        return len(self.count)


class EdgeTable:
    """Every edge of a read, as columns grouped by kind (a kind's rows in the order the store gave them).

    A million-node graph has about ten edges per node; one ``StoredEdge`` each (about 120 bytes with its
    references) would be most of the memory, so a read keeps an edge as a row of integer codes into one
    table of distinct values and one of distinct property maps, and makes ``StoredEdge`` rows only when
    they are asked for (iteration yields them kind by kind, in kind-name order). Rows are added with
    ``add`` and the table is frozen into NumPy columns by ``freeze`` (the stores do both)."""

    def __init__(self) -> None:
        self._codes: dict[Any, int] = {None: 0}
        self._props: dict[str, int] = {"{}": 0}
        self._rows: dict[str, list[array[int]]] = {}
        self.values: list[Any] = [None]
        self.props: list[dict[str, Any]] = [EMPTY_PROPS]
        self.kinds: dict[str, EdgeColumns] = {}

    def add(
        self,
        src: str,
        kind: str,
        dst: str,
        key: str,
        props: str | None,
        source: str | None,
        account: str | None,
        update_tag: int | None,
        count: int,
        first_seen: str | None,
        last_seen: str | None,
    ) -> None:
        """One edge; ``props`` is its stored JSON text."""
        cols = self._rows.get(kind)
        if cols is None:
            cols = self._rows[kind] = [array("q") for _ in range(3 + len(EDGE_FIELDS))]
        codes = self._codes
        intern = codes.setdefault
        cols[0].append(intern(src, len(codes)))
        cols[1].append(intern(dst, len(codes)))
        cols[2].append(count or 0)
        cols[3].append(intern(key, len(codes)))
        cols[4].append(self._props.setdefault(props or "{}", len(self._props)))
        cols[5].append(intern(source, len(codes)))
        cols[6].append(intern(account, len(codes)))
        cols[7].append(intern(update_tag, len(codes)))
        cols[8].append(intern(first_seen, len(codes)))
        cols[9].append(intern(last_seen, len(codes)))

    @classmethod
    def of(cls, edges: Iterable[StoredEdge]) -> EdgeTable:
        """A frozen table of these edges (built in memory: tests, notebooks)."""
        table = cls()
        for e in sorted(edges, key=lambda e: (e.src, e.kind, e.dst, e.key)):
            table.add(
                e.src,
                e.kind,
                e.dst,
                e.key,
                json.dumps(e.props, sort_keys=True),
                e.source,
                e.account,
                e.update_tag,
                e.count,
                e.first_seen,
                e.last_seen,
            )
        return table.freeze()

    def freeze(self) -> EdgeTable:
        """Turn the added rows into columns (decoding each distinct property map once)."""
        self.values = list(self._codes)
        texts = list(self._props)
        canon = Interner()
        self.props = [EMPTY_PROPS] + [canon.props(t) for t in texts[1:]]
        for kind in sorted(self._rows):
            cols = [
                np.frombuffer(c, dtype=np.int64) if len(c) else np.empty(0, np.int64)
                for c in self._rows[kind]
            ]
            self.kinds[kind] = EdgeColumns(
                kind,
                cols[0].astype(np.int32),
                cols[1].astype(np.int32),
                cols[2].copy(),
                {name: Packed.of(c) for name, c in zip(EDGE_FIELDS, cols[3:], strict=True)},
            )
        self._rows.clear()
        self._codes.clear()
        self._props.clear()
        return self

    def __len__(self) -> int:
        return sum(len(c) for c in self.kinds.values())

    def __eq__(self, other: object) -> bool:
        """The same edges (every field), in the same order: two reads of an unchanged store are equal."""
        if not isinstance(other, EdgeTable):
            return NotImplemented
        return len(self) == len(other) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]

    def __iter__(self) -> Iterator[StoredEdge]:
        for cols in self.kinds.values():
            v = self.values
            yield from rows_of(
                cols,
                np.arange(len(cols)),
                [v[i] for i in cols.src],
                [v[i] for i in cols.dst],
                self.values,
                self.props,
            )


def rows_of(
    cols: EdgeColumns,
    rows: np.ndarray,
    srcs: list[str],
    dsts: list[str],
    values: list[Any],
    prop_maps: list[dict[str, Any]],
) -> list[StoredEdge]:
    """``StoredEdge`` rows of ``cols`` at ``rows`` (positions), given their ends' ids and the tables the
    codes index (``EdgeTable.values`` and ``EdgeTable.props``)."""
    f = cols.fields
    v = values
    props = [prop_maps[i] for i in f["props"].codes(rows).tolist()]
    key, source, account, tag, first, last = (
        [v[i] for i in f[name].codes(rows).tolist()]
        for name in ("key", "source", "account", "update_tag", "first_seen", "last_seen")
    )
    kind = cols.kind
    return [
        StoredEdge(s, kind, d, k, p, so, a, t, c, fs, ls)
        for s, d, k, p, so, a, t, c, fs, ls in zip(
            srcs, dsts, key, props, source, account, tag, cols.count[rows].tolist(), first, last, strict=True
        )
    ]


OUTSIDE_ANALYSIS = frozenset({"proposals", "results", "scoring", "policy", "change_requests"})
"""Document collections the analysis context does not read: writing them (saving a batch's results)
leaves the store's ``graph_generation`` as it was, so what was derived from the graph stays valid."""


def touches_analysis(collection: str) -> bool:
    """Whether writing documents of ``collection`` changes what analysis reads (anything not listed in
    ``OUTSIDE_ANALYSIS``: an unknown collection is taken to)."""
    return collection not in OUTSIDE_ANALYSIS


@dataclass(frozen=True)
class GraphContents:
    """A consistent read of the whole graph: what one generation of the store held, and the generation
    of the last write that changed what analysis reads (``graph_generation``)."""

    generation: int
    nodes: list[StoredNode]
    edges: EdgeTable
    graph_generation: int = -1
    instance: str = ""
    """Which store this is, for life (a store deleted and made again at the same place is another)."""


# -- what changed between two generations (the journal: analyzer.graph.journal) ---------------------
EdgeKey = tuple[str, str, str, str]
"""An edge's identity in both stores: (src, kind, dst, key)."""


class Stamp(msgspec.Struct, array_like=True, forbid_unknown_fields=True, frozen=True):
    """Rows a load found unchanged and only stamped: every node (``table`` "nodes") or edge ("edges") of
    ``source`` and ``account`` but those listed in ``except_nodes``/``except_edges`` now has
    ``update_tag``, and its first/last seen widened to ``first_seen``/``last_seen`` (as a load widens
    them). A re-collected snapshot of a million resources of which one in a hundred changed is recorded
    as the hundredth and one stamp per account, not a million keys."""

    table: str
    source: str
    account: str
    update_tag: int
    first_seen: str | None
    last_seen: str | None
    except_nodes: list[str]
    except_edges: list[tuple[str, str, str, str]]


@dataclass(frozen=True)
class GraphChanges:
    """What changed in the graph between two generations: for every node and edge key touched, the row
    as it is now (None: it is gone)."""

    since: int
    """The ``graph_generation`` the changes start from."""
    graph_generation: int
    """The ``graph_generation`` they bring it to."""
    generation: int
    nodes: dict[str, StoredNode | None]
    edges: dict[EdgeKey, StoredEdge | None]
    documents: frozenset[str] = frozenset()
    """Collections of analysis documents written (the caller reads them again)."""
    stamps: tuple[Stamp, ...] = ()
    """The stamps of the writes, oldest first: they apply to the rows not among ``nodes``/``edges``."""

    def __len__(self) -> int:
        return len(self.nodes) + len(self.edges)


@runtime_checkable
class GraphStore(Protocol):
    """What every store offers. Both implementations pass ``tests/integration/test_store_contract.py``."""

    uri: str

    def load(self, batch: Batch, *, update_tag: int, account: str | None = None) -> None:
        """Upsert every row of ``batch`` atomically, stamping ``update_tag``; merge per the schema."""

    def cleanup(self, *, source: str, account: str | None, update_tag: int) -> int:
        """Delete nodes and edges of (source, account) whose tag is older than ``update_tag``."""

    def generation(self) -> int:
        """A number that changes whenever anything is written."""

    def graph_generation(self) -> int:
        """The ``generation`` of the last write that changed what analysis reads: the graph, or documents
        other than proposals, results, scoring records and the tier policy (``OUTSIDE_ANALYSIS``).
        Structures derived from the graph stay valid while it is unchanged."""

    def read_graph(self) -> GraphContents:
        """Every node and edge, as of one generation (never half of a batch)."""

    def changes_since(
        self, graph_generation: int, instance: str, at_most: int | None = None
    ) -> GraphChanges | None:
        """The nodes and edges written or deleted since ``graph_generation`` of store ``instance``, as
        they are now (``analyzer.graph.journal``), read as of one generation; None when the journal cannot
        say (another store, a generation it no longer covers) or names more than ``at_most`` nodes and
        edges (none of their rows is then read): the caller reads the whole graph."""

    def get_node(self, node_id: str) -> StoredNode | None: ...

    def read_nodes(self, kinds: tuple[str, ...]) -> list[StoredNode]:
        """The nodes of these kinds, ordered by id, without reading any edge (an importer that needs the
        interfaces or the CIs of a graph of millions of edges reads those alone)."""

    def edges_from(self, src: str, kinds: tuple[str, ...]) -> list[StoredEdge]:
        """The edges of these kinds leaving ``src`` (one node's neighbourhood, not the whole graph)."""

    def put_documents(self, collection: str, docs: dict[str, dict[str, Any]]) -> None:
        """Upsert JSON documents (proposals, results, ingested-file records) atomically."""

    def get_documents(self, collection: str) -> dict[str, dict[str, Any]]: ...

    def get_document(self, collection: str, doc_id: str) -> dict[str, Any] | None:
        """One document of ``collection`` (None when absent), without reading the others: a page showing
        one scored proposal out of 10,000 reads one."""

    def get_document_texts(self, collection: str) -> dict[str, str]:
        """The documents of ``collection`` as their stored JSON text, not decoded (for large collections
        decoded piece by piece, e.g. ``analyzer.network.documents.NetworkDocuments``)."""

    def delete_documents(self, collection: str, ids: list[str]) -> None: ...

    def lease(self, command: str, wait: float | None = None) -> AbstractContextManager[None]:
        """Hold the store's write lease for ``command`` (see ``analyzer.graph.lease``): one writer at a
        time across processes and hosts; re-entrant within a thread."""

    def close(self) -> None: ...


def resolve_store_uri(store: str | os.PathLike[str] | None) -> str:
    """The store named by ``--store``, else ``$BLASTWALL_STORE``, else ``./.blastwall``."""
    if store:
        return str(store)
    return os.environ.get("BLASTWALL_STORE") or DEFAULT_STORE


def is_bolt_uri(uri: str) -> bool:
    return uri.split("://", 1)[0] in {"bolt", "bolt+s", "bolt+ssc", "neo4j", "neo4j+s", "neo4j+ssc"}


def open_store(store: str | os.PathLike[str] | None = None) -> GraphStore:
    """Open (creating if needed) the store named by ``store``.

    A path (or ``file://`` URI) is the embedded SQLite store; ``bolt://``, ``neo4j://`` and their
    ``+s`` variants are the Neo4j store. Credentials for Neo4j come from ``NEO4J_USER`` /
    ``NEO4J_PASSWORD`` or the URI's user-info; the graph/database name from ``?database=``.
    """
    uri = resolve_store_uri(store)
    if is_bolt_uri(uri):
        from analyzer.graph.neo4j_store import Neo4jStore

        return Neo4jStore.from_uri(uri)
    from analyzer.graph.sqlite_store import SqliteStore

    path = uri[len("file://") :] if uri.startswith("file://") else uri
    return SqliteStore(Path(path))
