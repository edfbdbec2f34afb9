"""Review: predicted versus observed breakage for executed changes."""

from __future__ import annotations

from typing import Any

import dash
import plotly.graph_objects as go
from dash import Input, Output, dcc, html

from analyzer.app import data, ids
from analyzer.app.components import evidence_note, table

dash.register_page(__name__, path="/review", name="Review")


def layout() -> html.Div:
    return html.Div(
        [
            html.H2("Post-action review"),
            dcc.Dropdown(
                id=ids.REVIEW_SINCE,
                options=["7d", "30d", "90d", "365d"],
                value="30d",
                clearable=False,
                style={"width": "8em"},
            ),
            dcc.Graph(id=ids.REVIEW_CHART, config={"displayModeBar": False}, style={"height": "260px"}),
            html.Div(id=ids.REVIEW_RESULT, style={"marginTop": "1em"}),
        ]
    )


def review_figure(rep: dict[str, Any]) -> go.Figure:
    """Executions per day: predicted breakage seen, unpredicted breakage, and clean runs."""
    days: dict[str, dict[str, int]] = {}
    for i in rep["executions"]:
        d = days.setdefault(
            i["executed_at"][:10], {"predicted and seen": 0, "unpredicted breakage": 0, "clean": 0}
        )
        if i["unpredicted_breakage"]:
            d["unpredicted breakage"] += 1
        elif i["predicted_and_observed"]:
            d["predicted and seen"] += 1
        else:
            d["clean"] += 1
    x = sorted(days)
    fig = go.Figure(
        [
            go.Bar(name=k, x=x, y=[days[d][k] for d in x])
            for k in ("clean", "predicted and seen", "unpredicted breakage")
        ]
    )
    fig.update_layout(barmode="stack", margin={"l": 30, "r": 10, "t": 10, "b": 30})
    return fig


@dash.callback(Output(ids.REVIEW_CHART, "figure"), Input(ids.REVIEW_SINCE, "value"))
def chart(since: str) -> go.Figure:
    return review_figure(data.review(since))


@dash.callback(Output(ids.REVIEW_RESULT, "children"), Input(ids.REVIEW_SINCE, "value"))
def show(since: str) -> Any:
    from analyzer.governance.review import REVIEW_COLUMNS, review_rows

    rep = data.review(since)
    s = rep["summary"]
    return [
        evidence_note(rep["freshness"], ids.REVIEW_EVIDENCE),
        html.P(
            f"{s['executions']} execution(s) since {rep['since']}: {s['without_gate_pass']} without a gate "
            f"pass, {s['with_unpredicted_breakage']} with unpredicted breakage, "
            f"{s['diverging_from_current_policy']} diverging from the current policy."
        ),
        table(review_rows(rep), REVIEW_COLUMNS, id=ids.REVIEW_TABLE),
    ]
