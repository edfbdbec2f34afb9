"""The live Table API path against a local HTTP server that answers like ServiceNow (paging, 429, 401)."""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from analyzer.errors import BadInput
from analyzer.graph.store import open_store
from connectors.cmdb import servicenow
from tests.conftest import SAMPLE

pytestmark = pytest.mark.integration


class FakeInstance(BaseHTTPRequestHandler):
    tables: ClassVar[dict[str, list]] = {}
    calls: ClassVar[list[str]] = []
    throttle_once: ClassVar[set[str]] = set()

    def do_GET(self) -> None:
        parts = urllib.parse.urlsplit(self.path)
        type(self).calls.append(self.path)
        if self.headers.get("Authorization") != "Basic cmVhZGVyOnMzY3JldA==":  # reader:s3cret
            self._send(
                401,
                {
                    "error": {
                        "message": "User Not Authenticated",
                        "detail": "Required to provide Auth information",
                    },
                    "status": "failure",
                },
            )
            return
        table = parts.path.rsplit("/", 1)[-1]
        if table in type(self).throttle_once:
            type(self).throttle_once.discard(table)
            self._send(429, {"error": {"message": "Too many requests"}}, {"Retry-After": "0"})
            return
        q = urllib.parse.parse_qs(parts.query)
        offset, limit = int(q["sysparm_offset"][0]), int(q["sysparm_limit"][0])
        self._send(200, {"result": type(self).tables.get(table, [])[offset : offset + limit]})

    def _send(self, code: int, body: dict, headers: dict | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def instance(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    FakeInstance.tables = {
        t: json.loads((SAMPLE / "servicenow" / f"{t}.json").read_text())["result"] for t in servicenow.TABLES
    }
    FakeInstance.calls = []
    FakeInstance.throttle_once = {"cmdb_rel_ci"}
    monkeypatch.setattr(servicenow, "PAGE_SIZE", 3)
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeInstance)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_live_pages_retries_and_matches_the_export(
    instance: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SERVICENOW_USER", "reader")
    monkeypatch.setenv("SERVICENOW_PASSWORD", "s3cret")
    live = open_store(tmp_path / "live")
    servicenow.ingest_servicenow(live, instance, seen="2026-05-15T06:00:00Z")
    offline = open_store(tmp_path / "offline")
    servicenow.ingest_servicenow(offline, str(SAMPLE / "servicenow"), seen="2026-05-15T06:00:00Z")

    def shape(s):
        g = s.read_graph()
        return [(n.id, n.kind, n.props) for n in g.nodes], [(e.src, e.kind, e.dst, e.props) for e in g.edges]

    assert shape(live) == shape(offline)
    offsets = [
        urllib.parse.parse_qs(urllib.parse.urlsplit(c).query)["sysparm_offset"][0]
        for c in FakeInstance.calls
        if "/cmdb_ci?" in c
    ]
    assert offsets == ["0", "3", "6", "9"]  # 10 CIs in pages of 3
    assert (
        sum("/cmdb_rel_ci?" in c and "sysparm_offset=0" in c for c in FakeInstance.calls) == 2
    )  # 429, retried


def test_401_names_instance_and_user_and_writes_nothing(
    instance: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SERVICENOW_USER", "reader")
    monkeypatch.setenv("SERVICENOW_PASSWORD", "wrong")
    store = open_store(tmp_path / "s")
    before = store.generation()
    with pytest.raises(BadInput) as exc:
        servicenow.ingest_servicenow(store, instance, seen="2026-05-15T06:00:00Z")
    msg = str(exc.value)
    assert instance in msg and "'reader'" in msg and "401" in msg and "wrong" not in msg
    assert store.generation() == before and not store.read_graph().nodes
