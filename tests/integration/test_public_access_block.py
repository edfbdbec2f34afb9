"""public_access.block on a bucket whose policy is public (the sample's legacy ETL output bucket, with its
fraud-pipeline grant widened to everyone): RestrictPublicBuckets leaves only the owner's account, so the
fraud pipeline's observed cross-account reads are severed; with the sample's own, non-public policy
nothing is."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import yaml

from tests.conftest import SAMPLE_AS_OF, blastwall_cmd

BUCKET = "arn:aws:s3:::acme-legacy-etl-output"
FLAGS = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}


def run(store: Path, *args: str) -> subprocess.CompletedProcess[str]:
    out = subprocess.run([*blastwall_cmd(), "--store", str(store), *args], capture_output=True, text=True)
    if out.returncode not in (0, 3):
        raise AssertionError(f"{args}: exit {out.returncode}\n{out.stderr}")
    return out


def score(tmp: Path, aws: Path, sample_dir: Path) -> dict:
    s = tmp / "store"
    run(s, "ingest", "aws-snapshot", str(aws), "--collected-at", SAMPLE_AS_OF)
    run(s, "ingest", "cloudtrail", str(sample_dir / "cloudtrail"))
    run(s, "ingest", "cmdb", "servicenow", str(sample_dir / "servicenow"))
    run(s, "policy", "load", str(sample_dir / "policy" / "tier-policy.yaml"))
    (tmp / "p.yaml").write_text(
        yaml.safe_dump(
            {
                "blastwall_proposals": 1,
                "proposals": [
                    {
                        "id": "PAB",
                        "title": "block public access",
                        "severity": "high",
                        "change": {"kind": "public_access.block", "target": BUCKET, "delta": FLAGS},
                    }
                ],
            }
        )
    )
    run(s, "propose", str(tmp / "p.yaml"))
    res = json.loads(run(s, "score", "--as-of", SAMPLE_AS_OF, "--format", "json").stdout)["results"]
    return next(r for r in res if r["change"]["kind"] == "public_access.block")


def test_restricting_a_public_bucket_severs_cross_account_readers(tmp_path: Path, sample_dir: Path) -> None:
    aws = tmp_path / "aws"
    shutil.copytree(sample_dir / "aws", aws)
    path = aws / "739406228105" / "global" / "s3-GetBucketPolicy.json"
    policies = json.loads(path.read_text())
    doc = json.loads(policies["acme-legacy-etl-output"]["Policy"])
    doc["Statement"][0]["Principal"] = "*"  # the grant to the fraud pipeline widened to everyone: public
    policies["acme-legacy-etl-output"]["Policy"] = json.dumps(doc)
    path.write_text(json.dumps(policies))
    r = score(tmp_path, aws, sample_dir)
    assert [s["consumer"] for s in r["severed"] if s["observed"]] == [
        "arn:aws:iam::615294837560:role/fraud-feature-pipeline"
    ]
    assert "RestrictPublicBuckets" in r["severed"][0]["after"]["reason"] and r["tier"] != "auto"
    # the safer alternative keeps the observed path: name the pipeline instead of everyone
    alt = r["safer_alternative"]
    assert alt["severed_observed"] == 0 and alt["change"]["kind"] == "resource_policy.remove_statements"
    assert alt["delta"]["new_document"]["Statement"][0]["Principal"] == {
        "AWS": "arn:aws:iam::615294837560:role/fraud-feature-pipeline"
    }


def test_a_bucket_with_a_non_public_policy_loses_nothing(tmp_path: Path, sample_dir: Path) -> None:
    r = score(tmp_path, sample_dir / "aws", sample_dir)
    assert r["severed"] == []
    assert any(u["reason"] == "setting_not_collected" for u in r["unknowns"])
