"""The same sample through both stores gives the same scores: one schema drives both."""

from __future__ import annotations

from pathlib import Path

import pytest

from analyzer.demo import run_demo

pytestmark = pytest.mark.integration


def _comparable(payload: dict) -> dict:
    """What must agree: everything but the store's generation counter and the review's ledger status,
    which names each demo organization's own root key (two runs, two organizations)."""
    review = {k: v for k, v in payload["review"].items() if k != "ledger"}
    assert payload["review"]["ledger"]["ok"] is True
    return {k: v for k, v in payload.items() if k not in ("store_generation", "review")} | {"review": review}


def test_demo_scores_identically_on_sqlite_and_neo4j(
    tmp_path: Path, falkordb_fresh: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from analyzer.graph.neo4j_store import shared_driver

    monkeypatch.setenv("BLASTWALL_LEDGER", str(tmp_path / "neo4j-ledger" / "ledger.jsonl"))

    shared_driver(falkordb_fresh, "falkordb", "").execute_query("MATCH (n) DETACH DELETE n")
    sqlite_store, on_sqlite = run_demo(str(tmp_path / "store"))
    neo4j_store, on_neo4j = run_demo(f"{falkordb_fresh}?database=blastwall&dialect=falkordb")
    assert _comparable(on_neo4j) == _comparable(on_sqlite)
    a, b = sqlite_store.read_graph(), neo4j_store.read_graph()
    assert [(n.id, n.kind, n.props, n.first_seen, n.last_seen) for n in a.nodes] == [
        (n.id, n.kind, n.props, n.first_seen, n.last_seen) for n in b.nodes
    ]
    assert [(e.src, e.kind, e.dst, e.count, e.first_seen, e.last_seen) for e in a.edges] == [
        (e.src, e.kind, e.dst, e.count, e.first_seen, e.last_seen) for e in b.edges
    ]
