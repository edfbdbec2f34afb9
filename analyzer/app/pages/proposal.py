"""One proposal: what it severs, the services behind it, what is unknown, and the rollback."""

from __future__ import annotations

from typing import Any

import dash
import dash_cytoscape as cyto
import plotly.graph_objects as go
from dash import Input, Output, State, dash_table, dcc, html

from analyzer.app import data, ids
from analyzer.app.graph import STYLESHEET, graph_elements
from analyzer.scoring.verdict import verdict

DataTable = dash_table.DataTable  # type: ignore[attr-defined]

dash.register_page(__name__, path_template="/proposal/<proposal_id>", name="Proposal")


def usage_figure(r: dict[str, Any]) -> go.Figure:
    """One line per severed dependency from its first to its last sighting in the evidence window, with the
    event count; a dependency with no evidence is drawn as a note, not as zero use."""
    fig = go.Figure()
    for s in r["severed"]:
        name = f"{s['consumer'].rsplit('/', 1)[-1]} -> {s['provider'].rsplit('/', 1)[-1]}"
        if s["observed"] and s.get("first_seen") and s.get("last_seen"):
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
        else:
            fig.add_annotation(
                x=r["evidence"]["window_end"],
                y=name,
                text="no use seen in the window",
                showarrow=False,
                xanchor="right",
            )
            fig.add_trace(
                go.Scatter(
                    x=[r["evidence"]["window_end"]],
                    y=[name],
                    mode="markers",
                    marker={"color": "#bdbdbd"},
                    name=f"{name} (not observed)",
                )
            )
    fig.update_layout(
        margin={"l": 10, "r": 10, "t": 10, "b": 30},
        showlegend=True,
        xaxis={"range": [r["evidence"]["window_start"], r["evidence"]["window_end"]]},
    )
    return fig


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
            "path": " -> ".join(s.get("path", [])),
        }
        for s in r["impacted_services"]
    ]
    rb = r["rollback"]
    return html.Div(
        [
            html.P(
                r.get("summary") or verdict(r),
                id=ids.PROPOSAL_VERDICT,
                style={"fontSize": "1.25em", "fontWeight": "bold", "margin": "0.4em 0"},
            ),
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
            cyto.Cytoscape(
                id=ids.PROPOSAL_GRAPH,
                elements=graph_elements(r),
                stylesheet=STYLESHEET,
                layout={"name": "breadthfirst", "directed": True},
                style={"width": "100%", "height": "360px", "border": "1px solid #ddd"},
            ),
            html.H3("Observed use of what this change severs"),
            dcc.Graph(
                id=ids.USAGE_TIMELINE,
                figure=usage_figure(r),
                config={"displayModeBar": False},
                style={"height": f"{120 + 40 * max(1, len(r['severed']))}px"},
            ),
            html.H3("Severed dependencies"),
            DataTable(
                id=ids.SEVERED_TABLE,
                data=severed_rows,
                columns=[
                    {"name": k, "id": k} for k in (severed_rows[0] if severed_rows else {"consumer": 0})
                ],
                style_cell={"textAlign": "left", "fontSize": "0.85em"},
            ),
            html.H3("Impacted services and CIs"),
            DataTable(
                id=ids.IMPACTED_TABLE,
                data=impacted_rows,
                columns=[{"name": k, "id": k} for k in ("name", "criticality", "documented", "path")],
                style_cell={"textAlign": "left", "fontSize": "0.85em"},
            ),
            html.H3("Unknowns"),
            html.Ul(
                [html.Li(f"{u['reason']}: {u['detail']}") for u in r["unknowns"]] or [html.Li("none")],
                id=ids.UNKNOWNS_LIST,
            ),
            html.H3("Decision"),
            html.P(decision_text(proposal_id, data.decision(proposal_id)), id=ids.DECISION),
            dcc.Store(id=ids.PROPOSAL_ID, data=proposal_id),
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
    Output(ids.DECISION_MESSAGE, "children"),
    Input(ids.APPROVE_BUTTON, "n_clicks"),
    Input(ids.REJECT_BUTTON, "n_clicks"),
    State(ids.DECISION_COMMENT, "value"),
    State(ids.PROPOSAL_ID, "data"),
    prevent_initial_call=True,
)
def record_decision(_approve: int | None, _reject: int | None, comment: str | None, proposal_id: str) -> str:
    return data.decide(proposal_id, dash.ctx.triggered_id == ids.APPROVE_BUTTON, comment or "")
