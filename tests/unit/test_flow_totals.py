"""Flow totals kept as columns add up what the files said: the same flows, counts, first and last seen and
reporting account as folding every file's rows into one dict, however often the pending block is folded
(forced small here), and the rows a store writes come back as those flows."""

from __future__ import annotations

import random
from typing import Any

import pytest

from connectors.evidence import flow_totals
from connectors.evidence.flow_totals import FlowTotals, part_of
from connectors.evidence.flowlogs import FlowAggregate, transform_lines


def _file(rng: random.Random, n: int) -> list[str]:
    lines = []
    for _ in range(n):
        a, b = (
            rng.choice(["10.0.0.5", "10.0.0.9", "10.0.1.7", "198.51.100.1"]),
            rng.choice(["10.0.0.9", "10.0.2.2"]),
        )
        port = rng.choice(["443", "5432", "22"])
        start = 1746057600 + 60 * rng.randrange(0, 2000)
        action = rng.choice(["ACCEPT", "ACCEPT", "REJECT"])
        acct = rng.choice(["111111111111", "222222222222"])
        lines.append(f"2 {acct} eni-x {a} {b} 40000 {port} 6 1 40 {start} {start + 60} {action} OK")
    return lines


ENIS = {"10.0.0.5": "eni-a", "10.0.0.9": "eni-b", "10.0.1.7": "eni-c"}


def _reference(files: list[list[str]]) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    """What one dict folding every file in order holds: per flow, count, first and last seen, and the
    account of its first record."""
    out: dict[tuple[Any, ...], list[Any]] = {}
    for k, lines in enumerate(files):
        agg = FlowAggregate()
        transform_lines(lines, f"f{k}", ENIS, "us-east-1", agg)
        for e in agg.edges.values():
            key = (e.src, e.kind, e.dst, e.props["protocol"], e.props["port"])
            cur = out.get(key)
            if cur is None:
                out[key] = [e.count, e.first_seen, e.last_seen, e.account]
            else:
                cur[0] += e.count
                cur[1] = min(cur[1], e.first_seen)
                cur[2] = max(cur[2], e.last_seen)
    return {k: tuple(v) for k, v in out.items()}


@pytest.mark.parametrize("packed", [True, False], ids=["one-int64-key", "key-columns"])
@pytest.mark.parametrize("every", [1, 7, 10_000_000])
def test_totals_are_the_dict_fold(every: int, packed: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Folded by one packed key where the codes fit in 63 bits, else by the key columns: the same."""
    if not packed:
        monkeypatch.setattr(flow_totals, "_packed", lambda cols: None)
    monkeypatch.setattr(flow_totals, "CONSOLIDATE_ROWS", every)
    monkeypatch.setattr(flow_totals, "ROWS_PER_BLOCK", 5)
    rng = random.Random(11)
    files = [_file(rng, rng.randrange(0, 60)) for _ in range(25)]
    totals = FlowTotals()
    for k, lines in enumerate(files):
        agg = FlowAggregate()
        transform_lines(lines, f"f{k}", ENIS, "us-east-1", agg)
        totals.add(part_of(agg))
    got = {
        (e.src, e.kind, e.dst, e.props["protocol"], e.props["port"]): (
            e.count,
            e.first_seen,
            e.last_seen,
            e.account,
        )
        for e in totals.edge_rows()
    }
    keys = [(e.src, e.kind, e.dst, e.key) for e in totals.edge_rows()]
    assert keys == sorted(keys)  # in the order of a store's key, so its B-tree takes them in sequence
    want = _reference(files)
    assert got == want and len(totals) == len(want)
    assert sum(v[0] for v in got.values()) == totals.records == sum(len(f) for f in files)
    ends = dict(totals.endpoints())
    assert ends["eni-a"] == "NetworkInterface" and ends["urn:ip:198.51.100.1"] == "Address"
    assert {k[0] for k in want} | {k[2] for k in want} == set(ends)


def test_an_empty_file_adds_nothing() -> None:
    totals = FlowTotals()
    totals.add(part_of(FlowAggregate()))
    assert len(totals) == 0 and list(totals.edge_rows()) == [] and list(totals.endpoints()) == []


def test_first_and_last_seen_kept_as_the_epochs_they_came_from() -> None:
    """A file's aggregate keeps the epoch second each first/last seen text was made from, so its columns
    need not parse the texts back: the columns equal those made by parsing them, and every kept epoch is
    the one its text says (a wrong one, e.g. the record's end instead of its start, fails here)."""
    import numpy as np

    from analyzer.timeutil import parse_time

    agg = FlowAggregate()
    transform_lines(_file(random.Random(7), 400), "f", ENIS, "us-east-1", agg)
    assert agg.epochs
    assert all(int(parse_time(text).timestamp()) == t for text, t in agg.epochs.items())
    fast = part_of(agg)
    agg.epochs.clear()
    parsed = part_of(agg)
    for name in ("a", "b", "kind", "service", "count", "first", "last", "account"):
        assert np.array_equal(getattr(fast, name), getattr(parsed, name)), name
