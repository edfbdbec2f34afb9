"""Every observed dependency the CMDB does not document, ranked by how critical what depends on it is
and by how much it is used. Useful on its own, before any remediation is proposed."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np

from analyzer.core import condense, set_members, sweep_bits
from analyzer.criticality import criticality_rank
from analyzer.scoring.context import Context
from analyzer.scoring.propagation import OBSERVED_KINDS, build_graphs, in_window
from analyzer.timeutil import iso


def undocumented(ctx: Context, as_of: datetime, window_days: int = 90) -> list[dict[str, Any]]:
    start = as_of - timedelta(days=window_days)
    snap = ctx.snap
    pairs: dict[tuple[int, int], dict[str, Any]] = {}
    for kind in OBSERVED_KINDS:
        arr = snap.edges.get(kind)
        if arr is None:
            continue
        rows = np.flatnonzero(in_window(arr.last_seen, arr.first_seen, start, as_of))
        for i, rec in zip(rows.tolist(), arr.records.at(rows), strict=True):
            entry = pairs.setdefault(
                (int(arr.src[i]), int(arr.dst[i])),
                {
                    "consumer": rec.src,
                    "provider": rec.dst,
                    "uses": set(),
                    "events": 0,
                    "first_seen": rec.first_seen,
                    "last_seen": rec.last_seen,
                },
            )
            entry["uses"].add(
                rec.props.get("action")
                or (
                    f"{rec.props.get('protocol')}/{rec.props.get('port')}"
                    if kind == "OBSERVED_FLOW"
                    else "sts:AssumeRole"
                )
            )
            entry["events"] += rec.count
            entry["first_seen"] = min(filter(None, [entry["first_seen"], rec.first_seen]), default=None)
            entry["last_seen"] = max(filter(None, [entry["last_seen"], rec.last_seen]), default=None)
    found = []
    for (ci, _), e in pairs.items():
        documented, why = ctx.documented_between(e["consumer"], e["provider"])
        if not documented:
            found.append((ci, e | {"why": why}))
    if not found:
        return []
    graphs = build_graphs(ctx, start, as_of)
    # which CIs each consumer's loss reaches, for every consumer at once: the impact graph reversed and
    # condensed, one bit per CI swept over its components (a few words per component, never one dense
    # reach per consumer: that held gigabytes at M, and a walk per consumer took half a minute)
    cis = np.flatnonzero(
        np.fromiter(
            (n.kind in ("BusinessService", "ConfigurationItem") for n in snap.nodes),
            bool,
            count=len(snap.nodes),
        )
    )
    cond = condense(graphs.impact.T)
    bits = sweep_bits(cond, [[int(c)] for c in cis])
    # each CI's criticality once (most critical first, a stable order among equals); each consumer's
    # dependants once, however many providers it uses
    crit = [snap.nodes[int(c)].props.get("criticality") or "unknown" for c in cis]
    rank = np.array([criticality_rank(c) for c in crit], np.int64)
    dependants_of: dict[int, tuple[str | None, list[str]]] = {}
    for ci, _ in found:
        if ci not in dependants_of:
            members = set_members(bits[cond.labels[ci]], len(cis))
            top = members[np.argsort(-rank[members], kind="stable")]
            dependants_of[ci] = (
                crit[int(top[0])] if len(top) else None,
                [snap.nodes[int(cis[j])].props.get("name") or snap.nodes[int(cis[j])].id for j in top[:10]],
            )
    out = []
    for ci, e in found:
        worst, names = dependants_of[ci]
        out.append(
            {
                "consumer": e["consumer"],
                "provider": e["provider"],
                "uses": sorted(e["uses"]),
                "events": e["events"],
                "first_seen": e["first_seen"],
                "last_seen": e["last_seen"],
                "why_undocumented": e["why"],
                "consumer_cis": ctx.ci_names(ctx.ci_of.get(e["consumer"], [])),
                "provider_cis": ctx.ci_names(ctx.ci_of.get(e["provider"], [])),
                "dependants_max_criticality": worst,
                "dependants": names,
            }
        )
    out.sort(
        key=lambda d: (
            -criticality_rank(d["dependants_max_criticality"] or "unknown")
            if d["dependants_max_criticality"]
            else 1,
            -d["events"],
            d["consumer"],
            d["provider"],
        )
    )
    return out


def report(ctx: Context, as_of: datetime, window_days: int) -> dict[str, Any]:
    items = undocumented(ctx, as_of, window_days)
    return {"as_of": iso(as_of), "window_days": window_days, "count": len(items), "dependencies": items}
