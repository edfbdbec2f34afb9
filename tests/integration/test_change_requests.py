"""Change requests for the demo's story in ServiceNow and Jira (local stand-ins of their APIs, over real
HTTP: tests/ticket_fakes.py), and their approvals back into the ledger through the real CLI: counted
only for a linked approver holding the role, for the request filed for this proposal and this analysis."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from analyzer.governance.ledger import Ledger
from tests.ticket_fakes import JiraFake, ServiceNowFake, serving

STORY = "bw-87109988a633"


@pytest.fixture
def servicenow(demo_org: dict, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[dict, ServiceNowFake]]:
    fake = ServiceNowFake()
    with serving(fake) as url:
        monkeypatch.setenv("BLASTWALL_SERVICENOW_URL", url)
        monkeypatch.setenv("BLASTWALL_SERVICENOW_USER", "svc-blastwall")
        monkeypatch.setenv("BLASTWALL_SERVICENOW_PASSWORD", "sn-s3cret-do-not-print")
        monkeypatch.setenv("BLASTWALL_SERVICENOW_GROUPS", "change-advisory-board=CAB Approval")
        yield demo_org, fake


@pytest.fixture
def jira(demo_org: dict, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[dict, JiraFake]]:
    fake = JiraFake()
    with serving(fake) as url:
        monkeypatch.setenv("BLASTWALL_JIRA_URL", url)
        monkeypatch.setenv("BLASTWALL_JIRA_EMAIL", "blastwall@acme.example")
        monkeypatch.setenv("BLASTWALL_JIRA_API_TOKEN", "jira-t0ken-do-not-print")
        monkeypatch.setenv("BLASTWALL_JIRA_PROJECT", "SEC")
        yield demo_org, fake


def _decisions(org: dict) -> list[dict]:
    return [r for r in Ledger(org["ledger"]).records() if r["type"] == "decision"]


def test_the_board_approves_in_servicenow_and_the_gate_opens(servicenow: tuple[dict, ServiceNowFake]) -> None:
    org, fake = servicenow
    bw = org["bw"]
    bw("accounts", "link", "priya", "--servicenow", "priya.natarajan", "--as", "dana")
    out = bw("change-request", "open", STORY, "--to", "servicenow", "--link-base", "https://blastwall.acme")
    assert out.stdout.startswith(f"{STORY}: servicenow CHG0030001 ")
    (posted,) = [r["body"] for r in fake.requests if r["method"] == "POST"]
    assert posted["type"] == "normal" and posted["correlation_id"] == STORY
    assert posted["assignment_group"] == "CAB Approval"  # the tier's approver role, mapped to its group
    assert (posted["risk"], posted["impact"]) == ("2", "1")  # risk 70: High; Fraud Detection critical: High
    assert posted["description"].startswith("Changing who may assume datalake-reader cuts legacy-etl-role's")
    assert "legacy-etl-role -> arn:aws:iam::482510973311:role/datalake-reader" in posted["description"]
    assert "Fraud Detection [critical]" in posted["description"]
    assert f"https://blastwall.acme/proposal/{STORY}" in posted["description"]
    assert "Blastwall binding: sha256:" in posted["description"]
    assert "Rollback verified" in posted["backout_plan"]
    # filed again for the same analysis: the open request, no second ticket
    again = bw("change-request", "open", STORY, "--to", "servicenow")
    assert "already open" in again.stdout and len(fake.changes) == 1
    # nobody decided yet: sync waits, the gate says no
    assert "waiting" in bw("change-request", "sync").stdout
    assert bw("gate", STORY, check=False).returncode == 3
    fake.approve("CHG0030001", "priya.natarajan", comments="ETL moved first")
    synced = bw("change-request", "sync", "--format", "json")
    (row,) = json.loads(synced.stdout)
    assert row["outcome"] == "approved" and "priya" in row["detail"]
    assert bw("gate", STORY, check=False).returncode == 0
    decision = _decisions(org)[-1]
    assert decision["actor"] == "blastwall-app" and decision["body"]["approver"] == "priya"
    assert decision["body"]["authenticated_by"].startswith(
        "servicenow CHG0030001: approved by priya.natarajan"
    )
    # decided: the next sync leaves it alone
    assert "no open change request" in bw("change-request", "sync").stdout
    assert len(_decisions(org)) == 1


@pytest.mark.parametrize(
    ("account", "link_as", "why"),
    [
        ("mallory", None, "which no role-admin linked to an identity"),
        ("dana.whitfield", "dana", "needs the role 'change-advisory-board'"),  # the CISO is not the board
    ],
)
def test_an_approval_by_someone_who_may_not_give_it_counts_for_nothing(
    servicenow: tuple[dict, ServiceNowFake], account: str, link_as: str | None, why: str
) -> None:
    org, fake = servicenow
    bw = org["bw"]
    if link_as:
        bw("accounts", "link", link_as, "--servicenow", account, "--as", "dana")
    bw("change-request", "open", STORY, "--to", "servicenow")
    fake.approve("CHG0030001", account)
    (row,) = json.loads(bw("change-request", "sync", "--format", "json").stdout)
    assert row["outcome"] == "not counted" and why in row["detail"], row
    assert _decisions(org) == [] and bw("gate", STORY, check=False).returncode == 3


def test_a_rejection_outweighs_an_approval(servicenow: tuple[dict, ServiceNowFake]) -> None:
    org, fake = servicenow
    bw = org["bw"]
    bw("roles", "grant", "dana", "change-advisory-board", "--as", "dana")
    for name, account in (("priya", "priya.natarajan"), ("dana", "dana.whitfield")):
        bw("accounts", "link", name, "--servicenow", account, "--as", "dana")
    bw("change-request", "open", STORY, "--to", "servicenow")
    fake.approve("CHG0030001", "priya.natarajan")
    fake.approve("CHG0030001", "dana.whitfield", state="rejected", comments="not before the ETL moves")
    (row,) = json.loads(bw("change-request", "sync", "--format", "json").stdout)
    assert row["outcome"] == "rejected" and "dana" in row["detail"]
    assert _decisions(org)[-1]["body"]["decision"] == "rejected"
    assert bw("gate", STORY, check=False).returncode == 3


def test_a_request_for_another_proposal_or_another_analysis_decides_nothing(
    servicenow: tuple[dict, ServiceNowFake],
) -> None:
    """Someone with write access to the store points the story's record at a request the board approved
    for something else; or the request's analysis is not the current one."""
    org, fake = servicenow
    bw = org["bw"]
    bw("accounts", "link", "priya", "--servicenow", "priya.natarajan", "--as", "dana")
    bw("change-request", "open", STORY, "--to", "servicenow")
    (sys_id,) = fake.changes
    fake.changes[sys_id]["correlation_id"] = "bw-000000000001"  # the request says it is for another change
    fake.approve("CHG0030001", "priya.natarajan")
    (row,) = json.loads(bw("change-request", "sync", "--format", "json").stdout)
    assert row["outcome"] == "not counted" and "not bw-87109988a633" in row["detail"]
    fake.changes[sys_id]["correlation_id"] = STORY
    desc = fake.changes[sys_id]["description"]
    fake.changes[sys_id]["description"] = desc.replace("binding: sha256:", "binding: sha256:0" + "", 1)[:-1]
    (row,) = json.loads(bw("change-request", "sync", "--format", "json").stdout)
    assert row["outcome"] == "stale" and "open a new change request" in row["detail"]
    assert _decisions(org) == [] and bw("gate", STORY, check=False).returncode == 3


def test_rate_limits_are_waited_out_and_failures_name_the_call_not_the_secret(
    servicenow: tuple[dict, ServiceNowFake],
) -> None:
    org, fake = servicenow
    bw = org["bw"]
    fake.fail_next(429, times=2, retry_after="1")
    out = bw("change-request", "open", STORY, "--to", "servicenow")
    assert "CHG0030001" in out.stdout
    assert [r["method"] for r in fake.requests] == ["POST", "POST", "POST"]  # two refused, the third filed
    fake.fail_next(503, times=10)
    out = bw("change-request", "sync", check=False)
    assert out.returncode == 1
    assert "servicenow: GET /api/now/table/change_request/" in out.stderr and "503" in out.stderr
    for text in (out.stdout, out.stderr):
        assert "sn-s3cret-do-not-print" not in text


def test_the_board_approves_in_jira(jira: tuple[dict, JiraFake]) -> None:
    org, fake = jira
    bw = org["bw"]
    bw("accounts", "link", "priya", "--jira", "5b10ac8d82e05b22cc7d4ef5", "--as", "dana")
    out = bw("change-request", "open", STORY, "--to", "jira")
    assert out.stdout.startswith(f"{STORY}: jira SEC-1 ") and out.stdout.strip().endswith("/browse/SEC-1")
    fields = fake.issues["SEC-1"]["fields"]
    assert fields["labels"] == ["blastwall", STORY] and fields["issuetype"] == {"name": "Task"}
    first = fields["description"]["content"][0]["content"][0]
    assert first["type"] == "text" and first["text"].startswith("Changing who may assume datalake-reader")
    # a history longer than a page: a label edit, a move to review, then the board's approval
    fake.comment_only("SEC-1", "5b10ac8d82e05b22cc7d4ef5")
    fake.move("SEC-1", "In Review", "712020:reviewer")
    (row,) = json.loads(bw("change-request", "sync", "--format", "json").stdout)
    assert row["outcome"] == "waiting"
    fake.move("SEC-1", "Approved", "5b10ac8d82e05b22cc7d4ef5", "Priya Natarajan")
    (row,) = json.loads(bw("change-request", "sync", "--format", "json").stdout)
    assert row["outcome"] == "approved", row
    assert bw("gate", STORY, check=False).returncode == 0
    pages = [r for r in fake.requests if r["path"].endswith("/changelog")]
    assert len(pages) >= 3  # three histories at two a page, read to the end


def test_jira_refuses_an_unknown_project_and_says_so(
    jira: tuple[dict, JiraFake], monkeypatch: pytest.MonkeyPatch
) -> None:
    org, _ = jira
    monkeypatch.setenv("BLASTWALL_JIRA_PROJECT", "NOPE")
    out = org["bw"]("change-request", "open", STORY, "--to", "jira", check=False)
    assert out.returncode == 1 and "project: valid project is required" in out.stderr
    assert "jira-t0ken-do-not-print" not in out.stderr + out.stdout
    assert org["bw"]("change-request", "list").stdout == ""


def test_only_a_role_admin_links_accounts(servicenow: tuple[dict, ServiceNowFake]) -> None:
    org, _ = servicenow
    out = org["bw"](
        "accounts", "link", "priya", "--servicenow", "priya.natarajan", "--as", "priya", check=False
    )
    assert out.returncode != 0 and "role-admin" in out.stderr


def test_serve_files_the_change_request_for_what_needs_a_human(
    servicenow: tuple[dict, ServiceNowFake],
) -> None:
    from tests.integration.test_serve import Server, _event, _token

    org, fake = servicenow
    token = _token(org, "pipeline", "propose", "read")
    server = Server(org, "--change-requests", "servicenow", "--link-base", "https://blastwall.acme")
    try:
        r = server.call("POST", "/v1/proposals", token, json=_event("-filed"))
        assert r.status_code == 201, r.text
        (p,) = r.json()["proposals"]
        assert p["tier"] == "cab" and p["change_request"].startswith("http://127.0.0.1:")
        (posted,) = [x["body"] for x in fake.requests if x["method"] == "POST"]
        assert posted["correlation_id"] == p["proposal_id"]
        assert f"https://blastwall.acme/proposal/{p['proposal_id']}" in posted["description"]
        assert "change_request.do?sys_id=" in p["change_request"]
    finally:
        server.stop()


def test_serve_scores_even_when_servicenow_is_down(servicenow: tuple[dict, ServiceNowFake]) -> None:
    from tests.integration.test_serve import Server, _event, _token

    org, fake = servicenow
    token = _token(org, "pipeline", "propose", "read")
    server = Server(org, "--change-requests", "servicenow")
    try:
        fake.fail_next(503, times=100)
        r = server.call("POST", "/v1/proposals", token, json=_event("-snow-down"))
        assert r.status_code in (201, 202), r.text  # filing is retried (backing off) before it gives up
        (p,) = r.json()["proposals"]
        deadline = time.monotonic() + 90
        while (got := server.call("GET", p["url"], token)).status_code == 202:
            assert time.monotonic() < deadline
            time.sleep(0.5)
        assert got.status_code == 200 and got.json()["tier"] == "cab"  # scored, whatever ServiceNow said
        assert not fake.changes
    finally:
        server.stop()
    logged = [json.loads(x) for x in (org["store"] / "api-calls.jsonl").read_text().splitlines()]
    (missed,) = [x for x in logged if x.get("event") == "change request not filed"]
    assert missed["proposal_id"] == p["proposal_id"] and "503" in missed["why"]


def test_an_unlinked_account_approves_for_nobody(servicenow: tuple[dict, ServiceNowFake]) -> None:
    org, fake = servicenow
    bw = org["bw"]
    bw("accounts", "link", "priya", "--servicenow", "priya.natarajan", "--as", "dana")
    assert "priya.natarajan" in bw("accounts", "list").stdout
    bw("accounts", "unlink", "--servicenow", "priya.natarajan", "--as", "dana")
    assert "priya.natarajan" not in bw("accounts", "list").stdout
    bw("change-request", "open", STORY, "--to", "servicenow")
    fake.approve("CHG0030001", "priya.natarajan")
    (row,) = json.loads(bw("change-request", "sync", "--format", "json").stdout)
    assert row["outcome"] == "not counted" and "no role-admin linked" in row["detail"]
    out = bw("accounts", "unlink", "--servicenow", "priya.natarajan", "--as", "dana", check=False)
    assert out.returncode != 0 and "is not linked" in out.stderr
