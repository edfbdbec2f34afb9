"""Two writers at once, as an operator would start them: the second waits for the first (never an
interleave), the result is what one load gives, and a writer that waits too long says who holds the store.
Readers keep reading while a writer holds it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from analyzer.graph.store import open_store
from tests.conftest import blastwall_cmd

pytestmark = pytest.mark.integration


def canonical(uri: str) -> dict:
    """What a store holds, without the stamps that say when it was written."""
    store = open_store(uri)
    try:
        g = store.read_graph()
        nodes = sorted(
            (n.id, n.kind, json.dumps(n.props, sort_keys=True), n.account, n.first_seen, n.last_seen)
            for n in g.nodes
        )
        edges = sorted(
            (
                e.src,
                e.kind,
                e.dst,
                e.key,
                json.dumps(e.props, sort_keys=True),
                e.account,
                e.count,
                e.first_seen,
                e.last_seen,
            )
            for e in g.edges
        )
        docs = {c: store.get_documents(c) for c in ("ingested_files", "coverage", "proposals", "ip_history")}
        for p in docs["proposals"].values():
            p.pop("imported_at", None)  # when it was first imported: the one stamp a document keeps
        return {"nodes": nodes, "edges": edges, "docs": json.dumps(docs, sort_keys=True, default=str)}
    finally:
        store.close()


def _start(store: Path, *args: str, env: dict | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*blastwall_cmd(), "--store", str(store), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ | (env or {}),
    )


@pytest.mark.parametrize(
    "args",
    [
        ("ingest", "cloudtrail", "cloudtrail"),
        ("ingest", "aws-snapshot", "aws", "--collected-at", "2026-05-15T06:00:00Z"),
        ("ingest", "flowlogs", "flowlogs"),
    ],
    ids=["cloudtrail", "aws-snapshot", "flowlogs"],
)
def test_two_ingests_at_once_give_what_one_gives(
    tmp_path: Path, sample_dir: Path, args: tuple[str, ...]
) -> None:
    argv = [*args[:2], str(sample_dir / args[2]), *args[3:]]
    once = tmp_path / "once"
    assert (
        subprocess.run([*blastwall_cmd(), "--store", str(once), *argv], capture_output=True).returncode == 0
    )
    twice = tmp_path / "twice"
    procs = [_start(twice, *argv) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert canonical(str(twice)) == canonical(str(once))
    # and a third, later, changes nothing
    assert (
        subprocess.run([*blastwall_cmd(), "--store", str(twice), *argv], capture_output=True).returncode == 0
    )
    assert canonical(str(twice)) == canonical(str(once))


HOLDER = """
import sys, time
from analyzer.graph.store import open_store
s = open_store(sys.argv[1])
with s.lease("ingest cloudtrail"):
    print("holding", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def test_a_writer_that_waits_too_long_says_who_holds_the_store(tmp_path: Path, sample_dir: Path) -> None:
    store = tmp_path / "s"
    open_store(store).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(store), "30"], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
    try:
        t = time.monotonic()
        out = subprocess.run(
            [*blastwall_cmd(), "--store", str(store), "ingest", "cloudtrail", str(sample_dir / "cloudtrail")],
            capture_output=True,
            text=True,
            env=os.environ | {"BLASTWALL_LEASE_WAIT": "6"},
            timeout=60,
        )
        assert out.returncode == 1
        assert (
            f"store busy: ingest cloudtrail (pid {holder.pid}," in out.stderr
            and "holds it since" in out.stderr
        )
        assert "waiting for the store: ingest cloudtrail" in out.stderr  # the progress line while it waited
        assert 6 <= time.monotonic() - t < 30
        # readers keep reading meanwhile
        assert (
            subprocess.run(
                [*blastwall_cmd(), "--store", str(store), "settings", "show"], capture_output=True
            ).returncode
            == 0
        )
        store_obj = open_store(store)
        assert store_obj.read_graph().generation >= 0
        store_obj.close()
    finally:
        holder.kill()
        holder.wait()
    # the holder died: the kernel released its lock, the next writer goes at once
    out = subprocess.run(
        [*blastwall_cmd(), "--store", str(store), "ingest", "cloudtrail", str(sample_dir / "cloudtrail")],
        capture_output=True,
        text=True,
        env=os.environ | {"BLASTWALL_LEASE_WAIT": "2"},
    )
    assert out.returncode == 0, out.stderr


def test_the_lease_is_reentrant_in_a_thread_and_exclusive_across_threads(tmp_path: Path) -> None:
    import threading

    from analyzer.graph.lease import StoreBusy

    store = open_store(tmp_path / "s")
    got: list[str] = []
    with store.lease("outer"), store.lease("inner"):  # nested: no deadlock
        t = threading.Thread(target=lambda: _try(store, got))
        t.start()
        t.join()
    assert got and got[0].startswith("store busy: outer")
    with store.lease("again"):
        pass
    store.close()
    assert StoreBusy


def _try(store: object, got: list[str]) -> None:
    from analyzer.graph.lease import StoreBusy

    try:
        with store.lease("other", wait=0.3):  # type: ignore[attr-defined]
            got.append("acquired")
    except StoreBusy as exc:
        got.append(str(exc))


def test_the_neo4j_store_has_one_writer_too(falkordb_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from analyzer.graph import lease

    uri = f"{falkordb_server}?database=leasetest&dialect=falkordb"
    a, b = open_store(uri), open_store(uri)
    got: list[str] = []
    with a.lease("ingest aws-snapshot"):
        t = threading.Thread(target=lambda: _try(b, got))
        t.start()
        t.join()
    assert got and got[0].startswith("store busy: ingest aws-snapshot (pid")
    with b.lease("next"):  # released: the next writer gets it
        pass
    # a holder that stops renewing (a dead process) loses the lease after its time to live
    monkeypatch.setattr(lease, "TTL", 0.5)
    g = lease.GraphLease(a._q, "leasetest:write")  # type: ignore[attr-defined]
    assert g._claim("ghost", json.dumps({"command": "x", "pid": 1, "host": "h", "since": "t"}))
    time.sleep(0.7)
    with b.lease("after the ghost", wait=2):
        pass
