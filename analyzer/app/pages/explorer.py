"""Explorer: find a principal, resource, ENI or CI; see its neighbourhood, who can assume it, and the
dependencies nobody documented."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import dash
from dash import Input, Output, dcc, html

from analyzer.app import data, ids
from analyzer.app.components import evidence_note, table

dash.register_page(__name__, path="/explorer", name="Explorer")


UNDOCUMENTED_SHOWN = 200
"""Undocumented dependencies listed on the page (the most critical first); ``blastwall undocumented`` has all."""


def explore_link(node: str) -> str:
    return "/explorer?q=" + quote(node, safe="")


def layout(q: str | None = None, **_: Any) -> html.Div:
    return html.Div(
        [
            html.H2("Explorer"),
            dcc.Input(
                id=ids.EXPLORER_QUERY,
                type="text",
                value=q or "",
                debounce=True,
                placeholder="an ARN, eni-…, a CI name…",
                style={"width": "40em"},
            ),
            html.Div(id=ids.EXPLORER_RESULT, style={"marginTop": "1em"}),
            html.H3("Undocumented observed dependencies"),
            dcc.Loading(  # at scale the first computation takes seconds: the page says it is working
                html.Div(id=ids.EXPLORER_UNDOCUMENTED),
                type="default",
                overlay_style={"visibility": "visible", "opacity": 0.5},
                custom_spinner=html.P("Finding every observed dependency nobody documented…"),
            ),
        ]
    )


@dash.callback(Output(ids.EXPLORER_RESULT, "children"), Input(ids.EXPLORER_QUERY, "value"))
def search(query: str | None) -> Any:
    if not query:
        return html.P("Type to search.")
    found = data.explore(query)
    if found is None:
        return html.P(f"Nothing matches {query!r}.")
    parts: list[Any] = [
        html.H3(f"{found['kind']}: {found['id']}"),
        html.P(f"CIs: {', '.join(found['cis']) or 'none (unmapped)'}"),
        html.H4("Neighbours"),
        table(
            found["neighbours"],
            ["direction", "kind", "node", "count", "last_seen"],
            links={"node": explore_link},
            id=ids.EXPLORER_NEIGHBOURS,
        ),
    ]
    if found.get("can_assume") is not None:
        parts += [
            html.H4("Who can assume it"),
            table(found["can_assume"], ["principal", "decision", "statements"], id=ids.EXPLORER_ASSUME),
        ]
    if found.get("reach") is not None:
        parts += [
            html.H4("Who can reach it"),
            table(
                found["reach"],
                ["source", "protocol", "ports", "decision", "rule", "detail"],
                id=ids.EXPLORER_REACH,
            ),
        ]
    if found.get("access"):
        parts += [
            html.H4("Who can access it"),
            table(
                found["access"],
                ["principal", "action", "decision", "depends_on", "statements"],
                id=ids.EXPLORER_ACCESS,
            ),
        ]
    return parts


@dash.callback(Output(ids.EXPLORER_UNDOCUMENTED, "children"), Input(ids.EXPLORER_QUERY, "id"))
def undocumented(_: str) -> Any:
    found = data.undocumented()
    shown = list(found["dependencies"][:UNDOCUMENTED_SHOWN])
    return [
        evidence_note(found["freshness"], ids.EXPLORER_EVIDENCE),
        html.P(
            f"{found['count']} undocumented observed dependenc(ies)"
            + (
                f"; the {len(shown)} with the most critical dependants shown (blastwall undocumented lists all)"
                if len(shown) < found["count"]
                else ""
            ),
            id=ids.EXPLORER_UNDOCUMENTED_COUNT,
        ),
        table(
            shown,
            ["dependants_max_criticality", "consumer", "provider", "events", "last_seen", "why_undocumented"],
            links={"consumer": explore_link, "provider": explore_link},
            id=ids.EXPLORER_UNDOCUMENTED_TABLE,
        ),
    ]
