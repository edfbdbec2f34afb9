"""setting.harden is not harmless by default (sample organization): SSE-KMS default encryption with a key
the bucket's observed readers and writers cannot use severs them; TLS-only access and IMDSv2-only are
unknown where the evidence that would decide them is not collected, and never auto."""

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


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory, sample_dir: Path) -> dict[str, dict]:
    tmp = tmp_path_factory.mktemp("harden")
    s = tmp / "store"
    run(s, "ingest", "aws-snapshot", str(sample_dir / "aws"), "--collected-at", SAMPLE_AS_OF)
    run(s, "ingest", "cloudtrail", str(sample_dir / "cloudtrail"))
    run(s, "ingest", "cmdb", "servicenow", str(sample_dir / "servicenow"))
    run(s, "policy", "load", str(sample_dir / "policy" / "tier-policy.yaml"))
    instance = json.loads((sample_dir / "aws/739406228105/us-east-1/ec2-DescribeInstances.json").read_text())
    iid = instance["Reservations"][0]["Instances"][0]["InstanceId"]
    fraud = json.loads((sample_dir / "aws/615294837560/us-east-1/ec2-DescribeInstances.json").read_text())
    fraud_iid = fraud["Reservations"][0]["Instances"][0]["InstanceId"]
    doc = {
        "blastwall_proposals": 1,
        "proposals": [
            {
                "id": "CURATED-KMS",
                "title": "t",
                "change": {
                    "kind": "setting.harden",
                    "target": "arn:aws:s3:::acme-datalake-curated",
                    "delta": {"setting": "s3_default_encryption", "kms_key": KEY},
                },
            },
            {
                "id": "ETL-KMS",
                "title": "t",
                "change": {
                    "kind": "setting.harden",
                    "target": "arn:aws:s3:::acme-legacy-etl-output",
                    "delta": {"setting": "s3_default_encryption", "kms_key": KEY},
                },
            },
            {
                "id": "ETL-TLS",
                "title": "t",
                "change": {
                    "kind": "setting.harden",
                    "target": "arn:aws:s3:::acme-legacy-etl-output",
                    "delta": {"setting": "s3_require_tls"},
                },
            },
            {
                "id": "IMDS",
                "title": "t",
                "change": {"kind": "setting.harden", "target": iid, "delta": {"setting": "imdsv2_required"}},
            },
        ],
    }
    (tmp / "p.yaml").write_text(yaml.safe_dump(doc))
    run(s, "propose", str(tmp / "p.yaml"))
    res = json.loads(run(s, "score", "--as-of", SAMPLE_AS_OF, "--format", "json").stdout)["results"]
    return {r["source"]["finding_id"]: r for r in res if r["source"]["format"] == "blastwall"}


def test_kms_encryption_the_readers_can_use_severs_nothing(results: dict[str, dict]) -> None:
    r = results["CURATED-KMS"]
    assert r["severed"] == []  # the data-lake reader may decrypt with the key (key policy names it)


def test_kms_encryption_with_a_foreign_key_severs_the_observed_readers(results: dict[str, dict]) -> None:
    r = results["ETL-KMS"]
    consumers = {s["consumer"] for s in r["severed"] if s["observed"]}
    assert "arn:aws:iam::615294837560:role/fraud-feature-pipeline" in consumers
    assert all("kms:" in s["access"] for s in r["severed"]) and r["tier"] != "auto"
    assert any(i["name"] == "Fraud Detection" for i in r["impacted_services"])
    assert r["rollback"]["verified"] is True


def test_tls_and_imds_are_unknown_without_the_evidence(results: dict[str, dict]) -> None:
    tls, imds = results["ETL-TLS"], results["IMDS"]
    assert any(u["reason"] == "tls_not_recorded" for u in tls["unknowns"]) and tls["tier"] != "auto"
    assert [u["reason"] for u in imds["unknowns"] if u["reason"] == "no_imdsv1_evidence"] and imds[
        "tier"
    ] != "auto"
    assert imds["severed"] == []
