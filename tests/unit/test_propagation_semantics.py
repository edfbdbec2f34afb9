"""What "X is impacted because Y lost access" means, hop by hop (docs/concepts.md, "Impact"), on a small
organization built in memory: readers depend on writers and not the reverse, a consumer depends on what it
uses and not the reverse, membership goes up only, a role's writes count for whoever assumes it, a sink
with many writers starves nobody, flows into a database stay at the resource level, a CI watching the
whole estate is not broken by each thing it watches, and a chain through the CMDB alone says so."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from analyzer.core import reachable
from analyzer.graph.schema import Batch, EdgeRow, NodeRow
from analyzer.graph.snapshot import build_snapshot
from analyzer.scoring import propagation
from analyzer.scoring.context import Context, build_context
from analyzer.scoring.impact import impacted, walk
from analyzer.scoring.propagation import build_graphs
from tests.unit.test_trust_and_scoring import contents

A = "111111111111"
SEEN = "2026-05-10T00:00:00Z"
START, END = datetime(2026, 5, 1, tzinfo=UTC), datetime(2026, 5, 15, tzinfo=UTC)
SERVICES = ["Ingest", "Reports", "Platform", "Web", "Monitor", "Archive", "Search", "Billing", "Downstream"]


def role(name: str) -> str:
    return f"arn:aws:iam::{A}:role/{name}"


def bucket(name: str) -> str:
    return f"arn:aws:s3:::{name}"


def eni(name: str) -> str:
    return f"arn:aws:ec2:us-east-1:{A}:network-interface/eni-{name}"


OWNER = {
    role("etl"): "Ingest",
    role("ingest-ops"): "Ingest",
    bucket("curated"): "Ingest",
    role("reader"): "Reports",
    role("platform-api"): "Platform",
    role("web"): "Web",
    role("job"): "Archive",
    role("archive-writer"): "Archive",
    bucket("archive"): "Archive",
    role("searcher"): "Search",
    bucket("logs"): "Platform",
    role("billing"): "Billing",
    eni("app"): "Web",
    eni("db"): "Billing",
    eni("report"): "Reports",
    role("monitor"): "Monitor",
}


def call(src: str, dst: str, action: str, count: int = 10) -> EdgeRow:
    return EdgeRow(src, "OBSERVED_CALL", dst, {"action": action}, A, count, SEEN, SEEN)


def world(extra: list[EdgeRow] | None = None) -> Context:
    b = Batch("t")
    for name in SERVICES:
        b.nodes.append(NodeRow(f"ci:{name}", "BusinessService", {"name": name, "criticality": "high"}))
    for rid, ci in OWNER.items():
        kind = (
            "IamRole"
            if ":role/" in rid
            else "S3Bucket"
            if rid.startswith("arn:aws:s3")
            else "NetworkInterface"
        )
        b.nodes.append(NodeRow(rid, kind, {"name": rid.rsplit("/", 1)[-1].rsplit(":", 1)[-1]}, A))
        b.edges.append(EdgeRow(rid, "BELONGS_TO", f"ci:{ci}", {"method": "mapping"}))
    b.edges += [
        call(role("etl"), bucket("curated"), "s3:PutObject", 100),
        call(role("reader"), bucket("curated"), "s3:GetObject", 50),
        EdgeRow(role("web"), "OBSERVED_ASSUME", role("platform-api"), {}, A, 30, SEEN, SEEN),
        # the archive job writes through a writer role it assumes
        EdgeRow(role("job"), "OBSERVED_ASSUME", role("archive-writer"), {}, A, 24, SEEN, SEEN),
        call(role("archive-writer"), bucket("archive"), "s3:PutObject", 24),
        call(role("searcher"), bucket("archive"), "s3:GetObject", 40),
        # six services write logs into one sink; Search reads it
        *[
            call(r, bucket("logs"), "s3:PutObject", 5)
            for r in (
                role("etl"),
                role("reader"),
                role("web"),
                role("job"),
                role("billing"),
                role("ingest-ops"),
            )
        ],
        call(role("searcher"), bucket("logs"), "s3:GetObject", 40),
        # Web's and Reports' interfaces are clients of Billing's database
        EdgeRow(eni("app"), "OBSERVED_FLOW", eni("db"), {"protocol": "tcp", "port": 5432}, A, 20, SEEN, SEEN),
        EdgeRow(
            eni("report"), "OBSERVED_FLOW", eni("db"), {"protocol": "tcp", "port": 5432}, A, 20, SEEN, SEEN
        ),
        # the CMDB documents that Downstream depends on Reports
        EdgeRow("ci:Downstream", "DEPENDS_ON", "ci:Reports", {"rel_type": "Depends on::Used by"}),
        *(extra or []),
    ]
    return build_context(build_snapshot(contents(b)), {})


def reached(ctx: Context, *seeds: str) -> dict[str, dict[str, Any]]:
    g = build_graphs(ctx, START, END)
    idx = [ctx.snap.index[s] for s in seeds]
    return {s["name"]: s for s in impacted(ctx, g, idx, [])}


def test_readers_depend_on_writers_and_not_the_reverse() -> None:
    ctx = world()
    got = reached(ctx, role("etl"))
    assert set(got) == {"Ingest", "Reports", "Downstream"}
    chain = got["Reports"]["chain"]
    assert [h["relation"] for h in chain] == ["writes", "reads", "member"]
    assert chain[0]["evidence"] == "s3:PutObject x100" and chain[1]["evidence"] == "s3:GetObject x50"
    assert got["Reports"]["reached"] == "observed" and got["Ingest"]["reached"] == "membership"
    assert set(reached(ctx, role("reader"))) == {
        "Reports",
        "Downstream",
    }  # the writer does not need its reader


def test_a_consumer_depends_on_its_provider_and_not_the_reverse() -> None:
    ctx = world()
    # Web assumes the platform's role; Search reads the log sink Platform owns (it uses Platform's storage)
    assert set(reached(ctx, role("platform-api"))) == {"Platform", "Web", "Search"}
    assert set(reached(ctx, role("web"))) == {"Web"}


def test_membership_goes_up_only() -> None:
    """Ingest's other role losing access impacts Ingest, but not Ingest's ETL, so not at the resource level
    what the ETL feeds: Reports is reached only as a CI that depends on Ingest (observed CI-to-CI use)."""
    ctx = world()
    g = build_graphs(ctx, START, END)
    walk = reachable(g.resource, [[ctx.snap.index[role("ingest-ops")]]])[0]
    assert not walk.reached[ctx.snap.index[role("etl")]]
    got = reached(ctx, role("ingest-ops"))
    assert [h["relation"] for h in got["Reports"]["chain"]] == ["member", "observed_ci"]


def test_writes_through_an_assumed_role_count_for_whoever_assumes_it() -> None:
    got = reached(world(), role("job"))
    assert "Search" in got
    hop = got["Search"]["chain"][0]
    assert hop["relation"] == "writes_as" and hop["as"] == "archive-writer"


def test_one_of_many_writers_of_a_sink_starves_nobody(monkeypatch: pytest.MonkeyPatch) -> None:
    """The six log writers each make a sixth of the sink's writes, past FEED_SHARE: only the sink rule
    (five or more distinct writers) keeps Search from depending on every one of them."""
    assert "Search" not in reached(world(), role("web"))
    monkeypatch.setattr(propagation, "SINK_WRITERS", 100)
    assert "Search" in reached(world(), role("web"))


def test_flows_into_a_database_stay_at_the_resource_level() -> None:
    """Web's client interface feeds Billing's database as far as flow logs can tell, so Reports' client
    (the database's other client) is reached from Web's interface; but CIs are not tied by it: Web losing a
    role does not impact Billing or Reports."""
    ctx = world()
    got = reached(ctx, eni("app"))
    assert "Reports" in got and [h["relation"] for h in got["Reports"]["chain"]][:2] == ["db_client", "reads"]
    assert not {"Billing", "Reports"} & set(reached(ctx, role("web")))


def test_a_ci_watching_the_estate_is_not_broken_by_each_thing_it_watches(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    watched = [
        role("etl"),
        role("reader"),
        role("platform-api"),
        role("web"),
        role("searcher"),
        role("billing"),
    ]
    extra = [EdgeRow(role("monitor"), "OBSERVED_ASSUME", w, {}, A, 3, SEEN, SEEN) for w in watched]
    ctx = world(extra)
    assert "Monitor" not in reached(ctx, role("ingest-ops"))  # Ingest impacted, not the role Monitor uses
    assert "Monitor" in reached(ctx, role("etl"))  # the very role Monitor uses
    monkeypatch.setattr(propagation, "HUB_SHARE", 10.0)
    assert "Monitor" in reached(world(extra), role("ingest-ops"))


def test_a_chain_through_the_cmdb_alone_says_so() -> None:
    got = reached(world(), role("etl"))
    assert got["Downstream"]["reached"] == "documented"
    assert got["Downstream"]["chain"][-1]["relation"] == "documented"
    order = list(got)
    assert order.index("Ingest") < order.index("Reports") < order.index("Downstream")  # strongest first


def test_evidence_outside_the_window_propagates_nothing() -> None:
    ctx = world()
    g = build_graphs(ctx, datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 6, 30, tzinfo=UTC))
    got = {s["name"] for s in impacted(ctx, g, [ctx.snap.index[role("etl")]], [])}
    assert got == {"Ingest"}  # its own CI only: no observed use or data in that window
    assert np.all(g.relation != propagation.REL["reads"])


def test_writes_through_a_role_many_assume_are_said_unknown_not_followed() -> None:
    """Ten jobs outside any CI assume the archive's writer role as often as the archive's own job: one of
    them makes a eleventh of the role's sessions, under FEED_SHARE, so it is not taken to feed the archive
    (Search is not reached), and the walk says it could not tell."""
    others = [
        EdgeRow(role(f"other-{k}"), "OBSERVED_ASSUME", role("archive-writer"), {}, A, 24, SEEN, SEEN)
        for k in range(10)
    ]
    ctx = world(others)
    g = build_graphs(ctx, START, END)
    found = walk(ctx, g, [ctx.snap.index[role("other-0")]], [])
    assert "Search" not in {s["name"] for s in found.services}
    assert found.shared_writes == [("other-0", "archive-writer", "archive")]
    assert walk(ctx, g, [ctx.snap.index[role("web")]], []).shared_writes == []
