"""One proposal: what it severs, the services behind it, what is unknown, and the rollback."""

from __future__ import annotations

from typing import Any

import dash
import dash_cytoscape as cyto
import plotly.graph_objects as go
from dash import Input, Output, State, dcc, html

from analyzer.app import data, ids
from analyzer.app.components import evidence_note, grid
from analyzer.app.graph import MAX_DRAWN, STYLESHEET, expanded, graph_elements
from analyzer.scoring.verdict import chain_phrase, verdict

dash.register_page(__name__, path_template="/proposal/<proposal_id>", name="Proposal")


TIMELINE_ROWS = 15
"""Observed severed dependencies drawn on the timeline (the busiest first); the rest are counted."""


def usage_figure(r: dict[str, Any]) -> go.Figure:
    """One line per observed severed dependency (the busiest ``TIMELINE_ROWS``) from its first to its last
    sighting in the evidence window, with its event count. Dependencies nobody was seen using are not
    drawn (a row each would bury the ones that matter); ``usage_caption`` counts them."""
    fig = go.Figure()
    observed = sorted(
        (s for s in r["severed"] if s["observed"] and s.get("first_seen") and s.get("last_seen")),
        key=lambda s: -int(s.get("events") or 0),
    )[:TIMELINE_ROWS]
    for s in observed:
        name = (
            f"{s['consumer'].rsplit('/', 1)[-1]} -> {s['provider'].rsplit('/', 1)[-1]} ({s['events']} events)"
        )
        fig.add_trace(
            go.Scatter(
                x=[s["first_seen"], s["last_seen"]],
                y=[name, name],
                mode="lines+markers",
                line={"width": 8, "color": "#c62828" if not s["documented"] else "#1565c0"},
                hovertext=f"{s['events']} events",
                name=f"{name} ({s['events']} events)",
            )
        )
    fig.update_layout(
        margin={"l": 10, "r": 10, "t": 10, "b": 30},
        showlegend=False,  # each row is labelled with its dependency and its events
        xaxis={"range": [r["evidence"]["window_start"], r["evidence"]["window_end"]]},
    )
    return fig


def usage_caption(r: dict[str, Any]) -> str:
    """What the timeline shows and what it leaves out, in words."""
    observed = sum(1 for s in r["severed"] if s["observed"])
    unobserved = len(r["severed"]) - observed + int(r.get("severed_unlisted") or 0)
    window = f"{r['evidence']['window_start'][:10]} to {r['evidence']['window_end'][:10]}"
    if not r["severed"] and not r.get("severed_unlisted"):
        return f"This change severs nothing: no dependency to draw (window {window})."
    parts = []
    if observed:
        shown = min(observed, TIMELINE_ROWS)
        parts.append(
            f"{observed} severed dependenc(ies) observed in the window {window}"
            + (f"; the busiest {shown} drawn" if shown < observed else "")
        )
    else:
        parts.append(f"No severed dependency was observed in the window {window}")
    if unobserved:
        parts.append(f"{unobserved} more nobody was seen using (listed below, not drawn)")
    return "; ".join(parts) + ". Red: nobody documented it; blue: documented."


def severed_groups(r: dict[str, Any]) -> list[dict[str, Any]]:
    """The severed dependencies grouped by consumer: how many, observed, events, undocumented."""
    groups: dict[str, dict[str, Any]] = {}
    for s in r["severed"]:
        g = groups.setdefault(
            s["consumer"],
            {
                "consumer": s["consumer"],
                "account": s["consumer"].split(":")[4] if s["consumer"].count(":") >= 4 else "",
                "severed": 0,
                "observed": 0,
                "events": 0,
                "undocumented": 0,
                "services": set(),
            },
        )
        g["severed"] += 1
        g["observed"] += 1 if s["observed"] else 0
        g["events"] += int(s.get("events") or 0)
        g["undocumented"] += 0 if s["documented"] else 1
        g["services"].update(s.get("consumer_cis") or [])
    rows = sorted(groups.values(), key=lambda g: (-g["events"], -g["severed"], g["consumer"]))
    return [g | {"services": ", ".join(sorted(g["services"]))} for g in rows]


LEGEND = [
    ("#1565c0", "solid", "the changed resource"),
    ("#c62828", "solid", "severed, observed, documented"),
    ("#c62828", "dashed", "severed, nobody documented it"),
    ("#bdbdbd", "solid", "severed, nobody seen using it"),
]


def legend() -> html.Div:
    items = [
        html.Span(
            [
                html.Span(
                    style={
                        "display": "inline-block",
                        "width": "2.2em",
                        "borderTop": f"3px {style} {colour}",
                        "verticalAlign": "middle",
                        "marginRight": "0.3em",
                    }
                ),
                text,
            ],
            style={"marginRight": "1.2em"},
        )
        for colour, style, text in LEGEND
    ]
    items.append(
        html.Span(
            "Services and CIs coloured by criticality: critical red, high orange, medium amber, low green. "
            "A grey octagon holds the rest of a kind: click it to draw more."
        )
    )
    return html.Div(items, id=ids.GRAPH_LEGEND, style={"fontSize": "0.8em", "margin": "0.3em 0 1em"})


def alternative_text(alt: dict[str, Any] | None) -> str:
    if not alt:
        return "None needed or none found: the change cuts no observed use that a narrower change could keep."
    return (
        f"{alt['description']}. Scored the same way: tier {alt['tier']}, risk {alt['risk_score']}, "
        f"severs {len(alt['severed'])} ({alt['severed_observed']} observed), "
        f"impacts {len(alt['impacted_services'])} service(s)/CI(s)."
    )


def decision_text(proposal_id: str, d: dict[str, Any] | None) -> str:
    if d is None:
        return (
            f"No decision yet. An approver with the role the tier names decides with: "
            f"blastwall approve {proposal_id} --as NAME --comment WHY (or reject)."
        )
    return (
        f"{d['decision'].capitalize()} by {d['approver']} ({', '.join(d['approver_roles'])}) at "
        f"{d['decided_at']}: {d['comment']}"
    )


def layout(proposal_id: str = "") -> html.Div:
    r = data.result(proposal_id)
    if r is None:
        return html.Div([html.H2("Not found"), html.P(f"No scored proposal {proposal_id!r}.")])
    severed_rows = [
        {
            "consumer": s["consumer"],
            "provider": s["provider"],
            "access": s["access"],
            "observed": "yes" if s["observed"] else "no",
            "events": s["events"],
            "last_seen": s["last_seen"] or "",
            "documented": "yes" if s["documented"] else "NO",
            "why": s.get("documentation", ""),
        }
        for s in r["severed"]
    ]
    impacted_rows = [
        {
            "name": s["name"],
            "criticality": s["criticality"],
            "documented": "yes" if s["documented"] else "no",
            "reached": s.get("reached", ""),
            "hops": s.get("hops", ""),
            "chain": chain_phrase(s.get("chain") or [], None).removeprefix("chain: ")
            or " -> ".join(s.get("path", [])),
        }
        for s in r["impacted_services"]
    ]
    rb = r["rollback"]
    drawn = graph_elements(r)
    graph_or_empty: Any = (
        cyto.Cytoscape(
            id=ids.PROPOSAL_GRAPH,
            elements=drawn,
            stylesheet=STYLESHEET,
            layout={"name": "breadthfirst", "directed": True},
            style={"width": "100%", "height": "360px", "border": "1px solid #ddd"},
        )
        if r["severed"] or r["impacted_services"]
        else html.P(
            "Nothing to draw: this change severs no dependency and impacts no service.", id=ids.PROPOSAL_GRAPH
        )
    )
    timeline: Any = (
        dcc.Graph(
            id=ids.USAGE_TIMELINE,
            figure=usage_figure(r),
            config={"displayModeBar": False},
            style={
                "height": f"{90 + 26 * min(TIMELINE_ROWS, sum(1 for s in r['severed'] if s['observed']))}px"
            },
        )
        if any(s["observed"] for s in r["severed"])
        else html.Div(id=ids.USAGE_TIMELINE)
    )
    return html.Div(
        [
            html.P(
                r.get("summary") or verdict(r),
                id=ids.PROPOSAL_VERDICT,
                style={"fontSize": "1.25em", "fontWeight": "bold", "margin": "0.4em 0"},
            ),
            evidence_note(data.evidence_of(r), ids.PROPOSAL_EVIDENCE),
            html.H2(
                r["source"].get("title") or proposal_id, id=ids.PROPOSAL_HEADER, style={"fontSize": "1em"}
            ),
            html.P(
                [
                    html.B(f"Tier: {r['tier']}"),
                    f" (rule {r['tier_rule']}",
                    f", approver role {r['approver_role']})" if r.get("approver_role") else ")",
                    f" — risk {r['risk_score']}/100 — {r['change']['kind']} on {r['change']['target']}",
                ]
            ),
            graph_or_empty,
            legend(),
            html.H3("Observed use of what this change severs"),
            html.P(usage_caption(r), id=ids.USAGE_CAPTION),
            timeline,
            html.H3("Severed dependencies"),
            grid(
                ids.SEVERED_GROUPS,
                severed_groups(r),
                ["consumer", "account", "severed", "observed", "events", "undocumented", "services"],
            ),
            html.Details(
                [
                    html.Summary(f"Every severed dependency ({len(severed_rows)} listed)"),
                    grid(
                        ids.SEVERED_TABLE,
                        severed_rows,
                        list(severed_rows[0] if severed_rows else ["consumer"]),
                        20,
                    ),
                ],
                open=len(severed_rows) <= 10,
            ),
            html.H3("Impacted services and CIs"),
            grid(
                ids.IMPACTED_TABLE,
                impacted_rows,
                ["name", "criticality", "reached", "hops", "chain", "documented"],
                15,
            ),
            html.H3("Unknowns"),
            html.Ul(
                [html.Li(f"{u['reason']}: {u['detail']}") for u in r["unknowns"]] or [html.Li("none")],
                id=ids.UNKNOWNS_LIST,
            ),
            html.H3("Decision"),
            html.P(decision_text(proposal_id, data.decision(proposal_id)), id=ids.DECISION),
            dcc.Store(id=ids.PROPOSAL_ID, data=proposal_id),
            dcc.Store(id=ids.GRAPH_SHOWN, data={"severed": MAX_DRAWN, "impacted": MAX_DRAWN}),
            dcc.Textarea(
                id=ids.DECISION_COMMENT,
                placeholder="Why (recorded with your decision)",
                style={"width": "40em", "height": "4em"},
            ),
            html.Div(
                [
                    html.Button("Approve", id=ids.APPROVE_BUTTON, style={"marginRight": "1em"}),
                    html.Button("Reject", id=ids.REJECT_BUTTON),
                ]
            ),
            html.P(id=ids.DECISION_MESSAGE, style={"fontWeight": "bold"}),
            html.H3("Safer alternative"),
            html.P(alternative_text(r.get("safer_alternative")), id=ids.ALTERNATIVE),
            html.H3("Rollback"),
            html.P(
                f"{'verified' if rb.get('verified') else 'not verified'}: {rb.get('detail', '')}",
                id=ids.ROLLBACK,
            ),
        ]
    )


@dash.callback(
    Output(ids.PROPOSAL_GRAPH, "elements"),
    Output(ids.GRAPH_SHOWN, "data"),
    Input(ids.PROPOSAL_GRAPH, "tapNodeData"),
    State(ids.GRAPH_SHOWN, "data"),
    State(ids.PROPOSAL_ID, "data"),
    prevent_initial_call=True,
)
def open_cluster(tapped: dict[str, Any] | None, shown: dict[str, int], proposal_id: str) -> tuple[Any, Any]:
    """A tap on a folded cluster draws the next few dozen of its kind."""
    now = expanded(shown, (tapped or {}).get("id"))
    r = data.result(proposal_id) if now != shown else None
    if r is None:
        raise dash.exceptions.PreventUpdate
    return graph_elements(r, now["severed"], now["impacted"]), now


@dash.callback(
    Output(ids.DECISION_MESSAGE, "children"),
    Output(ids.DECISION, "children"),
    Input(ids.APPROVE_BUTTON, "n_clicks"),
    Input(ids.REJECT_BUTTON, "n_clicks"),
    State(ids.DECISION_COMMENT, "value"),
    State(ids.PROPOSAL_ID, "data"),
    prevent_initial_call=True,
)
def record_decision(
    _approve: int | None, _reject: int | None, comment: str | None, proposal_id: str
) -> tuple[str, str]:
    """Record the decision, then show the Decision section as the ledger now has it."""
    message = data.decide(proposal_id, dash.ctx.triggered_id == ids.APPROVE_BUTTON, comment or "")
    return message, decision_text(proposal_id, data.decision(proposal_id))
