"""``blastwall prepare`` and ``--timings`` on the demo's sample store, through the real command line."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from analyzer.demo import load_directory
from analyzer.graph.store import open_store
from tests.conftest import SAMPLE, SAMPLE_AS_OF, blastwall_cmd

pytestmark = pytest.mark.integration


def bw(store: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    p = subprocess.run(
        [*blastwall_cmd(), "--store", str(store), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )
    assert p.returncode == 0, p.stderr
    return p


@pytest.fixture
def store(tmp_path: Path) -> Path:
    assert not load_directory(open_store(str(tmp_path / "s")), SAMPLE, seen=SAMPLE_AS_OF)
    return tmp_path / "s"


def test_prepare_builds_then_loads_and_writes_nothing_twice(store: Path) -> None:
    first = json.loads(bw(store, "prepare", "--as-of", SAMPLE_AS_OF, "--format", "json").stdout)
    assert first["context"] == "built from the store, read whole" and first["persisted"] is True
    assert set(first["built"]) >= {"network model and flow index", "impact propagation graphs"}
    assert Path(first["path"]).is_file() and Path(first["path"]).parent == store / "derived"
    second = json.loads(bw(store, "prepare", "--as-of", SAMPLE_AS_OF, "--format", "json").stdout)
    assert second["context"] == "loaded from the persisted file" and second["persisted"] is False
    # another window is something new to keep: it is added
    third = json.loads(bw(store, "prepare", "--as-of", "2026-05-14T00:00:00Z", "--format", "json").stdout)
    assert third["context"] == "loaded from the persisted file" and third["persisted"] is True


def test_timings_name_the_phases_of_score(store: Path, tmp_path: Path) -> None:
    p = bw(store, "--timings", "score", "--as-of", SAMPLE_AS_OF, "--format", "json")
    json.loads(p.stdout)  # the output stays the JSON a script reads; the timings go to stderr
    for phase in ("analysis context", "scoring", "write the output", "total (since start)"):
        assert phase in p.stderr, phase
    out = tmp_path / "timings.json"
    bw(store, "score", "--as-of", SAMPLE_AS_OF, "--format", "json", env={"BLASTWALL_TIMINGS": str(out)})
    rep = json.loads(out.read_text())
    names = [x["phase"] for x in rep["phases"]]
    assert "analysis context" in names and rep["peak_mib"] > 0
    assert all(x["seconds"] >= 0 and x["peak_mib"] > 0 for x in rep["phases"])


def test_phases_within_a_phase_are_listed_under_it(tmp_path: Path) -> None:
    text = bw(tmp_path / "fresh", "--timings", "ingest", "directory", str(SAMPLE)).stderr
    outer = text.index("\ningest VPC flow logs")
    for inner in ("interfaces and address history", "read and fold the files", "write the flows"):
        assert text.index("\n  " + inner) > outer, inner  # after the phase it belongs to, one level in
    assert text.index("\ningest the CMDB") > text.index("\n  write the flows")


def _scored(payload: dict) -> dict[str, tuple]:
    return {r["proposal_id"]: (r["tier"], r["risk_score"], r["summary"]) for r in payload["results"]}


def _in_process(store: Path) -> dict[str, tuple]:
    from analyzer import api
    from analyzer.graph.current import forget
    from analyzer.timeutil import parse_time

    forget()
    got = _scored(api.score(open_store(str(store)), as_of=parse_time(SAMPLE_AS_OF), save=False))
    shutil.rmtree(store / "derived")  # what it persisted: the command must start cold
    forget()
    return got


def test_a_cold_score_builds_in_a_child_and_maps_what_it_persisted(store: Path, tmp_path: Path) -> None:
    expected = _in_process(store)
    assert not (store / "derived").exists()
    out = tmp_path / "timings.json"
    env = {"BLASTWALL_TIMINGS": str(out)}
    p = bw(store, "score", "--as-of", SAMPLE_AS_OF, "--format", "json", env=env)
    assert _scored(json.loads(p.stdout)) == expected
    phases = [(x["phase"], x["depth"]) for x in json.loads(out.read_text())["phases"]]
    child = phases.index(("build and persist the analysis context in a child process", 0))
    # the child read the graph, built the structures and persisted them; this process only loaded them
    assert ("read the whole graph", 2) in phases[child:] and ("persist the analysis context", 1) in phases
    assert ("read the whole graph", 1) not in phases and ("load the persisted analysis context", 1) in phases
    assert (store / "derived" / "analysis-context.pkl").is_file()
    again = bw(store, "score", "--as-of", SAMPLE_AS_OF, "--format", "json", env=env)
    assert _scored(json.loads(again.stdout)) == expected
    names = [x["phase"] for x in json.loads(out.read_text())["phases"]]
    assert "build and persist the analysis context in a child process" not in names  # already current


def test_a_child_that_cannot_persist_leaves_the_build_to_the_command(store: Path, tmp_path: Path) -> None:
    expected = _in_process(store)
    (store / "derived").write_text("a file where the directory would be: nothing can be persisted")
    out = tmp_path / "timings.json"
    p = bw(store, "score", "--as-of", SAMPLE_AS_OF, "--format", "json", env={"BLASTWALL_TIMINGS": str(out)})
    assert "could not be persisted" in p.stderr
    assert _scored(json.loads(p.stdout)) == expected
    phases = [(x["phase"], x["depth"]) for x in json.loads(out.read_text())["phases"]]
    assert ("build and persist the analysis context in a child process", 0) in phases
    assert ("read the whole graph", 1) in phases  # built here after all, as before
