"""Every source docs/proposals.md says `propose` reads is one it reads: each row of the table has input in
that tool's own format (fixtures with provenance, or the layout the tool writes) that imports with no
error; a row added to the docs without such input fails here, and so does a row whose format stops
being detected."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from analyzer.graph.store import open_store
from connectors.proposals import import_proposals

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
SAMPLE = ROOT / "data" / "samples" / "acme-fin"


def _custodian(tmp: Path) -> list[Path]:
    out = tmp / "custodian" / "sg-no-open-ssh"
    out.mkdir(parents=True)
    (out / "metadata.json").write_text(
        json.dumps(
            {
                "policy": {
                    "name": "sg-no-open-ssh",
                    "resource": "aws.security-group",
                    "actions": [{"type": "remove-permissions", "ingress": "matched"}],
                },
                "config": {"region": "us-east-1", "account_id": "123456789012", "dryrun": True},
                "execution": {"id": "e1", "start": 1795132800.0},
                "version": "0.9.40",
            }
        )
    )
    (out / "resources.json").write_text(
        json.dumps(
            [
                {
                    "GroupId": "sg-0123456789abcdef0",
                    "MatchedIpPermissions": [
                        {
                            "IpProtocol": "tcp",
                            "FromPort": 22,
                            "ToPort": 22,
                            "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                        }
                    ],
                }
            ]
        )
    )
    return [tmp / "custodian"]


def _blastwall(tmp: Path) -> list[Path]:
    path = tmp / "proposals.yaml"
    path.write_text(
        "blastwall_proposals: 1\nproposals:\n  - id: A\n    title: t\n    change: {kind: eni.replace_security_groups, "
        "target: eni-1, delta: {groups: [sg-1]}}\n"
    )
    return [path]


INPUT = {
    "Security Hub (ASFF)": lambda tmp: [DATA / "proposals" / "securityhub-custom-action.json"],
    "Security Hub (OCSF)": lambda tmp: [DATA / "proposals" / "securityhub-ocsf.json"],
    "Prowler": lambda tmp: [
        DATA / "proposals" / f for f in ("prowler-run.ocsf.json", "prowler-run.csv", "prowler-run.asff.json")
    ],
    "Cloud Custodian": _custodian,
    "IAM Access Analyzer": lambda tmp: [DATA / "proposals" / "access-analyzer-findings.json"],
    "AWS Config": lambda tmp: [
        DATA / "proposals" / f for f in ("config-remediation-configurations.json", "config-noncompliant.json")
    ],
    "Terraform": lambda tmp: [
        DATA / "proposals" / "terraform-plan.json",
        DATA / "terraform-public" / "checkov-plan-change-keys.json",
    ],
    "Falco / Falcosidekick": lambda tmp: [DATA / "proposals" / "falco-alerts.jsonl"],
    "Kyverno policy reports": lambda tmp: [DATA / "proposals" / "kyverno-policyreports.json"],
    "Gatekeeper": lambda tmp: [DATA / "proposals" / "gatekeeper-constraints.json"],
    "Microsoft Defender for Cloud": lambda tmp: [
        DATA / "proposals" / "defender-assessments.json",
        DATA / "proposals" / "defender-alerts.json",
    ],
    "Azure Policy remediation tasks": lambda tmp: [DATA / "proposals" / "policy-remediations.json"],
    "AWS Systems Manager Automation": lambda tmp: [SAMPLE / "findings" / "cspm-ssm-automation.json"],
    "Blastwall": _blastwall,
}


def _documented() -> list[str]:
    text = (ROOT / "docs" / "proposals.md").read_text()
    table = text.split("| Source | What to give | What it becomes |", 1)[1].split("\n\n", 1)[0]
    return [
        m.group(1).strip()
        for m in re.finditer(r"^\| ([^|]+) \|", table, re.M)
        if not m.group(1).startswith("---")
    ]


def test_the_docs_table_names_exactly_the_sources_with_input_here() -> None:
    assert _documented() == list(INPUT)


@pytest.mark.parametrize("source", list(INPUT))
def test_each_documented_source_is_read(source: str, tmp_path: Path) -> None:
    store = open_store(tmp_path / "store")
    report = import_proposals(store, INPUT[source](tmp_path))
    assert report.errors == [] and (report.imported or report.skipped), source
