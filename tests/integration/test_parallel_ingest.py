"""Evidence files read on both cores load exactly what reading them one by one loads: the same graph, the
same coverage, the same report (errors named by file, attribution tallies), and a damaged file in the
middle still costs only itself."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path
from typing import Any

import pytest

from analyzer.graph.store import open_store
from analyzer.synth import generate
from connectors.aws.addresses import COLLECTION as ADDRESS_HISTORY
from connectors.aws.snapshot import load_snapshot
from connectors.evidence import parallel
from connectors.evidence.cloudtrail import ingest_cloudtrail
from connectors.evidence.flowlogs import ingest_flowlogs

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("synth") / "s"
    generate("S", 3, root)
    # one damaged file of each kind among the good ones: a truncated gzip stream
    for sub in ("cloudtrail", "flowlogs"):
        victim = sorted((root / sub).rglob("*.gz"))[len(list((root / sub).rglob("*.gz"))) // 2]
        data = gzip.compress(gzip.decompress(victim.read_bytes()))
        victim.write_bytes(data[: len(data) // 2])
    return root


def _ingest(root: Path, store_dir: Path, workers: int, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("BLASTWALL_INGEST_WORKERS", str(workers))
    store = open_store(str(store_dir))
    assert not load_snapshot(store, root / "aws", seen="2026-05-08T00:00:00Z").errors
    ct = ingest_cloudtrail(store, [root / "cloudtrail"])
    fl = ingest_flowlogs(store, [root / "flowlogs"])
    graph = store.read_graph()
    return {
        "nodes": [(n.id, n.kind, n.props) for n in graph.nodes],
        "edges": [
            (e.src, e.kind, e.dst, e.key, e.props, e.count, e.first_seen, e.last_seen) for e in graph.edges
        ],
        "coverage": store.get_documents("coverage"),
        "files": sorted(d["path"] for d in store.get_documents("ingested_files").values()),
        "cloudtrail": (ct.files, ct.records, ct.edges, ct.errors),
        "flowlogs": (fl.files, fl.records, fl.errors, fl.skipped_lines, fl.attribution),
    }


def test_two_workers_load_what_one_loads(
    synth: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    real = parallel.ProcessPoolExecutor

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(parallel, "ProcessPoolExecutor", counting)
    one = _ingest(synth, tmp_path / "one", 1, monkeypatch)
    assert not calls  # read here, one file after another
    two = _ingest(synth, tmp_path / "two", 2, monkeypatch)
    assert len(calls) == 3  # the snapshot's accounts, CloudTrail and flow logs each on a pool
    assert one == two
    # the damaged files are named, and everything else loaded
    assert len(one["cloudtrail"][3]) == 1 and ".json.gz" in one["cloudtrail"][3][0]
    assert len(one["flowlogs"][2]) == 1 and ".log.gz" in one["flowlogs"][2][0]
    assert one["cloudtrail"][0] > 4 and one["flowlogs"][0] > 4 and one["edges"]
    assert sum(one["flowlogs"][4]["counts"].values()) > 0  # the workers' attribution tallies came back


def test_accounts_transformed_ahead_load_what_one_by_one_loads(
    synth: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The snapshot's next accounts are transformed by a worker while this process writes: the same graph
    and report, and an account whose response is not shaped like AWS's is named and skipped there too
    (the accounts after it still load)."""
    aws = tmp_path / "aws"
    shutil.copytree(synth / "aws", aws)
    accounts = sorted(p.name for p in aws.iterdir())
    assert len(accounts) >= parallel.MIN_FILES  # else both runs would transform here
    bad = accounts[len(accounts) // 2]
    (aws / bad / "us-east-1" / "ec2-DescribeNetworkInterfaces.json").write_text('{"NetworkInterfaces": 7}')
    pools: list[int] = []
    real = parallel.ProcessPoolExecutor
    monkeypatch.setattr(parallel, "ProcessPoolExecutor", lambda *a, **k: pools.append(1) or real(*a, **k))
    got = []
    for workers in (1, 2):
        monkeypatch.setenv("BLASTWALL_INGEST_WORKERS", str(workers))
        store = open_store(str(tmp_path / f"w{workers}"))
        rep = load_snapshot(store, aws, seen="2026-05-08T00:00:00Z")
        graph = store.read_graph()
        got.append(
            (
                rep.loaded,
                rep.errors,
                rep.warnings,
                sorted((n.id, n.kind, n.props) for n in graph.nodes),
                sorted((e.src, e.kind, e.dst, e.key) for e in graph.edges),
                store.get_documents(ADDRESS_HISTORY),
            )
        )
    assert len(pools) == 1  # one worker pool: the run with two workers
    assert got[0] == got[1] and got[0][5]  # the address history too
    loaded, errors = got[0][0], got[0][1]
    assert len(errors) == 1 and bad in errors[0] and "skipped" in errors[0]
    assert sorted(loaded) == [a for a in accounts if a != bad]


def test_reingest_on_two_workers_is_a_no_op(
    synth: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _ingest(synth, tmp_path / "store", 2, monkeypatch)
    store = open_store(str(tmp_path / "store"))
    gen = store.generation()
    again = ingest_flowlogs(store, [synth / "flowlogs"])
    assert again.files == 0 and again.skipped_already_ingested == first["flowlogs"][0]
    assert len(again.errors) == 1  # the damaged file is still damaged, and still said
    assert store.generation() == gen  # nothing new: nothing written


def test_a_copy_of_a_file_counts_once(synth: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy = tmp_path / "logs"
    shutil.copytree(synth / "cloudtrail", copy / "a")
    shutil.copytree(synth / "cloudtrail", copy / "b")
    monkeypatch.setenv("BLASTWALL_INGEST_WORKERS", "2")
    store = open_store(str(tmp_path / "store"))
    rep = ingest_cloudtrail(store, [copy])
    single = ingest_cloudtrail(open_store(str(tmp_path / "single")), [synth / "cloudtrail"])
    assert rep.files == single.files and rep.records == single.records
    assert rep.skipped_already_ingested == single.files  # the second copy of each
