"""Every observed dependency the CMDB does not document, ranked by how critical what depends on it is
and by how much it is used. Useful on its own, before any remediation is proposed.

Built as arrays: the observed edges of the window grouped into (consumer, provider) pairs with NumPy,
whether the CMDB documents a pair decided once per distinct pair of CI sets, the worst criticality each
consumer's loss reaches from one condensed sweep, and the ranking one ``lexsort``. Rows (dicts with
names) are made only for the pairs asked for, in rank order: the app shows 200 of a million.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

import numpy as np

from analyzer.core import condense, set_members, sweep_bits
from analyzer.criticality import criticality_rank
from analyzer.scoring.context import Context
from analyzer.scoring.propagation import OBSERVED_KINDS, build_graphs, in_window
from analyzer.timeutil import iso


def _use(kind: str, props: dict[str, Any]) -> str:
    """What one observed edge says was used: the API action, the flow's protocol/port, or the assume."""
    return str(
        props.get("action")
        or (f"{props.get('protocol')}/{props.get('port')}" if kind == "OBSERVED_FLOW" else "sts:AssumeRole")
    )


def _iso(t: np.datetime64) -> str | None:
    return None if np.isnat(t) else str(np.datetime_as_string(t, unit="s")) + "Z"


@dataclass
class Undocumented:
    """The undocumented observed dependencies of one window, ranked; ``rows`` makes them readable."""

    ctx: Context
    consumer: np.ndarray  # node index per pair, in rank order
    provider: np.ndarray
    events: np.ndarray
    first_seen: np.ndarray
    last_seen: np.ndarray
    uses: list[tuple[str, ...]]  # per pair, in rank order
    why: list[str]
    cis: np.ndarray = field(repr=False)  # node index of every CI
    crit: list[str] = field(repr=False)  # criticality text of each CI (as in ``cis``)
    rank: np.ndarray = field(repr=False)  # criticality rank of each CI
    bits: np.ndarray = field(repr=False)  # per component of the reversed impact graph: the CIs reached
    labels: np.ndarray = field(repr=False)  # component of each node
    _dependants: dict[int, tuple[str | None, list[str]]] = field(default_factory=dict, repr=False)

    @property
    def count(self) -> int:
        return int(self.consumer.shape[0])

    def dependants(self, node: int) -> tuple[str | None, list[str]]:
        """The worst criticality ``node``'s loss reaches and the ten most critical CIs it reaches."""
        hit = self._dependants.get(node)
        if hit is None:
            snap = self.ctx.snap
            members = set_members(self.bits[self.labels[node]], len(self.cis))
            top = members[np.argsort(-self.rank[members], kind="stable")]
            hit = (
                self.crit[int(top[0])] if len(top) else None,
                [
                    snap.nodes[int(self.cis[j])].props.get("name") or snap.nodes[int(self.cis[j])].id
                    for j in top[:10]
                ],
            )
            self._dependants[node] = hit
        return hit

    def rows(self, limit: int | None = None) -> Iterator[dict[str, Any]]:
        """The dependencies as rows, most critical dependants first, then by events; ``limit`` the first."""
        ctx, ids = self.ctx, self.ctx.snap.ids
        for i in range(self.count if limit is None else min(limit, self.count)):
            consumer, provider = ids[int(self.consumer[i])], ids[int(self.provider[i])]
            worst, names = self.dependants(int(self.consumer[i]))
            yield {
                "consumer": consumer,
                "provider": provider,
                "uses": list(self.uses[i]),
                "events": int(self.events[i]),
                "first_seen": _iso(self.first_seen[i]),
                "last_seen": _iso(self.last_seen[i]),
                "why_undocumented": self.why[i],
                "consumer_cis": ctx.ci_names(ctx.ci_of.get(consumer, [])),
                "provider_cis": ctx.ci_names(ctx.ci_of.get(provider, [])),
                "dependants_max_criticality": worst,
                "dependants": names,
            }


def _observed_pairs(ctx: Context, start: datetime, as_of: datetime) -> dict[str, Any]:
    """The window's observed edges grouped by (consumer, provider): events, first and last seen, and the
    distinct uses, without making a record per edge."""
    snap = ctx.snap
    labels: dict[str, int] = {}
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("src", "dst", "count", "first", "last", "use")}
    for kind in (*OBSERVED_KINDS, "OBSERVED_AZURE_ACCESS"):  # Azure's requests: a principal on a resource
        arr = snap.edges.get(kind)
        if arr is None:
            continue
        rows = np.flatnonzero(in_window(arr.last_seen, arr.first_seen, start, as_of))
        codes, props = arr.records.codes("props")
        use_of_code = np.array([labels.setdefault(_use(kind, p or {}), len(labels)) for p in props], np.int64)
        parts["src"].append(arr.src[rows].astype(np.int64))
        parts["dst"].append(arr.dst[rows].astype(np.int64))
        parts["count"].append(arr.count[rows].astype(np.int64))
        parts["first"].append(arr.first_seen[rows])
        parts["last"].append(arr.last_seen[rows])
        parts["use"].append(use_of_code[codes[rows]] if len(use_of_code) else np.zeros(len(rows), np.int64))
    if not parts["src"] or not sum(len(x) for x in parts["src"]):
        return {}
    src, dst = np.concatenate(parts["src"]), np.concatenate(parts["dst"])
    key = src * np.int64(snap.n) + dst
    order = np.argsort(key, kind="stable")
    key = key[order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    first = np.concatenate(parts["first"])[order]
    last = np.concatenate(parts["last"])[order]
    use = np.concatenate(parts["use"])[order]
    names = sorted(labels, key=labels.__getitem__)
    bounds = np.r_[starts, len(key)]
    return {
        "consumer": src[order][starts],
        "provider": dst[order][starts],
        "events": np.add.reduceat(np.concatenate(parts["count"])[order], starts),
        "first_seen": np.minimum.reduceat(first, starts),
        "last_seen": np.maximum.reduceat(last, starts),
        "uses": [tuple(sorted({names[u] for u in use[a:b].tolist()})) for a, b in pairwise(bounds.tolist())],
    }


def _documentation(ctx: Context, consumer: np.ndarray, provider: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Whether the CMDB documents each pair, and why (not): decided once per distinct pair of CI sets
    (a million pairs of resources are a few thousand pairs of CI sets)."""
    snap = ctx.snap
    sets: dict[tuple[str, ...], int] = {(): 0}
    code = np.zeros(snap.n, np.int64)
    for node, ci_ids in ctx.ci_of.items():
        i = snap.index.get(node)
        if i is not None:
            code[i] = sets.setdefault(tuple(ci_ids), len(sets))
    members = sorted(sets, key=sets.__getitem__)
    pair = code[consumer] * np.int64(len(sets)) + code[provider]
    distinct, inverse = np.unique(pair, return_inverse=True)
    verdicts = [
        ctx.documented_between_cis(list(members[int(p) // len(sets)]), list(members[int(p) % len(sets)]))
        for p in distinct.tolist()
    ]
    documented = np.array([d for d, _ in verdicts], bool)[inverse] if verdicts else np.zeros(0, bool)
    return documented, [verdicts[j][1] for j in inverse.tolist()]


def find(ctx: Context, as_of: datetime, window_days: int = 90) -> Undocumented:
    """The undocumented observed dependencies of the window ending at ``as_of``, ranked."""
    start = as_of - timedelta(days=window_days)
    snap = ctx.snap
    pairs = _observed_pairs(ctx, start, as_of)
    is_ci = np.fromiter(
        (n.kind in ("BusinessService", "ConfigurationItem") for n in snap.nodes), bool, count=len(snap.nodes)
    )
    cis = np.flatnonzero(is_ci)
    crit = [snap.nodes[int(c)].props.get("criticality") or "unknown" for c in cis]
    rank = np.array([criticality_rank(c) for c in crit], np.int64)
    empty = np.empty(0, np.int64)
    if not pairs:
        return Undocumented(
            ctx,
            empty,
            empty,
            empty,
            empty,
            empty,
            [],
            [],
            cis,
            crit,
            rank,
            np.zeros((0, 1), np.uint64),
            np.zeros(snap.n, np.int64),
        )
    documented, why = _documentation(ctx, pairs["consumer"], pairs["provider"])
    keep = np.flatnonzero(~documented)
    # which CIs each consumer's loss reaches, for every consumer at once: the impact graph reversed and
    # condensed, one bit per CI swept over its components (a few words per component)
    cond = condense(build_graphs(ctx, start, as_of).impact.T)
    bits = sweep_bits(cond, [[int(c)] for c in cis])
    # the worst criticality each component reaches: per rank, most critical first, the components whose
    # bits meet that rank's CIs
    worst = np.full(cond.n_components, -1, np.int64)
    for r in sorted(set(rank.tolist()), reverse=True):
        mask = np.zeros(bits.shape[1], np.uint64)
        for j in np.flatnonzero(rank == r).tolist():
            mask[j // 64] |= np.uint64(1) << np.uint64(j % 64)
        hit = (bits & mask).any(axis=1) & (worst < 0)
        worst[hit] = r
    consumer, provider = pairs["consumer"][keep], pairs["provider"][keep]
    w = worst[cond.labels[consumer]]
    events = pairs["events"][keep]
    order = np.lexsort((provider, consumer, -events, np.where(w >= 0, -w, 1)))
    chosen = keep[order]
    return Undocumented(
        ctx,
        consumer[order],
        provider[order],
        events[order],
        pairs["first_seen"][chosen],
        pairs["last_seen"][chosen],
        [pairs["uses"][i] for i in chosen.tolist()],
        [why[i] for i in chosen.tolist()],
        cis,
        crit,
        rank,
        bits,
        cond.labels,
    )


def undocumented(ctx: Context, as_of: datetime, window_days: int = 90) -> list[dict[str, Any]]:
    """Every undocumented observed dependency as a row (``find(...).rows()`` to take only the first)."""
    return list(find(ctx, as_of, window_days).rows())


def report(ctx: Context, as_of: datetime, window_days: int, limit: int | None = None) -> dict[str, Any]:
    """``count`` dependencies in all, ``dependencies`` the first ``limit`` (all when None)."""
    found = find(ctx, as_of, window_days)
    return {
        "as_of": iso(as_of),
        "window_days": window_days,
        "count": found.count,
        "dependencies": list(found.rows(limit)),
    }
