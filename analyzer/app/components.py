"""Small presentational pieces shared by pages."""

from __future__ import annotations

from typing import Any

from dash import html


def table(rows: list[dict[str, Any]], columns: list[str], **props: Any) -> html.Table:
    """A plain HTML table of ``rows`` (dicts) over ``columns``."""
    head = html.Thead(html.Tr([html.Th(c) for c in columns]))
    body = html.Tbody([html.Tr([html.Td(str(r.get(c, ""))) for c in columns]) for r in rows])
    return html.Table([head, body], style={"fontSize": "0.85em", "borderCollapse": "collapse"}, **props)
