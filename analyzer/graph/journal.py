"""The change journal: which nodes and edges each write of the graph touched, so what was derived from
one generation of the store can be brought to a later one by difference (``analyzer.graph.delta``).

Each write that changes what analysis reads records, in the same atomic unit as its rows, the keys it
wrote or deleted: node ids, edge keys ``(src, kind, dst, key)`` and the document collections. Only keys:
the rows themselves are read back from the store as they are at the later generation, so an entry never
has to say what a row became, and a key written twice is read once.

A journal that cannot answer says so rather than answering wrong. A write of more than ``LIMIT`` keys
(the first load of a whole organization) records that it overflowed, and entries past ``KEEP_BYTES``
are pruned; each moves the store's ``journal_from`` to that generation. ``changes_since(g)`` then answers
only for ``g >= journal_from``, and a caller holding an older generation reads the whole graph again.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field

import msgspec

from analyzer.graph.store import EdgeKey, GraphChanges, Stamp

__all__ = [
    "KEEP_BYTES",
    "LIMIT",
    "ChangeLog",
    "EdgeKey",
    "Entry",
    "GraphChanges",
    "Stamp",
    "decode",
    "keys_of",
]

LIMIT = 2_000_000
"""Keys one write records before it is recorded as overflowing instead (about 100 MB of keys)."""

KEEP_BYTES = 256 << 20
"""Encoded entries a store keeps, newest first; older ones are pruned."""


class Entry(msgspec.Struct, array_like=True, forbid_unknown_fields=True):
    """One write's record as stored (MessagePack)."""

    nodes: list[str]
    edges: list[tuple[str, str, str, str]]
    documents: list[str]
    stamps: list[Stamp] = []


_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(Entry)


@dataclass
class ChangeLog:
    """The keys one write touches, collected as the store writes them; bounded by ``limit``."""

    limit: int = field(default_factory=lambda: LIMIT)
    nodes: list[str] = field(default_factory=list)
    edges: list[EdgeKey] = field(default_factory=list)
    documents: set[str] = field(default_factory=set)
    stamps: list[Stamp] = field(default_factory=list)
    overflow: bool = False
    _excepted: int = 0

    def expect(self, rows: int) -> None:
        """The write will touch about ``rows`` rows: beyond the limit, record the overflow at once rather
        than collect keys to drop (a first load of millions of flow edges)."""
        if rows > self.limit:
            self.overflow = True
            self._check()

    def node(self, node_id: str) -> None:
        if not self.overflow:
            self.nodes.append(node_id)
            self._check()

    def nodes_of(self, ids: Iterable[str]) -> None:
        for i in ids:
            if self.overflow:
                return
            self.node(i)

    def edge(self, src: str, kind: str, dst: str, key: str) -> None:
        if not self.overflow:
            self.edges.append((src, kind, dst, key))
            self._check()

    def document(self, collection: str) -> None:
        self.documents.add(collection)

    def stamp(self, stamp: Stamp) -> None:
        if not self.overflow:
            self.stamps.append(stamp)
            self._excepted += len(stamp.except_nodes) + len(stamp.except_edges)
            self._check()

    def _check(self) -> None:
        if self.overflow or len(self.nodes) + len(self.edges) + self._excepted > self.limit:
            self.overflow = True
            self.nodes.clear()
            self.edges.clear()
            self.stamps.clear()

    def encode(self) -> bytes:
        """The stored entry (only for a log that did not overflow): MessagePack, deflated (ids repeat their
        prefixes: a day of flow edges' keys shrink about tenfold)."""
        assert not self.overflow
        return zlib.compress(
            _ENCODER.encode(Entry(self.nodes, self.edges, sorted(self.documents), self.stamps)), 1
        )


def decode(body: bytes) -> Entry:
    """A stored entry; a ``ValueError`` (``msgspec`` errors and ``zlib.error`` alike) for anything else."""
    try:
        raw = zlib.decompress(body)
    except zlib.error as exc:
        raise ValueError(f"not a journal entry: {exc}") from exc
    return _DECODER.decode(raw)


def to_keep(sizes: list[tuple[int, int]], budget: int | None = None) -> int | None:
    """Given (generation, bytes) of the stored entries, the newest generation to prune (it and every older
    one), so the rest fit ``budget`` (default ``KEEP_BYTES``); None when all fit. The newest entry is
    always kept."""
    budget = KEEP_BYTES if budget is None else budget
    total = 0
    for gen, size in sorted(sizes, reverse=True):
        total += size
        if total > budget and gen != max(g for g, _ in sizes):
            return gen
    return None


def keys_of(entries: Iterable[Entry]) -> tuple[set[str], set[EdgeKey], set[str], tuple[Stamp, ...]]:
    """The union of the keys of these entries, and their stamps in order."""
    nodes: set[str] = set()
    edges: set[EdgeKey] = set()
    docs: set[str] = set()
    stamps: list[Stamp] = []
    for e in entries:
        nodes.update(e.nodes)
        edges.update(map(tuple, e.edges))  # type: ignore[arg-type]
        docs.update(e.documents)
        stamps.extend(e.stamps)
    return nodes, edges, docs, tuple(stamps)


def earlier(a: str | None, b: str | None) -> str | None:
    """The earlier of two stored timestamps, either possibly unknown (as a store widens first seen)."""
    return b if a is None else a if b is None else min(a, b)


def later(a: str | None, b: str | None) -> str | None:
    """The later of two stored timestamps, either possibly unknown (as a store widens last seen)."""
    return b if a is None else a if b is None else max(a, b)
