"""Systems Manager Automation executions as proposals and as records of what ran: the sample's CSPM run
(checked against botocore's own model of ``GetAutomationExecution``'s output) and the states a run can be
in, from the SSM API reference's ``AutomationExecutionStatus`` and ``StepExecution``."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import botocore.session
import pytest

from analyzer.errors import BadInput
from connectors.proposals import Skipped, detect
from connectors.proposals.ssm_automation import parse

SAMPLE = Path(__file__).parents[2] / "data" / "samples" / "acme-fin" / "findings" / "cspm-ssm-automation.json"


def _conforms(value: Any, shape: Any, where: str = "$") -> list[str]:
    """Where ``value`` departs from a botocore output shape (members, lists, maps, scalar types)."""
    t = shape.type_name
    if t == "structure":
        if not isinstance(value, dict):
            return [f"{where}: not an object"]
        out = [f"{where}.{k}: not in {shape.name}" for k in value if k not in shape.members]
        for k, v in value.items():
            if k in shape.members:
                out += _conforms(v, shape.members[k], f"{where}.{k}")
        return out
    if t == "list":
        if not isinstance(value, list):
            return [f"{where}: not a list"]
        return [p for n, v in enumerate(value) for p in _conforms(v, shape.member, f"{where}[{n}]")]
    if t == "map":
        if not isinstance(value, dict):
            return [f"{where}: not a map"]
        return [p for k, v in value.items() for p in _conforms(v, shape.value, f"{where}[{k}]")]
    ok = {
        "string": isinstance(value, str),
        "boolean": isinstance(value, bool),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "long": isinstance(value, int) and not isinstance(value, bool),
        "timestamp": isinstance(value, str | int | float),
    }.get(t, True)
    if ok and t == "string" and shape.enum and value not in shape.enum:
        return [f"{where}: {value!r} is not one of {shape.name}'s values"]
    return [] if ok else [f"{where}: not a {t}"]


def _sample() -> dict[str, Any]:
    return json.loads(SAMPLE.read_text())


def test_the_sample_run_is_what_get_automation_execution_returns() -> None:
    model = botocore.session.get_session().get_service_model("ssm")
    shape = model.operation_model("GetAutomationExecution").output_shape
    assert _conforms(_sample(), shape) == []
    broken = _sample()
    broken["AutomationExecution"]["StepExecutions"][0]["StepStatus"] = "Done"
    assert _conforms(broken, shape)  # the check itself can fail


def test_an_executed_trust_update_is_an_exact_change_that_ran() -> None:
    data = _sample()
    assert detect(data, "x").name == "ssm_automation"
    [p] = parse(data, "cspm.json")
    change = p["change"]
    assert change["kind"] == "iam.update_trust_policy" and change["fidelity"] == "exact"
    assert change["target"] == "arn:aws:iam::482510973311:role/datalake-reader"
    # the step's input is the JSON text of a string holding the document: decoded twice
    sids = [s["Sid"] for s in change["delta"]["new_document"]["Statement"]]
    assert sids == ["FraudFeaturePipeline"]
    ran = p["source"]["executed"]
    assert ran["by"] == "aws-ssm-automation:ACME-CSPM-RestrictCrossAccountTrust"
    assert ran["execution_id"] == "5b7c3f0e-2d41-4c8a-9e1f-7a6b2c9d4e30"
    assert ran["at"] == "2026-05-12T09:14:29Z"  # the step's end, not the run's start


def test_epoch_times_of_cli_v1_read_the_same() -> None:
    data = _sample()
    step = data["AutomationExecution"]["StepExecutions"][0]
    step["ExecutionEndTime"] = 1778577269.411  # 2026-05-12T09:14:29.411Z
    [p] = parse(data, "x")
    assert p["source"]["executed"]["at"] == "2026-05-12T09:14:29Z"


def test_a_step_that_failed_ran_nothing_and_a_waiting_run_is_a_request() -> None:
    failed = _sample()
    failed["AutomationExecution"]["AutomationExecutionStatus"] = "Failed"
    failed["AutomationExecution"]["StepExecutions"][0]["StepStatus"] = "Failed"
    [skip] = parse(failed, "x")
    assert isinstance(skip, Skipped) and skip.reason == "not_executed"
    waiting = _sample()
    waiting["AutomationExecution"]["AutomationExecutionStatus"] = "PendingApproval"
    waiting["AutomationExecution"]["StepExecutions"][0]["StepStatus"] = "Pending"
    [p] = parse(waiting, "x")
    assert "executed" not in p["source"] and p["change"]["kind"] == "iam.update_trust_policy"


def test_reads_are_not_changes_and_other_calls_are_opaque_runbooks() -> None:
    data = _sample()
    step = data["AutomationExecution"]["StepExecutions"][0]
    describe = copy.deepcopy(step) | {
        "StepName": "Look",
        "Inputs": {"Service": '"iam"', "Api": '"GetRole"', "RoleName": '"datalake-reader"'},
    }
    script = copy.deepcopy(step) | {"StepName": "Fix", "Action": "aws:executeScript", "Inputs": {}}
    data["AutomationExecution"]["StepExecutions"] = [describe, step, script]
    out = parse(data, "x")
    assert [p["change"]["kind"] for p in out] == ["iam.update_trust_policy", "opaque.runbook"]
    assert out[1]["change"]["target"] == "datalake-reader"  # the runbook's target parameter
    assert out[1]["change"]["delta"]["runbook"] == "ACME-CSPM-RestrictCrossAccountTrust"


def test_another_account_is_not_guessed() -> None:
    data = _sample()
    data["AutomationExecution"]["TargetLocations"] = [
        {"Accounts": ["111122223333"], "Regions": ["us-east-1"]}
    ]
    [p] = parse(data, "x")
    assert p["change"]["kind"] == "opaque.runbook"


def test_a_run_without_its_account_is_refused_where_it_is() -> None:
    data = _sample()
    del data["AutomationExecution"]["ExecutedBy"]
    with pytest.raises(BadInput) as e:
        parse(data, "cspm.json")
    assert e.value.file == "cspm.json" and e.value.path == "$.AutomationExecution.ExecutedBy"
