"""Incremental operation: a day of new evidence and a re-collected snapshot bring the store's snapshot and
the persisted analysis context up to date by difference (the store's journal), and what that gives is
what reading the whole store again gives, in both stores; where the journal cannot say, the whole store
is read, never a wrong difference applied."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from analyzer import api
from analyzer.demo import load_directory
from analyzer.graph import current, journal
from analyzer.graph.current import forget, load_snapshot
from analyzer.graph.delta import differences, patch
from analyzer.graph.schema import Batch, EdgeRow, NodeRow
from analyzer.graph.snapshot import Snapshot, build_snapshot
from analyzer.graph.store import GraphStore, open_store
from analyzer.synth import generate
from analyzer.synth_delta import split
from analyzer.timeutil import parse_time
from connectors.aws.snapshot import load_snapshot as load_aws
from connectors.cmdb.servicenow import ingest_servicenow
from connectors.evidence.cloudtrail import ingest_cloudtrail
from connectors.evidence.flowlogs import ingest_flowlogs
from connectors.proposals import import_proposals
from tests.conftest import SAMPLE, SAMPLE_AS_OF

pytestmark = pytest.mark.integration

AS_OF = "2026-05-08T00:00:00Z"


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A synthetic enterprise split into six days and the seventh, with a fifth of its roles, interfaces
    and security groups changed and one interface in twenty deleted on the seventh."""
    root = tmp_path_factory.mktemp("incremental")
    generate("S", 3, root / "synth")
    made = split(root / "synth", root / "day", seed=3, share=0.2, deleted=0.05)
    assert made["interfaces_deleted"] > 0 and made["roles_retagged"] > 0 and made["groups_changed"] > 0
    return {"base": root / "day" / "base", "delta": root / "day" / "delta", **made}


def full(store: GraphStore) -> Snapshot:
    return build_snapshot(store.read_graph())


def brought(store: GraphStore, old: Snapshot) -> Snapshot:
    changes = store.changes_since(old.graph_generation, old.instance)
    assert changes is not None, "the journal should cover this"
    return patch(old, changes)


def test_each_step_of_a_day_patched_equals_the_store_read_whole(store_uri: str, day: dict[str, Any]) -> None:
    store = open_store(store_uri)
    base = day["base"]
    load_aws(store, base / "aws", seen="2026-05-06T23:00:00Z")
    steps = [
        lambda: ingest_cloudtrail(store, [base / "cloudtrail"]),
        lambda: ingest_flowlogs(store, [base / "flowlogs"]),
        lambda: ingest_servicenow(store, str(base / "servicenow"), seen="2026-05-06T23:00:00Z"),
        lambda: import_proposals(store, [base / "findings"]),
        lambda: ingest_cloudtrail(store, [day["delta"] / "cloudtrail"]),
        lambda: ingest_flowlogs(store, [day["delta"] / "flowlogs"]),
        lambda: load_aws(store, day["delta"] / "aws", seen="2026-05-07T23:00:00Z"),
    ]
    first = previous = chained = full(store)
    for step in steps:
        before_last = previous
        step()
        now = full(store)
        assert differences(brought(store, previous), now) == []
        chained = brought(store, chained)  # patched from the last patch, as a process holding one does
        assert differences(chained, now) == []
        previous = now
    # and the whole day at once, from the first snapshot
    assert differences(brought(store, first), previous) == []
    # the re-collection deleted interfaces: the patch took them, and the flows they had, away
    gone = _interfaces(base / "aws") - _interfaces(day["delta"] / "aws")
    assert gone and all(i.split("/")[-1] in {x.split("/")[-1] for x in before_last.ids} for i in gone)
    assert not any(x.split("/")[-1] in gone for x in previous.ids)


def _interfaces(aws: Path) -> set[str]:
    return {
        eni["NetworkInterfaceId"]
        for p in aws.rglob("ec2-DescribeNetworkInterfaces.json")
        for eni in json.loads(p.read_text())["NetworkInterfaces"]
    }


def test_a_changed_snapshot_is_patched_with_stubs_kinds_and_keys(tmp_path: Path) -> None:
    """Rows a sample does not make: an edge to a node the store holds none of (a stub) that then becomes
    a node, a kind whose every edge goes, edges that differ only by key, a node deleted while an edge of
    another source still names it."""
    store = open_store(str(tmp_path / "s"))
    a, b, c = (f"arn:aws:iam::111111111111:role/{x}" for x in "abc")
    one = Batch("aws")
    one.nodes += [NodeRow(a, "IamRole", {"name": "a"}), NodeRow(b, "IamRole", {"name": "b"})]
    one.edges += [EdgeRow(a, "RUNS_AS", b), EdgeRow(b, "RUNS_AS", a)]
    store.load(one, update_tag=1, account="111111111111")
    ev = Batch("cloudtrail")
    ev.stub(a, "IamRole")
    ev.stub(c, "IamRole")
    ev.edges += [
        EdgeRow(a, "OBSERVED_ASSUME", c, count=2, first_seen="2026-05-01T00:00:00Z"),
        EdgeRow(c, "OBSERVED_ASSUME", a, count=1, last_seen="2026-05-02T00:00:00Z"),
        EdgeRow(c, "OBSERVED_CALL", a, {"action": "iam:GetRole"}, count=1),
        EdgeRow(c, "OBSERVED_CALL", a, {"action": "iam:TagRole"}, count=5),
    ]
    store.load(ev, update_tag=2)
    s1 = full(store)
    two = Batch("aws")
    two.nodes += [
        NodeRow(a, "IamRole", {"name": "a", "tags": {"x": "1"}}),
        NodeRow(c, "IamRole", {"name": "c"}),
    ]
    two.edges += [EdgeRow(a, "RUNS_AS", c)]
    store.load(two, update_tag=3, account="111111111111")
    store.cleanup(source="aws", account="111111111111", update_tag=3)  # b goes, with every edge of it
    s2 = full(store)
    assert b not in s2.index and "RUNS_AS" in s2.edges
    assert len(s2.edges["OBSERVED_CALL"].src) == 2
    assert differences(brought(store, s1), s2) == []
    store.load(ev, update_tag=4)  # counts add up
    s3 = full(store)
    assert differences(brought(store, s2), s3) == []
    assert differences(brought(store, s1), s3) == []


def test_the_journal_says_when_it_cannot_answer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = open_store(str(tmp_path / "s"))
    b = Batch("aws")
    b.nodes += [NodeRow(f"arn:aws:iam::111111111111:role/r{i}", "IamRole", {}) for i in range(5)]
    store.load(b, update_tag=1, account="111111111111")
    s = full(store)
    assert store.changes_since(s.graph_generation, s.instance) is not None
    assert store.changes_since(s.graph_generation, "another-store") is None
    assert store.changes_since(s.graph_generation + 5, s.instance) is None  # a generation not reached
    # a write too big to journal: nothing before it can be brought forward
    monkeypatch.setattr(journal, "LIMIT", 3)
    more = Batch("aws")
    more.nodes += [NodeRow(f"arn:aws:iam::111111111111:role/new{i}", "IamRole", {}) for i in range(5)]
    store.load(more, update_tag=2, account="111111111111")
    assert store.changes_since(s.graph_generation, s.instance) is None
    after = full(store)
    monkeypatch.undo()
    store.load(b, update_tag=3, account="111111111111")
    assert store.changes_since(after.graph_generation, after.instance) is not None
    # an entry that is not a journal entry (someone wrote the table): never applied, the graph is read
    con = sqlite3.connect(tmp_path / "s" / "blastwall.sqlite")
    con.execute("UPDATE journal SET body = ?", (b"\x93not msgpack of ours",))
    con.commit()
    con.close()
    assert store.changes_since(after.graph_generation, after.instance) is None
    # the same place made again is another store: its generations are not the old one's
    store.close()
    for p in (tmp_path / "s").glob("blastwall.sqlite*"):
        p.unlink()
    again = open_store(str(tmp_path / "s"))
    for t in range(10):
        again.load(b, update_tag=10 + t, account="111111111111")
    assert again.changes_since(after.graph_generation, after.instance) is None


def test_more_changes_than_asked_for_are_not_read(store_uri: str) -> None:
    """``at_most``: past that many changed nodes and edges the journal answers None before reading a row
    (the caller reads the whole graph: at L, reading 1.26M changed edges first cost 15 s for nothing)."""
    store = open_store(store_uri)
    b = Batch("aws")
    b.nodes += [NodeRow(f"arn:aws:iam::111111111111:role/r{i}", "IamRole", {}) for i in range(5)]
    store.load(b, update_tag=1, account="111111111111")
    s = full(store)
    more = Batch("aws")
    more.nodes += [NodeRow(f"arn:aws:iam::111111111111:role/new{i}", "IamRole", {}) for i in range(4)]
    store.load(more, update_tag=2, account="222222222222")
    changes = store.changes_since(s.graph_generation, s.instance)
    assert changes is not None and len(changes) >= 4
    n = len(changes)
    exactly = store.changes_since(s.graph_generation, s.instance, at_most=n)
    assert exactly is not None and len(exactly) == n
    assert store.changes_since(s.graph_generation, s.instance, at_most=n - 1) is None


def _assume_seen(store: GraphStore, count: int | None) -> None:
    """A day's CloudTrail: the sample's datalake reader seen assuming its admin role ``count`` times (None:
    the two roles named, no edge), written with update tag 7."""
    reader, admin = (f"arn:aws:iam::482510973311:role/datalake-{r}" for r in ("reader", "admin"))
    b = Batch("cloudtrail")
    b.stub(reader, "IamRole")
    b.stub(admin, "IamRole")
    if count is not None:
        day = "2026-05-14T00:00:00Z"
        b.edges.append(EdgeRow(reader, "OBSERVED_ASSUME", admin, count=count, first_seen=day, last_seen=day))
    store.load(b, update_tag=7)


def test_a_stale_context_is_let_go_before_the_graph_is_read_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new process finds yesterday's persisted context and too much changed to patch it: the context it
    loaded (snapshot, structures, and their cycles) is freed before the whole graph is read, not held beside
    it (at L the two were 4.5 GB, 6 GB with the structures, against the 4 GiB target)."""
    import weakref

    store = open_store(str(tmp_path / "s"))
    assert not load_directory(store, SAMPLE, seen=SAMPLE_AS_OF)
    forget()
    api.prepare(store, as_of=parse_time(SAMPLE_AS_OF))  # persisted
    _assume_seen(store, count=1)
    forget()  # a new process
    monkeypatch.setattr(current, "BY_DIFFERENCE_SHARE", 0.0)  # any change: read whole
    loaded: list[weakref.ref[Any]] = []
    load_persisted = api._load_persisted

    def remembered(st: GraphStore) -> Any:
        got = load_persisted(st)
        assert got is not None, "the persisted context should load"
        loaded.extend([weakref.ref(got[0]), weakref.ref(got[0].snap)])
        return got

    monkeypatch.setattr(api, "_load_persisted", remembered)
    alive_at_read: list[bool] = []
    read_graph = store.read_graph

    def read_whole() -> Any:
        alive_at_read.extend(r() is not None for r in loaded)
        return read_graph()

    monkeypatch.setattr(store, "read_graph", read_whole)
    ctx = api.analysis_context(store)
    assert ctx.snap.how == "read whole" and len(loaded) == 2
    assert alive_at_read == [False, False]
    assert differences(ctx.snap, full(store)) == []


def test_pruned_entries_move_the_start_of_what_it_can_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(journal, "KEEP_BYTES", 1)  # only the newest entry kept
    store = open_store(str(tmp_path / "s"))
    b = Batch("aws")
    b.nodes += [
        NodeRow(f"arn:aws:iam::111111111111:role/role-with-a-long-name-{i}", "IamRole") for i in range(5)
    ]
    store.load(b, update_tag=1, account="111111111111")
    s = full(store)
    for t in range(2, 6):
        store.load(b, update_tag=t, account="111111111111")
    assert store.changes_since(s.graph_generation, s.instance) is None
    latest = full(store)
    store.load(b, update_tag=9, account="111111111111")
    assert store.changes_since(latest.graph_generation, latest.instance) is not None


def _scores(store: GraphStore) -> dict[str, Any]:
    out = api.score(store, as_of=parse_time(AS_OF), save=False)
    return {r["proposal_id"]: json.dumps(r, sort_keys=True, default=str) for r in out["results"]}


def test_a_day_later_the_context_by_difference_scores_as_one_built_whole(
    day: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The persisted context of yesterday, brought up to date by difference in a new process (as the next
    run after the day's ingest does), scores every proposal exactly as a context built from the whole
    store."""
    # a fifth of this small enterprise changes: more than the share past which a whole read is cheaper,
    # so that share is lifted here to test the difference itself
    monkeypatch.setattr(current, "BY_DIFFERENCE_SHARE", 1.0)
    store = open_store(str(tmp_path / "s"))
    base = day["base"]
    load_aws(store, base / "aws", seen="2026-05-06T23:00:00Z")
    ingest_cloudtrail(store, [base / "cloudtrail"])
    ingest_flowlogs(store, [base / "flowlogs"])
    ingest_servicenow(store, str(base / "servicenow"), seen="2026-05-06T23:00:00Z")
    import_proposals(store, [base / "findings"])
    forget()
    api.prepare(store, as_of=parse_time(AS_OF))  # yesterday's run persisted its context
    ingest_cloudtrail(store, [day["delta"] / "cloudtrail"])
    ingest_flowlogs(store, [day["delta"] / "flowlogs"])
    load_aws(store, day["delta"] / "aws", seen="2026-05-07T23:00:00Z")
    forget()  # a new process
    report = api.prepare(store, as_of=parse_time(AS_OF))
    assert report["context"].startswith("built from the store, brought up to date by difference"), report
    ctx = api.analysis_context(store)
    assert differences(ctx.snap, full(store)) == []
    by_difference = _scores(store)
    forget()
    (tmp_path / "s" / "derived" / api.CONTEXT_FILE).unlink()
    whole = _scores(store)
    assert api.analysis_context(store).snap.how == "read whole"
    assert by_difference == whole and len(whole) >= 30


def test_a_process_holding_a_snapshot_brings_it_up_to_date(tmp_path: Path) -> None:
    """The app keeps its snapshot between requests: a write brings it forward, not a whole read."""
    store = open_store(str(tmp_path / "s"))
    assert not load_directory(store, SAMPLE, seen=SAMPLE_AS_OF)
    forget()
    before = load_snapshot(store)
    _assume_seen(store, count=4)
    after = load_snapshot(store)
    assert after is not before and after.how.startswith("brought up to date by difference")
    assert differences(after, full(store)) == []


def test_a_snapshot_brought_up_to_date_lets_the_old_context_go(tmp_path: Path) -> None:
    """Patched forward, the old snapshot's context (which refers back to it: a cycle) is freed at once, not
    left to a full collection while the new one's structures are built (at L: 4,158 MiB, over the target)."""
    import gc
    import weakref

    store = open_store(str(tmp_path / "s"))
    assert not load_directory(store, SAMPLE, seen=SAMPLE_AS_OF)
    forget()
    old = weakref.ref(api.analysis_context(store))
    assert old() is not None
    _assume_seen(store, count=None)
    gc.disable()  # what frees it must not be a collection that happened to run
    try:
        ctx = api.analysis_context(store)
        assert ctx.snap.how.startswith("brought up to date by difference")
        assert old() is None
    finally:
        gc.enable()


def _rows(store: GraphStore) -> tuple[list[Any], list[Any]]:
    conn = sqlite3.connect(Path(store.dir) / "blastwall.sqlite")  # type: ignore[attr-defined]
    try:
        return (
            conn.execute("SELECT * FROM nodes ORDER BY id").fetchall(),
            conn.execute("SELECT * FROM edges ORDER BY src, kind, dst, key").fetchall(),
        )
    finally:
        conn.close()


def test_a_load_by_difference_leaves_the_store_as_writing_every_row_would(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An account collected again stamps what it holds as it is: in one statement when most of it is (the
    rows it does not cover then given their own values back), row by row when most of it changed; and only
    the stubs that change something are written. Each step's store is compared, row for row, with one
    that upserts every row of every load."""
    from analyzer.graph import sqlite_store

    acct, t1, t2, t3 = "111111111111", "2026-05-01T00:00:00Z", "2026-05-02T00:00:00Z", "2026-05-03T00:00:00Z"
    roles = [f"arn:aws:iam::{acct}:role/r{i}" for i in range(10)]
    outside = "arn:aws:iam::222222222222:role/partner"
    service = "arn:aws:iam::333333333333:role/vendor"

    def batch(step: int) -> Batch:
        b = Batch("aws")
        for i, r in enumerate(roles):
            props = {"name": f"r{i}", **({"tags": {"x": "1"}} if step >= 2 and i == 0 else {})}
            b.nodes.append(NodeRow(r, "IamRole", props, first_seen=t1, last_seen=t2 if step < 2 else t3))
        b.stub(outside, "IamRole")
        if step >= 2:  # a stub that widens what the store holds, then one seen as it is
            b.nodes.append(NodeRow(service, "IamRole", stub=True, first_seen=t1, last_seen=t3))
        pairs = [(i, (i + 1) % 10) for i in range(10)] + [(0, 5), (3, 7)]
        if step == 2:
            pairs = [p for p in pairs if p != (3, 7)] + [(2, 9)]  # one edge gone, one new
        if step == 3:
            pairs = pairs[:3]  # most of the account gone: stamped row by row
        for n, (i, j) in enumerate(pairs):
            last = t1 if step == 2 and n == 4 else (t2 if step < 2 else t3)  # one edge of other times
            b.edges.append(EdgeRow(roles[i], "RUNS_AS", roles[j], first_seen=t1, last_seen=last))
        b.edges.append(EdgeRow(outside, "RUNS_AS", roles[0], first_seen=t1, last_seen=t2))
        return b

    def neighbour() -> Batch:  # another account of the same collection, naming the same outsider
        b = Batch("aws")
        b.nodes.append(NodeRow("arn:aws:iam::444444444444:role/n", "IamRole", {"name": "n"}))
        b.stub(outside, "IamRole")
        b.edges.append(EdgeRow(outside, "RUNS_AS", "arn:aws:iam::444444444444:role/n"))
        return b

    by_difference = open_store(str(tmp_path / "difference"))
    sql: list[str] = []
    by_difference._conn.set_trace_callback(sql.append)  # type: ignore[attr-defined]
    every_row = open_store(str(tmp_path / "every-row"))
    for step in (1, 2, 3, 4):
        sql.clear()
        by_difference.load(batch(min(step, 3)), update_tag=step, account=acct)
        stamped_whole = any("UPDATE edges" in s and "WHERE source" in s for s in sql)
        assert stamped_whole == (step in (2, 4)), (
            f"step {step}: {'one statement' if stamped_whole else 'rows'}"
        )
        sql.clear()
        by_difference.load(neighbour(), update_tag=step, account="444444444444")
        # the outsider's stub, written by the first account this step, is not written again
        assert not [s for s in sql if "CASE WHEN nodes.account IS excluded.account" in s], step
        with monkeypatch.context() as m:  # the reference: every row upserted, every stub written
            m.setattr(
                sqlite_store, "_stamp_unchanged", lambda cur, log, s, a, t, nodes, edges: (nodes, edges)
            )
            m.setattr(sqlite_store, "_stubs_changing", lambda cur, stubs: [r[0] for r in stubs])
            every_row.load(batch(min(step, 3)), update_tag=step, account=acct)
            every_row.load(neighbour(), update_tag=step, account="444444444444")
        assert _rows(by_difference) == _rows(every_row), f"after load {step}"
        for store in (by_difference, every_row):
            store.cleanup(source="aws", account=acct, update_tag=step)
        assert _rows(by_difference) == _rows(every_row), f"after cleanup {step}"
    nodes, edges = _rows(by_difference)
    assert len(edges) == 5 and {n[0] for n in nodes} >= {outside, service}
