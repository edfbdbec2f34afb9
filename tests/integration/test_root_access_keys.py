"""IAM.4 (no access key for the root user) and IAM.3 (keys rotated within 90 days), from Security Hub
findings in the ASFF shape of the Security Hub User Guide, on an account moto serves: the root user's
keys are deactivated and every call CloudTrail recorded as the root user (``userIdentity.type`` Root) is
severed; a user's keys the same way, with the honest unknown that CloudTrail's key id is not kept."""

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
from connectors.evidence.cloudtrail import ingest_cloudtrail
from connectors.proposals import import_proposals
from tests.integration.test_s3_block_public_access import _finding

pytestmark = pytest.mark.integration


def _record(identity: dict[str, Any], account: str) -> dict[str, Any]:
    return {
        "eventVersion": "1.09",
        "userIdentity": identity,
        "eventTime": "2026-11-20T04:00:00Z",
        "eventSource": "s3.amazonaws.com",
        "eventName": "GetObject",
        "awsRegion": "us-east-1",
        "requestParameters": {"bucketName": "billing-exports", "key": "2026-11.csv"},
        "eventID": f"get-{identity['type']}",
        "resources": [
            {"accountId": account, "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::billing-exports"}
        ],
        "recipientAccountId": account,
        "tlsDetails": {"tlsVersion": "TLSv1.3"},
    }


def test_root_and_user_keys_deactivated_sever_what_they_were_seen_doing(
    moto_server: str, tmp_path: Path
) -> None:
    account = boto3.client("sts").get_caller_identity()["Account"]
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="billing-exports")
    iam = boto3.client("iam")
    iam.create_user(UserName="exporter")
    iam.create_access_key(UserName="exporter")
    records = [
        _record(
            {
                "type": "Root",
                "principalId": account,
                "arn": f"arn:aws:iam::{account}:root",
                "accountId": account,
            },
            account,
        ),
        _record(
            {
                "type": "IAMUser",
                "principalId": "AIDAEXAMPLE",
                "arn": f"arn:aws:iam::{account}:user/exporter",
                "accountId": account,
                "userName": "exporter",
            },
            account,
        ),
    ]
    d = tmp_path / "AWSLogs" / account / "CloudTrail" / "us-east-1" / "2026" / "11" / "20"
    d.mkdir(parents=True)
    (d / f"{account}_CloudTrail_us-east-1_20261120T0400Z_root.json.gz").write_bytes(
        gzip.compress(json.dumps({"Records": records}).encode())
    )
    store = open_store(tmp_path / "store")
    collect_mod.ingest_aws(store, regions=["us-east-1"])
    assert ingest_cloudtrail(store, [tmp_path / "AWSLogs"]).errors == []
    findings = tmp_path / "findings.json"
    findings.write_text(
        json.dumps(
            {
                "Findings": [
                    _finding(account, "IAM.4", "AwsAccount", f"AWS::::Account:{account}"),
                    _finding(account, "IAM.3", "AwsIamUser", f"arn:aws:iam::{account}:user/exporter"),
                ]
            }
        )
    )
    assert import_proposals(store, [findings]).errors == []
    results = api.score(store, as_of=datetime(2026, 11, 21, tzinfo=UTC), save=False)["results"]
    by = {r["change"]["target"]: r for r in results}
    root = by[f"arn:aws:iam::{account}:root"]
    assert (root["change"]["kind"], root["change"]["delta"]) == (
        "iam.revoke_credentials",
        {"credential": "access_keys", "action": "deactivate"},
    )
    assert root["status"] == "scored" and [(s["consumer"], s["access"]) for s in root["severed"]] == [
        (f"arn:aws:iam::{account}:root", "s3:GetObject")
    ]
    user = by[f"arn:aws:iam::{account}:user/exporter"]
    assert [s["access"] for s in user["severed"]] == ["s3:GetObject"]
    assert any(u["reason"] == "key_not_distinguished" for u in user["unknowns"])
    assert user["rollback"]["verified"] is True
