"""The embedded store: one SQLite file in WAL mode under the store directory.

WAL lets the Dash app and notebooks read while a batch job writes; every load is one transaction, so a
reader sees a generation before or after a batch, never half of it, and a crash mid-write leaves the
previous generation intact.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import msgspec

from analyzer.errors import BlastwallError, StoreLocked, StoreVersionError
from analyzer.graph import journal
from analyzer.graph.journal import ChangeLog, EdgeKey, GraphChanges, Stamp
from analyzer.graph.lease import FileLease
from analyzer.graph.schema import EDGE_KINDS, SCHEMA_VERSION, Batch, EdgeRow
from analyzer.graph.store import (
    EdgeTable,
    GraphContents,
    Interner,
    StoredEdge,
    StoredNode,
    touches_analysis,
)
from analyzer.timeutil import iso, now

DB_NAME = "blastwall.sqlite"
BUSY_TIMEOUT_MS = 30_000

_DDL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS nodes (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    props TEXT NOT NULL,
    source TEXT,
    account TEXT,
    update_tag INTEGER,
    first_seen TEXT,
    last_seen TEXT
);
CREATE INDEX IF NOT EXISTS nodes_scope ON nodes (source, account, update_tag);
CREATE TABLE IF NOT EXISTS edges (
    src TEXT NOT NULL,
    kind TEXT NOT NULL,
    dst TEXT NOT NULL,
    key TEXT NOT NULL,
    props TEXT NOT NULL,
    source TEXT,
    account TEXT,
    update_tag INTEGER,
    count INTEGER NOT NULL DEFAULT 0,
    first_seen TEXT,
    last_seen TEXT,
    PRIMARY KEY (src, kind, dst, key)
);
CREATE INDEX IF NOT EXISTS edges_scope ON edges (source, account, update_tag);
CREATE INDEX IF NOT EXISTS edges_dst ON edges (dst, kind);
CREATE TABLE IF NOT EXISTS journal (generation INTEGER PRIMARY KEY, body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    collection TEXT NOT NULL,
    id TEXT NOT NULL,
    body TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (collection, id)
);
"""

_UPSERT_NODE = """
INSERT INTO nodes (id, kind, props, source, account, update_tag, first_seen, last_seen)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET
    kind = excluded.kind,
    props = excluded.props,
    source = excluded.source,
    account = coalesce(excluded.account, nodes.account),
    update_tag = excluded.update_tag,
    first_seen = coalesce(min(nodes.first_seen, excluded.first_seen), nodes.first_seen, excluded.first_seen),
    last_seen = coalesce(max(nodes.last_seen, excluded.last_seen), nodes.last_seen, excluded.last_seen)
"""

_INSERT_STUB = """
INSERT INTO nodes (id, kind, props, source, account, update_tag, first_seen, last_seen)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET
    update_tag = CASE WHEN nodes.account IS excluded.account AND nodes.source IS excluded.source
                      THEN max(nodes.update_tag, excluded.update_tag) ELSE nodes.update_tag END,
    first_seen = coalesce(min(nodes.first_seen, excluded.first_seen), nodes.first_seen, excluded.first_seen),
    last_seen = coalesce(max(nodes.last_seen, excluded.last_seen), nodes.last_seen, excluded.last_seen)
"""

_UPSERT_EDGE = """
INSERT INTO edges (src, kind, dst, key, props, source, account, update_tag, count, first_seen, last_seen)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (src, kind, dst, key) DO UPDATE SET
    props = excluded.props,
    source = excluded.source,
    account = coalesce(excluded.account, edges.account),
    update_tag = excluded.update_tag,
    count = CASE WHEN ? THEN edges.count + excluded.count ELSE excluded.count END,
    first_seen = coalesce(min(edges.first_seen, excluded.first_seen), edges.first_seen, excluded.first_seen),
    last_seen = coalesce(max(edges.last_seen, excluded.last_seen), edges.last_seen, excluded.last_seen)
"""


PAGE_SIZE = 16384
"""The page size of a new store (SQLite's default is 4096). Every page a write changes is one or two
system calls to the WAL and again when it is copied back, and at scale L a flow-log write of 8 million
edges spent half its time in them (``pwrite64``); four times the page, a quarter the calls. A store keeps
the page size it was made with."""

SHARED_PROPS_KEPT = 4096
"""Property maps whose text one load keeps (the rows of a stream share a few: a flow's protocol and port)."""


class SqliteStore:
    """Embedded GraphStore. ``path`` is a directory; it is created if missing."""

    def __init__(self, path: Path) -> None:
        self.dir = Path(path)
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)  # a new store is its owner's only
        self.file = self.dir / DB_NAME
        if not self.file.exists():
            os.close(os.open(self.file, os.O_WRONLY | os.O_CREAT, 0o600))  # SQLite's -wal/-shm follow it
        self.uri = str(self.dir)
        try:
            self._conn = sqlite3.connect(
                self.file, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
            )
            self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if self.file.stat().st_size == 0:  # a new store: its page size is set before anything is written
                self._conn.execute(f"PRAGMA page_size = {page_size()}")
            mode = self._wal()
            self._conn.execute("PRAGMA synchronous = FULL")
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise StoreLocked(f"{self.file} stayed locked by another process: {exc}") from exc
            raise BlastwallError(f"{self.file} is not a Blastwall store: {exc}") from exc
        except sqlite3.DatabaseError as exc:
            raise BlastwallError(f"{self.file} is not a Blastwall store: {exc}") from exc
        if mode.lower() != "wal":
            raise BlastwallError(f"{self.file}: could not switch to WAL mode (got {mode})")
        self._init_schema()

    # -- setup -----------------------------------------------------------------------------------------
    def _wal(self) -> str:
        """Switch to WAL (once per store: reading the mode first takes no write lock). Changing the journal
        mode needs the database to itself and SQLite does not always wait for it (it can answer "database
        is locked" at once while another process opens or writes a new store), so reading and switching
        are retried for the busy timeout."""
        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        while True:
            try:
                mode = str(self._conn.execute("PRAGMA journal_mode").fetchone()[0])
                if mode.lower() != "wal":
                    mode = str(self._conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
                return mode
            except sqlite3.OperationalError as exc:
                if ("locked" not in str(exc) and "busy" not in str(exc)) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def _init_schema(self) -> None:
        with self._write(bump=False) as cur:
            cur.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            row = cur.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            if row is not None and int(row[0]) > SCHEMA_VERSION:
                raise StoreVersionError(
                    f"{self.file} was written by schema version {row[0]}; this Blastwall understands up to "
                    f"{SCHEMA_VERSION}. Upgrade Blastwall; the store was left untouched."
                )
            for stmt in filter(None, (s.strip() for s in _DDL.split(";"))):
                cur.execute(stmt)
            if row is None:
                cur.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
                cur.execute("INSERT INTO meta VALUES ('generation', '0')")
                cur.execute("INSERT INTO meta VALUES ('created_at', ?)", (iso(now()),))
            # a store from before the graph generation starts it at its generation
            cur.execute(
                "INSERT INTO meta SELECT 'graph_generation', value FROM meta WHERE key = 'generation' "
                "ON CONFLICT (key) DO NOTHING"
            )
            # ... and its journal there (nothing before it was recorded); a store is one instance for life
            cur.execute(
                "INSERT INTO meta SELECT 'journal_from', value FROM meta WHERE key = 'graph_generation' "
                "ON CONFLICT (key) DO NOTHING"
            )
            cur.execute(
                "INSERT INTO meta VALUES ('instance', ?) ON CONFLICT (key) DO NOTHING", (os.urandom(8).hex(),)
            )

    @contextmanager
    def _write(
        self, bump: bool = True, graph: bool = True, log: ChangeLog | None = None
    ) -> Iterator[sqlite3.Cursor]:
        """One write transaction. With ``bump``, the generation moves on, and with ``graph`` too the graph
        generation, with ``log`` (what the write touched) recorded in the journal: a graph write without
        one is taken to have changed anything, and the journal restarts after it."""
        cur = self._conn.cursor()
        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        while True:
            try:
                cur.execute("BEGIN IMMEDIATE")
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise StoreLocked(f"{self.file}: the store is locked by another writer ({exc})") from exc
                time.sleep(0.05)
        try:
            yield cur
            if bump:
                cur.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'")
                if graph:
                    cur.execute(
                        "INSERT INTO meta SELECT 'graph_generation', value FROM meta WHERE key = 'generation' "
                        "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
                    )
                    self._journal(cur, log)
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise

    @staticmethod
    def _journal(cur: sqlite3.Cursor, log: ChangeLog | None) -> None:
        gen = int(cur.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0])
        if log is None or log.overflow:
            cur.execute("DELETE FROM journal")
            cur.execute("UPDATE meta SET value = ? WHERE key = 'journal_from'", (str(gen),))
            return
        cur.execute("INSERT INTO journal VALUES (?, ?)", (gen, log.encode()))
        sizes = cur.execute("SELECT generation, length(body) FROM journal").fetchall()
        cut = journal.to_keep(sizes)
        if cut is not None:
            cur.execute("DELETE FROM journal WHERE generation <= ?", (cut,))
            cur.execute("UPDATE meta SET value = ? WHERE key = 'journal_from'", (str(cut),))

    # -- writes ----------------------------------------------------------------------------------------
    def lease(self, command: str, wait: float | None = None) -> AbstractContextManager[None]:
        return FileLease(self.dir / "write.lock").hold(command, wait)

    def load(self, batch: Batch, *, update_tag: int, account: str | None = None) -> None:
        batch.validate()
        src = batch.source
        node_rows: list[tuple[Any, ...]] = []
        stub_rows: list[tuple[Any, ...]] = []
        log = ChangeLog()
        log.expect(len(batch.nodes) + len(batch.edges) + (batch.edge_stream_rows or 0))
        for collection in batch.documents:
            if touches_analysis(collection):
                log.document(collection)
        for n in batch.nodes:
            row = (
                n.id,
                n.kind,
                json.dumps(n.props, sort_keys=True, default=str),
                src,
                n.account or account,
                update_tag,
                n.first_seen,
                n.last_seen,
            )
            (stub_rows if n.stub else node_rows).append(row)
        shared: dict[tuple[str, int], tuple[dict[str, Any], str, str]] = {}
        sums = {k: v.count_merge == "sum" for k, v in EDGE_KINDS.items()}
        empty = {k: (EdgeRow("", k, "").key, "{}") for k in EDGE_KINDS}

        def encoded(e: EdgeRow) -> tuple[str, str]:
            """(key, props text) of ``e``; for a property map many rows share (a stream's), worked out
            once (the entry holds the map, so its id is not reused while kept)."""
            if not e.props:
                return empty[e.kind]
            kept = shared.get((e.kind, id(e.props)))
            if kept is None:
                kept = (e.props, e.key, json.dumps(e.props, sort_keys=True, default=str))
                if len(shared) < SHARED_PROPS_KEPT:
                    shared[(e.kind, id(e.props))] = kept
            return kept[1], kept[2]

        def logged(rows: Iterable[tuple[Any, ...]]) -> Iterator[tuple[Any, ...]]:
            for r in rows:
                if not log.overflow:
                    log.edge(r[0], r[1], r[2], r[3])
                yield r

        edge_rows = (  # made as SQLite reads them: a stream of millions of edges is never a list
            (
                e.src,
                e.kind,
                e.dst,
                *encoded(e),
                src,
                e.account or account,
                update_tag,
                e.count,
                e.first_seen,
                e.last_seen,
                sums[e.kind],
            )
            for e in batch.all_edges()
        )
        with self._write(log=log) as cur:
            edges: Iterable[tuple[Any, ...]] = edge_rows
            if account is not None and batch.edge_stream is None:  # one account's rows: by difference
                node_rows, edges = _stamp_unchanged(cur, log, src, account, update_tag, node_rows, edge_rows)
            log.nodes_of(r[0] for r in node_rows)
            cur.executemany(_UPSERT_NODE, node_rows)
            # only the stubs that change what the store holds are written: a snapshot collected again
            # names what each account refers to outside itself, mostly as the store already holds it
            changing = _stubs_changing(cur, stub_rows)
            log.nodes_of(changing)
            written = set(changing)
            cur.executemany(_INSERT_STUB, [r for r in stub_rows if r[0] in written])
            cur.executemany(_UPSERT_EDGE, logged(edges))
            for collection, docs in batch.documents.items():
                self._put_docs(cur, collection, docs)

    def cleanup(self, *, source: str, account: str | None, update_tag: int) -> int:
        acct_clause = "account IS ?" if account is None else "account = ?"
        log = ChangeLog()
        n = 0
        with self._write(log=log) as cur:
            for row in cur.execute(
                f"DELETE FROM edges WHERE source = ? AND {acct_clause} AND update_tag < ? "
                "RETURNING src, kind, dst, key",
                (source, account, update_tag),
            ):
                log.edge(*row)
                n += 1
            # a node that goes takes every edge touching it, whoever said the edge (as DETACH DELETE does)
            for row in cur.execute(
                f"DELETE FROM edges WHERE src IN (SELECT id FROM nodes WHERE source = ? AND {acct_clause} "
                f"AND update_tag < ?) OR dst IN (SELECT id FROM nodes WHERE source = ? AND {acct_clause} "
                "AND update_tag < ?) RETURNING src, kind, dst, key",
                (source, account, update_tag, source, account, update_tag),
            ):
                log.edge(*row)
                n += 1
            for (node_id,) in cur.execute(
                f"DELETE FROM nodes WHERE source = ? AND {acct_clause} AND update_tag < ? RETURNING id",
                (source, account, update_tag),
            ):
                log.node(node_id)
                n += 1
        return n

    def put_documents(self, collection: str, docs: dict[str, dict[str, Any]]) -> None:
        log = ChangeLog(documents={collection})
        with self._write(graph=touches_analysis(collection), log=log) as cur:
            self._put_docs(cur, collection, docs)

    @staticmethod
    def _put_docs(cur: sqlite3.Cursor, collection: str, docs: dict[str, dict[str, Any]]) -> None:
        stamp = iso(now())
        cur.executemany(
            "INSERT INTO documents VALUES (?, ?, ?, ?) ON CONFLICT (collection, id) DO UPDATE SET "
            "body = excluded.body, updated_at = excluded.updated_at",
            [(collection, k, _document_text(v), stamp) for k, v in docs.items()],
        )

    def delete_documents(self, collection: str, ids: list[str]) -> None:
        log = ChangeLog(documents={collection})
        with self._write(graph=touches_analysis(collection), log=log) as cur:
            cur.executemany(
                "DELETE FROM documents WHERE collection = ? AND id = ?", [(collection, i) for i in ids]
            )

    # -- reads -----------------------------------------------------------------------------------------
    def generation(self) -> int:
        row = self._conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        return int(row[0])

    def read_graph(self) -> GraphContents:
        cur = self._conn.cursor()
        cur.execute("BEGIN")  # one read transaction: one consistent WAL snapshot
        try:
            gen = int(cur.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0])
            graph_gen = self._graph_generation(cur, gen)
            canon = Interner()
            nodes = [_node(r, canon) for r in cur.execute("SELECT * FROM nodes ORDER BY id")]
            edges = EdgeTable()
            add = edges.add
            for r in cur.execute(
                "SELECT src, kind, dst, key, props, source, account, update_tag, count, first_seen, last_seen "
                "FROM edges ORDER BY src, kind, dst, key"
            ):
                add(*r)
            edges.freeze()
            instance = self._meta_value(cur, "instance")
        finally:
            cur.execute("COMMIT")
        return GraphContents(
            generation=gen, nodes=nodes, edges=edges, graph_generation=graph_gen, instance=instance
        )

    @staticmethod
    def _meta_value(cur: sqlite3.Cursor, key: str) -> str:
        row = cur.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row is not None else ""

    def changes_since(
        self, graph_generation: int, instance: str, at_most: int | None = None
    ) -> GraphChanges | None:
        cur = self._conn.cursor()
        cur.execute("BEGIN")  # the journal and the rows it names, as of one generation
        try:
            gen = int(cur.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0])
            now_graph = self._graph_generation(cur, gen)
            since_ok = self._meta_value(cur, "journal_from")
            if (
                instance != self._meta_value(cur, "instance")
                or not since_ok
                or int(since_ok) > graph_generation
                or graph_generation > now_graph
            ):
                return None
            try:
                entries = [
                    journal.decode(body)
                    for (body,) in cur.execute(
                        "SELECT body FROM journal WHERE generation > ? ORDER BY generation",
                        (graph_generation,),
                    )
                ]
            except (ValueError, TypeError):  # msgspec's errors are ValueErrors: an entry not ours
                return None
            node_ids, edge_keys, docs, stamps = journal.keys_of(entries)
            if at_most is not None and len(node_ids) + len(edge_keys) > at_most:
                return None  # reading them would cost what reading the graph does: the caller reads it
            canon = Interner()
            nodes = {}
            for node_id in sorted(node_ids):
                r = cur.execute("SELECT * FROM nodes WHERE id = ?", (node_id,)).fetchone()
                nodes[node_id] = _node(r, canon) if r is not None else None
            # the keys in a temporary table, joined on the edges' key: SQLite seeks each in C (a row at a
            # time from Python costs four times as much); a property text many rows share decoded once
            edges: dict[EdgeKey, StoredEdge | None] = dict.fromkeys(sorted(edge_keys))  # seeks in order
            cur.execute("CREATE TEMP TABLE IF NOT EXISTS wanted_edges (src, kind, dst, key)")
            cur.execute("DELETE FROM temp.wanted_edges")
            cur.executemany("INSERT INTO temp.wanted_edges VALUES (?, ?, ?, ?)", edges)
            props: dict[str, dict[str, Any]] = {}
            c = canon.s
            for r in cur.execute(
                "SELECT e.src, e.kind, e.dst, e.key, e.props, e.source, e.account, e.update_tag, e.count, "
                "e.first_seen, e.last_seen FROM temp.wanted_edges w JOIN edges e ON e.src = w.src AND "
                "e.kind = w.kind AND e.dst = w.dst AND e.key = w.key"
            ):
                p = props.get(r[4])
                if p is None:
                    p = props[r[4]] = canon.props(r[4])
                src, kind, dst, key = c(r[0]), c(r[1]), c(r[2]), c(r[3])
                edges[(src, kind, dst, key)] = StoredEdge(
                    src, kind, dst, key, p, c(r[5]), c(r[6]), canon.i(r[7]), int(r[8] or 0), c(r[9]), c(r[10])
                )
            cur.execute("DELETE FROM temp.wanted_edges")
        finally:
            cur.execute("COMMIT")
        return GraphChanges(graph_generation, now_graph, gen, nodes, edges, frozenset(docs), stamps)

    def graph_generation(self) -> int:
        cur = self._conn.cursor()
        cur.execute("BEGIN")
        try:
            gen = int(cur.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0])
            return self._graph_generation(cur, gen)
        finally:
            cur.execute("COMMIT")

    @staticmethod
    def _graph_generation(cur: sqlite3.Cursor, gen: int) -> int:
        row = cur.execute("SELECT value FROM meta WHERE key = 'graph_generation'").fetchone()
        return int(row[0]) if row is not None else gen  # a store from before the key: every write counts

    def read_nodes(self, kinds: tuple[str, ...]) -> list[StoredNode]:
        marks = ",".join("?" * len(kinds))
        canon = Interner()
        rows = self._conn.execute(f"SELECT * FROM nodes WHERE kind IN ({marks}) ORDER BY id", kinds)
        return [_node(r, canon) for r in rows]

    def get_node(self, node_id: str) -> StoredNode | None:
        row = self._conn.execute("SELECT * FROM nodes WHERE id = ?", (node_id,)).fetchone()
        return _node(row) if row else None

    def edges_from(self, src: str, kinds: tuple[str, ...]) -> list[StoredEdge]:
        marks = ",".join("?" * len(kinds))
        rows = self._conn.execute(
            "SELECT src, kind, dst, key, props, source, account, update_tag, count, first_seen, last_seen "
            f"FROM edges WHERE src = ? AND kind IN ({marks}) ORDER BY kind, dst, key",
            (src, *kinds),
        ).fetchall()
        return [
            StoredEdge(
                src=r[0],
                kind=r[1],
                dst=r[2],
                key=r[3],
                props=json.loads(r[4] or "{}"),
                source=r[5],
                account=r[6],
                update_tag=r[7],
                count=int(r[8] or 0),
                first_seen=r[9],
                last_seen=r[10],
            )
            for r in rows
        ]

    def get_documents(self, collection: str) -> dict[str, dict[str, Any]]:
        rows = self._conn.execute(
            "SELECT id, body FROM documents WHERE collection = ? ORDER BY id", (collection,)
        ).fetchall()
        return {r[0]: json.loads(r[1]) for r in rows}

    def get_document(self, collection: str, doc_id: str) -> dict[str, Any] | None:
        row = self._conn.execute(
            "SELECT body FROM documents WHERE collection = ? AND id = ?", (collection, doc_id)
        ).fetchone()
        return json.loads(row[0]) if row else None

    def get_document_texts(self, collection: str) -> dict[str, str]:
        rows = self._conn.execute(
            "SELECT id, body FROM documents WHERE collection = ? ORDER BY id", (collection,)
        ).fetchall()
        return {r[0]: r[1] for r in rows}

    def count(self, table: str) -> int:
        if table not in {"nodes", "edges", "documents"}:
            raise ValueError(table)
        return int(self._conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])

    def close(self) -> None:
        self._conn.close()


_STAMP_NODE = """
UPDATE nodes SET update_tag = ?,
    first_seen = coalesce(min(first_seen, ?), first_seen, ?),
    last_seen = coalesce(max(last_seen, ?), last_seen, ?)
WHERE id = ?
"""

_STAMP_EDGE = """
UPDATE edges SET update_tag = ?,
    first_seen = coalesce(min(first_seen, ?), first_seen, ?),
    last_seen = coalesce(max(last_seen, ?), last_seen, ?)
WHERE src = ? AND kind = ? AND dst = ? AND key = ?
"""

_STAMP_EDGES_OF = """
UPDATE edges SET update_tag = ?,
    first_seen = coalesce(min(first_seen, ?), first_seen, ?),
    last_seen = coalesce(max(last_seen, ?), last_seen, ?)
WHERE source = ? AND account = ?
"""

_RESTORE_EDGE = """
UPDATE edges SET update_tag = ?, first_seen = ?, last_seen = ? WHERE src = ? AND kind = ? AND dst = ? AND key = ?
"""


def page_size() -> int:
    """The page size of a new store (``$BLASTWALL_SQLITE_PAGE_SIZE``: a power of two, 512 to 65536)."""
    env = os.environ.get("BLASTWALL_SQLITE_PAGE_SIZE")
    if not env:
        return PAGE_SIZE
    size = int(env) if env.isdigit() else 0
    if size < 512 or size > 65536 or size & (size - 1):
        raise BlastwallError(f"BLASTWALL_SQLITE_PAGE_SIZE={env}: a power of two from 512 to 65536")
    return size


def _stamp_unchanged(
    cur: sqlite3.Cursor,
    log: ChangeLog,
    source: str,
    account: str,
    tag: int,
    node_rows: list[tuple[Any, ...]],
    edge_rows: Iterable[tuple[Any, ...]],
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Stamp the rows of one account's load that the store already holds as they are (same kind,
    properties, source and account; an edge's count unchanged by the write), journalled as one stamp per
    table (``journal.Stamp``) instead of a key per row; return the rows still to write. The result is the
    store an upsert of every row makes: a stamp sets what the upsert would (the tag, first/last seen
    widened) and nothing else changes."""
    held = {
        r[0]: (r[1], r[2])
        for r in cur.execute(
            "SELECT id, kind, props FROM nodes WHERE source = ? AND account = ?", (source, account)
        )
    }
    nodes_same, write_nodes, pair = _unchanged(
        node_rows,
        lambda r: r[4] == account and held.get(r[0]) == (r[1], r[2]),
        lambda r: (r[6], r[7]),
        lambda r: r[0],
    )
    cur.executemany(_STAMP_NODE, [(tag, pair[0], pair[0], pair[1], pair[1], i) for i in nodes_same])
    same_ids = set(nodes_same)
    log.stamp(Stamp("nodes", source, account, tag, *pair, [i for i in held if i not in same_ids], []))
    held_edges = {
        (r[0], r[1], r[2], r[3]): r[4:]  # props, count, tag, first and last seen
        for r in cur.execute(
            "SELECT src, kind, dst, key, props, count, update_tag, first_seen, last_seen FROM edges "
            "WHERE source = ? AND account = ?",
            (source, account),
        )
    }

    def same_edge(r: tuple[Any, ...]) -> bool:
        got = held_edges.get((r[0], r[1], r[2], r[3]))
        return (
            got is not None
            and r[6] == account
            and got[0] == r[4]
            and (r[8] == 0 if r[11] else r[8] == got[1])  # a summed count adds nothing; a set one is equal
        )

    edges_same, write_edges, epair = _unchanged(
        list(edge_rows), same_edge, lambda r: (r[9], r[10]), lambda r: (r[0], r[1], r[2], r[3])
    )
    same_keys = set(edges_same)
    others = [k for k in held_edges if k not in same_keys]
    stamp = (tag, epair[0], epair[0], epair[1], epair[1])
    if same_keys and len(others) <= len(same_keys):
        # most of the account is as it was: one statement stamps all it holds (an update by key costs
        # 2.5 times as much a row at L), then the rows the stamp does not cover get their own values back
        cur.execute(_STAMP_EDGES_OF, (*stamp, source, account))
        cur.executemany(_RESTORE_EDGE, [(*held_edges[k][2:], *k) for k in others])
    else:
        cur.executemany(_STAMP_EDGE, [(*stamp, *k) for k in edges_same])
    log.stamp(Stamp("edges", source, account, tag, *epair, [], others))
    return write_nodes, write_edges


def _stubs_changing(cur: sqlite3.Cursor, stub_rows: list[tuple[Any, ...]]) -> list[str]:
    """The ids of the stub rows whose write (``_INSERT_STUB``) will change what the store holds: a node it
    creates, or one whose tag it moves on (same source and account) or whose times it widens. Evidence
    names hundreds of thousands of resources a snapshot holds; only what a stub changes is journalled."""
    out: list[str] = []
    for lo in range(0, len(stub_rows), 500):
        chunk = stub_rows[lo : lo + 500]
        marks = ",".join("?" * len(chunk))
        have = {
            r[0]: r[1:]
            for r in cur.execute(
                f"SELECT id, source, account, update_tag, first_seen, last_seen FROM nodes WHERE id IN ({marks})",
                [r[0] for r in chunk],
            )
        }
        for r in chunk:
            h = have.get(r[0])
            if h is None:
                out.append(r[0])
                continue
            source, account, tag, first, last = h
            moved = source == r[3] and account == r[4] and tag is not None and r[5] > tag
            if moved or journal.earlier(first, r[6]) != first or journal.later(last, r[7]) != last:
                out.append(r[0])
    return out


def _unchanged(
    rows: list[tuple[Any, ...]],
    same: Callable[[tuple[Any, ...]], bool],
    seen: Callable[[tuple[Any, ...]], tuple[str | None, str | None]],
    key: Callable[[tuple[Any, ...]], Any],
) -> tuple[list[Any], list[tuple[Any, ...]], tuple[str | None, str | None]]:
    """(keys of the rows ``same`` holds for and whose first/last seen are the most common pair, the other
    rows, that pair): one stamp widens every row it covers to the same times."""
    pairs = Counter(seen(r) for r in rows if same(r))
    pair = pairs.most_common(1)[0][0] if pairs else (None, None)
    keep: list[Any] = []
    write: list[tuple[Any, ...]] = []
    for r in rows:
        if seen(r) == pair and same(r):
            keep.append(key(r))
        else:
            write.append(r)
    return keep, write, pair


def _node(r: tuple[Any, ...], canon: Interner | None = None) -> StoredNode:
    canon = canon or Interner()
    c = canon.s
    return StoredNode(
        c(r[0]), c(r[1]), canon.node_props(r[2]), c(r[3]), c(r[4]), canon.i(r[5]), c(r[6]), c(r[7])
    )


_DOC_ENCODER = msgspec.json.Encoder(order="sorted", enc_hook=str)


def _document_text(doc: dict[str, Any]) -> str:
    """A document as stored: compact JSON, keys sorted (a batch of results is hundreds of MB; msgspec
    encodes it several times faster than ``json.dumps``), ``json.dumps`` for what msgspec refuses."""
    try:
        return _DOC_ENCODER.encode(doc).decode()
    except (TypeError, ValueError, OverflowError):
        return json.dumps(doc, sort_keys=True, default=str)
