"""The queue: every scored proposal with its tier and risk, highest risk first."""

from __future__ import annotations

import dash
from dash import dash_table, html

from analyzer.app import data, ids

DataTable = dash_table.DataTable  # type: ignore[attr-defined]

dash.register_page(__name__, path="/", name="Queue")

TIER_COLOURS = {"auto": "#e6f4ea", "approval": "#fff4e5", "cab": "#fde7e9", "blocked": "#e0e0e0"}


def layout() -> html.Div:
    rows = data.queue_rows(data.results())
    columns = [
        {"name": "Proposal", "id": "proposal", "presentation": "markdown"},
        {"name": "Source", "id": "source"},
        {"name": "Change", "id": "change"},
        {"name": "Target", "id": "target"},
        {"name": "Tier", "id": "tier"},
        {"name": "Risk", "id": "risk", "type": "numeric"},
        {"name": "Severed (observed)", "id": "severed_observed", "type": "numeric"},
        {"name": "Undocumented", "id": "undocumented", "type": "numeric"},
        {"name": "Worst impact", "id": "top_impact"},
        {"name": "Unknowns", "id": "unknowns", "type": "numeric"},
    ]
    return html.Div(
        [
            html.H2("Proposed remediations"),
            html.P(
                f"{len(rows)} scored proposal(s). Nothing here runs on its own unless its tier is auto.",
                id=ids.QUEUE_SUMMARY,
            ),
            DataTable(
                id=ids.QUEUE_TABLE,
                data=rows,
                columns=columns,
                sort_action="native",
                filter_action="native",
                page_size=25,
                markdown_options={"link_target": "_self"},
                style_cell={"textAlign": "left", "fontFamily": "sans-serif", "fontSize": "0.9em"},
                style_data_conditional=[
                    {"if": {"filter_query": f'{{tier}} = "{t}"', "column_id": "tier"}, "backgroundColor": c}
                    for t, c in TIER_COLOURS.items()
                ],
            ),
        ]
    )
