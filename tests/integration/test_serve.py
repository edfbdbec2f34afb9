"""`blastwall serve` over real HTTP, in its own process, on the demo store: what a remediation pipeline
sends (an EventBridge event carrying a Security Hub finding, as the rule delivers it), the verdict it
gets back, the gate before and after the board approves, the execution it reports; and what a caller
without the right token, or someone who can write the store directory, can do (nothing)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from analyzer.governance import signing
from analyzer.governance.ledger import Ledger
from tests.conftest import ROOT, blastwall_cmd, free_port
from tests.forgery import forge_record

STORY = "bw-87109988a633"
FINDINGS = ROOT / "data" / "samples" / "acme-fin" / "findings" / "securityhub-access-analyzer.json"


def _event(finding_suffix: str) -> dict[str, Any]:
    """The sample's Security Hub finding as EventBridge delivers it ("Security Hub Findings - Imported":
    the finding under detail.findings), with its Id made new so it is a new proposal."""
    doc = json.loads(FINDINGS.read_text())
    finding = dict((doc["Findings"] if isinstance(doc, dict) else doc)[0])
    finding["Id"] = finding["Id"] + finding_suffix
    return {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": "Security Hub Findings - Imported",
        "source": "aws.securityhub",
        "account": finding["AwsAccountId"],
        "time": "2026-05-15T06:00:00Z",
        "region": "us-east-1",
        "resources": [finding["ProductArn"]],
        "detail": {"findings": [finding]},
    }


class Server:
    def __init__(self, org: dict, *extra: str) -> None:
        self.org = org
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [
                *blastwall_cmd(),
                "--store",
                str(org["store"]),
                "serve",
                "--port",
                str(self.port),
                "--as-of",
                "latest",
                *extra,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 120
        while True:
            assert self.proc.poll() is None, self.proc.communicate()
            try:
                if httpx.get(self.url + "/readyz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "serve did not get ready"
            time.sleep(0.2)

    def call(self, method: str, path: str, token: str | None = None, **kw: Any) -> httpx.Response:
        headers = kw.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return httpx.request(method, self.url + path, headers=headers, timeout=60, **kw)

    def stop(self) -> tuple[str, str]:
        self.proc.terminate()
        out, err = self.proc.communicate(timeout=30)
        return out, err


def _token(org: dict, name: str, *scopes: str, expires: str = "30d") -> str:
    if name != "dana" and not any(n == name for n in _identities(org)):
        org["bw"]("keys", "init", "--name", name)
    args = [x for s in scopes for x in ("--scope", s)]
    out = org["bw"]("token", "issue", name, *args, "--expires", expires, "--as", "dana")
    return out.stdout.strip()


def _identities(org: dict) -> list[str]:
    return [r["name"] for r in json.loads(org["bw"]("roles", "list", "--format", "json").stdout)]


@pytest.fixture
def served(demo_org: dict) -> Iterator[tuple[Server, dict[str, str]]]:
    tokens = {
        "pipeline": _token(demo_org, "pipeline", "propose", "read", "gate"),
        "reader": _token(demo_org, "dashboard", "read"),
    }
    server = Server(demo_org)
    try:
        yield server, tokens
    finally:
        server.stop()


def test_a_pipeline_submits_an_eventbridge_event_and_gets_the_verdict(
    served: tuple[Server, dict[str, str]],
) -> None:
    server, tokens = served
    r = server.call("POST", "/v1/proposals", tokens["pipeline"], json=_event("-via-eventbridge"))
    assert r.status_code == 201, r.text
    body = r.json()
    assert len(body["imported"]) == 1 and body["errors"] == []
    (p,) = body["proposals"]
    assert p["status"] == "scored" and p["tier"] == "cab"
    assert p["verdict"].startswith(
        "Changing who may assume datalake-reader cuts legacy-etl-role's observed, undocumented use"
    )
    # the result is the stored one `blastwall score` writes and `explain` reads, its requester the caller
    got = server.call("GET", p["url"], tokens["reader"])
    assert got.status_code == 200
    result = got.json()
    assert result["proposal_id"] == p["proposal_id"] and result["tier"] == "cab"
    assert result["severed"][0]["consumer"].endswith("role/legacy-etl-role")
    assert result["impacted_services"][0]["name"] == "Fraud Detection"
    stored = server.org["bw"]("explain", p["proposal_id"]).stdout
    assert "legacy-etl-role" in stored
    assert _proposals(server.org)[p["proposal_id"]]["requester"] == "pipeline"
    # the same event again: already imported, unchanged, its score returned
    again = server.call("POST", "/v1/proposals", tokens["pipeline"], json=_event("-via-eventbridge"))
    assert again.status_code == 201 and again.json()["unchanged"] == [p["proposal_id"]]
    assert again.json()["proposals"][0]["status"] == "scored"


def test_the_gate_says_no_until_the_board_approves_and_records_who_asked(
    served: tuple[Server, dict[str, str]],
) -> None:
    server, tokens = served
    r = server.call("POST", f"/v1/gate/{STORY}", tokens["pipeline"])
    assert r.status_code == 200
    no = r.json()
    assert no["allowed"] is False and no["tier"] == "cab" and "change-advisory-board" in no["reason"]
    server.org["bw"]("approve", STORY, "--as", "priya", "--comment", "ETL moved first (CHG0042)")
    yes = server.call("POST", f"/v1/gate/{STORY}", tokens["pipeline"]).json()
    assert yes["allowed"] is True and "priya" in yes["reason"], yes
    # the execution the pipeline reports: in the ledger, reported by the token's identity
    done = server.call(
        "POST", f"/v1/executions/{STORY}", tokens["pipeline"], json={"outcome": "applied", "detail": "run-1"}
    )
    assert done.status_code == 201 and done.json()["reported_by"] == "pipeline"
    records = Ledger(server.org["ledger"]).records()
    gates = [x["body"] for x in records if x["type"] == "gate"]
    assert [g["allowed"] for g in gates[-2:]] == [False, True]
    assert all(g["asked_by"] == "pipeline" for g in gates[-2:])
    execution = [x["body"] for x in records if x["type"] == "execution"][-1]
    assert execution["reported_by"] == "pipeline" and execution["detail"] == "run-1"
    # the CLI's gate reads the same ledger and agrees
    assert server.org["bw"]("gate", STORY, check=False).returncode == 0


def test_without_the_right_token_nothing_is_answered(served: tuple[Server, dict[str, str]]) -> None:
    server, tokens = served
    pipeline = tokens["pipeline"]
    token_id, secret = pipeline.removeprefix("bwt_").split("_", 1)
    flipped = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    for bad in (None, "", "not-a-token", f"bwt_{token_id}_{flipped}", f"bwt_{'0' * 12}_{secret}"):
        r = server.call("POST", f"/v1/gate/{STORY}", bad)
        assert r.status_code == 401, (bad, r.status_code)
        assert r.headers["www-authenticate"] == "Bearer"
    # a page in someone's browser: no CORS headers, so it cannot read an answer even with a token
    r = server.call(
        "GET", f"/v1/proposals/{STORY}", tokens["reader"], headers={"Origin": "https://evil.example"}
    )
    assert r.status_code == 200 and not any(h.startswith("access-control-") for h in r.headers)
    pre = server.call("OPTIONS", "/v1/proposals", headers={"Origin": "https://evil.example"})
    assert pre.status_code in (401, 405) and "access-control-allow-origin" not in pre.headers
    # a token without the scope: read-only may read, not ask the gate nor submit
    assert server.call("GET", f"/v1/proposals/{STORY}", tokens["reader"]).status_code == 200
    assert server.call("POST", f"/v1/gate/{STORY}", tokens["reader"]).status_code == 403
    assert server.call("POST", "/v1/proposals", tokens["reader"], json=_event("-x")).status_code == 403
    # revoked while the server runs: refused from the next call on
    server.org["bw"]("token", "revoke", token_id, "--as", "dana")
    r = server.call("POST", f"/v1/gate/{STORY}", pipeline)
    assert r.status_code == 401 and "revoked by dana" in r.json()["detail"]
    # none of the refused calls reached the ledger: no gate record was written for them
    gates = [x for x in Ledger(server.org["ledger"]).records() if x["type"] == "gate"]
    assert gates == []


def test_a_token_forged_by_someone_who_can_write_the_store_admits_no_one(demo_org: dict) -> None:
    """Priya (change advisory board, not a role-admin) writes a token for herself into the ledger with her
    own key; the writer would have refused it, so she appends it by hand. The server admits nobody
    until a human looks, and the forged token never works."""
    from analyzer.governance.tokens import digest, new_token

    honest = _token(demo_org, "pipeline", "read")
    forged = new_token()
    body = {
        "token_id": forged.token_id,
        "name": "priya",
        "scopes": ["gate", "propose", "read"],
        "sha256": digest(forged.secret),
        "expires": "2030-01-01T00:00:00Z",
    }
    # the library refuses to write it at all
    from analyzer.errors import BlastwallError
    from analyzer.governance import tokens
    from analyzer.timeutil import now, parse_time

    with pytest.raises(BlastwallError, match="role-admin"):
        tokens.issue(
            Ledger(demo_org["ledger"]),
            "priya",
            ["read"],
            expires=parse_time("2030-01-01T00:00:00Z"),
            admin="priya",
            key_dir=demo_org["keys"],
            at=now(),
        )
    server = Server(demo_org)
    try:
        assert server.call("GET", f"/v1/proposals/{STORY}", honest).status_code == 200
        # well formed, chained, signed by her own registered key
        forge_record(
            demo_org["ledger"],
            "token_issue",
            "priya",
            body,
            signing.load_private_key("priya", demo_org["keys"]),
        )
        for who in (forged.bearer, honest):
            r = server.call("GET", f"/v1/proposals/{STORY}", who)
            assert r.status_code == 503, r.text
            assert "does not verify" in r.json()["detail"] and "role-admin" in r.json()["detail"]
        assert server.call("GET", "/readyz").status_code == 503
        assert server.call("GET", "/healthz").status_code == 200
    finally:
        server.stop()


def test_every_call_is_recorded_and_no_secret_is_written_anywhere(
    served: tuple[Server, dict[str, str]],
) -> None:
    server, tokens = served
    server.call("GET", f"/v1/proposals/{STORY}", tokens["reader"])
    server.call("POST", f"/v1/gate/{STORY}", tokens["pipeline"])
    server.call("POST", f"/v1/gate/{STORY}", "bwt_000000000000_" + "x" * 43)
    out, err = server.stop()
    log = server.org["store"] / "api-calls.jsonl"
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    seen = [
        (c["method"], c["path"], c["status"], c["identity"]) for c in calls if c["path"].startswith("/v1")
    ]
    assert seen == [
        ("GET", f"/v1/proposals/{STORY}", 200, "dashboard"),
        ("POST", f"/v1/gate/{STORY}", 200, "pipeline"),
        ("POST", f"/v1/gate/{STORY}", 401, None),
    ]
    secrets = [t.split("_", 2)[2] for t in tokens.values()]
    for where in [log, server.org["ledger"], *(server.org["store"]).glob("*.json*")]:
        text = where.read_text(errors="replace")
        assert not any(s in text for s in secrets), where
    assert not any(s in out + err for s in secrets)


def test_a_slow_score_answers_202_and_where_to_ask(demo_org: dict) -> None:
    token = _token(demo_org, "pipeline", "propose", "read")
    server = Server(demo_org, "--score-wait", "0")
    try:
        r = server.call("POST", "/v1/proposals", token, json=_event("-queued"))
        assert r.status_code == 202, r.text
        (p,) = r.json()["proposals"]
        assert p["status"] in ("queued", "scoring") and r.headers["location"] == p["url"]
        deadline = time.monotonic() + 60
        while (got := server.call("GET", p["url"], token)).status_code == 202:
            assert got.json()["status"] in ("queued", "scoring") and got.headers["retry-after"] == "1"
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert got.status_code == 200 and got.json()["tier"] == "cab"
    finally:
        server.stop()


def test_bad_bodies_say_what_and_where_and_store_nothing(served: tuple[Server, dict[str, str]]) -> None:
    server, tokens = served
    before = _proposals(server.org)
    r = server.call(
        "POST",
        "/v1/proposals",
        tokens["pipeline"],
        content=b'{"Findings": [\n  {"Id": "x",\n  }\n]}',
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 400
    assert r.json()["detail"].startswith("request body:3:3") and "invalid JSON" in r.json()["detail"]
    r = server.call("POST", "/v1/proposals", tokens["pipeline"], json={"something": "else"})
    assert r.status_code == 400 and "format" in r.json()["detail"].lower()
    r = server.call("POST", "/v1/proposals", tokens["pipeline"], content=b"\xff\xfe", headers={})
    assert r.status_code == 400 and "UTF-8" in r.json()["detail"]
    assert server.call("GET", "/v1/proposals/bw-000000000000", tokens["pipeline"]).status_code == 404
    assert server.call("POST", "/v1/gate/bw-000000000000", tokens["pipeline"]).status_code == 404
    assert _proposals(server.org) == before


def _proposals(org: dict) -> dict[str, Any]:
    from analyzer.graph.store import open_store

    s = open_store(str(org["store"]))
    try:
        return s.get_documents("proposals")
    finally:
        s.close()


def test_the_shipped_openapi_document_is_the_served_one(tmp_path: Path) -> None:
    shipped = json.loads((ROOT / "docs" / "openapi.json").read_text())
    out = subprocess.run([*blastwall_cmd(), "serve", "--openapi"], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == shipped, "docs/openapi.json is stale: blastwall serve --openapi"
    assert set(shipped["paths"]) >= {"/v1/proposals", "/v1/proposals/{proposal_id}", "/v1/gate/{proposal_id}"}


def test_serve_refuses_to_start_without_a_trust_root(demo_org: dict) -> None:
    env = {k: v for k, v in os.environ.items() if k != "BLASTWALL_TRUST_ROOT"}
    out = subprocess.run(
        [*blastwall_cmd(), "--store", str(demo_org["store"]), "serve", "--port", str(free_port())],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert out.returncode == 2 and "trust root" in out.stderr


def test_an_edit_of_an_earlier_record_stops_every_call_at_the_next_whole_verification(demo_org: dict) -> None:
    """Each call verifies only the records written since the last; the background check verifies the
    whole file. An edit that keeps the file's size (so the last record stays where it was) makes Priya a
    role-admin in the file: no call is answered once the whole file is checked again."""
    token = _token(demo_org, "pipeline", "read")
    server = Server(demo_org, "--reverify-every", "1")
    try:
        assert server.call("GET", f"/v1/proposals/{STORY}", token).status_code == 200
        text = demo_org["ledger"].read_bytes()
        edited = text.replace(b'"change-advisory-board"', b" " * 11 + b'"role-admin"', 1)
        assert len(edited) == len(text) and edited != text
        demo_org["ledger"].write_bytes(edited)
        deadline = time.monotonic() + 30
        while (r := server.call("GET", f"/v1/proposals/{STORY}", token)).status_code == 200:
            assert time.monotonic() < deadline, "the edit was never seen"
            time.sleep(0.2)
        assert r.status_code == 503 and "edited" in r.json()["detail"]
    finally:
        server.stop()


def test_a_prowler_csv_is_submitted_as_prowler_wrote_it(
    served: tuple[Server, dict[str, str]], tmp_path: Path
) -> None:
    from analyzer.graph.store import open_store
    from connectors.proposals import import_proposals

    server, tokens = served
    run = ROOT / "tests" / "data" / "proposals" / "prowler-run.csv"  # a real Prowler run's CSV
    elsewhere = open_store(tmp_path / "other")
    expected = import_proposals(elsewhere, [run])
    elsewhere.close()
    r = server.call(
        "POST",
        "/v1/proposals",
        tokens["pipeline"],
        content=run.read_bytes(),
        headers={"Content-Type": "text/csv"},
    )
    assert r.status_code in (201, 202), r.text
    body = r.json()
    assert sorted(body["imported"]) == sorted(expected.imported) and expected.imported
    assert body["skipped"] == expected.skipped and body["errors"] == []


def test_a_body_over_the_bound_is_refused_before_it_is_read(served: tuple[Server, dict[str, str]]) -> None:
    from analyzer.serve.api import MAX_BODY

    server, tokens = served
    big = b"[" + b" " * MAX_BODY + b"]"
    r = server.call(
        "POST", "/v1/proposals", tokens["pipeline"], content=big, headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 413 and "at most" in r.json()["detail"]

    def chunks():  # no Content-Length: chunked, and still cut at the bound
        for _ in range(MAX_BODY // (1 << 20) + 2):
            yield b" " * (1 << 20)

    r = server.call(
        "POST",
        "/v1/proposals",
        tokens["pipeline"],
        content=chunks(),
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 413 and "over" in r.json()["detail"]


def test_serve_over_the_neo4j_store(
    tmp_path: Path, falkordb_fresh: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What deploy/compose.yaml runs: serve over a Bolt store (FalkorDB here), the ledger on its own path."""
    from analyzer.demo import run_demo
    from analyzer.graph.neo4j_store import shared_driver

    beside = tmp_path / "ledger"
    monkeypatch.setenv("BLASTWALL_LEDGER", str(beside / "ledger.jsonl"))
    monkeypatch.setenv("BLASTWALL_KEYS", str(beside / "demo-keys"))
    monkeypatch.setenv("BLASTWALL_TRUST_ROOT", str(beside / "trust-root.json"))
    shared_driver(falkordb_fresh, "falkordb", "").execute_query("MATCH (n) DETACH DELETE n")
    uri = f"{falkordb_fresh}?database=blastwall&dialect=falkordb"
    store, _ = run_demo(uri)
    store.close()

    def bw(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        p = subprocess.run(
            [*blastwall_cmd(), "--store", uri, *args], capture_output=True, text=True, timeout=300
        )
        assert not check or p.returncode == 0, (args, p.stderr[-2000:])
        return p

    org = {"store": uri, "bw": bw, "ledger": beside / "ledger.jsonl"}
    token = _token(org, "pipeline", "propose", "read", "gate")
    server = Server(org)
    try:
        r = server.call("POST", "/v1/proposals", token, json=_event("-on-neo4j"))
        assert r.status_code == 201, r.text
        (p,) = r.json()["proposals"]
        assert p["tier"] == "cab" and p["verdict"].startswith("Changing who may assume datalake-reader cuts")
        gate = server.call("POST", f"/v1/gate/{STORY}", token).json()
        assert gate["allowed"] is False and gate["tier"] == "cab"
    finally:
        server.stop()
