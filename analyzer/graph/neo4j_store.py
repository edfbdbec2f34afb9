"""The Neo4j store: the same graph over Bolt through the official ``neo4j`` driver.

Portable Cypher only (UNWIND, MERGE, MATCH, SET, DELETE); dialect-specific DDL lives in ``_ddl``.
Two dialects are known:

* ``neo4j``: a load is one managed write transaction (``session.execute_write``), chunked UNWINDs
  inside it, so it is atomic.
* ``falkordb`` (FalkorDB's experimental Bolt endpoint, used by the tests): explicit transactions are
  not honoured, the database name is ignored (one server, one graph), it reports itself as "Neo4j/5.13"
  (so the dialect is probed with ``dbms.components()``), and a query whose parameters exceed about
  4 KB crashes the server, so a load is a series
  of small auto-commit UNWIND queries bracketed by a writer mark on the ``BWMeta`` node. Readers check
  that mark and the generation before and after they read, and retry, so they still never see half of a
  batch. A server that dies mid-load leaves rows of the new update tag next to the old ones; running the
  same load again completes it (loads are idempotent).
"""

from __future__ import annotations

import atexit
import base64
import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

from analyzer.errors import BlastwallError, StoreLocked, StoreVersionError
from analyzer.graph import journal
from analyzer.graph.journal import ChangeLog, EdgeKey, GraphChanges, Stamp
from analyzer.graph.lease import GraphLease
from analyzer.graph.schema import SCHEMA_VERSION, Batch, EdgeRow, NodeRow, edge_kind
from analyzer.graph.store import (
    EdgeTable,
    GraphContents,
    Interner,
    StoredEdge,
    StoredNode,
    touches_analysis,
)
from analyzer.timeutil import iso, now

META_ID = "meta"
B64 = "b64:"
WRITER_LEASE_S = 60
"""A writer renews its mark as it goes; a writer that died stops blocking others after this long."""
FALKOR_MAX_PARAM_BYTES = 3000
NEO4J_CHUNK_ROWS = 5000
FALKOR_JOURNAL_LIMIT = 20_000
"""Keys a write journals on FalkorDB (its entries go in ~3 KB pieces); a bigger write restarts it."""


class Neo4jStore:
    def __init__(
        self,
        uri: str,
        *,
        user: str = "neo4j",
        password: str = "",
        database: str | None = None,
        dialect: str | None = None,
    ) -> None:
        self.uri = uri
        self.database = database or "blastwall"
        self._renewed_at = 0.0
        self._driver = shared_driver(uri, user, password)
        self.dialect = dialect or self._detect_dialect()
        self._init_schema()

    def _detect_dialect(self) -> str:
        """FalkorDB announces itself as "Neo4j/5.x" over Bolt, so ask: only Neo4j has dbms.components()."""
        try:
            self._q("CALL dbms.components() YIELD name RETURN name", write=False)
            return "neo4j"
        except Exception:
            return "falkordb"

    @classmethod
    def from_uri(cls, uri: str) -> Neo4jStore:
        """``bolt://[user[:password]@]host:port[?database=NAME&dialect=falkordb]``."""
        parts = urlsplit(uri)
        query = parse_qs(parts.query)
        user = parts.username or os.environ.get("NEO4J_USER", "neo4j")
        password = parts.password or os.environ.get("NEO4J_PASSWORD", "")
        host = parts.hostname or "localhost"
        netloc = f"{host}:{parts.port}" if parts.port else host
        clean = urlunsplit((parts.scheme, netloc, "", "", ""))
        database = (query.get("database") or [os.environ.get("NEO4J_DATABASE", "blastwall")])[0]
        dialect = query["dialect"][0] if query.get("dialect") else None
        return cls(clean, user=user, password=password, database=database, dialect=dialect)

    # -- plumbing --------------------------------------------------------------------------------------
    def _q(self, cypher: str, write: bool = True, **params: Any) -> list[dict[str, Any]]:
        """One query in a managed transaction. (``driver.execute_query`` costs ~44 ms a call against
        FalkorDB, a managed transaction in a session ~3 ms.)"""

        def work(tx: Any) -> list[dict[str, Any]]:
            return [dict(r) for r in tx.run(cypher, **params)]

        with self._driver.session(database=self.database) as session:
            return session.execute_write(work) if write else session.execute_read(work)

    def _ddl(self) -> list[str]:
        """Index/constraint statements for the dialect (the one place Cypher dialects differ)."""
        if self.dialect == "falkordb":
            return [
                "CREATE INDEX FOR (n:BWNode) ON (n.id)",
                "CREATE INDEX FOR (d:BWDoc) ON (d.uid)",
                "CREATE INDEX FOR (m:BWMeta) ON (m.id)",
            ]
        return [
            "CREATE CONSTRAINT bw_node_id IF NOT EXISTS FOR (n:BWNode) REQUIRE n.id IS UNIQUE",
            "CREATE CONSTRAINT bw_doc_uid IF NOT EXISTS FOR (d:BWDoc) REQUIRE d.uid IS UNIQUE",
            "CREATE CONSTRAINT bw_meta_id IF NOT EXISTS FOR (m:BWMeta) REQUIRE m.id IS UNIQUE",
        ]

    def _init_schema(self) -> None:
        rows = self._q("MATCH (m:BWMeta {id: $id}) RETURN m.schema_version AS v", write=False, id=META_ID)
        if rows and rows[0]["v"] is not None and int(rows[0]["v"]) > SCHEMA_VERSION:
            raise StoreVersionError(
                f"graph {self.database} at {_redact(self.uri)} was written by schema version {rows[0]['v']}; "
                f"this Blastwall understands up to {SCHEMA_VERSION}. It was left untouched."
            )
        existing: set[str] = set()
        if self.dialect == "falkordb":  # it fails (with no useful message) on an index that exists
            existing = {r["label"] for r in self._q("CALL db.indexes()", write=False)}
        for stmt in self._ddl():
            label = stmt.split(":", 1)[1].split(")", 1)[0]
            if label in existing:
                continue
            try:
                self._q(stmt)
            except Exception as exc:  # an index that already exists is fine
                if "already" not in str(exc).lower():
                    raise
        self._q(
            "MERGE (m:BWMeta {id: $id}) ON CREATE SET m.schema_version = $v, m.generation = 0, "
            "m.graph_generation = 0, m.created_at = $t "
            "SET m.graph_generation = coalesce(m.graph_generation, m.generation), "
            "m.journal_from = coalesce(m.journal_from, m.graph_generation, m.generation), "
            "m.instance = coalesce(m.instance, $instance)",
            id=META_ID,
            v=SCHEMA_VERSION,
            t=iso(now()),
            instance=uuid.uuid4().hex[:16],
        )

    def _chunks(self, rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
        if self.dialect != "falkordb":
            for i in range(0, len(rows), NEO4J_CHUNK_ROWS):
                yield rows[i : i + NEO4J_CHUNK_ROWS]
            return
        chunk: list[dict[str, Any]] = []
        size = 0
        for r in rows:
            n = _size(r)
            if chunk and size + n > FALKOR_MAX_PARAM_BYTES:
                yield chunk
                chunk, size = [], 0
            chunk.append(r)
            size += n
        if chunk:
            yield chunk

    def _write(self, statements: list[Stmt], graph: bool = True, log: ChangeLog | None = None) -> None:
        """Run the statements as one unit (see the module docstring); ``graph``: they change what analysis
        reads (``graph_generation`` follows ``generation``, and ``log``, what they touched, goes in the
        journal: a graph write without one, or one that failed half-way, restarts the journal)."""
        bump = "WITH m, m.generation + 1 AS g SET m.generation = g" + (
            ", m.graph_generation = g" if graph else ""
        )
        if self.dialect != "falkordb":

            def work(tx: Any) -> None:
                for st in statements:
                    if st.rowless:
                        tx.run(st.cypher, **st.params).consume()
                    for chunk in self._chunks(st.rows):
                        tx.run(st.cypher, rows=chunk, **st.params).consume()
                g = tx.run(f"MATCH (m:BWMeta {{id: $id}}) {bump} RETURN g", id=META_ID).single()["g"]
                if graph:
                    self._journal(lambda q, **p: [dict(r) for r in tx.run(q, **p)], int(g), log)

            with self._driver.session(database=self.database) as s:
                s.execute_write(work)
            return
        token = uuid.uuid4().hex
        self._acquire(token)
        done = False
        try:
            for st in statements:
                if st.rowless:
                    self._q(st.cypher, **st.params)
                small = []
                for r in st.rows:
                    if _size(r) <= FALKOR_MAX_PARAM_BYTES or st.big_field is None:
                        small.append(r)
                    else:
                        self._write_oversize(st, r)
                for chunk in self._chunks(small):
                    self._q(st.cypher, rows=chunk, **st.params)
                    self._renew(token)
            done = True
        finally:
            # the entry goes in while the writer mark still keeps readers out: a reader never sees the
            # new generation without what it changed (the generation it will have: ours to give)
            if graph:
                try:
                    g = self._q("MATCH (m:BWMeta {id: $id}) RETURN m.generation AS g", id=META_ID)[0]["g"]
                    self._journal(self._q, int(g) + 1, log if done else None)
                except Exception:
                    self._q("MATCH (m:BWMeta {id: $id}) SET m.journal_from = m.generation + 1", id=META_ID)
                    raise
                finally:
                    self._q(
                        "MATCH (m:BWMeta {id: $id}) WHERE m.writer = $token "
                        f"SET m.writer = null, m.writer_until = null {bump}",
                        id=META_ID,
                        token=token,
                    )
            else:
                self._q(
                    "MATCH (m:BWMeta {id: $id}) WHERE m.writer = $token "
                    f"SET m.writer = null, m.writer_until = null {bump}",
                    id=META_ID,
                    token=token,
                )

    def _journal(self, q: Callable[..., list[dict[str, Any]]], gen: int, log: ChangeLog | None) -> None:
        """Record ``log`` as generation ``gen``'s entry (in pieces a query can carry), pruning the oldest
        past ``journal.KEEP_BYTES``; without one, restart the journal at ``gen``."""
        limit = FALKOR_JOURNAL_LIMIT if self.dialect == "falkordb" else journal.LIMIT
        if log is None or log.overflow or len(log.nodes) + len(log.edges) > limit:
            q("MATCH (j:BWJournal) DELETE j")
            q("MATCH (m:BWMeta {id: $id}) SET m.journal_from = $g", id=META_ID, g=gen)
            return
        text = base64.b64encode(log.encode()).decode("ascii")
        step = FALKOR_MAX_PARAM_BYTES - 200 if self.dialect == "falkordb" else 1 << 20
        for part, i in enumerate(range(0, max(len(text), 1), step)):
            q(
                "CREATE (:BWJournal {generation: $g, part: $part, body: $body})",
                g=gen,
                part=part,
                body=text[i : i + step],
            )
        sizes = q("MATCH (j:BWJournal) RETURN j.generation AS g, sum(size(j.body)) AS b")
        cut = journal.to_keep([(int(r["g"]), int(r["b"])) for r in sizes])
        if cut is not None:
            q("MATCH (j:BWJournal) WHERE j.generation <= $cut DELETE j", cut=cut)
            q("MATCH (m:BWMeta {id: $id}) SET m.journal_from = $cut", id=META_ID, cut=cut)

    def _write_oversize(self, st: Stmt, row: dict[str, Any]) -> None:
        """FalkorDB only: write a row whose big text field would overflow one query, in pieces."""
        assert st.big_field is not None and st.append_cypher is not None
        text = str(row[st.big_field])
        self._q(st.cypher, rows=[{**row, st.big_field: ""}], **st.params)
        keys = {k: row[k] for k in st.key_fields}
        step = FALKOR_MAX_PARAM_BYTES // 2
        for i in range(0, len(text), step):
            self._q(st.append_cypher, part=text[i : i + step], **keys)

    def _renew(self, token: str) -> None:
        """Extend our writer lease (at most once every few seconds), so only a dead writer's expires."""
        now_s = time.time()
        if now_s - self._renewed_at < WRITER_LEASE_S / 6:
            return
        self._renewed_at = now_s
        self._q(
            "MATCH (m:BWMeta {id: $id}) WHERE m.writer = $token SET m.writer_until = $until",
            id=META_ID,
            token=token,
            until=now_s + WRITER_LEASE_S,
        )

    def _acquire(self, token: str, timeout_s: float = 2 * WRITER_LEASE_S) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            t = time.time()
            rows = self._q(
                "MATCH (m:BWMeta {id: $id}) WHERE m.writer IS NULL OR m.writer_until < $t "
                "SET m.writer = $token, m.writer_until = $until RETURN m.writer AS w",
                id=META_ID,
                t=t,
                token=token,
                until=t + WRITER_LEASE_S,
            )
            if rows and rows[0]["w"] == token:
                self._renewed_at = t
                return
            if time.monotonic() > deadline:
                raise StoreLocked(f"graph {self.database}: another writer holds the store")
            time.sleep(0.05)

    # -- value encoding --------------------------------------------------------------------------------
    def _encode(self, value: Any) -> str:
        """JSON text. FalkorDB's Bolt endpoint pastes string parameters into single-quoted query text
        (a ``'`` breaks the query, ``\\b`` becomes a backspace), so there it is base64 behind ``b64:``."""
        text = json.dumps(value, sort_keys=True, default=str)
        if self.dialect == "falkordb":
            return B64 + base64.b64encode(text.encode("utf-8")).decode("ascii")
        return text

    def _checked(self, row: dict[str, Any]) -> dict[str, Any]:
        """FalkorDB only: refuse, with the value named, a plain string it would corrupt."""
        if self.dialect == "falkordb":
            for key, value in row.items():
                if isinstance(value, str) and ("'" in value or "\\" in value):
                    raise BlastwallError(
                        f"FalkorDB's Bolt endpoint cannot carry ' or \\ in {key}={value!r}; use a Neo4j server"
                    )
        return row

    # -- writes ----------------------------------------------------------------------------------------
    def lease(self, command: str, wait: float | None = None) -> AbstractContextManager[None]:
        return GraphLease(self._q, f"{self.database}:write").hold(command, wait)

    def load(self, batch: Batch, *, update_tag: int, account: str | None = None) -> None:
        batch.validate()
        log = ChangeLog()
        log.expect(len(batch.nodes) + len(batch.edges) + (batch.edge_stream_rows or 0))
        log.nodes_of(n.id for n in batch.nodes)
        for collection in batch.documents:
            if touches_analysis(collection):
                log.document(collection)
        statements: list[Stmt] = []
        by_kind: dict[tuple[str, bool], list[dict[str, Any]]] = {}
        for n in batch.nodes:
            by_kind.setdefault((n.kind, n.stub), []).append(
                self._checked(_node_param(n, account, self._encode))
            )
        for (kind, stub), rows in sorted(by_kind.items(), key=lambda kv: kv[0][1], reverse=True):
            # stubs first, so a full row of the same id in this batch wins. A label per kind helps people
            # query Neo4j; FalkorDB slows down with every node a label is added to, so it gets none.
            label = f"n:{kind}, " if self.dialect == "neo4j" else ""
            if stub:
                cypher = (
                    "UNWIND $rows AS r MERGE (n:BWNode {id: r.id}) "
                    f"ON CREATE SET {label}n.kind = r.kind, n.props = r.props, n.source = $source, "
                    "n.account = r.account, n.update_tag = $tag, n.first_seen = r.first_seen, "
                    "n.last_seen = r.last_seen ON MATCH SET n.update_tag = CASE WHEN n.account = r.account "
                    "AND n.source = $source AND n.update_tag < $tag THEN $tag ELSE n.update_tag END, "
                    + _widen("n")
                )
            else:
                cypher = (
                    f"UNWIND $rows AS r MERGE (n:BWNode {{id: r.id}}) SET {label}n.kind = r.kind, "
                    "n.props = r.props, n.source = $source, n.account = coalesce(r.account, n.account), "
                    "n.update_tag = $tag, " + _widen("n")
                )
            statements.append(
                Stmt(
                    cypher,
                    rows,
                    {"source": batch.source, "tag": update_tag},
                    "props",
                    "MATCH (n:BWNode {id: $id}) SET n.props = n.props + $part",
                    ("id",),
                )
            )
        by_edge: dict[str, list[dict[str, Any]]] = {}
        for e in batch.all_edges():
            row = self._checked(_edge_param(e, account, self._encode))
            by_edge.setdefault(e.kind, []).append(row)
            log.edge(e.src, e.kind, e.dst, row["key"])
        for kind, rows in by_edge.items():
            count = "coalesce(e.count, 0) + r.count" if edge_kind(kind).count_merge == "sum" else "r.count"
            cypher = (
                "UNWIND $rows AS r MATCH (a:BWNode {id: r.src}) MATCH (b:BWNode {id: r.dst}) "
                f"MERGE (a)-[e:{kind} {{key: r.key}}]->(b) SET e.props = r.props, e.source = $source, "
                f"e.account = coalesce(r.account, e.account), e.update_tag = $tag, e.count = {count}, "
                + _widen("e")
            )
            statements.append(
                Stmt(
                    cypher,
                    rows,
                    {"source": batch.source, "tag": update_tag},
                    "props",
                    f"MATCH (:BWNode {{id: $src}})-[e:{kind} {{key: $key}}]->(:BWNode {{id: $dst}}) "
                    "SET e.props = e.props + $part",
                    ("src", "key", "dst"),
                )
            )
        for collection, docs in batch.documents.items():
            statements.append(self._doc_statement(collection, docs))
        self._write(statements, log=log)

    def cleanup(self, *, source: str, account: str | None, update_tag: int) -> int:
        acct = "n.account IS NULL" if account is None else "n.account = $account"
        eacct = "e.account IS NULL" if account is None else "e.account = $account"
        params = {"source": source, "account": account, "tag": update_tag}
        before = self._counts()
        # what goes, read first (the write lease keeps other writers out meanwhile): the edges said by
        # this scope, and every edge of a node that goes
        log = ChangeLog()
        edge = "RETURN a.id AS s, type(e) AS k, b.id AS d, e.key AS key"
        cond = acct.replace("n.", "{v}.") + " AND {v}.source = $source AND {v}.update_tag < $tag"
        for q in (
            f"MATCH (a:BWNode)-[e]->(b:BWNode) WHERE {cond.format(v='e')} {edge}",
            f"MATCH (a:BWNode)-[e]->(b:BWNode) WHERE {cond.format(v='a')} {edge}",
            f"MATCH (a:BWNode)-[e]->(b:BWNode) WHERE {cond.format(v='b')} {edge}",
        ):
            for r in self._q(q, write=False, **params):
                log.edge(r["s"], r["k"], r["d"], r["key"] or "")
        nodes = (
            f"MATCH (n:BWNode) WHERE n.source = $source AND {acct} AND n.update_tag < $tag RETURN n.id AS i"
        )
        log.nodes_of(r["i"] for r in self._q(nodes, write=False, **params))
        self._write(
            [
                Stmt(
                    f"MATCH ()-[e]->() WHERE e.source = $source AND {eacct} AND e.update_tag < $tag DELETE e",
                    [],
                    params,
                ),
                Stmt(
                    f"MATCH (n:BWNode) WHERE n.source = $source AND {acct} AND n.update_tag < $tag "
                    "DETACH DELETE n",
                    [],
                    params,
                ),
            ],
            log=log,
        )
        after = self._counts()
        return (before[0] - after[0]) + (before[1] - after[1])

    def _counts(self) -> tuple[int, int]:
        n = self._q("MATCH (n:BWNode) RETURN count(n) AS c", write=False)[0]["c"]
        e = self._q("MATCH (:BWNode)-[e]->(:BWNode) RETURN count(e) AS c", write=False)[0]["c"]
        return int(n), int(e)

    def put_documents(self, collection: str, docs: dict[str, dict[str, Any]]) -> None:
        self._write(
            [self._doc_statement(collection, docs)],
            graph=touches_analysis(collection),
            log=ChangeLog(documents={collection}),
        )

    def _doc_statement(self, collection: str, docs: dict[str, dict[str, Any]]) -> Stmt:
        rows = [
            self._checked({"uid": f"{collection}/{k}", "id": k, "body": self._encode(v)})
            for k, v in docs.items()
        ]
        return Stmt(
            "UNWIND $rows AS r MERGE (d:BWDoc {uid: r.uid}) SET d.collection = $c, d.id = r.id, "
            "d.body = r.body, d.updated_at = $t",
            rows,
            {"c": collection, "t": iso(now())},
            "body",
            "MATCH (d:BWDoc {uid: $uid}) SET d.body = d.body + $part",
            ("uid",),
        )

    def delete_documents(self, collection: str, ids: list[str]) -> None:
        rows = [{"uid": f"{collection}/{i}"} for i in ids]
        self._write(
            [Stmt("UNWIND $rows AS r MATCH (d:BWDoc {uid: r.uid}) DELETE d", rows, {})],
            graph=touches_analysis(collection),
            log=ChangeLog(documents={collection}),
        )

    # -- reads -----------------------------------------------------------------------------------------
    def generation(self) -> int:
        return int(self._meta()["generation"])

    def graph_generation(self) -> int:
        return int(self._meta()["graph_generation"])

    def _meta(self) -> dict[str, Any]:
        rows = self._q(
            "MATCH (m:BWMeta {id: $id}) RETURN m.generation AS generation, "
            "coalesce(m.graph_generation, m.generation) AS graph_generation, "
            "m.journal_from AS journal_from, m.instance AS instance, "
            "CASE WHEN m.writer_until > $t THEN m.writer ELSE null END AS writer",
            write=False,
            id=META_ID,
            t=time.time(),
        )
        return rows[0]

    def _consistent(
        self, read: Callable[[], Any], timeout_s: float = 3 * WRITER_LEASE_S
    ) -> tuple[dict[str, Any], Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            m1 = self._meta()
            if m1["writer"] is None:
                value = read()
                m2 = self._meta()
                if m2["writer"] is None and m1["generation"] == m2["generation"]:
                    return m1, value
            if time.monotonic() > deadline:
                raise StoreLocked(f"graph {self.database}: writes kept going; no consistent read possible")
            time.sleep(0.05)

    def read_graph(self) -> GraphContents:
        def read() -> tuple[list[StoredNode], EdgeTable]:
            nrows = self._q(
                "MATCH (n:BWNode) RETURN n.id AS id, n.kind AS kind, n.props AS props, n.source AS source, "
                "n.account AS account, n.update_tag AS tag, n.first_seen AS fs, n.last_seen AS ls",
                write=False,
            )
            erows = self._q(
                "MATCH (a:BWNode)-[e]->(b:BWNode) RETURN a.id AS src, type(e) AS kind, b.id AS dst, "
                "e.key AS key, e.props AS props, e.source AS source, e.account AS account, "
                "e.update_tag AS tag, e.count AS count, e.first_seen AS fs, e.last_seen AS ls",
                write=False,
            )
            canon = Interner()
            nodes = sorted((_stored_node(r, canon) for r in nrows), key=lambda n: n.id)
            edges = EdgeTable()
            for r in sorted(erows, key=lambda r: (r["src"], r["kind"], r["dst"], r["key"] or "")):
                edges.add(
                    r["src"],
                    r["kind"],
                    r["dst"],
                    r["key"] or "",
                    _text(r["props"]),
                    r["source"],
                    r["account"],
                    r["tag"],
                    int(r["count"] or 0),
                    r["fs"],
                    r["ls"],
                )
            return nodes, edges.freeze()

        meta, (nodes, edges) = self._consistent(read)
        return GraphContents(
            int(meta["generation"]),
            nodes,
            edges,
            graph_generation=int(meta["graph_generation"]),
            instance=str(meta["instance"] or ""),
        )

    def changes_since(
        self, graph_generation: int, instance: str, at_most: int | None = None
    ) -> GraphChanges | None:
        def read() -> (
            tuple[set[str], dict[str, StoredNode | None], dict[EdgeKey, StoredEdge | None], tuple[Stamp, ...]]
            | None
        ):
            parts = self._q(
                "MATCH (j:BWJournal) WHERE j.generation > $g RETURN j.generation AS g, j.part AS p, "
                "j.body AS body",
                write=False,
                g=graph_generation,
            )
            texts: dict[int, list[tuple[int, str]]] = {}
            for r in parts:
                texts.setdefault(int(r["g"]), []).append((int(r["p"]), str(r["body"])))
            try:
                entries = [
                    journal.decode(base64.b64decode("".join(t for _, t in sorted(texts[g]))))
                    for g in sorted(texts)
                ]
            except (ValueError, TypeError):
                return None
            node_ids, edge_keys, docs, stamps = journal.keys_of(entries)
            if at_most is not None and len(node_ids) + len(edge_keys) > at_most:
                return None  # reading them would cost what reading the graph does: the caller reads it
            canon = Interner()
            nodes: dict[str, StoredNode | None] = dict.fromkeys(sorted(node_ids))
            for chunk in self._chunks([{"id": i} for i in nodes]):
                for r in self._q(
                    "UNWIND $rows AS r MATCH (n:BWNode {id: r.id}) RETURN n.id AS id, n.kind AS kind, "
                    "n.props AS props, n.source AS source, n.account AS account, n.update_tag AS tag, "
                    "n.first_seen AS fs, n.last_seen AS ls",
                    write=False,
                    rows=chunk,
                ):
                    nodes[r["id"]] = _stored_node(r, canon)
            edges: dict[EdgeKey, StoredEdge | None] = dict.fromkeys(sorted(edge_keys))
            rows = [{"src": s, "kind": k, "dst": d, "key": key} for s, k, d, key in edges]
            for chunk in self._chunks(rows):
                for r in self._q(
                    "UNWIND $rows AS r MATCH (a:BWNode {id: r.src})-[e]->(b:BWNode {id: r.dst}) "
                    "WHERE type(e) = r.kind AND coalesce(e.key, '') = r.key RETURN a.id AS src, "
                    "type(e) AS kind, b.id AS dst, e.key AS key, e.props AS props, e.source AS source, "
                    "e.account AS account, e.update_tag AS tag, e.count AS count, e.first_seen AS fs, "
                    "e.last_seen AS ls",
                    write=False,
                    rows=chunk,
                ):
                    e = _stored_edge(r, canon)
                    edges[(e.src, e.kind, e.dst, e.key)] = e
            return docs, nodes, edges, stamps

        meta = self._meta()
        if (
            str(meta["instance"] or "") != instance
            or meta["journal_from"] is None
            or int(meta["journal_from"]) > graph_generation
            or graph_generation > int(meta["graph_generation"])
        ):
            return None
        meta, got = self._consistent(read)
        if got is None or int(meta["journal_from"]) > graph_generation:
            return None
        docs, nodes, edges, stamps = got
        return GraphChanges(
            graph_generation,
            int(meta["graph_generation"]),
            int(meta["generation"]),
            nodes,
            edges,
            frozenset(docs),
            stamps,
        )

    def read_nodes(self, kinds: tuple[str, ...]) -> list[StoredNode]:
        rows = self._q(
            "MATCH (n:BWNode) WHERE n.kind IN $kinds RETURN n.id AS id, n.kind AS kind, n.props AS props, "
            "n.source AS source, n.account AS account, n.update_tag AS tag, n.first_seen AS fs, "
            "n.last_seen AS ls",
            write=False,
            kinds=list(kinds),
        )
        canon = Interner()
        return sorted((_stored_node(r, canon) for r in rows), key=lambda n: n.id)

    def get_node(self, node_id: str) -> StoredNode | None:
        rows = self._q(
            "MATCH (n:BWNode {id: $id}) RETURN n.id AS id, n.kind AS kind, n.props AS props, "
            "n.source AS source, n.account AS account, n.update_tag AS tag, n.first_seen AS fs, "
            "n.last_seen AS ls",
            write=False,
            id=node_id,
        )
        return _stored_node(rows[0]) if rows else None

    def edges_from(self, src: str, kinds: tuple[str, ...]) -> list[StoredEdge]:
        rows = self._q(
            "MATCH (a:BWNode {id: $id})-[e]->(b:BWNode) WHERE type(e) IN $kinds RETURN a.id AS src, "
            "type(e) AS kind, b.id AS dst, e.key AS key, e.props AS props, e.source AS source, "
            "e.account AS account, e.update_tag AS tag, e.count AS count, e.first_seen AS fs, e.last_seen AS ls",
            write=False,
            id=src,
            kinds=list(kinds),
        )
        out = [
            StoredEdge(
                r["src"],
                r["kind"],
                r["dst"],
                r["key"] or "",
                _decode(r["props"]) or {},
                r["source"],
                r["account"],
                r["tag"],
                int(r["count"] or 0),
                r["fs"],
                r["ls"],
            )
            for r in rows
        ]
        return sorted(out, key=lambda e: (e.kind, e.dst, e.key))

    def get_documents(self, collection: str) -> dict[str, dict[str, Any]]:
        rows = self._q(
            "MATCH (d:BWDoc) WHERE d.collection = $c RETURN d.id AS id, d.body AS body",
            write=False,
            c=collection,
        )
        return {r["id"]: _decode(r["body"]) for r in sorted(rows, key=lambda r: r["id"])}

    def get_document(self, collection: str, doc_id: str) -> dict[str, Any] | None:
        rows = self._q(
            "MATCH (d:BWDoc {uid: $uid}) RETURN d.body AS body",  # the indexed key
            write=False,
            uid=f"{collection}/{doc_id}",
        )
        return _decode(rows[0]["body"]) if rows else None

    def get_document_texts(self, collection: str) -> dict[str, str]:
        rows = self._q(
            "MATCH (d:BWDoc) WHERE d.collection = $c RETURN d.id AS id, d.body AS body",
            write=False,
            c=collection,
        )
        return {r["id"]: _text(r["body"]) for r in sorted(rows, key=lambda r: r["id"])}

    def count(self, table: str) -> int:
        if table == "nodes":
            return self._counts()[0]
        if table == "edges":
            return self._counts()[1]
        return int(self._q("MATCH (d:BWDoc) RETURN count(d) AS c", write=False)[0]["c"])

    def drop_all(self) -> None:
        """Delete everything Blastwall wrote in this database (tests and ``demo`` use it)."""
        self._q("MATCH (n) WHERE n:BWNode OR n:BWDoc OR n:BWJournal DETACH DELETE n")
        self._q(
            "MATCH (m:BWMeta) WITH m, m.generation + 1 AS g "
            "SET m.generation = g, m.graph_generation = g, m.journal_from = g, m.writer = null"
        )

    def close(self) -> None:
        """Nothing to do: the driver is shared by every store of this process (see ``shared_driver``)."""


_DRIVERS: dict[tuple[str, str, str], Any] = {}
_DRIVERS_LOCK = threading.Lock()


def shared_driver(uri: str, user: str, password: str) -> Any:
    """One long-lived driver per server and user for the whole process, as the driver is meant to be
    used (its pool reuses connections). It also keeps FalkorDB usable in tests: after any client
    connection closes, its Bolt endpoint refuses new connections for about a minute, while open ones
    keep working."""
    from neo4j import GraphDatabase

    key = (uri, user, password)
    with _DRIVERS_LOCK:
        driver = _DRIVERS.get(key)
        if driver is None:
            driver = GraphDatabase.driver(uri, auth=(user, password))
            try:
                driver.verify_connectivity()
            except Exception as exc:
                driver.close()
                raise BlastwallError(f"cannot reach the graph database at {_redact(uri)}: {exc}") from exc
            _DRIVERS[key] = driver
            if len(_DRIVERS) == 1:
                atexit.register(_close_drivers)
        return driver


def _close_drivers() -> None:
    with _DRIVERS_LOCK:
        for d in _DRIVERS.values():
            d.close()
        _DRIVERS.clear()


@dataclass
class Stmt:
    """One statement of a write unit: ``UNWIND $rows``-style Cypher, its rows and extra parameters.

    ``big_field``/``append_cypher``/``key_fields`` say how to write a row too large for one FalkorDB query.
    """

    cypher: str
    rows: list[dict[str, Any]]
    params: dict[str, Any]
    big_field: str | None = None
    append_cypher: str | None = None
    key_fields: tuple[str, ...] = ()

    @property
    def rowless(self) -> bool:
        """A statement that takes no rows (a cleanup), as opposed to an UNWIND with nothing to write."""
        return "$rows" not in self.cypher


def _text(text: str | None) -> str:
    """Stored JSON text as JSON text (FalkorDB's ``b64:`` form unwrapped)."""
    if not text:
        return "{}"
    if text.startswith(B64):
        return base64.b64decode(text[len(B64) :]).decode("utf-8")
    return text


def _decode(text: str | None) -> Any:
    """Stored JSON text, plain or (FalkorDB dialect) base64 behind a ``b64:`` prefix."""
    if not text:
        return {}
    if text.startswith(B64):
        return json.loads(base64.b64decode(text[len(B64) :]).decode("utf-8"))
    return json.loads(text)


def _size(row: dict[str, Any]) -> int:
    return len(json.dumps(row, default=str).encode()) + 2


def _widen(v: str) -> str:
    return (
        f"{v}.first_seen = CASE WHEN {v}.first_seen IS NULL OR (r.first_seen IS NOT NULL AND "
        f"r.first_seen < {v}.first_seen) THEN r.first_seen ELSE {v}.first_seen END, "
        f"{v}.last_seen = CASE WHEN {v}.last_seen IS NULL OR (r.last_seen IS NOT NULL AND "
        f"r.last_seen > {v}.last_seen) THEN r.last_seen ELSE {v}.last_seen END"
    )


def _node_param(n: NodeRow, account: str | None, encode: Callable[[Any], str]) -> dict[str, Any]:
    return {
        "id": n.id,
        "kind": n.kind,
        "props": encode(n.props),
        "account": n.account or account,
        "first_seen": n.first_seen,
        "last_seen": n.last_seen,
    }


def _edge_param(e: EdgeRow, account: str | None, encode: Callable[[Any], str]) -> dict[str, Any]:
    return {
        "src": e.src,
        "dst": e.dst,
        "key": e.key,
        "props": encode(e.props),
        "account": e.account or account,
        "count": e.count,
        "first_seen": e.first_seen,
        "last_seen": e.last_seen,
    }


def _stored_node(r: dict[str, Any], canon: Interner | None = None) -> StoredNode:
    c = canon or Interner()
    return StoredNode(
        c.s(r["id"]),
        c.s(r["kind"]),
        c.node_props(_text(r["props"])),
        c.s(r["source"]),
        c.s(r["account"]),
        c.i(r["tag"]),
        c.s(r["fs"]),
        c.s(r["ls"]),
    )


def _stored_edge(r: dict[str, Any], canon: Interner) -> StoredEdge:
    c = canon.s
    return StoredEdge(
        c(r["src"]),
        c(r["kind"]),
        c(r["dst"]),
        c(r["key"] or ""),
        canon.props(_text(r["props"])),
        c(r["source"]),
        c(r["account"]),
        canon.i(r["tag"]),
        int(r["count"] or 0),
        c(r["fs"]),
        c(r["ls"]),
    )


def _redact(uri: str) -> str:
    parts = urlsplit(uri)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
