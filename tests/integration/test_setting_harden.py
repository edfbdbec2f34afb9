"""setting.harden is not harmless by default (sample organization): SSE-KMS default encryption with a key
the bucket's observed readers and writers cannot use severs them; TLS-only access severs the callers
CloudTrail recorded without tlsDetails; IMDSv2-only severs an instance whose MetadataNoToken metric shows
IMDSv1 requests, and is safe for one that made none."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import SAMPLE_AS_OF, blastwall_cmd

KEY = "arn:aws:kms:us-east-1:482510973311:key/5b1e7c2a-9d4f-4e8b-a3c6-2f7d9e1b4a80"


def run(store: Path, *args: str) -> subprocess.CompletedProcess[str]:
    out = subprocess.run([*blastwall_cmd(), "--store", str(store), *args], capture_output=True, text=True)
    if out.returncode not in (0, 3):
        raise AssertionError(f"{args}: exit {out.returncode}\n{out.stderr}")
    return out


def instance_id(sample_dir: Path, account: str) -> str:
    data = json.loads((sample_dir / f"aws/{account}/us-east-1/ec2-DescribeInstances.json").read_text())
    return str(data["Reservations"][0]["Instances"][0]["InstanceId"])


def harden(pid: str, target: str, **delta: str) -> dict:
    return {"id": pid, "title": "t", "change": {"kind": "setting.harden", "target": target, "delta": delta}}


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory, sample_dir: Path) -> dict[str, dict]:
    tmp = tmp_path_factory.mktemp("harden")
    s = tmp / "store"
    run(s, "ingest", "aws-snapshot", str(sample_dir / "aws"), "--collected-at", SAMPLE_AS_OF)
    run(s, "ingest", "cloudtrail", str(sample_dir / "cloudtrail"))
    run(s, "ingest", "cmdb", "servicenow", str(sample_dir / "servicenow"))
    run(s, "policy", "load", str(sample_dir / "policy" / "tier-policy.yaml"))
    proposals = [
        harden(
            "CURATED-KMS", "arn:aws:s3:::acme-datalake-curated", setting="s3_default_encryption", kms_key=KEY
        ),
        harden(
            "ETL-KMS", "arn:aws:s3:::acme-legacy-etl-output", setting="s3_default_encryption", kms_key=KEY
        ),
        harden("ETL-TLS", "arn:aws:s3:::acme-legacy-etl-output", setting="s3_require_tls"),
        harden("CURATED-TLS", "arn:aws:s3:::acme-datalake-curated", setting="s3_require_tls"),
        harden("IMDS", instance_id(sample_dir, "739406228105"), setting="imdsv2_required"),
        harden("IMDS-FRAUD", instance_id(sample_dir, "615294837560"), setting="imdsv2_required"),
    ]
    (tmp / "p.yaml").write_text(yaml.safe_dump({"blastwall_proposals": 1, "proposals": proposals}))
    run(s, "propose", str(tmp / "p.yaml"))
    res = json.loads(run(s, "score", "--as-of", SAMPLE_AS_OF, "--format", "json").stdout)["results"]
    return {r["source"]["finding_id"]: r for r in res if r["source"]["format"] == "blastwall"}


def test_kms_encryption_the_readers_can_use_severs_nothing(results: dict[str, dict]) -> None:
    assert results["CURATED-KMS"]["severed"] == []  # the key policy lets the data-lake reader decrypt


def test_kms_encryption_with_a_foreign_key_severs_the_observed_readers(results: dict[str, dict]) -> None:
    r = results["ETL-KMS"]
    consumers = {s["consumer"] for s in r["severed"] if s["observed"]}
    assert "arn:aws:iam::615294837560:role/fraud-feature-pipeline" in consumers
    assert all("kms:" in s["access"] for s in r["severed"]) and r["tier"] != "auto"
    assert any(i["name"] == "Fraud Detection" for i in r["impacted_services"])
    assert r["rollback"]["verified"] is True


def test_tls_only_severs_the_callers_cloudtrail_saw_without_tls(results: dict[str, dict]) -> None:
    tls = results["ETL-TLS"]
    # the 2017 ETL writes its output over plain HTTP (no tlsDetails); the fraud pipeline reads over TLS
    assert [(s["consumer"], s["access"]) for s in tls["severed"]] == [
        ("arn:aws:iam::739406228105:role/legacy-etl-role", "s3:PutObject (without TLS)")
    ]
    assert tls["severed"][0]["observed"] and tls["severed"][0]["events"] > 0 and tls["tier"] != "auto"
    assert results["CURATED-TLS"]["severed"] == []  # every recorded call to the curated zone used TLS


def test_imdsv2_severs_an_instance_whose_metrics_show_imdsv1_use(results: dict[str, dict]) -> None:
    imds = results["IMDS"]  # the legacy ETL host: MetadataNoToken 288 a day for 14 days
    assert [(s["provider"], s["events"]) for s in imds["severed"]] == [("urn:aws:imds", 288 * 14)]
    assert any(i["name"] == "Fraud Detection" for i in imds["impacted_services"]) and imds["tier"] != "auto"
    fraud = results["IMDS-FRAUD"]  # zero IMDSv1 requests: nothing to cut
    assert fraud["severed"] == [] and not any(u["reason"] == "no_imdsv1_evidence" for u in fraud["unknowns"])
