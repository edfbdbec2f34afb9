"""AWS Systems Manager Automation executions -> proposals (or records of what already ran): the output of
``aws ssm get-automation-execution`` (``{"AutomationExecution": {...}}``), one such object or a list of
them. This is what a CSPM's or Security Hub's automated response leaves behind when its remediation is an
Automation runbook (the "Automated Security Response on AWS" pattern: a finding -> EventBridge -> a
runbook run as an automation role).

Each ``aws:executeAwsApi`` step is an API call whose parameters are in the step's ``Inputs`` (the SSM
API reference, ``StepExecution.Inputs``: a map of strings; the values are the JSON text of the resolved
inputs, which is how they are read here, with a plain string taken as it is). The calls that say exactly
what changes map to change kinds (``exact``):

* ``iam`` ``UpdateAssumeRolePolicy`` (``RoleName``, ``PolicyDocument``) -> ``iam.update_trust_policy``
  with the new document;
* ``ec2`` ``RevokeSecurityGroupIngress`` / ``RevokeSecurityGroupEgress`` (``GroupId``,
  ``IpPermissions``) -> ``sg.revoke_rules``.

Any other step that changes something (every action but the read-only ones: ``aws:sleep``,
``aws:branch``, ``aws:assertAwsResourceProperty``, ``aws:waitForAwsResourceProperty``, and
``executeAwsApi`` calls named ``Describe*``/``Get*``/``List*``) is an ``opaque.runbook`` on the
runbook's target parameter. A step whose ``StepStatus`` is ``Success`` ran: the proposal records it as
executed by the runbook (``source.executed``), at the step's end, and ``score`` writes that into the
ledger as an execution without a gate pass. A step that did not succeed ran nothing; an execution still
waiting (``Pending``, ``InProgress``, ``Waiting``, ``PendingApproval`` …) is a request, not a record.

The account is the one the execution ran in (its ``ExecutedBy`` ARN); an execution with
``TargetLocations`` in other accounts is refused as a runbook Blastwall cannot place.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from analyzer.errors import BadInput
from analyzer.timeutil import iso, parse_time
from connectors.proposals import ProposalFormat, Skipped, proposal_id, register

READ_ONLY_ACTIONS = frozenset(
    {
        "aws:sleep",
        "aws:branch",
        "aws:assertAwsResourceProperty",
        "aws:waitForAwsResourceProperty",
        "aws:pause",
    }
)
STILL_RUNNING = frozenset(
    {"Pending", "InProgress", "Waiting", "PendingApproval", "Approved", "Scheduled", "RunbookInProgress"}
)


def _items(data: Any) -> list[Any]:
    return data if isinstance(data, list) else [data]


def detect(data: Any) -> bool:
    items = _items(data)
    return bool(items) and all(
        isinstance(x, dict)
        and isinstance(x.get("AutomationExecution"), dict)
        and "AutomationExecutionId" in x["AutomationExecution"]
        for x in items
    )


def _time(value: Any, file: str, path: str) -> str | None:
    """CLI v2 prints ISO 8601, v1 and the raw API seconds since the epoch: both are read."""
    if value is None:
        return None
    if isinstance(value, int | float):
        return iso(datetime.fromtimestamp(float(value), UTC))
    if isinstance(value, str):
        return iso(parse_time(value, field=path))
    raise BadInput("a time must be text or seconds since the epoch", file=file, path=path)


def _input(inputs: dict[str, Any], name: str) -> Any:
    """One resolved input: its JSON text decoded, or the string itself."""
    raw = inputs.get(name)
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


def _account_of(arn: Any) -> str | None:
    parts = str(arn or "").split(":")
    return parts[4] if len(parts) > 5 and parts[4].isdigit() else None


def _exact(service: str, api: str, inputs: dict[str, Any], account: str) -> dict[str, Any] | None:
    """The change an API call makes, where its parameters say it exactly."""
    key = (service.lower(), api.replace("_", "").lower())
    if key == ("iam", "updateassumerolepolicy"):
        role, document = _input(inputs, "RoleName"), _input(inputs, "PolicyDocument")
        if isinstance(document, str):
            document = json.loads(document)  # the document itself is JSON text inside the input
        if isinstance(role, str) and isinstance(document, dict):
            return {
                "kind": "iam.update_trust_policy",
                "target": f"arn:aws:iam::{account}:role/{role}",
                "delta": {"new_document": document},
                "fidelity": "exact",
            }
    if key[0] == "ec2" and key[1] in ("revokesecuritygroupingress", "revokesecuritygroupegress"):
        group, permissions = _input(inputs, "GroupId"), _input(inputs, "IpPermissions")
        if isinstance(group, str) and isinstance(permissions, list):
            side = "ingress" if key[1].endswith("ingress") else "egress"
            return {
                "kind": "sg.revoke_rules",
                "target": group,
                "delta": {side: permissions},
                "fidelity": "exact",
            }
    return None


def _target_parameter(ex: dict[str, Any]) -> str | None:
    raw = ex.get("Parameters")
    params: dict[str, Any] = raw if isinstance(raw, dict) else {}
    name = ex.get("TargetParameterName")
    for key in [name] if name else list(params):
        values = params.get(key) if key else None
        if key != "AutomationAssumeRole" and isinstance(values, list) and values:
            return str(values[0])
    return None


def parse(data: Any, file: str) -> list[Any]:
    out: list[Any] = []
    for i, item in enumerate(_items(data)):
        where = f"[{i}].AutomationExecution" if isinstance(data, list) else "$.AutomationExecution"
        ex = item["AutomationExecution"]
        run_id, document = str(ex["AutomationExecutionId"]), ex.get("DocumentName")
        if not isinstance(document, str):
            raise BadInput("an automation execution needs its DocumentName", file=file, path=where)
        status = ex.get("AutomationExecutionStatus")
        account = _account_of(ex.get("ExecutedBy"))
        if account is None:
            raise BadInput(
                "an automation execution needs ExecutedBy (an ARN naming the account it ran in)",
                file=file,
                path=f"{where}.ExecutedBy",
            )
        elsewhere = [
            a
            for loc in ex.get("TargetLocations") or []
            if isinstance(loc, dict)
            for a in loc.get("Accounts") or []
            if a != account
        ]
        steps = ex.get("StepExecutions")
        if not isinstance(steps, list):
            raise BadInput(
                "an automation execution without StepExecutions (describe-automation-executions lists "
                "no steps: use get-automation-execution)",
                file=file,
                path=f"{where}.StepExecutions",
            )
        running = status in STILL_RUNNING
        for k, step in enumerate(steps):
            spath = f"{where}.StepExecutions[{k}]"
            if not isinstance(step, dict):
                raise BadInput("a step execution must be an object", file=file, path=spath)
            action = str(step.get("Action") or "")
            given = step.get("Inputs")
            inputs: dict[str, Any] = given if isinstance(given, dict) else {}
            service, api = _input(inputs, "Service"), _input(inputs, "Api")
            if action in READ_ONLY_ACTIONS or (
                action == "aws:executeAwsApi"
                and isinstance(api, str)
                and api.replace("_", "").lower().startswith(("describe", "get", "list"))
            ):
                continue
            name = str(step.get("StepName") or f"#{k}")
            finding = f"ssm-automation:{run_id}:{name}"
            ran = step.get("StepStatus") == "Success"
            if not ran and not running:
                out.append(Skipped("not_executed", finding))  # failed, cancelled, timed out: nothing ran
                continue
            change = None
            if action == "aws:executeAwsApi" and isinstance(service, str) and isinstance(api, str):
                change = _exact(service, api, inputs, account) if not elsewhere else None
            what = f"{service}:{api}" if isinstance(api, str) else action
            if change is None:
                change = {
                    "kind": "opaque.runbook",
                    "target": _target_parameter(ex) or f"arn:aws:ssm:::automation-execution/{run_id}",
                    "delta": {"runbook": document, "step": name, "call": what},
                    "fidelity": "opaque",
                }
            source: dict[str, Any] = {
                "format": "ssm_automation",
                "finding_id": finding,
                "product": "aws-ssm-automation",
                "generator": document,
                "title": f"Systems Manager Automation {document}: {name} ({what})"[:400],
                "severity": "medium",
                "dryrun": False,
                "executed_by": ex.get("ExecutedBy"),
                "file": file,
            }
            if ran:
                source["executed"] = {
                    "by": f"aws-ssm-automation:{document}",
                    "execution_id": run_id,
                    "at": _time(step.get("ExecutionEndTime"), file, f"{spath}.ExecutionEndTime")
                    or _time(ex.get("ExecutionEndTime"), file, f"{where}.ExecutionEndTime"),
                }
            out.append(
                {"proposal_id": proposal_id("ssm-automation", finding), "source": source, "change": change}
            )
    return out


FORMAT = register(
    ProposalFormat(
        "ssm_automation",
        "AWS Systems Manager Automation executions (aws ssm get-automation-execution): each step that "
        "changes something, a record of what ran where it succeeded",
        detect,
        parse,
    )
)
