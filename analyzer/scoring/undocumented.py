"""Every observed dependency the CMDB does not document, ranked by how critical what depends on it is
and by how much it is used. Useful on its own, before any remediation is proposed."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np

from analyzer.core import reachable
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
    # one walk per distinct consumer, reduced at once to the CIs it reaches: what is kept is a short list
    # per consumer, never one dense reach per dependency (that held gigabytes at M)
    is_ci = np.fromiter(
        (n.kind in ("BusinessService", "ConfigurationItem") for n in snap.nodes), bool, count=len(snap.nodes)
    )
    reached_cis: dict[int, np.ndarray] = {}
    for ci, _ in found:
        if ci not in reached_cis:
            (reach,) = reachable(graphs.impact, [[ci]])
            reached_cis[ci] = np.flatnonzero(reach.reached & is_ci)
    out = []
    for ci, e in found:
        dependants = [snap.nodes[j] for j in reached_cis[ci].tolist()]
        crits = sorted(dependants, key=lambda n: -criticality_rank(n.props.get("criticality") or "unknown"))
        worst = crits[0].props.get("criticality") or "unknown" if crits else None
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
                "dependants": [n.props.get("name") or n.id for n in crits[:10]],
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
