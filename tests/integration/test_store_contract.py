"""One contract, both stores: the embedded SQLite store and the Neo4j store over Bolt (FalkorDB server)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from analyzer.errors import StoreVersionError
from analyzer.graph.schema import Batch, EdgeRow, NodeRow
from analyzer.graph.store import open_store

pytestmark = pytest.mark.integration


def roles_batch(account: str, names: list[str], source: str = "aws") -> Batch:
    b = Batch(source)
    for n in names:
        b.nodes.append(
            NodeRow(f"arn:aws:iam::{account}:role/{n}", "IamRole", {"name": n, "trust_policy": {}}, account)
        )
    return b


def test_idempotent_upsert(store_uri: str) -> None:
    store = open_store(store_uri)
    b = roles_batch("111111111111", ["a", "b"])
    b.edges.append(
        EdgeRow(
            b.nodes[0].id,
            "OBSERVED_ASSUME",
            b.nodes[1].id,
            account="111111111111",
            count=3,
            first_seen="2026-05-01T00:00:00Z",
            last_seen="2026-05-02T00:00:00Z",
        )
    )
    store.load(b, update_tag=1, account="111111111111")
    first = store.read_graph()
    store.load(roles_batch("111111111111", ["a", "b"]), update_tag=2, account="111111111111")
    second = store.read_graph()
    assert [n.id for n in first.nodes] == [n.id for n in second.nodes]
    assert len(second.nodes) == 2 and len(second.edges) == 1
    assert second.generation > first.generation
    # evidence counts add up across loads and the seen range widens
    b2 = roles_batch("111111111111", ["a", "b"])
    b2.edges.append(
        EdgeRow(
            b.nodes[0].id,
            "OBSERVED_ASSUME",
            b.nodes[1].id,
            account="111111111111",
            count=2,
            first_seen="2026-04-30T00:00:00Z",
            last_seen="2026-05-01T12:00:00Z",
        )
    )
    store.load(b2, update_tag=3, account="111111111111")
    (edge,) = store.read_graph().edges
    assert (edge.count, edge.first_seen, edge.last_seen) == (
        5,
        "2026-04-30T00:00:00Z",
        "2026-05-02T00:00:00Z",
    )
    store.close()


def test_cleanup_only_in_scope(store_uri: str) -> None:
    store = open_store(store_uri)
    store.load(roles_batch("111111111111", ["old", "kept"]), update_tag=10, account="111111111111")
    store.load(roles_batch("222222222222", ["other"]), update_tag=10, account="222222222222")
    store.load(roles_batch("111111111111", ["x"], source="servicenow"), update_tag=10, account="111111111111")
    store.load(roles_batch("111111111111", ["kept"]), update_tag=20, account="111111111111")
    removed = store.cleanup(source="aws", account="111111111111", update_tag=20)
    ids = {n.id for n in store.read_graph().nodes}
    assert removed == 1
    assert "arn:aws:iam::111111111111:role/old" not in ids
    assert {
        "arn:aws:iam::111111111111:role/kept",
        "arn:aws:iam::222222222222:role/other",
        "arn:aws:iam::111111111111:role/x",
    } <= ids
    store.close()


def test_large_batch(store_uri: str) -> None:
    store = open_store(store_uri)
    n = 100_000
    b = Batch("aws")
    b.nodes = [NodeRow(f"urn:test:{i}", "Resource", {}, "111111111111") for i in range(n)]
    store.load(b, update_tag=1, account="111111111111")
    assert store.count("nodes") == n  # type: ignore[attr-defined]
    store.close()


def test_documents_large_and_atomic_with_rows(store_uri: str) -> None:
    store = open_store(store_uri)
    body = {"text": "x" * 20_000, "n": 1}
    b = roles_batch("111111111111", ["a"])
    b.documents = {"results": {"p1": body}}
    store.load(b, update_tag=1)
    assert store.get_documents("results") == {"p1": body}
    texts = store.get_document_texts("results")  # undecoded, for collections decoded piece by piece
    assert list(texts) == ["p1"] and json.loads(texts["p1"]) == body
    # one document by its id, a large one written in parts too; another collection's same id is not it
    store.put_documents("proposals", {"p1": {"other": True}})
    assert store.get_document("results", "p1") == body and store.get_document("results", "p2") is None
    assert store.get_document("proposals", "p1") == {"other": True}
    store.delete_documents("results", ["p1"])
    assert store.get_documents("results") == {} and store.get_document("results", "p1") is None
    store.close()


def test_reader_sees_whole_batches_only(store_uri: str) -> None:
    writer = open_store(store_uri)
    reader = open_store(store_uri)
    size = 3000
    seen: list[int] = []
    done = threading.Event()

    def write() -> None:
        for k in range(3):
            b = Batch("aws")
            b.nodes = [NodeRow(f"urn:test:{k}:{i}", "Resource", {}, "111111111111") for i in range(size)]
            writer.load(b, update_tag=k + 1, account="111111111111")
        done.set()

    t = threading.Thread(target=write)
    t.start()
    while not done.is_set():
        seen.append(len(reader.read_graph().nodes))
    t.join()
    seen.append(len(reader.read_graph().nodes))
    assert seen[-1] == 3 * size
    assert all(n % size == 0 for n in seen), f"a reader saw half a batch: {sorted(set(seen))}"
    writer.close()
    reader.close()


WRITER = """
import sys
from analyzer.graph.store import open_store
from analyzer.graph.schema import Batch, NodeRow
s = open_store(sys.argv[1])
b = Batch("aws")
b.nodes = [NodeRow(f"urn:test:{i}", "Resource", {"i": i}, "111111111111") for i in range(500)]
s.load(b, update_tag=7, account="111111111111")
s.put_documents("proposals", {"p": {"ok": True}})
"""


def test_reopen_after_writer_exited(store_uri: str) -> None:
    subprocess.run([sys.executable, "-c", WRITER, store_uri], check=True, timeout=120)
    store = open_store(store_uri)
    graph = store.read_graph()
    assert len(graph.nodes) == 500 and graph.nodes[0].update_tag == 7
    assert store.get_documents("proposals") == {"p": {"ok": True}}
    store.close()


def test_newer_schema_is_refused_and_untouched(store_uri: str) -> None:
    store = open_store(store_uri)
    store.load(roles_batch("111111111111", ["a"]), update_tag=1)
    if store_uri.startswith("bolt"):
        store._q("MATCH (m:BWMeta {id: 'meta'}) SET m.schema_version = 99")  # type: ignore[attr-defined]
    else:
        store._conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")  # type: ignore[attr-defined]
    before = store.read_graph().nodes
    store.close()
    with pytest.raises(StoreVersionError, match="schema version 99"):
        open_store(store_uri)
    if not store_uri.startswith("bolt"):
        import sqlite3

        from analyzer.graph.sqlite_store import DB_NAME

        con = sqlite3.connect(f"{store_uri}/{DB_NAME}")
        assert con.execute("SELECT count(*) FROM nodes").fetchone()[0] == len(before)
        assert con.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == "99"


KILLED_WRITER = """
import sys
from analyzer.graph.store import open_store
from analyzer.graph.schema import Batch, NodeRow
s = open_store(sys.argv[1])
k = 0
while True:
    b = Batch("aws")
    b.nodes = [NodeRow(f"urn:test:{k}:{i}", "Resource", {"pad": "x" * 200}, "111111111111") for i in range(5000)]
    s.load(b, update_tag=k + 1, account="111111111111")
    print(k, flush=True)
    k += 1
"""


def test_writer_killed_mid_batch_leaves_whole_batches_sqlite(tmp_path) -> None:
    """kill -9 while a batch is being written: the store reopens with only whole batches in it."""
    uri = str(tmp_path / "store")
    proc = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, uri], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    for _ in range(3):
        proc.stdout.readline()  # let three batches land, then kill inside a later one
    proc.kill()
    proc.wait()
    store = open_store(uri)
    n = len(store.read_graph().nodes)
    assert n >= 3 * 5000 and n % 5000 == 0
    store.load(roles_batch("111111111111", ["after"]), update_tag=99)  # and it is still writable
    store.close()


def test_awkward_text_round_trips(store_uri: str) -> None:
    """Quotes, backslashes and non-ASCII in properties and documents come back exactly."""
    store = open_store(store_uri)
    props = {"description": 'it\'s a "quoted" C:\\path\\to\\x and \\b and 漢字 é', "tags": {"k'": "v\\"}}
    b = Batch("aws")
    b.nodes.append(NodeRow("urn:test:awkward", "Resource", props, "111111111111"))
    b.documents = {"notes": {"n1": props}}
    store.load(b, update_tag=1)
    (node,) = store.read_graph().nodes
    assert node.props == props
    assert store.get_documents("notes") == {"n1": props}
    store.close()


def test_empty_parts_of_a_batch_are_fine(store_uri: str) -> None:
    store = open_store(store_uri)
    b = roles_batch("111111111111", ["a"])
    b.documents = {"nothing": {}}
    store.load(b, update_tag=1)
    store.load(Batch("aws"), update_tag=2)
    assert len(store.read_graph().nodes) == 1 and store.get_documents("nothing") == {}
    store.close()


def test_edges_from_one_node_match_the_whole_graph(store_uri: str) -> None:
    store = open_store(store_uri)
    b = roles_batch("111111111111", ["a", "b", "c"])
    a, bb, c = (n.id for n in b.nodes)
    b.edges += [
        EdgeRow(a, "OBSERVED_ASSUME", bb, account="111111111111", count=3, last_seen="2026-05-02T00:00:00Z"),
        EdgeRow(a, "OBSERVED_CALL", c, {"action": "s3:GetObject"}, count=2),
        EdgeRow(bb, "OBSERVED_CALL", c, {"action": "s3:PutObject"}, count=1),
    ]
    store.load(b, update_tag=1, account="111111111111")
    got = store.edges_from(a, ("OBSERVED_CALL", "OBSERVED_ASSUME"))
    whole = [e for e in store.read_graph().edges if e.src == a]
    assert [(e.kind, e.dst, e.key, e.props, e.count, e.last_seen) for e in got] == sorted(
        (e.kind, e.dst, e.key, dict(e.props), e.count, e.last_seen) for e in whole
    )
    assert [e.props["action"] for e in store.edges_from(a, ("OBSERVED_CALL",))] == ["s3:GetObject"]
    assert store.edges_from(c, ("OBSERVED_CALL",)) == []


def test_graph_generation_moves_with_what_analysis_reads(store_uri: str) -> None:
    """Saving results or proposals leaves ``graph_generation`` (what derived structures are keyed by);
    the graph and any other documents (coverage, VPC configuration, settings) move it."""
    store = open_store(store_uri)
    store.load(roles_batch("111111111111", ["a"]), update_tag=1, account="111111111111")
    g0, gg0 = store.generation(), store.graph_generation()
    assert gg0 == g0 and store.read_graph().graph_generation == gg0
    store.put_documents("results", {"p-1": {"risk_score": 1}})
    store.put_documents("proposals", {"p-1": {"proposal_id": "p-1"}})
    store.delete_documents("results", ["p-1"])
    assert store.generation() > g0 and store.graph_generation() == gg0
    assert store.read_graph().graph_generation == gg0
    store.put_documents("coverage", {"x": {"source": "cloudtrail"}})
    assert store.graph_generation() == store.generation() > gg0
    gg1 = store.graph_generation()
    store.load(roles_batch("111111111111", ["b"]), update_tag=2, account="111111111111")
    assert store.graph_generation() == store.generation() > gg1
    gg2 = store.graph_generation()
    store.cleanup(source="aws", account="111111111111", update_tag=2)
    assert store.graph_generation() > gg2


def test_read_nodes_is_the_graphs_nodes_of_those_kinds(store_uri: str) -> None:
    store = open_store(store_uri)
    b = roles_batch("111111111111", ["b", "a"])
    b.nodes.append(NodeRow("arn:aws:s3:::bucket-1", "S3Bucket", {"name": "bucket-1"}, "111111111111"))
    store.load(b, update_tag=1, account="111111111111")
    graph = store.read_graph()
    for kinds in [("IamRole",), ("S3Bucket", "IamRole"), ("Nothing",)]:
        assert store.read_nodes(kinds) == [n for n in graph.nodes if n.kind in kinds]


class _Stream:
    """An edge stream as flow logs make one: rows made on each call, sharing one property map."""

    def __init__(self, ends: list[str], extra_end: str | None = None) -> None:
        self._ends, self._extra, self.made = ends, extra_end, 0
        self._props = {"protocol": "tcp", "port": "443"}

    def kinds(self) -> list[str]:
        return ["OBSERVED_FLOW"]

    def ends(self) -> list[str]:
        return [*self._ends, *([self._extra] if self._extra else [])]

    def rows(self) -> Iterator[EdgeRow]:
        for a, b in zip(self._ends, self._ends[1:], strict=False):
            self.made += 1
            yield EdgeRow(a, "OBSERVED_FLOW", b, self._props, account="111111111111", count=2)


def _flows(store: object) -> list[tuple[object, ...]]:
    graph = store.read_graph()  # type: ignore[attr-defined]
    return sorted((e.src, e.dst, e.key, e.props, e.count) for e in graph.edges if e.kind == "OBSERVED_FLOW")


def test_a_streamed_batch_loads_as_a_listed_one(store_uri: str, tmp_path: Path) -> None:
    """Edges a batch streams are written as the same edges listed would be, made once by the write, and a
    stream declaring an end that is not a node is refused before anything is written."""
    ends = [f"urn:test:eni-{i}" for i in range(50)]
    streamed = open_store(store_uri)
    b = Batch("flowlogs")
    for e in ends:
        b.stub(e, "NetworkInterface")
    stream = _Stream(ends)
    b.edge_stream = stream
    streamed.load(b, update_tag=1)
    assert stream.made == len(ends) - 1  # checked by what it declares, made once by the write
    listed = open_store(str(tmp_path / "listed"))
    b2 = Batch("flowlogs")
    for e in ends:
        b2.stub(e, "NetworkInterface")
    b2.edges = list(_Stream(ends).rows())
    listed.load(b2, update_tag=1)
    assert _flows(streamed) == _flows(listed) and len(_flows(listed)) == len(ends) - 1
    bad = Batch("flowlogs")
    bad.stub(ends[0], "NetworkInterface")
    bad.edge_stream = _Stream(ends[:1], extra_end="urn:test:nowhere")
    gen = streamed.generation()
    with pytest.raises(ValueError, match="nowhere"):
        streamed.load(bad, update_tag=2)
    assert streamed.generation() == gen


def test_a_stub_from_another_source_leaves_the_node_as_its_source_said(store_uri: str) -> None:
    """Evidence names what a snapshot holds; it does not make the snapshot's row current (its tag is the
    snapshot's to move), while the same source mentioning it from another account still does."""
    store = open_store(store_uri)
    role = "arn:aws:iam::111111111111:role/a"
    store.load(roles_batch("111111111111", ["a"]), update_tag=5, account="111111111111")
    evidence = Batch("cloudtrail")
    evidence.stub(role, "IamRole")
    store.load(evidence, update_tag=9)
    node = store.get_node(role)
    assert node is not None and (node.source, node.update_tag) == ("aws", 5)
    assert node.props == {"name": "a", "trust_policy": {}}
    mention = Batch("aws")
    mention.stub(role, "IamRole")
    store.load(mention, update_tag=12, account="222222222222")
    node = store.get_node(role)
    assert node is not None and node.update_tag == 12
