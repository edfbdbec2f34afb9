"""Review: what ran in the period, against what was predicted; what Blastwall would have said about the
changes nobody asked it about; patterns as charts; suggested policy edits with their patches."""

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
            html.P(
                "The period ends at the newest scoring's time. Each change run is compared with what was on "
                "record before it ran; for a change nobody asked Blastwall about, what it would have said.",
                style={"color": "#555"},
            ),
            dcc.Dropdown(
                id=ids.REVIEW_SINCE,
                options=["7d", "30d", "90d", "365d"],
                value="7d",
                clearable=False,
                style={"width": "8em"},
            ),
            html.Div(id=ids.REVIEW_RESULT, style={"marginTop": "1em"}),
            dcc.Graph(id=ids.REVIEW_CHART, config={"displayModeBar": False}, style={"height": "280px"}),
            dcc.Graph(
                id=ids.REVIEW_PREDICTION_CHART, config={"displayModeBar": False}, style={"height": "280px"}
            ),
            dcc.Graph(
                id=ids.REVIEW_SERVICES_CHART, config={"displayModeBar": False}, style={"height": "280px"}
            ),
            html.H3("Suggestions"),
            html.Div(id=ids.REVIEW_SUGGESTIONS),
        ]
    )


@dash.callback(
    Output(ids.REVIEW_RESULT, "children"),
    Output(ids.REVIEW_CHART, "figure"),
    Output(ids.REVIEW_PREDICTION_CHART, "figure"),
    Output(ids.REVIEW_SERVICES_CHART, "figure"),
    Output(ids.REVIEW_SUGGESTIONS, "children"),
    Input(ids.REVIEW_SINCE, "value"),
)
def review_page(since: str) -> tuple[Any, go.Figure, go.Figure, go.Figure, Any]:
    """One review per choice of period (it may score past runs as of their time): every part from it."""
    from analyzer.governance.review_charts import FIGURES

    rep = data.review(since)
    first, second, third = (f(rep) for f in FIGURES)
    return show(rep), first, second, third, suggestions(rep)


def show(rep: dict[str, Any]) -> Any:
    from analyzer.governance.review import REVIEW_COLUMNS, review_rows
    from analyzer.governance.review_text import execution_lines

    s = rep["summary"]
    return [
        evidence_note(rep["freshness"], ids.REVIEW_EVIDENCE),
        html.P(
            f"{s['executions']} execution(s) from {rep['since']} to {rep['until']}: {s['without_gate_pass']} "
            f"without a gate pass, {s['without_prediction']} nobody asked Blastwall about, "
            f"{s['with_unpredicted_breakage']} with unpredicted breakage, "
            f"{s['diverging_from_current_policy']} diverging from the current policy."
        ),
        html.Div(
            [
                html.Pre(
                    "\n".join(execution_lines(i)), style={"whiteSpace": "pre-wrap", "background": "#f6f6f6"}
                )
                for i in rep["executions"]
            ],
            id=ids.REVIEW_RUNS,
        ),
        table(review_rows(rep), REVIEW_COLUMNS, id=ids.REVIEW_TABLE),
    ]


def suggestions(rep: dict[str, Any]) -> Any:
    found = rep.get("suggestions") or []
    if not found:
        return html.P("None: nothing in the period calls for a change of the policy or the process.")
    return [
        html.Div(
            [
                html.P([html.B(f"{g['suggestion_id']} ({g['kind']}): "), g["title"]]),
                html.P(g["why"], style={"fontStyle": "italic", "color": "#555"}),
                *(
                    [
                        html.Details(
                            [
                                html.Summary(
                                    f"the edit, as a patch (adopt: blastwall policy load FILE --adopts "
                                    f"{g['suggestion_id']} --as YOU)"
                                ),
                                html.Pre(g["patch"]),
                            ]
                        )
                    ]
                    if g.get("patch")
                    else []
                ),
            ],
            className="suggestion",
        )
        for g in found
    ]
