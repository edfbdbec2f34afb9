"""The analysis context persisted beside the store: a new process loads it (arrays mapped from the file)
instead of reading the whole graph, scores exactly as a rebuilt one, never uses one of another generation,
and never runs what a planted file names."""

from __future__ import annotations

import io
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from analyzer import api
from analyzer.demo import load_directory
from analyzer.graph import persisted
from analyzer.graph.current import forget
from analyzer.graph.store import EMPTY_PROPS, open_store
from analyzer.timeutil import parse_time
from tests.conftest import SAMPLE, SAMPLE_AS_OF

pytestmark = pytest.mark.integration

SCORE_IN_NEW_PROCESS = """
import json, sys
from analyzer import api
from analyzer.graph.store import open_store
from analyzer.timeutil import parse_time
store = open_store(sys.argv[1])
loaded = api.analysis_context(store).persisted_keys is not None
out = api.score(store, as_of=parse_time(sys.argv[2]), save=False)
print(json.dumps({"loaded": loaded,
                  "results": {r["proposal_id"]: [r["risk_score"], r["tier"], r["summary"]] for r in out["results"]}}))
"""


def _fresh(store_dir: Path) -> dict:
    """Score every proposal in a new Python process (nothing of this one's caches)."""
    p = subprocess.run(
        [sys.executable, "-c", SCORE_IN_NEW_PROCESS, str(store_dir), SAMPLE_AS_OF],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout.strip().splitlines()[-1])


@pytest.fixture
def sample_store(tmp_path: Path) -> Path:
    store = open_store(str(tmp_path / "store"))
    assert not load_directory(store, SAMPLE, seen=SAMPLE_AS_OF)
    return tmp_path / "store"


def _context_file(store_dir: Path) -> Path:
    return store_dir / "derived" / api.CONTEXT_FILE


def test_a_new_process_loads_the_persisted_context_and_scores_the_same(sample_store: Path) -> None:
    first = _fresh(sample_store)
    assert first["loaded"] is False and _context_file(sample_store).exists()  # built, then persisted
    second = _fresh(sample_store)
    assert second["loaded"] is True
    assert second["results"] == first["results"] and len(first["results"]) >= 3


def test_saving_results_keeps_it_and_new_evidence_replaces_it(sample_store: Path) -> None:
    store = open_store(str(sample_store))
    forget()
    api.score(store, as_of=parse_time(SAMPLE_AS_OF))  # saves results: the graph is unchanged
    head = persisted.header(_context_file(sample_store))
    assert head is not None and head["graph_generation"] == store.graph_generation()
    assert store.generation() > store.graph_generation()
    assert _fresh(sample_store)["loaded"] is True
    # a new day of coverage is something analysis reads: the persisted context is not used
    store.put_documents("coverage", {"cloudtrail/999999999999/us-east-1": {"source": "cloudtrail"}})
    assert _fresh(sample_store)["loaded"] is False
    assert persisted.header(_context_file(sample_store))["graph_generation"] == store.graph_generation()


def test_loaded_arrays_are_views_of_the_file_and_private_when_written(sample_store: Path) -> None:
    store = open_store(str(sample_store))
    forget()
    api.persist_context(store, api.analysis_context(store))
    forget()
    ctx = api.analysis_context(store)
    assert ctx.persisted_keys is not None
    src = ctx.snap.edges["OBSERVED_CALL"].src
    assert not src.flags.owndata and src.flags.writeable  # mapped copy-on-write, not read into memory
    bin_file = _context_file(sample_store).with_name(persisted.header(_context_file(sample_store))["bin"])
    before = bin_file.read_bytes()
    src[0] = src[0] + 1  # a process writing to a loaded array changes its own copy, never the file
    assert bin_file.read_bytes() == before
    assert any(n.props is EMPTY_PROPS for n in ctx.snap.nodes)  # the shared empty map stays shared


class _Boom:
    """What an attacker with write access to the directory would plant: unpickling it runs a command."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (os.system, (f"touch {self.marker}",))


def _plant(path: Path, obj: object, header: dict) -> None:
    """A file with a valid header (what ``load`` expects for this store) whose pickle holds ``obj``."""
    persisted.save(obj, path, header)


def _unpickle_all(body: bytes) -> list[object]:
    """Every pickle in a persisted file's body (the column manifest, the columns, the object), by plain
    pickle."""
    f = io.BytesIO(body)
    u = pickle.Unpickler(f)
    out = []
    while f.tell() < len(body):
        out.append(u.load())
    return out


def test_a_planted_file_is_refused_and_never_run(sample_store: Path, tmp_path: Path) -> None:
    store = open_store(str(sample_store))
    forget()
    ctx = api.analysis_context(store)
    key = next(k for k, v in ctx.snap.memo_items() if v is ctx)
    header = api._persisted_header(store, store.graph_generation(), key)
    marker = tmp_path / "pwned"
    path = _context_file(sample_store)
    _plant(path, _Boom(marker), header)
    with pytest.raises(persisted.Refused, match=r"(posix|os)\.system"):
        persisted.load(path, header)
    assert not marker.exists()
    # plain pickle would have run it: the defence, not the payload, is what keeps the marker away
    _unpickle_all(path.read_bytes().split(b"\n", 1)[1])
    assert marker.exists()
    marker.unlink()
    # the command notices, discards the file and rebuilds from the store
    out = _fresh(sample_store)
    assert out["loaded"] is False and not marker.exists()
    assert _fresh(sample_store)["loaded"] is True  # and the rebuilt one was persisted in its place


@pytest.mark.parametrize(
    "name",
    [
        ("analyzer.graph.sqlite_store", "SqliteStore"),  # a class of ours whose constructor opens files
        ("builtins", "eval"),
        ("builtins", "getattr"),
        ("subprocess", "Popen"),
        ("analyzer.graph.store", "open_store"),
        ("numpy", "load"),
    ],
)
def test_only_what_a_context_is_made_of_resolves(name: tuple[str, str]) -> None:
    import io

    r = persisted.Restricted(io.BytesIO(b""))
    with pytest.raises(persisted.Refused):
        r.find_class(*name)


def test_a_header_naming_another_file_is_refused(sample_store: Path) -> None:
    store = open_store(str(sample_store))
    forget()
    ctx = api.analysis_context(store)
    api.persist_context(store, ctx)
    path = _context_file(sample_store)
    raw = path.read_bytes()
    line, rest = raw.split(b"\n", 1)
    head = json.loads(line)
    head["bin"] = "../../etc/passwd"
    path.write_bytes(json.dumps(head).encode() + b"\n" + rest)
    expect = {k: head[k] for k in ("what", "store", "graph_generation", "key")}
    with pytest.raises(ValueError, match="names"):
        persisted.load(path, expect)
    forget()
    assert api.analysis_context(store).persisted_keys is None  # rebuilt from the store instead


def test_a_truncated_file_is_rebuilt_not_trusted(sample_store: Path) -> None:
    store = open_store(str(sample_store))
    forget()
    api.persist_context(store, api.analysis_context(store))
    path = _context_file(sample_store)
    head = persisted.header(path)
    bin_file = path.with_name(head["bin"])
    bin_file.write_bytes(bin_file.read_bytes()[: head["bin_size"] // 2])  # a crash mid-copy, a full disk
    forget()
    ctx = api.analysis_context(store)
    assert ctx.persisted_keys is None  # rebuilt from the store, and whole
    graph = store.read_graph()
    assert len(ctx.snap.nodes) == len(graph.nodes)
    assert np.array_equal(ctx.snap.edges["OBSERVED_CALL"].count, graph.edges.kinds["OBSERVED_CALL"].count)


def test_a_store_from_before_the_graph_generation_gets_one_at_open(sample_store: Path) -> None:
    """A store written by an older Blastwall has no graph generation: opening it starts one, so saving
    results afterwards does not make every persisted context stale."""
    import sqlite3

    con = sqlite3.connect(sample_store / "blastwall.sqlite")
    con.execute("DELETE FROM meta WHERE key = 'graph_generation'")
    con.commit()
    con.close()
    store = open_store(str(sample_store))
    gg = store.graph_generation()
    store.put_documents("results", {"x": {"risk_score": 0}})
    assert store.graph_generation() == gg < store.generation()
