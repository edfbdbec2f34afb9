"""Small presentational pieces shared by pages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dash_ag_grid as dag
from dash import html

_MARKDOWN_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_{}[]()#+-.!<>|~"})


def table(
    rows: list[dict[str, Any]],
    columns: list[str],
    links: dict[str, Callable[[str], str]] | None = None,
    id: str | None = None,
    page_size: int = 20,
) -> dag.AgGrid:
    """``rows`` (dicts) over ``columns`` as an AG Grid held in the browser (sorted, filtered and paged
    there: thousands of rows cost the page one grid, not thousands of elements); a column in ``links``
    shows each value as a link to the address the function gives for it."""
    links = links or {}
    shown = [
        {
            c: f"[{str(r.get(c, '')).translate(_MARKDOWN_SPECIAL)}]({links[c](str(r[c]))})"
            if c in links and r.get(c)
            else r.get(c, "")
            for c in columns
        }
        for r in rows
    ]
    return grid(id or f"table-{'-'.join(columns)}", shown, columns, page_size, markdown=set(links))


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


def grid(
    element_id: str,
    rows: list[dict[str, Any]],
    columns: list[str],
    page_size: int = 10,
    markdown: set[str] | None = None,
) -> dag.AgGrid:
    """A small table (a result's own rows: severed, impacted) as an AG Grid held in the browser: sorted,
    filtered and paged there, as tall as its page."""
    numeric = {c for c in columns if rows and all(isinstance(r.get(c), int | float) for r in rows)}
    main = markdown or set(columns[:1])  # the links, else the first column: the widest
    return dag.AgGrid(
        id=element_id,
        rowData=rows,
        columnDefs=[
            {
                "field": c,
                "filter": "agNumberColumnFilter" if c in numeric else "agTextColumnFilter",
                **({"type": "numericColumn"} if c in numeric else {}),
                **({"cellRenderer": "markdown"} if c in (markdown or ()) else {}),
                **({"flex": 3, "minWidth": 300} if c in main else {"flex": 2} if c in WIDE else {}),
            }
            for c in columns
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
