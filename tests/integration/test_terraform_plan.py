"""A Terraform pull request's plan (``terraform show -json``; tests/data/proposals/terraform-plan.json, written
to Terraform's documented JSON output format against the sample organization) imported and scored: the
egress rule it drops, the trust it narrows, the bucket policy it deletes, and the public access block it
sets (no scorer yet: opaque, never auto)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import SAMPLE_AS_OF, blastwall_cmd

DATA = Path(__file__).parent.parent / "data" / "proposals"


def run(store: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    out = subprocess.run([*blastwall_cmd(), "--store", str(store), *args], capture_output=True, text=True)
    if check and out.returncode not in (0, 3):
        raise AssertionError(f"{args}: exit {out.returncode}\n{out.stderr}")
    return out


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory, sample_dir: Path) -> dict[str, dict]:
    s = tmp_path_factory.mktemp("tf") / "store"
    run(s, "ingest", "aws-snapshot", str(sample_dir / "aws"), "--collected-at", SAMPLE_AS_OF)
    run(s, "ingest", "cloudtrail", str(sample_dir / "cloudtrail"))
    run(s, "ingest", "flowlogs", str(sample_dir / "flowlogs"))
    run(s, "ingest", "cmdb", "servicenow", str(sample_dir / "servicenow"))
    run(s, "policy", "load", str(sample_dir / "policy" / "tier-policy.yaml"))
    out = run(s, "propose", str(DATA / "terraform-plan.json"))
    assert out.stdout.count("imported bw-") == 4  # the created instance touches nothing that exists
    again = run(s, "propose", str(DATA / "terraform-plan.json"))
    assert "4 proposal(s) already imported, unchanged" in again.stdout  # the same plan twice: no duplicates
    res = json.loads(run(s, "score", "--as-of", SAMPLE_AS_OF, "--format", "json").stdout)["results"]
    return {r["change"]["kind"]: r for r in res if r["source"]["format"] == "terraform"}


def test_dropped_egress_rule_severs_the_flow_only_it_allowed(scored: dict[str, dict]) -> None:
    r = scored["sg.revoke_rules"]
    assert r["change"]["fidelity"] == "exact" and r["change"]["delta"] == {
        "egress": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    }
    assert [s["provider"] for s in r["severed"]] == ["urn:ip:3.5.29.104"]


def test_narrowed_trust_is_the_fraud_story(scored: dict[str, dict]) -> None:
    r = scored["iam.update_trust_policy"]
    assert r["tier"] == "cab"
    assert any(s["consumer"].endswith("role/legacy-etl-role") and s["observed"] for s in r["severed"])
    assert any(i["name"] == "Fraud Detection" for i in r["impacted_services"])


def test_deleted_bucket_policy_severs_the_fraud_pipeline_reads(scored: dict[str, dict]) -> None:
    r = scored["resource_policy.remove_statements"]
    assert [s["consumer"] for s in r["severed"] if s["observed"]] == [
        "arn:aws:iam::615294837560:role/fraud-feature-pipeline"
    ]
    assert r["rollback"]["verified"] is True


def test_public_access_block_is_exact(scored: dict[str, dict]) -> None:
    r = scored["public_access.block"]
    assert (
        r["change"]["fidelity"] == "exact" and r["change"]["target"] == "arn:aws:s3:::acme-legacy-etl-output"
    )
    assert r["change"]["delta"] == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    # the bucket policy is not public (it names the fraud pipeline), so restricting public buckets cuts nothing;
    # its current configuration was not collected: unknown, so never auto
    assert r["severed"] == [] and r["tier"] != "auto"


def test_unsupported_format_version_is_refused_by_name(tmp_path: Path) -> None:
    out = run(
        tmp_path / "store",
        "propose",
        str(DATA / "terraform-plan-v2.json"),
        str(DATA / "terraform-plan.json"),
        check=False,
    )
    assert out.returncode == 2 and "format_version '2.0'" in out.stderr and "$.format_version" in out.stderr
    assert out.stdout.count("imported bw-") == 4  # the other file still went in
