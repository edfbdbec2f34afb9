"""Small presentational pieces shared by pages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dash_ag_grid as dag
from dash import dcc, html


def table(
    rows: list[dict[str, Any]],
    columns: list[str],
    links: dict[str, Callable[[str], str]] | None = None,
    **props: Any,
) -> html.Table:
    """A plain HTML table of ``rows`` (dicts) over ``columns``; a column in ``links`` shows each value as a
    link to the address the function gives for it."""
    links = links or {}

    def cell(r: dict[str, Any], c: str) -> Any:
        value = str(r.get(c, ""))
        return dcc.Link(value, href=links[c](value)) if c in links and value else value

    head = html.Thead(html.Tr([html.Th(c) for c in columns]))
    body = html.Tbody([html.Tr([html.Td(cell(r, c)) for c in columns]) for r in rows])
    return html.Table([head, body], style={"fontSize": "0.85em", "borderCollapse": "collapse"}, **props)


def evidence_note(fresh: dict[str, Any], element_id: str) -> html.Div:
    """What the answer's evidence covers, first: a warning when an account has none in the window (its
    use is unknown, not absent), then the window and each account's days in it."""
    from analyzer.scoring.freshness import headline, window_line

    warning = headline(fresh)
    return html.Div(
        [
            *(
                [
                    html.P(
                        f"Evidence: {warning}", style={"color": "#a40000", "fontWeight": "bold", "margin": 0}
                    )
                ]
                if warning
                else []
            ),
            html.P(window_line(fresh), style={"color": "#555", "margin": 0, "fontSize": "0.9em"}),
        ],
        id=element_id,
        style={"margin": "0.3em 0"},
    )


WIDE = {"provider", "why", "path", "services"}


def grid(element_id: str, rows: list[dict[str, Any]], columns: list[str], page_size: int = 10) -> dag.AgGrid:
    """A small table (a result's own rows: severed, impacted) as an AG Grid held in the browser: sorted,
    filtered and paged there, as tall as its page."""
    numeric = {c for c in columns if rows and all(isinstance(r.get(c), int | float) for r in rows)}
    return dag.AgGrid(
        id=element_id,
        rowData=rows,
        columnDefs=[
            {
                "field": c,
                "filter": "agNumberColumnFilter" if c in numeric else "agTextColumnFilter",
                **({"type": "numericColumn"} if c in numeric else {}),
                **({"flex": 3, "minWidth": 300} if i == 0 else {"flex": 2} if c in WIDE else {}),
            }
            for i, c in enumerate(columns)
        ],
        defaultColDef={"sortable": True, "resizable": True, "flex": 1, "minWidth": 110},
        dashGridOptions={
            "pagination": len(rows) > page_size,
            "paginationPageSize": page_size,
            "paginationPageSizeSelector": False,
            "domLayout": "autoHeight",
            "rowHeight": 28,
            "headerHeight": 32,
        },
        style={"width": "100%", "fontSize": "0.85em"},
    )
