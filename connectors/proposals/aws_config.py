"""AWS Config remediations: ``aws configservice describe-remediation-configurations`` (which SSM document
each rule runs, with which parameters) together with ``get-compliance-details-by-config-rule
--compliance-types NON_COMPLIANT`` (which resources each rule flags), given in the same ``propose`` call.

A document in data/config_runbooks.yaml becomes its documented delta (``inferred``); any other is an
``opaque.runbook`` carrying the document and its parameters. Config's resource ids (a group id, a bucket
name, a role name) are resolved to the snapshot's ARNs when the store knows them.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from analyzer.errors import BadInput
from connectors.proposals import proposal_id


def is_remediation_configs(data: Any) -> bool:
    return isinstance(data, dict) and isinstance(data.get("RemediationConfigurations"), list)


def is_evaluations(data: Any) -> bool:
    return isinstance(data, dict) and isinstance(data.get("EvaluationResults"), list)


@lru_cache(maxsize=1)
def runbooks() -> dict[str, dict[str, Any]]:
    text = resources.files("connectors.proposals").joinpath("data/config_runbooks.yaml").read_text()
    return yaml.safe_load(text)


def configs_by_rule(data: dict[str, Any], file: str) -> dict[str, dict[str, Any]]:
    out = {}
    for i, c in enumerate(data["RemediationConfigurations"]):
        if not isinstance(c, dict) or not c.get("ConfigRuleName") or not c.get("TargetId"):
            raise BadInput(
                "a remediation configuration needs ConfigRuleName and TargetId",
                file=file,
                path=f"$.RemediationConfigurations[{i}]",
            )
        out[c["ConfigRuleName"]] = c
    return out


def parse_evaluations(
    data: dict[str, Any], file: str, configs: dict[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    out = []
    missing: set[str] = set()
    for i, ev in enumerate(data["EvaluationResults"]):
        q = ((ev.get("EvaluationResultIdentifier") or {}).get("EvaluationResultQualifier")) or {}
        rule, rtype, rid = q.get("ConfigRuleName"), q.get("ResourceType"), q.get("ResourceId")
        if not rule or not rid:
            raise BadInput(
                "an evaluation result needs ConfigRuleName and ResourceId",
                file=file,
                path=f"$.EvaluationResults[{i}].EvaluationResultIdentifier.EvaluationResultQualifier",
            )
        if ev.get("ComplianceType") != "NON_COMPLIANT":
            continue
        config = configs.get(rule)
        if config is None:
            missing.add(rule)
            continue
        doc = config["TargetId"]
        known = runbooks().get(doc)
        change: dict[str, Any] = {"target": rid, "account": None, "region": None, "resource_type": rtype}
        if known:
            change.update(
                kind=known["kind"],
                delta=copy.deepcopy(known["delta"]),
                fidelity="inferred",
                lookup=f"config:{doc}",
            )
        else:
            change.update(
                kind="opaque.runbook",
                delta={"runbook": doc, "parameters": config.get("Parameters")},
                fidelity="opaque",
                lookup=None,
            )
        finding = f"config:{rule}:{rtype}:{rid}"
        out.append(
            {
                "proposal_id": proposal_id("aws-config", finding),
                "source": {
                    "format": "aws-config",
                    "finding_id": finding,
                    "product": "aws/config",
                    "generator": rule,
                    "title": f"AWS Config {rule}: {doc} on {rid}"
                    + (" (automatic)" if config.get("Automatic") else ""),
                    "severity": "medium",
                    "automatic": bool(config.get("Automatic")),
                    "file": file,
                },
                "change": change,
            }
        )
    if missing:
        raise BadInput(
            f"no remediation configuration given for rule(s) {', '.join(sorted(missing))}; pass the output of "
            "describe-remediation-configurations in the same call",
            file=file,
        )
    return out


CONFIG_KINDS = {
    "AWS::IAM::Role": "IamRole",
    "AWS::IAM::User": "IamUser",
    "AWS::S3::Bucket": "S3Bucket",
    "AWS::EC2::Instance": "Ec2Instance",
}
"""AWS Config resource types whose resources Blastwall resolves by name, and their node kinds."""
TARGET_KINDS = tuple(CONFIG_KINDS.values())


def resolve_targets(proposals: list[dict[str, Any]], nodes: list[Any]) -> None:
    """Config names resources by id or name; use the snapshot's ARN where it knows the resource."""
    by_name: dict[tuple[str, str], str] = {}
    kinds = CONFIG_KINDS
    for n in nodes:
        name = str((n.props or {}).get("name") or n.id.rsplit("/", 1)[-1])
        by_name[(n.kind, name)] = n.id
        by_name[(n.kind, n.id.rsplit("/", 1)[-1])] = n.id
    for p in proposals:
        c = p["change"]
        kind = kinds.get(str(c.get("resource_type")))
        if kind and not str(c.get("target", "")).startswith("arn:"):
            arn = by_name.get((kind, str(c["target"])))
            if arn is None and kind == "S3Bucket":
                arn = f"arn:aws:s3:::{c['target']}"
            if arn:
                c["target"] = arn
