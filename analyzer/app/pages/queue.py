"""The queue: every scored proposal in an AG Grid whose rows are filtered, sorted and cut into blocks on
the server (infinite row model), highest priority first; a search box and tier / worst-impact sets beside
it. The grid never holds more than the blocks it shows."""

from __future__ import annotations

from typing import Any

import dash
import dash_ag_grid as dag
import dash_cytoscape as cyto
from dash import ClientsideFunction, Input, Output, State, dcc, html

from analyzer.app import data, ids
from analyzer.app.grid import FilterError

dash.register_page(__name__, path="/", name="Queue")

TIERS = ["cab", "approval", "auto", "blocked"]
CRITICALITIES = ["critical", "high", "medium", "low", "none"]
TIER_COLOURS = {"auto": "#e6f4ea", "approval": "#fff4e5", "cab": "#fde7e9", "blocked": "#e0e0e0"}
BLOCK = 100
TEXT_FILTER = {
    "filter": "agTextColumnFilter",
    "filterParams": {
        "filterOptions": [
            "contains",
            "notContains",
            "equals",
            "notEqual",
            "startsWith",
            "endsWith",
            "blank",
            "notBlank",
        ],
        "maxNumConditions": 2,
    },
}
NUMBER_FILTER = {
    "filter": "agNumberColumnFilter",
    "filterParams": {
        "filterOptions": [
            "equals",
            "notEqual",
            "greaterThan",
            "greaterThanOrEqual",
            "lessThan",
            "lessThanOrEqual",
            "inRange",
            "blank",
            "notBlank",
        ],
        "maxNumConditions": 2,
    },
}


def _text(field: str, name: str, width: int, **more: Any) -> dict[str, Any]:
    return {"field": field, "headerName": name, "width": width, **TEXT_FILTER, **more}


def _number(field: str, name: str, width: int = 110) -> dict[str, Any]:
    return {"field": field, "headerName": name, "width": width, "type": "numericColumn", **NUMBER_FILTER}


COLUMNS = [
    _text("proposal", "Proposal", 170, cellRenderer="markdown", linkTarget="_self", pinned="left"),
    _text(
        "verdict", "Verdict", 460, wrapText=True, cellStyle={"lineHeight": "1.3em", "whiteSpace": "normal"}
    ),
    _text(
        "tier",
        "Tier",
        100,
        cellStyle={
            "styleConditions": [
                {"condition": f"params.value === '{t}'", "style": {"backgroundColor": c}}
                for t, c in TIER_COLOURS.items()
            ]
        },
    ),
    _number("priority", "Priority"),
    _number("risk", "Risk", 90),
    _text("top_impact", "Worst impact", 220),
    _number("severed_observed", "Severed (observed)", 150),
    _number("undocumented", "Undocumented", 130),
    _number("unknowns", "Unknowns", 110),
    _text("change", "Change", 200),
    _text("target", "Target", 320),
    _text("source", "Source", 160),
    _text("severity", "Severity", 110),
    _text("status", "Status", 110),
]
FIELDS = [c["field"] for c in COLUMNS]


def layout() -> html.Div:
    return html.Div(
        [
            html.H2("Proposed remediations"),
            html.Div(
                [
                    dcc.Input(
                        id=ids.QUEUE_SEARCH,
                        type="search",
                        debounce=True,
                        placeholder="Search: proposal, target, service, verdict (all words)",
                        style={"width": "30em"},
                    ),
                    html.Div(
                        [
                            html.Span("Tier:"),
                            dcc.Checklist(id=ids.QUEUE_TIERS, options=TIERS, value=TIERS, inline=True),
                        ],
                        style={"display": "flex", "gap": "0.4em", "marginLeft": "1em"},
                    ),
                    html.Div(
                        [
                            html.Span("Worst impact:"),
                            dcc.Checklist(
                                id=ids.QUEUE_CRITICALITY,
                                options=CRITICALITIES,
                                value=CRITICALITIES,
                                inline=True,
                            ),
                        ],
                        style={"display": "flex", "gap": "0.4em", "marginLeft": "1em"},
                    ),
                ],
                style={"display": "flex", "alignItems": "center", "gap": "0.4em", "flexWrap": "wrap"},
            ),
            html.P(
                "Nothing here runs on its own unless its tier is auto under a live risk acceptance.",
                id=ids.QUEUE_SUMMARY,
            ),
            dag.AgGrid(
                id=ids.QUEUE_TABLE,
                columnDefs=COLUMNS,
                defaultColDef={"sortable": True, "resizable": True, "floatingFilter": True},
                rowModelType="infinite",
                dashGridOptions={
                    "cacheBlockSize": BLOCK,
                    "maxBlocksInCache": 20,
                    "infiniteInitialRowCount": 1,
                    "rowHeight": 80,
                    "rowBuffer": 0,
                    "multiSortKey": "ctrl",
                },
                style={"height": "640px", "width": "100%"},
            ),
            dcc.Store(id=ids.QUEUE_REFRESH),
            dcc.Store(id=ids.QUEUE_IDLE),
            html.Div(id=ids.QUEUE_PREFETCH, style={"display": "none"}),
        ]
    )


# once the first rows are shown, wait for the user to be idle a moment (no scroll, key or click for three
# seconds) before the prefetch below: loading those scripts holds the browser's main thread for about a
# second, which a scroll or a filter right after the first rows would otherwise wait for
dash.clientside_callback(
    ClientsideFunction(namespace="blastwall", function_name="whenIdle"),
    Output(ids.QUEUE_IDLE, "data"),
    Input(ids.QUEUE_SUMMARY, "children"),
    State(ids.QUEUE_IDLE, "id"),
    prevent_initial_call=True,
)


@dash.callback(
    Output(ids.QUEUE_PREFETCH, "children"),
    Input(ids.QUEUE_IDLE, "data"),
    State(ids.QUEUE_PREFETCH, "children"),
    prevent_initial_call=True,
)
def prefetch(_: Any, already: Any) -> Any:
    """Once the user is idle on the queue: an empty, hidden chart and graph, so the browser fetches their
    scripts (the largest of the app) while the user reads the queue, not when a proposal is opened."""
    if already:
        raise dash.exceptions.PreventUpdate
    return [dcc.Graph(figure={"data": []}), cyto.Cytoscape(elements=[], layout={"name": "preset"})]


# the search box and the sets live outside the grid: a change empties the grid's cache, so it asks again
dash.clientside_callback(
    ClientsideFunction(namespace="blastwall", function_name="refreshGrid"),
    Output(ids.QUEUE_REFRESH, "data"),
    Input(ids.QUEUE_SEARCH, "value"),
    Input(ids.QUEUE_TIERS, "value"),
    Input(ids.QUEUE_CRITICALITY, "value"),
    State(ids.QUEUE_TABLE, "id"),
    prevent_initial_call=True,
)


@dash.callback(
    Output(ids.QUEUE_TABLE, "getRowsResponse"),
    Output(ids.QUEUE_SUMMARY, "children"),
    Input(ids.QUEUE_TABLE, "getRowsRequest"),
    State(ids.QUEUE_SEARCH, "value"),
    State(ids.QUEUE_TIERS, "value"),
    State(ids.QUEUE_CRITICALITY, "value"),
)
def rows(
    request: dict[str, Any] | None, search: str | None, tiers: list[str] | None, worst: list[str] | None
) -> tuple[Any, ...]:
    if request is None:
        raise dash.exceptions.PreventUpdate
    try:
        block, matching = data.queue_block(request, FIELDS, search, tiers, worst)
    except FilterError as exc:  # said, and nothing shown: never "matching" rows it did not filter
        return {
            "rowData": [],
            "rowCount": 0,
        }, f"{exc}. Nothing is shown until the filter is one the queue understands."
    narrowed = [
        *(["the column filters"] if request.get("filterModel") else []),
        *([f"the search {search!r}"] if search and search.strip() else []),
        *(
            [f"tier {' / '.join(tiers or []) or 'none'}"]
            if tiers is not None and set(tiers) != set(TIERS)
            else []
        ),
        *(
            [f"worst impact {' / '.join(worst or []) or 'none'}"]
            if worst is not None and set(worst) != set(CRITICALITIES)
            else []
        ),
    ]
    summary = (
        f"{matching} scored proposal(s)"
        + (f" matching {' and '.join(narrowed)}" if narrowed else "")
        + ". Nothing here runs on its own unless its tier is auto under a live risk acceptance."
    )
    return {"rowData": block, "rowCount": matching}, summary
