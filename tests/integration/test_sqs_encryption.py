"""SQS.1, queues encrypted at rest, scored on queues moto serves and collected over HTTP: the change to the
SQS-owned key (SSE-SQS) needs no key permissions, but an encrypted queue takes HTTPS requests only
(SQS Developer Guide, "Encryption at rest"), so a producer CloudTrail recorded without ``tlsDetails`` is
severed; a queue already encrypted with either key passes the control (already applied); with a customer
KMS key, a consumer whose policies do not allow ``kms:Decrypt`` on it is severed."""

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

pytestmark = pytest.mark.integration
AS_OF = datetime(2026, 11, 21, tzinfo=UTC)


def _event(account: str, role: str, name: str, queue_arn: str, queue_url: str, tls: bool) -> dict[str, Any]:
    """A CloudTrail data event for an SQS call, shaped as the SQS Developer Guide's CloudTrail examples."""
    ev: dict[str, Any] = {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "AssumedRole",
            "principalId": "AROAEXAMPLE:worker",
            "arn": f"arn:aws:sts::{account}:assumed-role/{role}/worker",
            "accountId": account,
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "arn": f"arn:aws:iam::{account}:role/{role}",
                    "accountId": account,
                    "userName": role,
                }
            },
        },
        "eventTime": "2026-11-20T10:00:00Z",
        "eventSource": "sqs.amazonaws.com",
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": "10.60.1.10",
        "userAgent": "aws-sdk-java/1.11",
        "requestParameters": {"queueUrl": queue_url},
        "responseElements": None,
        "requestID": "e6f1d3d1-0000-0000-0000-000000000000",
        "eventID": f"{name}-{role}-{tls}",
        "readOnly": name == "ReceiveMessage",
        "resources": [{"accountId": account, "type": "AWS::SQS::Queue", "ARN": queue_arn}],
        "eventType": "AwsApiCall",
        "managementEvent": False,
        "recipientAccountId": account,
        "eventCategory": "Data",
    }
    if tls:
        ev["tlsDetails"] = {
            "tlsVersion": "TLSv1.2",
            "cipherSuite": "ECDHE-RSA-AES128-GCM-SHA256",
            "clientProvidedHostHeader": "sqs.us-east-1.amazonaws.com",
        }
    return ev


@pytest.fixture
def scored(moto_server: str, tmp_path: Path) -> dict[str, dict[str, Any]]:
    sqs = boto3.client("sqs", region_name="us-east-1")
    iam = boto3.client("iam")
    kms = boto3.client("kms", region_name="us-east-1")
    account = boto3.client("sts").get_caller_identity()["Account"]
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    queues = {}
    for name, attrs in (
        ("orders-plain", {"SqsManagedSseEnabled": "false"}),
        ("billing-plain", {"SqsManagedSseEnabled": "false"}),
        ("orders-encrypted", {"SqsManagedSseEnabled": "true"}),
    ):
        url = sqs.create_queue(QueueName=name, Attributes=attrs)["QueueUrl"]
        queues[name] = (url, f"arn:aws:sqs:us-east-1:{account}:{name}")
    key = kms.create_key(Description="orders")["KeyMetadata"]["Arn"]
    for role in ("legacy-producer", "modern-producer", "billing-reader"):
        iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))
        iam.put_role_policy(
            RoleName=role,
            PolicyName="queues",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": ["sqs:SendMessage", "sqs:ReceiveMessage"],
                            "Resource": f"arn:aws:sqs:us-east-1:{account}:*",
                        }
                    ],
                }
            ),
        )
    url, arn = queues["orders-plain"]
    burl, barn = queues["billing-plain"]
    records = [
        _event(account, "legacy-producer", "SendMessage", arn, url, tls=False),
        _event(account, "modern-producer", "SendMessage", arn, url, tls=True),
        _event(account, "billing-reader", "ReceiveMessage", barn, burl, tls=True),
    ]
    trail = tmp_path / "AWSLogs" / account / "CloudTrail" / "us-east-1" / "2026" / "11" / "20"
    trail.mkdir(parents=True)
    (trail / f"{account}_CloudTrail_us-east-1_20261120T1000Z_sqs.json.gz").write_bytes(
        gzip.compress(json.dumps({"Records": records}).encode())
    )
    store = open_store(tmp_path / "store")
    collect_mod.ingest_aws(store, regions=["us-east-1"])
    assert ingest_cloudtrail(store, [tmp_path / "AWSLogs"]).errors == []
    finding = tmp_path / "p.json"
    proposals = [
        {
            "id": "PLAIN",
            "title": "SQS.1",
            "change": {"kind": "setting.harden", "target": arn, "delta": {"setting": "sqs_encryption"}},
        },
        {
            "id": "DONE",
            "title": "SQS.1",
            "change": {
                "kind": "setting.harden",
                "target": queues["orders-encrypted"][1],
                "delta": {"setting": "sqs_encryption"},
            },
        },
        {
            "id": "KMS",
            "title": "SQS.1 with a customer key",
            "change": {
                "kind": "setting.harden",
                "target": barn,
                "delta": {"setting": "sqs_encryption", "kms_key": key},
            },
        },
    ]
    finding.write_text(json.dumps({"blastwall_proposals": 1, "proposals": proposals}))
    assert import_proposals(store, [finding]).errors == []
    results = api.score(store, as_of=AS_OF)["results"]
    return {r["source"]["finding_id"]: r for r in results}


def test_sse_sqs_severs_the_producer_that_does_not_use_tls(scored: dict[str, dict[str, Any]]) -> None:
    r = scored["PLAIN"]
    assert r["status"] == "scored"
    assert [(s["consumer"].rsplit("/", 1)[-1], s["access"]) for s in r["severed"]] == [
        ("legacy-producer", "sqs:SendMessage (without TLS)")
    ]
    assert "HTTPS" in r["severed"][0]["after"]["reason"] and r["rollback"]["verified"] is True


def test_a_queue_already_encrypted_is_already_applied(scored: dict[str, dict[str, Any]]) -> None:
    r = scored["DONE"]
    assert r["status"] == "already_applied" and r["severed"] == []


def test_a_customer_key_severs_the_consumer_without_decrypt(scored: dict[str, dict[str, Any]]) -> None:
    r = scored["KMS"]
    assert [(s["consumer"].rsplit("/", 1)[-1], s["access"]) for s in r["severed"]] == [
        (
            "billing-reader",
            "sqs:ReceiveMessage (needs kms:Decrypt on " + r["change"]["delta"]["kms_key"] + ")",
        )
    ]
