"""The GraphStore protocol and ``open_store``, which picks the store from a URI or path."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from analyzer.graph.schema import Batch

DEFAULT_STORE = ".blastwall"


@dataclass(frozen=True)
class StoredNode:
    id: str
    kind: str
    props: dict[str, Any]
    source: str | None
    account: str | None
    update_tag: int | None
    first_seen: str | None
    last_seen: str | None


@dataclass(frozen=True)
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
