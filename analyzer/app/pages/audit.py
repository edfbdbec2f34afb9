"""Audit: the ledger's verification, every change record, and exports for an auditor."""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State, dcc, html

from analyzer.app import data, ids
from analyzer.app.components import table

dash.register_page(__name__, path="/audit", name="Audit")


def layout() -> html.Div:
    rows, status = data.audit()
    head = f"Ledger {status['ledger']}: {status['records']} record(s), "
    if status["ok"]:
        verdict, colour = head + f"verifies against the trust root {status['trust_root']}.", "#2e7d32"
    elif status["trust_root"] is None and status["first_bad"] is None:
        verdict = (
            head + "not verified: the app was started without the organization's trust root (--trust-root)."
        )
        colour = "#ef6c00"
    else:
        where = f" (first bad record {status['first_bad']})" if status["first_bad"] else ""
        verdict, colour = head + f"DOES NOT VERIFY{where}.", "#c62828"
    columns = [
        "ledger_seq",
        "proposal_id",
        "decision",
        "approver",
        "approver_roles",
        "decided_at",
        "tier",
        "tier_rule",
        "accountable_role",
        "risk_score",
        "severed",
        "impacted_services",
        "rollback_verified",
        "gate_passes",
        "executions",
    ]
    return html.Div(
        [
            html.H2("Audit"),
            html.P(
                verdict,
                id=ids.AUDIT_STATUS,
                style={"fontWeight": "bold", "color": colour},
            ),
            html.Ul([html.Li(p) for p in status["problems"] + status["warnings"]]),
            html.Div(
                [
                    dcc.Dropdown(
                        id=ids.AUDIT_EXPORT_FORMAT,
                        options=["json", "csv", "html"],
                        value="csv",
                        clearable=False,
                        style={"width": "8em", "display": "inline-block", "verticalAlign": "middle"},
                    ),
                    html.Button(
                        "Export change records", id=ids.AUDIT_EXPORT_BUTTON, style={"marginLeft": "1em"}
                    ),
                    dcc.Download(id=ids.AUDIT_DOWNLOAD),
                ]
            ),
            table(rows, columns, id=ids.AUDIT_TABLE),
        ]
    )


@dash.callback(
    Output(ids.AUDIT_DOWNLOAD, "data"),
    Input(ids.AUDIT_EXPORT_BUTTON, "n_clicks"),
    State(ids.AUDIT_EXPORT_FORMAT, "value"),
    prevent_initial_call=True,
)
def export(n_clicks: int | None, fmt: str) -> dict[str, Any]:
    return {"content": data.audit_export(fmt), "filename": f"blastwall-change-records.{fmt}"}
