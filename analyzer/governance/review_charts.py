"""The review's three charts (plotly), one definition for the weekly HTML/PDF report and the app's Review
page: changes per tier over time, how well the prediction held per change kind, and breakage nobody
predicted by the service it reached.

plotly comes with the ``[app]`` extra; without it the report says so instead of failing obscurely.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from analyzer.errors import BlastwallError

TIER_ORDER = ("auto", "approval", "cab", "blocked", "not asked")
TIER_COLOURS = {
    "auto": "#4c9a2a",
    "approval": "#e0a100",
    "cab": "#d9480f",
    "blocked": "#7f1d1d",
    "not asked": "#6b7280",
}


def _go() -> Any:
    try:
        import plotly.graph_objects as go
    except ImportError as exc:  # pragma: no cover - the [app] extra is installed in every test run
        raise BlastwallError("the review's charts need plotly: pip install 'blastwall[app]'") from exc
    return go


def tier_of(item: dict[str, Any]) -> str:
    """The tier a run went through; a run nobody asked Blastwall about went through none."""
    return "not asked" if item.get("prediction_before") is None else str(item.get("tier_then"))


def tiers_over_time(report: dict[str, Any]) -> Any:
    """Executions per day, stacked by the tier they went through."""
    go = _go()
    days: dict[str, dict[str, int]] = {}
    for i in report["executions"]:
        day = days.setdefault(i["executed_at"][:10], {})
        day[tier_of(i)] = day.get(tier_of(i), 0) + 1
    x = _days(report["since"], report["until"]) or sorted(days)
    fig = go.Figure(
        [
            go.Bar(name=t, x=x, y=[days.get(d, {}).get(t, 0) for d in x], marker_color=TIER_COLOURS[t])
            for t in TIER_ORDER
            if any(t in v for v in days.values())
        ]
    )
    fig.update_layout(
        title="Changes run, per day and the tier they went through",
        barmode="stack",
        showlegend=True,
        xaxis={"type": "category"},
        yaxis=_count_axis(max((sum(v.values()) for v in days.values()), default=0)),
        margin={"l": 40, "r": 10, "t": 40, "b": 30},
    )
    return fig


def _count_axis(most: int) -> dict[str, Any]:
    """Whole-number ticks for a count (plotly would label a count of 1 as 0, 0.2, … 1)."""
    return {"tick0": 0, "dtick": max(1, -(-most // 8)), "rangemode": "tozero"}


def _days(since: str, until: str, most: int = 92) -> list[str]:
    """Every day of the period (the first ``most``), so a quiet day shows as a day with nothing run."""
    start, end = date.fromisoformat(since[:10]), date.fromisoformat(until[:10])
    n = (end - start).days + 1
    return [str(start + timedelta(days=k)) for k in range(n)] if 0 < n <= most else []


def prediction_quality(report: dict[str, Any]) -> Any:
    """Precision and recall of the prediction per change kind (no bar where there is nothing to measure)."""
    go = _go()
    groups = report["patterns"]["change_kind"]
    kinds = sorted(groups)
    fig = go.Figure(
        [
            go.Bar(
                name=measure,
                x=kinds,
                y=[groups[k][measure] for k in kinds],
                text=["n/a" if groups[k][measure] is None else f"{groups[k][measure]:.0%}" for k in kinds],
                textposition="outside",
            )
            for measure in ("precision", "recall")
        ]
    )
    fig.update_layout(
        title="Prediction precision and recall, per change kind",
        yaxis={"range": [0, 1.15], "tickformat": ".0%"},
        margin={"l": 40, "r": 10, "t": 40, "b": 30},
    )
    return fig


def unpredicted_by_service(report: dict[str, Any]) -> Any:
    """Runs with breakage nobody predicted, per service that breakage reached."""
    go = _go()
    count: dict[str, int] = {}
    for i in report["executions"]:
        if i["unpredicted_breakage"]:
            for s in i.get("reached_services") or [{"name": "(no service found)", "criticality": "-"}]:
                label = f"{s['name']} [{s['criticality']}]"
                count[label] = count.get(label, 0) + 1
    names = sorted(count, key=lambda n: (-count[n], n))
    fig = go.Figure([go.Bar(x=[count[n] for n in names], y=names, orientation="h", marker_color="#d9480f")])
    fig.update_layout(
        title="Unpredicted breakage, by the service it reached",
        yaxis={"autorange": "reversed"},
        xaxis=_count_axis(max(count.values(), default=0)),
        margin={"l": 220, "r": 10, "t": 40, "b": 30},
    )
    return fig


FIGURES = (tiers_over_time, prediction_quality, unpredicted_by_service)
