"""IAM.21 (no ``service:*`` in customer managed policies) and KMS.2 (no inline policy allowing decryption
with every KMS key), from Security Hub findings in the ASFF shape of the Security Hub User Guide, on an
account moto serves with CloudTrail evidence of what its roles really do. The fix is computed from that
evidence: a wildcard becomes the actions of the service the policy's principals were seen using on the
statement's resources (none seen: dropped); decryption is scoped to the keys the role was seen decrypting
with. So the observed use survives the fix (nothing observed is severed) and the unobserved breadth goes."""

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


def _call(
    account: str, role: str, source: str, name: str, rtype: str, arn: str, params: dict[str, Any]
) -> dict[str, Any]:
    return {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "AssumedRole",
            "arn": f"arn:aws:sts::{account}:assumed-role/{role}/job",
            "accountId": account,
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "arn": f"arn:aws:iam::{account}:role/{role}",
                    "accountId": account,
                }
            },
        },
        "eventTime": "2026-11-20T06:00:00Z",
        "eventSource": source,
        "eventName": name,
        "awsRegion": "us-east-1",
        "requestParameters": params,
        "eventID": f"{role}-{name}",
        "resources": [{"accountId": account, "type": rtype, "ARN": arn}],
        "recipientAccountId": account,
        "tlsDetails": {"tlsVersion": "TLSv1.3"},
    }


@pytest.fixture
def results(moto_server: str, tmp_path: Path) -> dict[str, dict[str, Any]]:
    account = boto3.client("sts").get_caller_identity()["Account"]
    iam = boto3.client("iam")
    key = boto3.client("kms", region_name="us-east-1").create_key()["KeyMetadata"]["Arn"]
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="reports")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    for role in ("reporter", "decryptor"):
        iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))
    wide = iam.create_policy(
        PolicyName="data-access",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "Reports",
                        "Effect": "Allow",
                        "Action": "s3:*",
                        "Resource": "arn:aws:s3:::reports/*",
                    },
                    {"Sid": "Queues", "Effect": "Allow", "Action": "sqs:*", "Resource": "*"},
                ],
            }
        ),
    )["Policy"]["Arn"]
    iam.attach_role_policy(RoleName="reporter", PolicyArn=wide)
    iam.put_role_policy(
        RoleName="decryptor",
        PolicyName="crypto",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": ["kms:Decrypt", "kms:DescribeKey"], "Resource": "*"}
                ],
            }
        ),
    )
    records = [
        _call(
            account,
            "reporter",
            "s3.amazonaws.com",
            "GetObject",
            "AWS::S3::Bucket",
            "arn:aws:s3:::reports",
            {"bucketName": "reports", "key": "q3.csv"},
        ),
        _call(account, "decryptor", "kms.amazonaws.com", "Decrypt", "AWS::KMS::Key", key, {}),
    ]
    d = tmp_path / "AWSLogs" / account / "CloudTrail" / "us-east-1" / "2026" / "11" / "20"
    d.mkdir(parents=True)
    (d / f"{account}_CloudTrail_us-east-1_20261120T0600Z_lp.json.gz").write_bytes(
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
                    _finding(account, "IAM.21", "AwsIamPolicy", wide),
                    _finding(account, "KMS.2", "AwsIamRole", f"arn:aws:iam::{account}:role/decryptor"),
                ]
            }
        )
    )
    assert import_proposals(store, [findings]).errors == []
    out = api.score(store, as_of=datetime(2026, 11, 21, tzinfo=UTC), save=False)["results"]
    by = {r["change"]["target"].rsplit("/", 1)[-1]: r for r in out}
    by["key"] = {"arn": key}
    return by


def test_a_service_wildcard_becomes_the_actions_seen_and_keeps_them(
    results: dict[str, dict[str, Any]],
) -> None:
    r = results["data-access"]
    assert r["change"]["kind"] == "iam.update_managed_policy" and r["change"]["fidelity"] == "inferred"
    assert r["change"]["delta"]["document"]["Statement"] == [
        {"Sid": "Reports", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::reports/*"}
    ]  # sqs:* was never used: dropped
    assert "s3:* -> s3:GetObject" in r["change"]["derivation"]
    assert r["severed"] == [] and r["rollback"]["verified"] is True


def test_decryption_is_scoped_to_the_keys_seen(results: dict[str, dict[str, Any]]) -> None:
    r = results["decryptor"]
    assert r["change"]["kind"] == "iam.replace_policy"
    put = r["change"]["delta"]["put"]
    assert put["inline_name"] == "crypto" and put["document"]["Statement"] == [
        {"Effect": "Allow", "Action": "kms:DescribeKey", "Resource": "*"},
        {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": [results["key"]["arn"]]},
    ]
    assert r["severed"] == []  # the one key it decrypts with stays allowed
