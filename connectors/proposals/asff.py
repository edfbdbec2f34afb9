"""Security Hub findings in ASFF: a bare list, ``{"Findings": [...]}``, or an EventBridge envelope
(``detail.findings``). Required ASFF fields are checked and named when missing."""

from __future__ import annotations

from importlib import resources
from typing import Any

import yaml

from analyzer.errors import BadInput
from connectors.proposals import (
    ProposalFormat,
    Skipped,
    prowler_proposal_id,
    register,
    securityhub_proposal_id,
)
from connectors.proposals.checks import account_target, prowler_proposer

REQUIRED = (
    "SchemaVersion",
    "Id",
    "ProductArn",
    "GeneratorId",
    "AwsAccountId",
    "CreatedAt",
    "UpdatedAt",
    "Title",
    "Description",
    "Resources",
)


def _findings(data: Any) -> list[Any] | None:
    if isinstance(data, dict) and isinstance(data.get("Findings"), list):
        return data["Findings"]
    if isinstance(data, dict) and isinstance((data.get("detail") or {}).get("findings"), list):
        return data["detail"]["findings"]
    if isinstance(data, list) and data and isinstance(data[0], dict) and "SchemaVersion" in data[0]:
        return data
    return None


def detect(data: Any) -> bool:
    if (
        isinstance(data, dict)
        and "detail-type" in data
        and not str(data["detail-type"]).startswith("Security Hub Findings")
    ):
        return False  # another EventBridge event (e.g. "Findings Imported V2" carries OCSF)
    found = _findings(data)
    if not found or not isinstance(found[0], dict):
        return False
    return "ProductArn" in found[0] and "SchemaVersion" in found[0]


def _lookup() -> list[dict[str, Any]]:
    text = resources.files("connectors.proposals").joinpath("data/asff_lookup.yaml").read_text()
    return yaml.safe_load(text)


def _dig(obj: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


def _product(arn: str) -> str:
    return arn.split(":product/", 1)[-1] if ":product/" in arn else arn


def _skip_reason(f: dict[str, Any]) -> str | None:
    """Why a finding is not a proposal (ASFF: Compliance.Status, RecordState, Workflow.Status and the
    deprecated WorkflowState), or None for an active failing finding."""
    compliance = str(_dig(f, "Compliance.Status") or "").upper()
    if compliance == "PASSED":
        return "passed"
    if compliance == "NOT_AVAILABLE":
        return "not_available"
    if str(f.get("RecordState") or "").upper() == "ARCHIVED":
        return "archived"
    workflow = str(_dig(f, "Workflow.Status") or f.get("WorkflowState") or "").upper()
    if workflow in ("SUPPRESSED", "RESOLVED"):
        return workflow.lower()
    return None


def parse(data: Any, file: str) -> list[Any]:
    findings = _findings(data) or []
    base = (
        "$.Findings"
        if isinstance(data, dict) and "Findings" in data
        else ("$.detail.findings" if isinstance(data, dict) else "$")
    )
    table = _lookup()
    out: list[Any] = []
    for i, f in enumerate(findings):
        where = f"{base}[{i}]"
        for key in REQUIRED:
            if key not in f:
                raise BadInput(f"ASFF finding lacks required field {key!r}", file=file, path=f"{where}.{key}")
        if not isinstance(f["Resources"], list) or not f["Resources"]:
            raise BadInput("Resources must be a non-empty list", file=file, path=f"{where}.Resources")
        skip = _skip_reason(f)
        if skip:
            out.append(Skipped(skip, str(f["Id"])))
            continue
        res = f["Resources"][0]
        product = _product(f["ProductArn"])
        types = " ".join(f.get("Types") or [])
        change: dict[str, Any] = {
            "kind": "opaque.runbook",
            "target": account_target(res.get("Id")),
            "account": f["AwsAccountId"],
            "region": res.get("Region") or f.get("Region"),
            "delta": {
                "runbook": f.get("GeneratorId"),
                "recommendation": _dig(f, "Remediation.Recommendation.Text"),
            },
            "fidelity": "opaque",
            "lookup": None,
        }
        for entry in table:
            m = entry["match"]
            if m.get("product") and m["product"] != product:
                continue
            if m.get("resource_type") and m["resource_type"] != res.get("Type"):
                continue
            if m.get("type_contains") and m["type_contains"] not in types:
                continue
            delta: dict[str, Any] = {}
            for name, path in entry["delta"].items():
                value = _dig(res, path)
                if value is None:
                    raise BadInput(
                        f"finding matched {entry['id']} but has no {path}",
                        file=file,
                        path=f"{where}.Resources[0].{path}",
                    )
                if name == "remove_principals_of_account":
                    delta["remove_principals_of_account"] = [str(value)]
                else:
                    delta[name] = value
            change.update(kind=entry["kind"], delta=delta, fidelity="inferred", lookup=entry["id"])
            break
        if change["kind"] == "opaque.runbook":
            from connectors.proposals.checks import lookup_for

            generator = str(f["GeneratorId"])
            found = lookup_for(
                (
                    generator.removeprefix("prowler-"),
                    _dig(f, "Compliance.SecurityControlId"),
                    (f.get("ProductFields") or {}).get("ControlId"),
                ),
                str(f["AwsAccountId"]),
            )
            if found:
                kind, delta, matched = found
                change.update(kind=kind, delta=delta, fidelity="inferred", lookup=f"check:{matched}")
        sev = f.get("Severity") or {}
        prowler = product == "prowler/prowler"
        out.append(
            {
                "proposal_id": prowler_proposal_id(
                    str(f["GeneratorId"]).removeprefix("prowler-"),
                    str(f["AwsAccountId"]),
                    change["region"],
                    str(res.get("Id")),
                )
                if prowler
                else securityhub_proposal_id(str(f["Id"])),
                "source": {
                    "format": "asff",
                    "finding_id": f["Id"],
                    "product": product,
                    "generator": f["GeneratorId"],
                    "title": f["Title"],
                    "severity": (sev.get("Label") or "INFORMATIONAL").lower(),
                    "created_at": f["CreatedAt"],
                    "file": file,
                    "proposer": (
                        (data.get("detail") or {}).get("actionName") if isinstance(data, dict) else None
                    )
                    or (prowler_proposer(str(f["GeneratorId"])) if product == "prowler/prowler" else None),
                },
                "change": change,
            }
        )
    return out


FORMAT = register(ProposalFormat("asff", "Security Hub ASFF findings", detect, parse))
