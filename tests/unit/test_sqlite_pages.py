"""The embedded store's pages: a new store is made with 16 KiB pages (a store keeps the size it was made
with, and reads and writes as before), and a page size SQLite would ignore is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from analyzer.errors import BlastwallError
from analyzer.graph import sqlite_store
from analyzer.graph.schema import Batch, EdgeRow, NodeRow
from analyzer.graph.sqlite_store import SqliteStore


def _page_size(store: SqliteStore) -> int:
    return int(store._conn.execute("PRAGMA page_size").fetchone()[0])


def _batch(n: int) -> Batch:
    b = Batch("test")
    for i in range(n):
        b.nodes.append(NodeRow(f"urn:test:n{i}", "Address", {"i": i}))
    for i in range(1, n):
        b.edges.append(EdgeRow(f"urn:test:n{i - 1}", "OBSERVED_FLOW", f"urn:test:n{i}", {"port": str(i)}))
    return b


def _contents(store: SqliteStore) -> tuple[list[tuple[str, str]], list[tuple[str, str, str, str]]]:
    g = store.read_graph()
    return sorted((n.id, n.kind) for n in g.nodes), sorted(
        (e.src, e.kind, e.dst, e.key) for e in store.edges_from("urn:test:n0", ("OBSERVED_FLOW",))
    )


def test_a_new_store_has_16k_pages_and_an_old_one_keeps_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    new = SqliteStore(tmp_path / "new")
    assert _page_size(new) == sqlite_store.PAGE_SIZE == 16384
    monkeypatch.setenv("BLASTWALL_SQLITE_PAGE_SIZE", "4096")
    old = SqliteStore(tmp_path / "old")
    assert _page_size(old) == 4096
    old.close()
    monkeypatch.delenv("BLASTWALL_SQLITE_PAGE_SIZE")
    reopened = SqliteStore(tmp_path / "old")  # made with 4096: it stays so, and reads and writes as before
    assert _page_size(reopened) == 4096
    for store in (new, reopened):
        store.load(_batch(50), update_tag=1)
    assert _contents(new) == _contents(reopened)


@pytest.mark.parametrize("value", ["1000", "131072", "256", "big"])
def test_a_page_size_that_sqlite_would_ignore_is_refused(
    value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BLASTWALL_SQLITE_PAGE_SIZE", value)
    with pytest.raises(BlastwallError, match=f"BLASTWALL_SQLITE_PAGE_SIZE={value}: a power of two"):
        SqliteStore(tmp_path / "s")
