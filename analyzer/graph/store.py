"""The GraphStore protocol and ``open_store``, which picks the store from a URI or path."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from analyzer.graph.schema import Batch

DEFAULT_STORE = ".blastwall"


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

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("stored properties are read-only")

    __setitem__ = __delitem__ = setdefault = update = pop = popitem = clear = __ior__ = _refuse


EMPTY_PROPS: dict[str, Any] = FrozenProps()


class Interner:
    """Rows read from a store share their repeated parts: one string object per distinct id, kind,
    source, account or timestamp (a node's id is the same object in every edge naming it), and property
    maps decoded with msgspec, whose key cache shares the repeated keys. At a million nodes this is most of
    the snapshot's memory."""

    def __init__(self) -> None:
        self._strings: dict[str, str] = {}
        self._ints: dict[int, int] = {}

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
        return self.shared(value)

    @staticmethod
    def shared(value: dict[str, Any]) -> dict[str, Any]:
        return value if value else EMPTY_PROPS


def _msgspec_decode(text: str | bytes) -> Any:
    import msgspec

    return msgspec.json.decode(text)


@dataclass(frozen=True)
class GraphContents:
    """A consistent read of the whole graph: what one generation of the store held."""

    generation: int
    nodes: list[StoredNode]
    edges: list[StoredEdge]


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

    def read_graph(self) -> GraphContents:
        """Every node and edge, as of one generation (never half of a batch)."""

    def get_node(self, node_id: str) -> StoredNode | None: ...

    def put_documents(self, collection: str, docs: dict[str, dict[str, Any]]) -> None:
        """Upsert JSON documents (proposals, results, ingested-file records) atomically."""

    def get_documents(self, collection: str) -> dict[str, dict[str, Any]]: ...

    def get_document_texts(self, collection: str) -> dict[str, str]:
        """The documents of ``collection`` as their stored JSON text, not decoded (for large collections
        decoded piece by piece, e.g. ``analyzer.network.documents.NetworkDocuments``)."""

    def delete_documents(self, collection: str, ids: list[str]) -> None: ...

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
