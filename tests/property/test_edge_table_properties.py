"""Edges held as columns (``EdgeTable``, the snapshot's ``EdgeRecords``) give back exactly the edges that
were stored, and the snapshot's lookups by end (``edges_from``, ``edges_into``, ``edges_under``) answer
what a scan of every edge would (hypothesis, on random graphs with repeated values, empty and odd fields).
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analyzer.graph.snapshot import build_snapshot
from analyzer.graph.store import EdgeTable, GraphContents, Packed, StoredEdge, StoredNode

IDS = [
    "arn:aws:s3:::b",
    "arn:aws:s3:::b/k",
    "arn:aws:s3:::b/k/deeper",
    "arn:aws:s3:::bb",
    "arn:aws:iam::1:role/r",
    "arn:aws:iam::1:role/x/r",
    "eni-1",
    "urn:ip:10.0.0.1",
]
KINDS = ["OBSERVED_CALL", "OBSERVED_FLOW", "IN_SUBNET"]
TIMES = [None, "2026-05-01T00:00:00Z", "2026-05-02T12:30:00Z"]
PROPS = [{}, {"action": "s3:GetObject"}, {"port": "443", "protocol": "tcp"}, {"n": 1.5, "xs": [1, None]}]

edges_st = st.lists(
    st.builds(
        StoredEdge,
        src=st.sampled_from(IDS),
        kind=st.sampled_from(KINDS),
        dst=st.sampled_from(IDS),
        key=st.sampled_from(["", "tcp|443", "s3:GetObject"]),
        props=st.sampled_from(PROPS),
        source=st.sampled_from([None, "cloudtrail", "flowlogs"]),
        account=st.sampled_from([None, "111111111111", "222222222222"]),
        update_tag=st.sampled_from([None, 1, 2, 10**15]),
        count=st.integers(0, 2**40),
        first_seen=st.sampled_from(TIMES),
        last_seen=st.sampled_from(TIMES),
    ),
    max_size=60,
    unique_by=lambda e: (e.src, e.kind, e.dst, e.key),
)


def stored_order(edges: list[StoredEdge]) -> list[StoredEdge]:
    return sorted(edges, key=lambda e: (e.kind, e.src, e.dst, e.key))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edges_st, st.integers(0, len(IDS)))
def test_columns_give_back_every_edge_and_lookups_equal_a_scan(edges: list[StoredEdge], known: int) -> None:
    table = EdgeTable.of(edges)
    assert len(table) == len(edges)
    assert list(table) == stored_order(edges)
    # only some ends are stored nodes: the others become stub nodes, none is dropped
    nodes = [StoredNode(i, "Resource", {}, None, None, None, None, None) for i in IDS[:known]]
    snap = build_snapshot(GraphContents(7, nodes, table))
    assert {e.src for e in edges} | {e.dst for e in edges} <= set(snap.index)
    for kind in KINDS:
        want = [e for e in stored_order(edges) if e.kind == kind]
        got = snap.edge_records(kind)
        assert list(got) == want and len(got) == len(want)
        if not want:
            assert kind not in snap.edges
            continue
        arr = snap.edges[kind]
        assert [snap.ids[i] for i in arr.src] == [e.src for e in want]
        assert arr.count.tolist() == [e.count for e in want]
        assert [None if np.isnat(t) else str(t) + "Z" for t in arr.last_seen] == [e.last_seen for e in want]
        assert got[-1] == want[-1] and got[0:2] == want[0:2]
        assert arr.records.max_update_tag() == max((e.update_tag or 0 for e in want), default=0)
        for node in IDS:
            assert snap.edges_from(kind, node) == [e for e in want if e.src == node]
            assert snap.edges_into(kind, node) == [e for e in want if e.dst == node]
            assert snap.edges_under(kind, node) == [
                e for e in want if e.dst == node or e.dst.startswith(node + "/")
            ]
    assert snap.edges_from("NO_SUCH_KIND", IDS[0]) == [] and snap.edges_into(KINDS[0], "unknown") == []


def test_a_column_with_one_value_costs_nothing_per_row() -> None:
    one = Packed.of(np.full(1_000, 42, np.int64))
    assert one.idx.strides == (0,) and one.codes(np.array([0, 999])).tolist() == [42, 42]
    many = Packed.of(np.arange(70_000, dtype=np.int64) % 300)
    assert many.idx.dtype == np.uint16 and many.codes(slice(0, 3)).tolist() == [0, 1, 2]
    assert Packed.of(np.empty(0, np.int64)).codes(slice(None)).tolist() == []


def test_an_empty_table() -> None:
    table = EdgeTable().freeze()
    assert len(table) == 0 and list(table) == []
    snap = build_snapshot(GraphContents(1, [], table))
    assert snap.edges == {} and list(snap.edge_records("OBSERVED_FLOW")) == []
