"""The whole loop, as issue #24 asks for it, against moto and the ServiceNow stand-in: a Security Hub
finding event reaches the Lambda handler -> `serve` imports and scores it (tier cab) and files a
ServiceNow change request -> the gate says no (3) and nothing starts -> the board approves in ServiceNow
-> `change-request sync` signs the decision into the ledger -> the gate says yes (0) -> the handler
starts the remediation and reports it -> `review` shows it ran after a gate pass."""

from __future__ import annotations

import json

import boto3
import pytest

from analyzer.serve import lambda_gate
from tests.integration.test_lambda_gate import state_machine
from tests.integration.test_serve import Server, _event, _token
from tests.ticket_fakes import ServiceNowFake, serving

pytestmark = pytest.mark.integration


def test_finding_to_change_request_to_approval_to_execution_to_review(
    moto_server: str, demo_org: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    bw = demo_org["bw"]
    fake = ServiceNowFake()
    with serving(fake) as snow:
        monkeypatch.setenv("BLASTWALL_SERVICENOW_URL", snow)
        monkeypatch.setenv("BLASTWALL_SERVICENOW_USER", "svc-blastwall")
        monkeypatch.setenv("BLASTWALL_SERVICENOW_PASSWORD", "sn-s3cret-do-not-print")
        bw("accounts", "link", "priya", "--servicenow", "priya.natarajan", "--as", "dana")
        token = _token(demo_org, "remediation-lambda", "propose", "read", "gate")
        machine = state_machine()
        server = Server(demo_org, "--change-requests", "servicenow", "--link-base", "https://blastwall.acme")
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        monkeypatch.setenv("BLASTWALL_URL", server.url)
        monkeypatch.setenv("BLASTWALL_TOKEN", token)
        monkeypatch.setenv("REMEDIATION", f"stepfunctions:{machine}")
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        try:
            event = _event("-the-loop")
            (first,) = lambda_gate.handler(event)["results"]
            pid = first["proposal_id"]
            assert "change-advisory-board" in first["held"]
            assert bw("gate", pid, check=False).returncode == 3
            assert sfn.list_executions(stateMachineArn=machine)["executions"] == []
            (change,) = fake.changes.values()
            assert change["correlation_id"] == pid and change["assignment_group"] == "change-advisory-board"

            fake.approve(change["number"], "priya.natarajan", comments="ETL moved first")
            (synced,) = json.loads(bw("change-request", "sync", "--format", "json").stdout)
            assert synced["outcome"] == "approved"
            assert bw("gate", pid, check=False).returncode == 0

            (second,) = lambda_gate.handler(event)["results"]
            assert second["proposal_id"] == pid and second["started"].startswith("Step Functions execution")
            (execution,) = sfn.list_executions(stateMachineArn=machine)["executions"]
        finally:
            server.stop()
    items = json.loads(bw("review", "--since", "1d", "--format", "json").stdout)["executions"]
    (item,) = [i for i in items if i["proposal_id"] == pid]
    assert item["reported_by"] == "remediation-lambda" and item["gate_passed_before_execution"] is True
    assert execution["executionArn"] in item["detail"]
