"""Local stand-ins for ServiceNow's Table API and Jira Cloud's REST API v3, answering over real HTTP
with the request and response shapes their documentation gives (the systems cannot run here):

* ServiceNow: ``POST /api/now/table/change_request`` -> ``201 {"result": {sys_id, number, ...}}``;
  ``GET /api/now/table/{table}/{sys_id}`` -> ``{"result": {...}}`` honoring ``sysparm_fields``;
  ``GET /api/now/table/sysapproval_approver?sysparm_query=sysapproval=<sys_id>`` -> ``{"result":
  [...]}`` with the dot-walked ``approver.user_name``; errors as ``{"error": {"message", "detail"},
  "status": "failure"}``; basic authentication.
* Jira: ``POST /rest/api/3/issue`` -> ``201 {"id", "key", "self"}`` (400 ``{"errorMessages",
  "errors"}`` for an unknown project); ``GET /rest/api/3/issue/{key}?fields=`` -> ``{"id", "key",
  "fields": {...}}``; ``GET /rest/api/3/issue/{key}/changelog?startAt&maxResults`` -> a page bean
  ``{"startAt", "maxResults", "total", "isLast", "values": [{"id", "author": {"accountId",
  "displayName"}, "created", "items": [{"field": "status", "fromString", "toString", ...}]}]}``; basic
  authentication with an email and an API token.

Both can be told to answer ``429`` (with ``Retry-After``) or ``503`` for the next N requests, and keep
every request they received for the tests to read."""

from __future__ import annotations

import base64
import json
import threading
import urllib.parse
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Fake:
    def __init__(self, user: str, secret: str) -> None:
        self.auth = "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()
        self.requests: list[dict[str, Any]] = []
        self.failures: list[tuple[int, dict[str, str]]] = []  # answered to the next requests, in order
        self.lock = threading.Lock()

    def fail_next(self, status: int, times: int = 1, retry_after: str | None = None) -> None:
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        self.failures += [(status, headers)] * times


class _Handler(BaseHTTPRequestHandler):
    fake: Fake

    def log_message(self, *args: object) -> None:
        pass

    def _send(self, code: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> Any:
        n = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(n)) if n else None

    def _admit(self) -> tuple[str, dict[str, list[str]], Any] | None:
        parts = urllib.parse.urlsplit(self.path)
        body = self._body() if self.command == "POST" else None
        with self.fake.lock:
            self.fake.requests.append(
                {"method": self.command, "path": parts.path, "query": parts.query, "body": body}
            )
            failure = self.fake.failures.pop(0) if self.fake.failures else None
        if failure is not None:
            self._send(
                failure[0],
                self._error("Too many requests" if failure[0] == 429 else "unavailable"),
                failure[1],
            )
            return None
        if self.headers.get("Authorization") != self.fake.auth:
            self._send(401, self._error("User Not Authenticated", "Required to provide Auth information"))
            return None
        return parts.path, urllib.parse.parse_qs(parts.query), body

    def _error(self, message: str, detail: str = "") -> Any:
        return {"error": {"message": message, "detail": detail}, "status": "failure"}


# -- ServiceNow -----------------------------------------------------------------------------------------
class ServiceNowFake(Fake):
    def __init__(self, user: str = "svc-blastwall", secret: str = "sn-s3cret-do-not-print") -> None:
        super().__init__(user, secret)
        self.changes: dict[str, dict[str, Any]] = {}
        self.approvals: list[dict[str, Any]] = []

    def approve(self, number: str, user_name: str, state: str = "approved", comments: str = "") -> None:
        sys_id = next(k for k, v in self.changes.items() if v["number"] == number)
        self.approvals.append(
            {
                "sysapproval": sys_id,
                "approver.user_name": user_name,
                "state": state,
                "comments": comments,
                "sys_updated_on": "2026-05-15 09:30:00",
            }
        )


class _ServiceNow(_Handler):
    fake: ServiceNowFake

    def do_POST(self) -> None:
        got = self._admit()
        if got is None:
            return
        path, _, body = got
        if path != "/api/now/table/change_request":
            self._send(400, self._error("Invalid table"))
            return
        sys_id = uuid.uuid4().hex
        number = f"CHG{30001 + len(self.fake.changes):07d}"
        rec = dict(body) | {
            "sys_id": sys_id,
            "number": number,
            "state": "-5",
            "approval": "not yet requested",
            "sys_created_on": "2026-05-15 09:00:00",
        }
        self.fake.changes[sys_id] = rec
        self._send(201, {"result": rec})

    def do_GET(self) -> None:
        got = self._admit()
        if got is None:
            return
        path, q, _ = got
        fields = q.get("sysparm_fields", [""])[0].split(",")
        if path.startswith("/api/now/table/change_request/"):
            rec = self.fake.changes.get(path.rsplit("/", 1)[-1])
            if rec is None:
                self._send(
                    404,
                    self._error(
                        "No Record found", "Record doesn't exist or ACL restricts the record retrieval"
                    ),
                )
                return
            self._send(200, {"result": {k: rec.get(k, "") for k in fields} if fields != [""] else rec})
        elif path == "/api/now/table/sysapproval_approver":
            query = q.get("sysparm_query", [""])[0]
            sys_id = query.split("^", 1)[0].removeprefix("sysapproval=")
            rows = [r for r in self.fake.approvals if r["sysapproval"] == sys_id]
            self._send(200, {"result": [{k: r.get(k, "") for k in fields} for r in rows]})
        else:
            self._send(400, self._error("Invalid table"))


# -- Jira -----------------------------------------------------------------------------------------------
class JiraFake(Fake):
    def __init__(self, email: str = "blastwall@acme.example", token: str = "jira-t0ken-do-not-print") -> None:
        super().__init__(email, token)
        self.issues: dict[str, dict[str, Any]] = {}
        self.histories: dict[str, list[dict[str, Any]]] = {}
        self.projects = {"SEC"}
        self.page = 2  # the changelog's page size, small so the client must page

    def move(self, key: str, to: str, account_id: str, name: str = "") -> None:
        issue = self.issues[key]
        old = issue["fields"]["status"]["name"]
        issue["fields"]["status"] = {"name": to}
        history = self.histories.setdefault(key, [])
        history.append(
            {
                "id": str(10000 + len(history)),
                "author": {"accountId": account_id, "displayName": name or account_id},
                "created": f"2026-05-15T09:{len(history):02d}:00.000+0000",
                "items": [
                    {"field": "status", "fieldtype": "jira", "fromString": old, "toString": to},
                ],
            }
        )

    def comment_only(self, key: str, account_id: str) -> None:
        history = self.histories.setdefault(key, [])
        history.append(
            {
                "id": str(10000 + len(history)),
                "author": {"accountId": account_id},
                "created": "2026-05-15T08:00:00.000+0000",
                "items": [{"field": "labels", "fieldtype": "jira", "fromString": "", "toString": "x"}],
            }
        )


class _Jira(_Handler):
    fake: JiraFake

    def do_POST(self) -> None:
        got = self._admit()
        if got is None:
            return
        path, _, body = got
        fields = (body or {}).get("fields") or {}
        if path != "/rest/api/3/issue":
            self._send(404, {"errorMessages": ["not found"], "errors": {}})
            return
        if (fields.get("project") or {}).get("key") not in self.fake.projects:
            self._send(400, {"errorMessages": [], "errors": {"project": "valid project is required"}})
            return
        doc = fields.get("description")
        if not (isinstance(doc, dict) and doc.get("type") == "doc" and doc.get("version") == 1):
            self._send(
                400,
                {
                    "errorMessages": [],
                    "errors": {"description": "Operation value must be an Atlassian Document"},
                },
            )
            return
        n = len(self.fake.issues) + 1
        key = f"SEC-{n}"
        self.fake.issues[key] = {
            "id": str(10000 + n),
            "key": key,
            "fields": fields | {"status": {"name": "To Do"}},
        }
        self._send(201, {"id": str(10000 + n), "key": key, "self": f"/rest/api/3/issue/{10000 + n}"})

    def do_GET(self) -> None:
        got = self._admit()
        if got is None:
            return
        path, q, _ = got
        parts = path.split("/")
        key = parts[5] if len(parts) > 5 else ""
        issue = self.fake.issues.get(key)
        if issue is None:
            self._send(
                404,
                {
                    "errorMessages": ["Issue does not exist or you do not have permission to see it."],
                    "errors": {},
                },
            )
            return
        if path.endswith("/changelog"):
            start, size = (
                int(q.get("startAt", ["0"])[0]),
                min(int(q.get("maxResults", ["100"])[0]), self.fake.page),
            )
            values = self.fake.histories.get(key, [])
            page = values[start : start + size]
            self._send(
                200,
                {
                    "startAt": start,
                    "maxResults": size,
                    "total": len(values),
                    "isLast": start + size >= len(values),
                    "values": page,
                },
            )
            return
        wanted = q.get("fields", [""])[0].split(",")
        self._send(
            200, {"id": issue["id"], "key": key, "fields": {k: issue["fields"].get(k) for k in wanted}}
        )


@contextmanager
def serving(fake: Fake) -> Iterator[str]:
    handler = _ServiceNow if isinstance(fake, ServiceNowFake) else _Jira
    cls = type("Bound", (handler,), {"fake": fake})
    server = ThreadingHTTPServer(("127.0.0.1", 0), cls)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
