"""Network change kinds scored end to end on the sample organization, from Blastwall's own proposals
file: the observed flows a revoke severs (and the redundant grant that keeps the others), stale flows
reported as already denied, the impacted services, the rollback verified by simulation."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import SAMPLE_AS_OF, blastwall_cmd

LEGACY = "739406228105"


def run(store: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    out = subprocess.run([*blastwall_cmd(), "--store", str(store), *args], capture_output=True, text=True)
    if check and out.returncode not in (0, 3):
        raise AssertionError(f"{args}: exit {out.returncode}\n{out.stderr}")
    return out


@pytest.fixture(scope="module")
def ids(sample_dir: Path) -> dict[str, str]:
    base = sample_dir / "aws" / LEGACY / "us-east-1"
    sg = json.loads((base / "ec2-DescribeSecurityGroups.json").read_text())["SecurityGroups"][0]["GroupId"]
    eni = json.loads((base / "ec2-DescribeNetworkInterfaces.json").read_text())["NetworkInterfaces"][0]
    return {"sg": sg, "eni": eni["NetworkInterfaceId"]}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, sample_dir: Path, ids: dict[str, str]) -> Path:
    tmp = tmp_path_factory.mktemp("netscore")
    s = tmp / "store"
    run(s, "ingest", "aws-snapshot", str(sample_dir / "aws"), "--collected-at", SAMPLE_AS_OF)
    run(s, "ingest", "cloudtrail", str(sample_dir / "cloudtrail"))
    run(s, "ingest", "flowlogs", str(sample_dir / "flowlogs"))
    run(s, "ingest", "cmdb", "servicenow", str(sample_dir / "servicenow"))
    run(s, "policy", "load", str(sample_dir / "policy" / "tier-policy.yaml"))
    wide = {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
    narrow = {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "52.216.0.0/15"}]}
    doc = {
        "blastwall_proposals": 1,
        "proposals": [
            {
                "id": "WIDE",
                "title": "drop the all-traffic egress",
                "severity": "medium",
                "change": {"kind": "sg.revoke_rules", "target": ids["sg"], "delta": {"egress": [wide]}},
            },
            {
                "id": "NARROW",
                "title": "drop the S3 range rule",
                "severity": "low",
                "change": {"kind": "sg.revoke_rules", "target": ids["sg"], "delta": {"egress": [narrow]}},
            },
            {
                "id": "QUARANTINE",
                "title": "isolate the ETL host",
                "severity": "high",
                "change": {
                    "kind": "eni.replace_security_groups",
                    "target": ids["eni"],
                    "delta": {"groups": ["sg-0isolation000000"]},
                },
            },
            {
                "id": "GONE",
                "title": "a group that does not exist",
                "severity": "low",
                "change": {
                    "kind": "sg.revoke_rules",
                    "target": "sg-0doesnotexist0000",
                    "delta": {"egress": [wide]},
                },
            },
        ],
    }
    (tmp / "proposals.yaml").write_text(yaml.safe_dump(doc))
    run(s, "propose", str(tmp / "proposals.yaml"))
    return s


def results(store: Path) -> dict[str, dict]:
    out = json.loads(run(store, "score", "--as-of", SAMPLE_AS_OF, "--format", "json").stdout)
    return {r["source"]["finding_id"]: r for r in out["results"] if r["source"]["format"] == "blastwall"}


def test_revoking_the_wide_rule_severs_only_the_flow_no_other_rule_allows(store: Path) -> None:
    r = results(store)["WIDE"]
    assert [s["provider"] for s in r["severed"]] == ["urn:ip:3.5.29.104"]
    s = r["severed"][0]
    assert s["observed"] and s["events"] == 1344 and s["access"] == "tcp/443"
    assert any(
        i["name"] == "Fraud Detection" and i["criticality"] == "critical" for i in r["impacted_services"]
    )
    assert r["tier"] != "auto"
    assert [a["provider"] for a in r["already_denied"]] == ["urn:ip:203.0.113.80"]  # stale, never severed
    assert r["rollback"]["verified"] is True and r["rollback"]["change"]["kind"] == "sg.authorize_rules"
    # the safer alternative: revoke it, but allow exactly the observed destination on tcp/443
    alt = r["safer_alternative"]
    assert alt["change"]["kind"] == "sg.replace_rules" and alt["severed_observed"] == 0
    assert alt["delta"]["authorize"]["egress"][0]["IpRanges"][0]["CidrIp"] == "3.5.29.104/32"
    assert alt["rollback_verified"] is True and alt["risk_score"] < r["risk_score"]


def test_revoking_the_redundant_rule_severs_nothing(store: Path) -> None:
    r = results(store)["NARROW"]
    assert r["severed"] == [] and r["impacted_services"] == [] and r["rollback"]["verified"] is True
    assert r["safer_alternative"] is None  # nothing to save


def test_quarantine_into_an_unknown_group_is_unknown_not_safe(store: Path) -> None:
    r = results(store)["QUARANTINE"]
    assert r["severed"] == []
    assert {u["reason"] for u in r["unknowns"]} >= {"flow_may_be_severed"} and r["tier"] != "auto"


def test_missing_target_is_reported(store: Path) -> None:
    r = results(store)["GONE"]
    assert r["status"] == "target_missing"


def test_bad_proposals_file_names_the_field_and_the_rest_imports(tmp_path: Path, store: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        yaml.safe_dump(
            {
                "blastwall_proposals": 1,
                "proposals": [
                    {
                        "id": "X",
                        "title": "t",
                        "change": {"kind": "sg.revoke_rules", "target": "sg-1", "delta": {"egres": []}},
                    }
                ],
            }
        )
    )
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text(
        yaml.safe_dump(
            {
                "blastwall_proposals": 1,
                "proposals": [
                    {"id": "Y", "title": "t", "change": {"kind": "sg.nuke", "target": "sg-1", "delta": {}}}
                ],
            }
        )
    )
    good = tmp_path / "good.yaml"
    good.write_text(
        yaml.safe_dump(
            {
                "blastwall_proposals": 1,
                "proposals": [
                    {
                        "id": "Z",
                        "title": "t",
                        "change": {
                            "kind": "eni.replace_security_groups",
                            "target": "eni-1",
                            "delta": {"groups": ["sg-1"]},
                        },
                    }
                ],
            }
        )
    )
    out = run(store, "propose", str(bad), str(unknown), str(good), check=False)
    assert out.returncode == 2
    assert f"{bad}" in out.stderr and "$.proposals[0].change.delta" in out.stderr and "egres" in out.stderr
    assert "unknown change kind 'sg.nuke'" in out.stderr
    assert "imported" in out.stdout  # the good file still went in
