"""S3 Block Public Access at both levels, on buckets moto serves, collected over HTTP (the bucket's
``GetPublicAccessBlock`` and the account's S3 Control ``GetPublicAccessBlock``). S3 enforces the more
restrictive of the two, flag by flag (Amazon S3 User Guide, "Blocking public access to your Amazon S3
storage"): Security Hub's S3.1 (the account-level settings) cuts the foreign reader of a public bucket and
keeps the owner's account; once the account restricts public buckets, a bucket-level fix cuts nothing more,
and a bucket whose own settings are all on is already applied. The S3.1 finding is a Security Hub finding
in the ASFF shape of the Security Hub User Guide (its resource an ``AwsAccount``, ``AWS::::Account:ID``)."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from analyzer import api
from analyzer.graph.store import open_store
from connectors.aws import collect as collect_mod
from connectors.aws.session import client_for
from connectors.evidence.cloudtrail import ingest_cloudtrail
from connectors.proposals import import_proposals

pytestmark = pytest.mark.integration
PARTNER = "arn:aws:iam::210987654321:role/partner-reader"
FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


def _finding(account: str, control: str, rtype: str, rid: str) -> dict[str, Any]:
    return {
        "SchemaVersion": "2018-10-08",
        "Id": f"arn:aws:securityhub:us-east-1:{account}:security-control/{control}/finding/{rid[-12:]}",
        "ProductArn": "arn:aws:securityhub:us-east-1::product/aws/securityhub",
        "GeneratorId": f"security-control/{control}",
        "AwsAccountId": account,
        "Types": ["Software and Configuration Checks/Industry and Regulatory Standards"],
        "CreatedAt": "2026-11-20T05:00:00Z",
        "UpdatedAt": "2026-11-20T05:00:00Z",
        "Severity": {"Label": "MEDIUM"},
        "Title": f"{control}",
        "Description": f"{control}",
        "Resources": [{"Type": rtype, "Id": rid, "Partition": "aws", "Region": "us-east-1"}],
        "Compliance": {"Status": "FAILED", "SecurityControlId": control},
        "RecordState": "ACTIVE",
        "Workflow": {"Status": "NEW"},
        "ProductFields": {"ControlId": control},
    }


def _reads(root: Path, account: str) -> Path:
    def rec(caller_account: str, role: str) -> dict[str, Any]:
        return {
            "eventVersion": "1.09",
            "userIdentity": {
                "type": "AssumedRole",
                "arn": f"arn:aws:sts::{caller_account}:assumed-role/{role}/s",
                "accountId": caller_account,
                "sessionContext": {
                    "sessionIssuer": {
                        "type": "Role",
                        "arn": f"arn:aws:iam::{caller_account}:role/{role}",
                        "accountId": caller_account,
                    }
                },
            },
            "eventTime": "2026-11-20T03:00:00Z",
            "eventSource": "s3.amazonaws.com",
            "eventName": "GetObject",
            "awsRegion": "us-east-1",
            "requestParameters": {"bucketName": "public-site", "key": "index.html"},
            "eventID": f"get-{role}",
            "resources": [
                {"accountId": account, "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::public-site"}
            ],
            "recipientAccountId": account,
            "tlsDetails": {"tlsVersion": "TLSv1.3"},
        }

    d = root / "AWSLogs" / account / "CloudTrail" / "us-east-1" / "2026" / "11" / "20"
    d.mkdir(parents=True)
    records = [rec("210987654321", "partner-reader"), rec(account, "site-builder")]
    (d / f"{account}_CloudTrail_us-east-1_20261120T0300Z_s3.json.gz").write_bytes(
        gzip.compress(json.dumps({"Records": records}).encode())
    )
    return root / "AWSLogs"


def _score(tmp: Path, account: str, findings: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    store = open_store(tmp / "store")
    collect_mod.ingest_aws(store, regions=["us-east-1"])
    assert ingest_cloudtrail(store, [_reads(tmp, account)]).errors == []
    path = tmp / "findings.json"
    path.write_text(json.dumps({"Findings": findings}))
    report = import_proposals(store, [path])
    assert report.errors == [] and len(report.imported) == len(findings)
    results = api.score(store, as_of=datetime(2026, 11, 21, tzinfo=UTC), save=False)["results"]
    return {r["change"]["target"]: r for r in results}


@pytest.fixture
def account(moto_server: str) -> str:
    s3 = boto3.client("s3", region_name="us-east-1")
    acct = boto3.client("sts").get_caller_identity()["Account"]
    s3.create_bucket(Bucket="public-site")
    s3.put_bucket_policy(
        Bucket="public-site",
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "PublicRead",
                        "Effect": "Allow",
                        "Principal": "*",
                        "Action": "s3:GetObject",
                        "Resource": "arn:aws:s3:::public-site/*",
                    }
                ],
            }
        ),
    )
    s3.create_bucket(Bucket="locked")
    s3.put_public_access_block(Bucket="locked", PublicAccessBlockConfiguration=dict.fromkeys(FLAGS, True))
    return acct


def test_account_level_block_cuts_the_foreign_reader_and_keeps_the_owner(
    account: str, tmp_path: Path
) -> None:
    found = _score(
        tmp_path,
        account,
        [
            _finding(account, "S3.1", "AwsAccount", f"AWS::::Account:{account}"),
            _finding(account, "S3.8", "AwsS3Bucket", "arn:aws:s3:::locked"),
        ],
    )
    s31 = found[f"arn:aws:iam::{account}:root"]
    assert s31["change"]["kind"] == "public_access.block" and s31["status"] == "scored"
    assert [(s["consumer"], s["provider"]) for s in s31["severed"]] == [(PARTNER, "arn:aws:s3:::public-site")]
    assert s31["severed"][0]["observed"] and s31["rollback"]["verified"] is True
    assert not any(u["reason"] == "setting_not_collected" for u in s31["unknowns"])
    locked = found["arn:aws:s3:::locked"]  # its own four flags are on: collected, so decided
    assert locked["status"] == "already_applied" and locked["severed"] == []


def test_with_the_account_restricting_a_bucket_fix_cuts_nothing_more(account: str, tmp_path: Path) -> None:
    # S3 Control names the account in the host name; against moto's endpoint the request goes to it as is
    control = client_for(boto3.session.Session(), "s3control", "us-east-1", host_prefix=False)
    control.put_public_access_block(
        AccountId=account, PublicAccessBlockConfiguration=dict.fromkeys(FLAGS, True)
    )
    found = _score(
        tmp_path,
        account,
        [
            _finding(account, "S3.1", "AwsAccount", f"AWS::::Account:{account}"),
            _finding(account, "S3.8", "AwsS3Bucket", "arn:aws:s3:::public-site"),
        ],
    )
    assert found[f"arn:aws:iam::{account}:root"]["status"] == "already_applied"
    site = found["arn:aws:s3:::public-site"]
    assert site["change"]["kind"] == "public_access.block" and site["severed"] == []
