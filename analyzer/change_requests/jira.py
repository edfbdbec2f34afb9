"""Jira (Cloud REST API v3): an issue in the change project, its approval read from the status it was
moved to and who moved it.

Opened as ``POST /rest/api/3/issue`` (project, issue type, summary, the description as an Atlassian
Document Format document, labels ``blastwall`` and the proposal id), read back as ``GET
/rest/api/3/issue/{key}`` and its changelog (``GET /rest/api/3/issue/{key}/changelog``, paged): the last
move into an approved or rejected status, by whom (``author.accountId``). Credentials from the
environment: ``BLASTWALL_JIRA_URL``, ``BLASTWALL_JIRA_EMAIL``, ``BLASTWALL_JIRA_API_TOKEN`` (basic, as
Atlassian Cloud takes API tokens), ``BLASTWALL_JIRA_PROJECT``; optional ``BLASTWALL_JIRA_ISSUE_TYPE``
(Task), ``BLASTWALL_JIRA_APPROVED`` (Approved) and ``BLASTWALL_JIRA_REJECTED`` (Rejected,Declined)."""

from __future__ import annotations

import os
import re
from typing import Any

from analyzer.change_requests.content import RequestContent
from analyzer.change_requests.http import Client
from analyzer.change_requests.systems import Approval, Opened, Seen
from analyzer.errors import BadInput

_PID = re.compile(r"^bw-[0-9a-f]{12}$")


class Jira:
    name = "jira"

    def __init__(
        self, client: Client, project: str, issue_type: str, approved: set[str], rejected: set[str]
    ) -> None:
        self.client = client
        self.project = project
        self.issue_type = issue_type
        self.approved = {s.casefold() for s in approved}
        self.rejected = {s.casefold() for s in rejected}

    def open(self, content: RequestContent) -> Opened:
        body = {
            "fields": {
                "project": {"key": self.project},
                "issuetype": {"name": self.issue_type},
                "summary": content.title,
                "description": adf(content.description + "\n\nRollback: " + content.rollback),
                "labels": ["blastwall", content.proposal_id],
            }
        }
        doc = self.client.request("POST", "/rest/api/3/issue", json=body)
        if not isinstance(doc, dict) or not doc.get("key"):
            raise BadInput("Jira answered without an issue key", file="jira")
        key = str(doc["key"])
        return Opened(self.name, key, key, f"{self.client.base_url}/browse/{key}")

    def read(self, ref: str) -> Seen:
        issue = self.client.request(
            "GET", f"/rest/api/3/issue/{ref}", params={"fields": "labels,description,status"}
        )
        fields = (issue or {}).get("fields") or {}
        labels = [x for x in fields.get("labels") or [] if isinstance(x, str) and _PID.match(x)]
        status = str((fields.get("status") or {}).get("name") or "")
        moves = []
        start = 0
        while True:
            page = self.client.request(
                "GET", f"/rest/api/3/issue/{ref}/changelog", params={"startAt": start, "maxResults": 100}
            )
            values = (page or {}).get("values") or []
            for h in values:
                for item in h.get("items") or []:
                    if item.get("field") == "status":
                        moves.append((h, str(item.get("toString") or "")))
            if (page or {}).get("isLast", True) or not values:
                break
            start += len(values)
        approvals: list[Approval] = []
        last = next((m for m in reversed(moves) if m[1].casefold() == status.casefold()), None)
        if last is not None:
            h, to = last
            state = (
                "approved"
                if to.casefold() in self.approved
                else "rejected"
                if to.casefold() in self.rejected
                else "other"
            )
            author = h.get("author") or {}
            approvals.append(
                Approval(
                    str(author.get("accountId") or ""), state, f"moved to {to}", str(h.get("created") or "")
                )
            )
        return Seen(labels[0] if labels else None, adf_text(fields.get("description")), tuple(approvals))

    def close(self) -> None:
        self.client.close()


def adf(text: str) -> dict[str, Any]:
    """Plain text as an Atlassian Document Format document: a paragraph per block of lines, the lines of
    a block joined by hard breaks (ADF has no empty text nodes)."""
    paragraphs = []
    for block in text.split("\n\n"):
        content: list[dict[str, Any]] = []
        for line in block.split("\n"):
            if not line:
                continue
            if content:
                content.append({"type": "hardBreak"})
            content.append({"type": "text", "text": line})
        if content:
            paragraphs.append({"type": "paragraph", "content": content})
    return {"type": "doc", "version": 1, "content": paragraphs}


def adf_text(doc: Any) -> str:
    """The text of an ADF document (paragraphs and hard breaks as newlines)."""
    out: list[str] = []

    def walk(node: Any) -> None:
        if not isinstance(node, dict):
            return
        if node.get("type") == "text":
            out.append(str(node.get("text") or ""))
        elif node.get("type") == "hardBreak":
            out.append("\n")
        for child in node.get("content") or []:
            walk(child)
        if node.get("type") == "paragraph":
            out.append("\n\n")

    walk(doc)
    return "".join(out).strip()


def from_env() -> Jira:
    need = [
        "BLASTWALL_JIRA_URL",
        "BLASTWALL_JIRA_EMAIL",
        "BLASTWALL_JIRA_API_TOKEN",
        "BLASTWALL_JIRA_PROJECT",
    ]
    missing = [n for n in need if not os.environ.get(n)]
    if missing:
        raise BadInput(f"set {', '.join(missing)} to open Jira issues")
    env = os.environ
    client = Client(
        "jira", env["BLASTWALL_JIRA_URL"], (env["BLASTWALL_JIRA_EMAIL"], env["BLASTWALL_JIRA_API_TOKEN"])
    )
    return Jira(
        client,
        env["BLASTWALL_JIRA_PROJECT"],
        env.get("BLASTWALL_JIRA_ISSUE_TYPE", "Task"),
        set(env.get("BLASTWALL_JIRA_APPROVED", "Approved").split(",")),
        set(env.get("BLASTWALL_JIRA_REJECTED", "Rejected,Declined").split(",")),
    )
