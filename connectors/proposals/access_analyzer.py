"""IAM Access Analyzer, as its API returns it: findings (``aws accessanalyzer get-finding-v2`` responses, or
``{"findings": [...]}`` of them) and unused-access recommendations (``get-finding-recommendation``
responses).

* ``ExternalAccess`` on a role: the external account is removed from the trust policy
  (``iam.update_trust_policy``); on a bucket, key, queue, topic or function: from its resource policy
  (``resource_policy.remove_statements``). The principal is in the finding: ``inferred`` (removing the
  account's principals is the documented fix, whether a narrower one exists is for the safer alternative).
* A recommendation's steps are exact: ``DETACH_POLICY`` -> ``iam.detach_policy``; ``CREATE_POLICY`` (detach
  the existing policy, put the recommended one) -> ``iam.replace_policy``.
* Unused roles, users' keys and passwords, and unused permissions without a recommendation ->
  ``opaque.runbook`` (deleting principals or credentials is not scored yet).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from analyzer.errors import BadInput
from connectors.proposals import ProposalFormat, proposal_id, register

RESOURCE_POLICY_TYPES = {
    "AWS::S3::Bucket",
    "AWS::KMS::Key",
    "AWS::SQS::Queue",
    "AWS::SNS::Topic",
    "AWS::Lambda::Function",
}


def _findings(data: Any) -> list[dict[str, Any]] | None:
    if isinstance(data, dict) and "findingDetails" in data and "findingType" in data:
        return [data]
    if (
        isinstance(data, dict)
        and isinstance(data.get("findings"), list)
        and data["findings"]
        and "findingType" in data["findings"][0]
    ):
        return data["findings"]
    if (
        isinstance(data, list)
        and data
        and isinstance(data[0], dict)
        and "findingType" in data[0]
        and "resourceType" in data[0]
    ):
        return data
    return None


def _recommendation(data: Any) -> bool:
    return isinstance(data, dict) and "recommendedSteps" in data and "resourceArn" in data


def detect(data: Any) -> bool:
    return _findings(data) is not None or _recommendation(data)


def _account(value: str) -> str | None:
    if value.isdigit() and len(value) == 12:
        return value
    parts = value.split(":")
    return parts[4] if len(parts) > 4 and parts[4].isdigit() else None


def parse(data: Any, file: str) -> list[dict[str, Any]]:
    if _recommendation(data):
        return _parse_recommendation(data, file)
    out = []
    for i, f in enumerate(_findings(data) or []):
        where = (
            f"$[{i}]" if isinstance(data, list) else ("$.findings" + f"[{i}]" if "findings" in data else "$")
        )
        for need in ("id", "resource", "resourceType", "findingType"):
            if not f.get(need):
                raise BadInput(f"Access Analyzer finding lacks {need}", file=file, path=f"{where}.{need}")
        if f.get("status") in ("ARCHIVED", "RESOLVED"):
            continue
        rtype, ftype, resource = f["resourceType"], f["findingType"], f["resource"]
        change: dict[str, Any] = {
            "target": resource,
            "account": f.get("resourceOwnerAccount"),
            "region": None,
            "lookup": None,
        }
        accounts = sorted(
            {
                acct
                for d in f.get("findingDetails") or []
                for v in ((d.get("externalAccessDetails") or {}).get("principal") or {}).values()
                for value in ([v] if isinstance(v, str) else v)
                if (acct := _account(str(value)))
            }
        )
        if ftype == "ExternalAccess" and accounts and rtype == "AWS::IAM::Role":
            change.update(
                kind="iam.update_trust_policy",
                delta={"remove_principals_of_account": accounts},
                fidelity="inferred",
                lookup="access-analyzer:external-access",
            )
        elif ftype == "ExternalAccess" and accounts and rtype in RESOURCE_POLICY_TYPES:
            target = f"arn:aws:s3:::{resource.split(':::')[-1]}" if rtype == "AWS::S3::Bucket" else resource
            change.update(
                kind="resource_policy.remove_statements",
                target=target,
                delta={"remove_principals_of_account": accounts},
                fidelity="inferred",
                lookup="access-analyzer:external-access",
            )
        else:
            change.update(
                kind="opaque.runbook",
                delta={"runbook": f"access-analyzer:{ftype}", "details": f.get("findingDetails")},
                fidelity="opaque",
            )
        out.append(
            {
                "proposal_id": proposal_id("access-analyzer", f["id"]),
                "source": {
                    "format": "access-analyzer",
                    "finding_id": f["id"],
                    "product": "aws/access-analyzer",
                    "generator": ftype,
                    "title": f"IAM Access Analyzer: {ftype} on {resource}",
                    "severity": "high"
                    if ftype == "ExternalAccess"
                    and any(
                        (d.get("externalAccessDetails") or {}).get("isPublic")
                        for d in f.get("findingDetails") or []
                    )
                    else "medium",
                    "file": file,
                },
                "change": change,
            }
        )
    return out


def _parse_recommendation(data: dict[str, Any], file: str) -> list[dict[str, Any]]:
    if data.get("status") != "SUCCEEDED":
        raise BadInput(
            f"the recommendation is not ready (status {data.get('status')!r})", file=file, path="$.status"
        )
    principal = data["resourceArn"]
    out = []
    for i, step in enumerate(data["recommendedSteps"]):
        s = step.get("unusedPermissionsRecommendedStep")
        if not isinstance(s, dict) or "recommendedAction" not in s:
            raise BadInput(
                "a step lacks unusedPermissionsRecommendedStep.recommendedAction",
                file=file,
                path=f"$.recommendedSteps[{i}]",
            )
        existing = s.get("existingPolicyId")
        detach = (
            {"policy_arn": existing}
            if existing and existing.startswith("arn:")
            else {"inline_name": existing or ""}
        )
        if s["recommendedAction"] == "DETACH_POLICY":
            kind, delta = "iam.detach_policy", detach
        else:
            try:
                doc = json.loads(s.get("recommendedPolicy") or "")
            except json.JSONDecodeError as exc:
                raise BadInput(
                    "recommendedPolicy is not a JSON policy",
                    file=file,
                    path=f"$.recommendedSteps[{i}].unusedPermissionsRecommendedStep.recommendedPolicy",
                ) from exc
            name = "least-privilege-" + (existing or "policy").rsplit("/", 1)[-1]
            kind, delta = (
                "iam.replace_policy",
                {"detach": detach, "put": {"inline_name": name, "document": doc}},
            )
        finding = (
            f"{principal}:{existing}:{s['recommendedAction']}:"
            + hashlib.sha256(json.dumps(s, sort_keys=True).encode()).hexdigest()[:12]
        )
        out.append(
            {
                "proposal_id": proposal_id("access-analyzer-recommendation", finding),
                "source": {
                    "format": "access-analyzer-recommendation",
                    "finding_id": finding,
                    "product": "aws/access-analyzer",
                    "generator": "UnusedPermissionRecommendation",
                    "title": f"Access Analyzer recommends {s['recommendedAction'].lower().replace('_', ' ')} {existing} on {principal}",
                    "severity": "low",
                    "file": file,
                },
                "change": {
                    "kind": kind,
                    "target": principal,
                    "account": _account(principal),
                    "region": None,
                    "delta": delta,
                    "fidelity": "exact",
                    "lookup": None,
                },
            }
        )
    return out


FORMAT = register(
    ProposalFormat("access-analyzer", "IAM Access Analyzer findings and recommendations", detect, parse)
)
