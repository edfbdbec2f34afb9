"""Azure Policy remediation tasks -> proposals: ``az policy remediation list`` output (or the REST
``Remediations - List`` response ``{"value": [...]}``), with the tasks' deployments where given
(``az policy remediation deployment list``, each ``{"remediatedResourceId", "status", ...}``, under the
task as ``deployments``).

A remediation task applies a policy assignment's ``deployIfNotExists`` or ``modify`` effect to the
non-compliant resources it finds. What that effect changes is in the policy definition, which these
outputs do not carry: each resource it would remediate (a deployment not yet succeeded) becomes a runbook
Blastwall cannot see, named for the assignment; a task without its deployments listed becomes one runbook
on the assignment's scope, saying that its resources are not known. Finished tasks are counted, not
proposed.
"""

from __future__ import annotations

from typing import Any

from analyzer.errors import BadInput
from connectors.proposals import ProposalFormat, Skipped, proposal_id, register


def _items(data: Any) -> list[Any]:
    if isinstance(data, dict) and isinstance(data.get("value"), list):
        return list(data["value"])
    return data if isinstance(data, list) else [data]


def _flat(r: dict[str, Any]) -> dict[str, Any]:
    props = r.get("properties")
    return {**r, **props} if isinstance(props, dict) else r


def detect(data: Any) -> bool:
    items = _items(data)
    return bool(items) and all(
        isinstance(r, dict)
        and "/providers/microsoft.policyinsights/remediations/" in str(r.get("id", "")).lower()
        for r in items
    )


def parse(data: Any, file: str) -> list[Any]:
    out: list[Any] = []
    for i, raw in enumerate(_items(data)):
        r = _flat(raw)
        task, assignment = str(r.get("id")), r.get("policyAssignmentId")
        if not isinstance(assignment, str):
            raise BadInput("a remediation task needs its policyAssignmentId", file=file, path=f"[{i}]")
        if str(r.get("provisioningState") or "").lower() in ("succeeded", "canceled", "failed"):
            out.append(Skipped("resolved", task))
            continue
        policy = assignment.rsplit("/", 1)[-1] + (
            f"/{r['policyDefinitionReferenceId']}" if r.get("policyDefinitionReferenceId") else ""
        )
        deployments = r.get("deployments")
        targets: list[tuple[str, str]] = []
        if isinstance(deployments, list):
            for k, d in enumerate(deployments):
                resource = d.get("remediatedResourceId") if isinstance(d, dict) else None
                if not isinstance(resource, str):
                    raise BadInput(
                        "a deployment needs its remediatedResourceId",
                        file=file,
                        path=f"[{i}].deployments[{k}]",
                    )
                if str(d.get("status") or "").lower() != "succeeded":
                    targets.append((resource, f"{task}|{resource.lower()}"))
        else:
            scope = assignment.rsplit("/providers/", 1)[0]  # the assignment's own scope
            targets.append((scope or "/", task))
        for resource, finding in targets:
            out.append(
                {
                    "proposal_id": proposal_id("policy-remediation", finding),
                    "source": {
                        "format": "policy_remediation",
                        "finding_id": finding,
                        "title": f"Azure Policy remediation {r.get('name') or task.rsplit('/', 1)[-1]} ({policy})"[
                            :400
                        ],
                        "severity": "medium",
                        "product": "Azure Policy",
                        "generator": policy,
                        "detail": "the policy definition's effect is not in the task: what it changes cannot be seen"
                        + (
                            ""
                            if isinstance(deployments, list)
                            else "; the resources it would remediate were not listed"
                        ),
                        "file": file,
                    },
                    "change": {
                        "kind": "opaque.runbook",
                        "target": resource.strip().rstrip("/").lower(),
                        "delta": {
                            "runbook": f"azure-policy:{policy}",
                            "recommendation": f"remediation task {task}",
                        },
                        "fidelity": "opaque",
                    },
                }
            )
    return out


FORMAT = register(
    ProposalFormat(
        "policy_remediation",
        "Azure Policy remediation tasks (each resource to remediate a runbook Blastwall cannot see)",
        detect,
        parse,
    )
)
