"""ServiceNow: a ``change_request`` through the Table API, its approvals from ``sysapproval_approver``.

Opened as ``POST /api/now/table/change_request`` (type normal; assignment group by name, with
``sysparm_input_display_value=true``; risk and impact on the base system's choice values; the proposal
id as ``correlation_id``), read back as ``GET /api/now/table/change_request/{sys_id}`` and the approval
records whose ``sysapproval`` is that change (``approver.user_name``, ``state``, ``comments``).
Credentials from the environment: ``BLASTWALL_SERVICENOW_URL`` and ``BLASTWALL_SERVICENOW_USER`` /
``BLASTWALL_SERVICENOW_PASSWORD`` (basic) or ``BLASTWALL_SERVICENOW_TOKEN`` (OAuth bearer)."""

from __future__ import annotations

import os
from typing import Any

from analyzer.change_requests.content import RequestContent
from analyzer.change_requests.http import Client
from analyzer.change_requests.systems import Approval, Opened, Seen
from analyzer.errors import BadInput

RISK = {"high": "2", "moderate": "3", "low": "4"}  # change_request.risk: 2 High, 3 Moderate, 4 Low
IMPACT = {"high": "1", "medium": "2", "low": "3"}  # task.impact: 1 High, 2 Medium, 3 Low
TABLE = "/api/now/table"


class ServiceNow:
    name = "servicenow"

    def __init__(self, client: Client, groups: dict[str, str]) -> None:
        self.client = client
        self.groups = groups  # approver role -> assignment group name

    def open(self, content: RequestContent) -> Opened:
        body = {
            "type": "normal",
            "short_description": content.title,
            "description": content.description,
            "justification": content.justification,
            "backout_plan": content.rollback,
            "implementation_plan": (
                "The remediation tool runs the change only after Blastwall's gate answers allowed for "
                f"{content.proposal_id}; it reports the execution back."
            ),
            "risk": RISK[content.risk],
            "impact": IMPACT[content.impact],
            "assignment_group": self.groups.get(content.approver_role, content.approver_role),
            "correlation_id": content.proposal_id,
            "correlation_display": "Blastwall",
        }
        doc = self.client.request(
            "POST",
            f"{TABLE}/change_request",
            params={"sysparm_input_display_value": "true", "sysparm_exclude_reference_link": "true"},
            json=body,
        )
        rec = _result(doc)
        sys_id, number = str(rec["sys_id"]), str(rec["number"])
        return Opened(self.name, number, sys_id, f"{self.client.base_url}/change_request.do?sys_id={sys_id}")

    def read(self, ref: str) -> Seen:
        rec = _result(
            self.client.request(
                "GET",
                f"{TABLE}/change_request/{ref}",
                params={"sysparm_fields": "number,correlation_id,description,approval,state"},
            )
        )
        rows = self.client.request(
            "GET",
            f"{TABLE}/sysapproval_approver",
            params={
                "sysparm_query": f"sysapproval={ref}^ORDERBYsys_updated_on",
                "sysparm_fields": "approver.user_name,state,comments,sys_updated_on",
                "sysparm_limit": "100",
            },
        )
        approvals = tuple(
            Approval(
                account=str(r.get("approver.user_name") or ""),
                state=str(r.get("state") or ""),
                comment=str(r.get("comments") or ""),
                at=str(r.get("sys_updated_on") or ""),
            )
            for r in (rows or {}).get("result", [])
        )
        return Seen(rec.get("correlation_id") or None, str(rec.get("description") or ""), approvals)

    def close(self) -> None:
        self.client.close()


def _result(doc: Any) -> dict[str, Any]:
    if not isinstance(doc, dict) or not isinstance(doc.get("result"), dict):
        raise BadInput("ServiceNow answered without a result record", file="servicenow")
    return doc["result"]


def from_env() -> ServiceNow:
    url = os.environ.get("BLASTWALL_SERVICENOW_URL")
    if not url:
        raise BadInput(
            "set BLASTWALL_SERVICENOW_URL (and _USER/_PASSWORD or _TOKEN) to open ServiceNow changes"
        )
    token = os.environ.get("BLASTWALL_SERVICENOW_TOKEN")
    user, password = (
        os.environ.get("BLASTWALL_SERVICENOW_USER"),
        os.environ.get("BLASTWALL_SERVICENOW_PASSWORD"),
    )
    if token:
        client = Client("servicenow", url, None, {"Authorization": f"Bearer {token}"})
    elif user and password:
        client = Client("servicenow", url, (user, password))
    else:
        raise BadInput("set BLASTWALL_SERVICENOW_USER and _PASSWORD, or BLASTWALL_SERVICENOW_TOKEN")
    groups = dict(
        pair.split("=", 1)
        for pair in os.environ.get("BLASTWALL_SERVICENOW_GROUPS", "").split(",")
        if "=" in pair
    )
    return ServiceNow(client, groups)
