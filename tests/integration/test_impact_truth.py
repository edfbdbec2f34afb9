"""Impacted services measured against the synthetic enterprise's ground truth (``truth.json``: the services
each finding's change really breaks, drawn from the business world before any evidence was written).

At S, four enterprises pooled (each has only about thirty measurable findings); at M, one. Precision and
recall of ``impacted_services`` at least 0.9; every service missed is in a result that said its impact may
reach further than the evidence shows; a result without evidence for its account is never a clean bill;
at M few propagating proposals impact more than half of the services, and those really do."""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from analyzer import api
from analyzer.demo import load_directory
from analyzer.graph import current
from analyzer.graph.store import open_store
from analyzer.scoring import propagation
from analyzer.synth import generate
from analyzer.synth_measure import FLAGS, Accuracy, accuracy
from analyzer.timeutil import parse_time

pytestmark = pytest.mark.integration
S_SEEDS = (5, 7, 11, 12)


def _scored(tmp: Path, scale: str, seed: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    data = tmp / f"{scale}-{seed}"
    generate(scale, seed, data)
    as_of = json.loads((data / "synth.json").read_text())["as_of"]
    store = open_store(str(tmp / f"{scale}-{seed}-store"))
    assert load_directory(store, data, seen=as_of) == []
    results = api.score(store, as_of=parse_time(as_of), save=False)["results"]
    return results, json.loads((data / "truth.json").read_text())


def _pooled(runs: list[tuple[list[dict[str, Any]], dict[str, Any]]]) -> Accuracy:
    parts = [accuracy(results, truth) for results, truth in runs]
    fields = {k: sum(getattr(p, k) for p in parts) for k in Accuracy.__dataclass_fields__ if k != "services"}
    return Accuracy(**fields, services=parts[0].services)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[list[dict[str, Any]], dict[str, Any]]]:
    tmp = tmp_path_factory.mktemp("truth-s")
    return [_scored(tmp, "S", seed) for seed in S_SEEDS]


def _no_clean_bill(results: list[dict[str, Any]], truth: dict[str, Any]) -> None:
    """A finding whose change really breaks something either names what it breaks or says it cannot see."""
    for r in results:
        real = truth["findings"][r["source"]["finding_id"]]["breaks"]
        if real and not r["impacted_services"]:
            assert {u["reason"] for u in r["unknowns"]} & (FLAGS | {"no_evidence_coverage"}), r["proposal_id"]
            assert r["tier"] != "auto"


def test_precision_and_recall_against_the_truth_at_s(
    small: list[tuple[list[dict[str, Any]], dict[str, Any]]],
) -> None:
    a = _pooled(small)
    assert a.findings > 80 and a.true_positive > 100, a.as_dict()
    assert a.precision >= 0.9 and a.recall >= 0.9, a.as_dict()
    assert a.missed_unflagged == 0, a.as_dict()
    for results, truth in small:
        _no_clean_bill(results, truth)


def test_every_impacted_service_is_explained_by_its_chain(
    small: list[tuple[list[dict[str, Any]], dict[str, Any]]],
) -> None:
    seen = set()
    for results, _truth in small:
        for r in results:
            consumers = {s["consumer"].rsplit("/", 1)[-1] for s in r["severed"] if s["observed"]}
            for s in r["impacted_services"]:
                chain = s["chain"]
                assert len(chain) == s["hops"] >= 1 and chain[-1]["to"] == s["name"]
                assert chain[0]["from"] in consumers  # it starts at a consumer the change cuts off
                assert all(a["to"] == b["from"] for a, b in pairwise(chain))
                seen.add(s["reached"])
    assert seen == {"membership", "observed", "documented"}


def test_without_the_hub_rule_the_observability_platform_ties_everything_together(
    small: list[tuple[list[dict[str, Any]], dict[str, Any]]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The defence is what keeps precision: with it off, the scraper that watches every interface makes
    every impacted service impact the observability platform, and everything that uses it."""
    monkeypatch.setattr(propagation, "HUB_SHARE", 10.0)
    current.forget()
    try:
        off = _pooled([_scored(tmp_path, "S", seed) for seed in S_SEEDS])
    finally:
        current.forget()
    assert off.precision < 0.8 < _pooled(small).precision, off.as_dict()


def test_at_m_the_radius_discriminates(tmp_path: Path) -> None:
    results, truth = _scored(tmp_path, "M", 1)
    a = accuracy(results, truth)
    assert a.precision >= 0.9 and a.recall >= 0.9, a.as_dict()
    assert a.missed_unflagged == 0, a.as_dict()
    assert a.propagating > 500 and a.wide_share <= 0.05, a.as_dict()
    half = a.services / 2
    for r in results:  # where a radius is wide, the truth says so too
        if len([s for s in r["impacted_services"] if s["kind"] == "business_service"]) > half:
            assert len(truth["findings"][r["source"]["finding_id"]]["breaks"]) > half, r["proposal_id"]
    _no_clean_bill(results, truth)
