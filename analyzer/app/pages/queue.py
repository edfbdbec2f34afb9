"""The queue: every scored proposal, sorted, filtered and paged on the server (highest risk first)."""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, dash_table, dcc, html

from analyzer.app import data, ids

DataTable = dash_table.DataTable  # type: ignore[attr-defined]

dash.register_page(__name__, path="/", name="Queue")

TIER_COLOURS = {"auto": "#e6f4ea", "approval": "#fff4e5", "cab": "#fde7e9", "blocked": "#e0e0e0"}
PAGE_SIZE = 25
COLUMNS = [
    {"name": "Proposal", "id": "proposal", "presentation": "markdown"},
    {"name": "Verdict", "id": "verdict"},
    {"name": "Source", "id": "source"},
    {"name": "Severity", "id": "severity"},
    {"name": "Change", "id": "change"},
    {"name": "Target", "id": "target"},
    {"name": "Tier", "id": "tier"},
    {"name": "Priority", "id": "priority", "type": "numeric"},
    {"name": "Risk", "id": "risk", "type": "numeric"},
    {"name": "Severed (observed)", "id": "severed_observed", "type": "numeric"},
    {"name": "Undocumented", "id": "undocumented", "type": "numeric"},
    {"name": "Worst impact", "id": "top_impact"},
    {"name": "Unknowns", "id": "unknowns", "type": "numeric"},
    {"name": "Status", "id": "status"},
]


def layout() -> html.Div:
    return html.Div(
        [
            html.H2("Proposed remediations"),
            dcc.Input(
                id=ids.QUEUE_SEARCH,
                type="search",
                debounce=True,
                placeholder="Search: proposal, target, service, verdict (all words)",
                style={"width": "32em", "marginBottom": "0.5em"},
            ),
            html.P(
                "Nothing here runs on its own unless its tier is auto under a live risk acceptance.",
                id=ids.QUEUE_SUMMARY,
            ),
            DataTable(
                id=ids.QUEUE_TABLE,
                columns=COLUMNS,
                page_current=0,
                page_size=PAGE_SIZE,
                page_action="custom",
                sort_action="custom",
                sort_mode="multi",
                sort_by=[],
                filter_action="custom",
                filter_query="",
                markdown_options={"link_target": "_self"},
                style_cell={"textAlign": "left", "fontFamily": "sans-serif", "fontSize": "0.9em"},
                style_cell_conditional=[
                    {
                        "if": {"column_id": "verdict"},
                        "whiteSpace": "normal",
                        "minWidth": "28em",
                        "maxWidth": "40em",
                    }
                ],
                style_data_conditional=[
                    {"if": {"filter_query": f'{{tier}} = "{t}"', "column_id": "tier"}, "backgroundColor": c}
                    for t, c in TIER_COLOURS.items()
                ],
            ),
        ]
    )


@dash.callback(
    Output(ids.QUEUE_TABLE, "data"),
    Output(ids.QUEUE_TABLE, "page_count"),
    Output(ids.QUEUE_SUMMARY, "children"),
    Input(ids.QUEUE_TABLE, "page_current"),
    Input(ids.QUEUE_TABLE, "page_size"),
    Input(ids.QUEUE_TABLE, "sort_by"),
    Input(ids.QUEUE_TABLE, "filter_query"),
    Input(ids.QUEUE_SEARCH, "value"),
)
def show_page(
    page_current: int, page_size: int, sort_by: list[dict[str, str]], filter_query: str, search: str | None
) -> tuple[Any, ...]:
    try:
        rows, pages, matching = data.page(
            data.queue(), page_current, page_size, sort_by, filter_query, search
        )
    except data.FilterError as exc:  # said, and nothing shown: never "matching" rows it did not filter
        return [], 1, f"{exc}. Nothing is shown until the filter is one the queue understands."
    narrowed = " matching the filter" if filter_query else ""
    narrowed += (
        f" and the search {search!r}"
        if narrowed and search
        else f" matching the search {search!r}"
        if search
        else ""
    )
    summary = (
        f"{matching} scored proposal(s){narrowed}. "
        "Nothing here runs on its own unless its tier is auto under a live risk acceptance."
    )
    return rows, pages, summary
