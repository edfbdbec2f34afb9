"""Flow-log aggregates held as columns, so the totals of a large estate fit in bounded memory.

A worker folds one file into a ``FlowAggregate`` (a few thousand rows) and hands back a ``FlowPart``:
its distinct endpoint ids, its distinct (protocol, port) pairs and one row per flow as integer codes, a
count and first/last seen as epoch seconds. ``FlowTotals`` adds parts in file order: rows of new parts
are appended to a pending block, and when that grows past ``CONSOLIDATE_ROWS`` rows the block is folded
into the running totals with one sort (counts summed, first seen the earliest, last seen the latest).
Memory is then about 40 bytes a distinct flow, instead of a Python object with a property map each
(at scale L, 8 million flows: 9.9 GiB before). ``edge_rows`` makes the ``EdgeRow`` objects a block at a
time, for a store to write as they come.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from analyzer.graph.schema import EdgeRow
from analyzer.timeutil import iso, parse_time

KINDS = ("OBSERVED_FLOW", "OBSERVED_REJECT")  # in the order of their names, as rows are written
NO_TIME = np.iinfo(np.int64).min
"""First/last seen unknown (a record without a usable start never gets here: kept for safety)."""
CONSOLIDATE_ROWS = 2_000_000
ROWS_PER_BLOCK = 100_000


@dataclass
class FlowAggregate:
    """One file's flows as a worker folds them (``flowlogs.transform_lines``), keyed by (source, kind,
    destination, protocol, port)."""

    edges: dict[tuple[str, str, str, str, str], EdgeRow] = field(default_factory=dict)
    endpoints: dict[str, str] = field(default_factory=dict)  # node id -> kind
    days: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    records: int = 0
    skipped: list[str] = field(default_factory=list)
    attribution: tuple[Counter[str], dict[str, list[str]]] = field(default_factory=lambda: (Counter(), {}))
    """How the ends of this file's records were attributed (``FlowAttribution`` tallies)."""
    epochs: dict[str, int] = field(default_factory=dict)
    """First/last seen texts -> the epoch seconds they were made from (so ``part_of`` need not parse them)."""


@dataclass
class FlowPart:
    """One file's flows as columns (see the module); ``days``, ``records``, ``skipped`` and
    ``attribution`` as in ``FlowAggregate``."""

    ends: list[str]
    services: list[tuple[str, str]]
    a: np.ndarray
    b: np.ndarray
    kind: np.ndarray
    service: np.ndarray
    count: np.ndarray
    first: np.ndarray
    last: np.ndarray
    accounts: list[str]
    account: np.ndarray
    days: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    records: int = 0
    skipped: list[str] = field(default_factory=list)
    attribution: Any = None


def _epoch(text: str | None, cache: dict[str | None, int]) -> int:
    got = cache.get(text)
    if got is None:
        got = cache[text] = NO_TIME if text is None else int(parse_time(text).timestamp())
    return got


def part_of(agg: FlowAggregate) -> FlowPart:
    """``agg``'s flows as columns."""
    ends: dict[str, int] = {}
    services: dict[tuple[str, str], int] = {}
    accounts: dict[str, int] = {}
    times: dict[str | None, int] = {}
    times.update(agg.epochs)
    rows = []
    for e in agg.edges.values():
        rows.append(
            (
                ends.setdefault(e.src, len(ends)),
                ends.setdefault(e.dst, len(ends)),
                KINDS.index(e.kind),
                services.setdefault((str(e.props["protocol"]), str(e.props["port"])), len(services)),
                e.count,
                _epoch(e.first_seen, times),
                _epoch(e.last_seen, times),
                accounts.setdefault(e.account or "", len(accounts)),
            )
        )
    cols = np.array(rows, dtype=np.int64).reshape(-1, 8).T
    for end in agg.endpoints:  # an endpoint of no flow still becomes a node
        ends.setdefault(end, len(ends))
    return FlowPart(
        list(ends),
        list(services),
        cols[0].astype(np.int32),
        cols[1].astype(np.int32),
        cols[2].astype(np.int8),
        cols[3].astype(np.int32),
        cols[4],
        cols[5],
        cols[6],
        list(accounts),
        cols[7].astype(np.int32),
        agg.days,
        agg.records,
        agg.skipped,
        agg.attribution,
    )


class FlowTotals:
    """The running totals of many ``FlowPart``s (see the module)."""

    def __init__(self) -> None:
        self._ends: dict[str, int] = {}
        self._services: dict[tuple[str, str], int] = {}
        self._accounts: dict[str, int] = {}
        self._done: dict[str, np.ndarray] = _empty()
        self._pending: list[dict[str, np.ndarray]] = []
        self._pending_rows = 0
        self.days: dict[tuple[str, str], set[str]] = {}
        self.records = 0
        self.skipped: list[str] = []

    def add(self, part: FlowPart) -> None:
        end_codes = np.array([self._ends.setdefault(x, len(self._ends)) for x in part.ends], np.int64)
        svc = np.array([self._services.setdefault(x, len(self._services)) for x in part.services], np.int64)
        acct = np.array([self._accounts.setdefault(x, len(self._accounts)) for x in part.accounts], np.int64)
        if len(part.count):
            self._pending.append(
                {
                    "a": end_codes[part.a],
                    "b": end_codes[part.b],
                    "kind": part.kind.astype(np.int64),
                    "service": svc[part.service],
                    "count": part.count,
                    "first": part.first,
                    "last": part.last,
                    "account": acct[part.account],
                }
            )
            self._pending_rows += len(part.count)
        for k, days in part.days.items():
            self.days.setdefault(k, set()).update(days)
        self.records += part.records
        self.skipped += part.skipped
        if self._pending_rows >= CONSOLIDATE_ROWS:
            self._consolidate()

    def _consolidate(self) -> None:
        if not self._pending:
            return
        cols = {k: np.concatenate([self._done[k], *(p[k] for p in self._pending)]) for k in self._done}
        self._pending, self._pending_rows, self._done = [], 0, {}  # each array held once from here
        # one flow per (a, kind, b, service): the first account to report it is kept, as the dict did
        # (a stable sort: the totals so far come first, then the parts in the order of their files)
        key_cols = (cols["a"], cols["kind"], cols["b"], cols["service"])
        packed = _packed(key_cols)
        if packed is not None:
            order = np.argsort(packed, kind="stable")  # the totals are one sorted run: merged, not sorted
            packed = packed[order]
        else:
            order = np.lexsort(key_cols[::-1])
        del key_cols
        for k in cols:  # one column at a time, the unsorted one released as its sorted copy is made
            cols[k] = cols[k][order]
        n = len(order)
        del order
        new = np.ones(n, dtype=bool)
        if n and packed is not None:
            new[1:] = packed[1:] != packed[:-1]
        elif n:
            key_cols = (cols["a"], cols["kind"], cols["b"], cols["service"])
            new[1:] = np.logical_or.reduce([k[1:] != k[:-1] for k in key_cols])
            del key_cols
        del packed
        starts = np.flatnonzero(new)
        first = np.where(cols["first"] == NO_TIME, np.iinfo(np.int64).max, cols["first"])
        folded = {
            "a": cols["a"][starts],
            "b": cols["b"][starts],
            "kind": cols["kind"][starts],
            "service": cols["service"][starts],
            "account": cols["account"][starts],
            "count": np.add.reduceat(cols["count"], starts) if len(starts) else cols["count"],
            "first": np.minimum.reduceat(first, starts) if len(starts) else first,
            "last": np.maximum.reduceat(cols["last"], starts) if len(starts) else cols["last"],
        }
        folded["first"] = np.where(folded["first"] == np.iinfo(np.int64).max, NO_TIME, folded["first"])
        self._done = folded

    def __len__(self) -> int:
        self._consolidate()
        return len(self._done["count"])

    def endpoints(self) -> Iterator[tuple[str, str]]:
        """Every endpoint id with its node kind."""
        for end in self._ends:
            yield end, "Address" if end.startswith("urn:ip:") else "NetworkInterface"

    # -- as a Batch's edge stream (analyzer.graph.schema.EdgeStream) --
    def kinds(self) -> list[str]:
        self._consolidate()
        return [KINDS[k] for k in np.unique(self._done["kind"]).tolist()]

    def ends(self) -> Iterator[str]:
        return iter(self._ends)

    def rows(self) -> Iterator[EdgeRow]:
        return self.edge_rows()

    def edge_rows(self) -> Iterator[EdgeRow]:
        """The flows as ``EdgeRow``s, made ``ROWS_PER_BLOCK`` at a time, in the order of a store's key
        (source, kind, destination, protocol/port as text: a B-tree then takes them in sequence, not at
        random); rows of one service share one property map (a store only reads it)."""
        self._consolidate()
        ends = list(self._ends)
        props = [{"protocol": p, "port": port} for p, port in self._services]
        accounts = [a or None for a in self._accounts]
        times: dict[int, str | None] = {NO_TIME: None}
        d = self._done
        end_rank = _ranks(ends)
        key_rank = _ranks([f"{p}|{port}" for p, port in self._services])  # the key: protocol|port
        order = np.lexsort((key_rank[d["service"]], end_rank[d["b"]], d["kind"], end_rank[d["a"]]))
        for lo in range(0, len(order), ROWS_PER_BLOCK):
            rows = order[lo : lo + ROWS_PER_BLOCK]
            # a block's times as text, each distinct one formatted once
            stamps = np.concatenate([d["first"][rows], d["last"][rows]])
            distinct, where = np.unique(stamps, return_inverse=True)
            text = [_iso(t, times) for t in distinct.tolist()]
            seen = [text[i] for i in where.tolist()]
            m = len(rows)
            yield from map(
                EdgeRow,
                [ends[x] for x in d["a"][rows].tolist()],
                [KINDS[x] for x in d["kind"][rows].tolist()],
                [ends[x] for x in d["b"][rows].tolist()],
                [props[x] for x in d["service"][rows].tolist()],
                [accounts[x] for x in d["account"][rows].tolist()],
                d["count"][rows].tolist(),
                seen[:m],
                seen[m:],
            )


def _packed(cols: tuple[np.ndarray, ...]) -> np.ndarray | None:
    """The key columns (non-negative codes) as one int64 each row that sorts as they do in order, or
    None when they do not fit in 63 bits (then they are sorted as columns)."""
    if not len(cols[0]):
        return None
    widths = [max(1, int(c.max()).bit_length()) for c in cols]
    if sum(widths) > 63:
        return None
    out = np.zeros(len(cols[0]), np.int64)
    for c, w in zip(cols, widths, strict=True):
        out <<= w
        out |= c
    return out


def _ranks(texts: list[str]) -> np.ndarray:
    """Each text's position in sorted order."""
    out = np.empty(len(texts), np.int64)
    out[sorted(range(len(texts)), key=texts.__getitem__)] = np.arange(len(texts))
    return out


def _iso(t: int, cache: dict[int, str | None]) -> str | None:
    if t not in cache:
        cache[t] = iso(datetime.fromtimestamp(t, UTC))
    return cache[t]


def _empty() -> dict[str, np.ndarray]:
    return {
        k: np.empty(0, np.int64) for k in ("a", "b", "kind", "service", "count", "first", "last", "account")
    }
