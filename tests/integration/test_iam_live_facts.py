"""IAM facts from a moto server over HTTP (IAM, Organizations with an SCP, S3, KMS, Lambda, SQS, SNS in
several accounts) and from the same data replayed as files: identical facts, and the resource policies
decide what they should."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import boto3
import pytest

from analyzer import api
from analyzer.graph.store import open_store
from analyzer.scoring.access import can, facts, who_can
from connectors.aws import collect as collect_mod
from connectors.aws.snapshot import load_snapshot
from tests.integration.test_aws_live_collection import ORG_ROLE, _session, org  # noqa: F401 (fixture)

pytestmark = pytest.mark.integration


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("handler.py", "def handler(event, context):\n    return event\n")
    return buf.getvalue()


@pytest.fixture
def resources(org: dict[str, str]) -> dict[str, str]:  # noqa: F811
    data, legacy, mgmt = org["data"], org["legacy"], org["mgmt"]
    d = _session(data, mgmt)
    kms = d.client("kms")
    key = kms.create_key(
        Description="curated zone", Tags=[{"TagKey": "data-classification", "TagValue": "confidential"}]
    )
    key_arn = key["KeyMetadata"]["Arn"]
    kms.put_key_policy(
        KeyId=key["KeyMetadata"]["KeyId"],
        PolicyName="default",
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "Readers",
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:aws:iam::{data}:role/datalake-reader"},
                        "Action": "kms:Decrypt",
                        "Resource": "*",
                    },
                    {
                        "Sid": "LegacyAccount",
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:aws:iam::{legacy}:root"},
                        "Action": "kms:Decrypt",
                        "Resource": "*",
                    },
                ],
            }
        ),
    )
    fn = d.client("lambda").create_function(
        FunctionName="publish-curated",
        Runtime="python3.12",
        Role=f"arn:aws:iam::{data}:role/datalake-reader",
        Handler="handler.handler",
        Code={"ZipFile": _zip()},
    )["FunctionArn"]
    d.client("lambda").add_permission(
        FunctionName="publish-curated",
        StatementId="LegacyInvokes",
        Action="lambda:InvokeFunction",
        Principal=legacy,
    )
    sqs = d.client("sqs")
    url = sqs.create_queue(QueueName="curated-events")["QueueUrl"]
    q_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sqs.set_queue_attributes(
        QueueUrl=url,
        Attributes={
            "Policy": json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"AWS": f"arn:aws:iam::{legacy}:role/legacy-etl-role"},
                            "Action": "sqs:SendMessage",
                            "Resource": q_arn,
                        }
                    ],
                }
            )
        },
    )
    sns = d.client("sns")
    topic = sns.create_topic(Name="curated-alerts")["TopicArn"]
    sns.set_topic_attributes(
        TopicArn=topic,
        AttributeName="Policy",
        AttributeValue=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "events.amazonaws.com"},
                        "Action": "sns:Publish",
                        "Resource": topic,
                    }
                ],
            }
        ),
    )
    # the legacy role may use the key, the function and the queue from its side
    _session(legacy, mgmt).client("iam").put_role_policy(
        RoleName="legacy-etl-role",
        PolicyName="use-datalake",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": ["kms:Decrypt", "lambda:InvokeFunction", "sqs:SendMessage"],
                        "Resource": "*",
                    }
                ],
            }
        ),
    )
    # an SCP on the legacy account forbids KMS
    o = boto3.client("organizations")
    scp = o.create_policy(
        Name="no-kms-in-legacy",
        Description="d",
        Type="SERVICE_CONTROL_POLICY",
        Content=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "*", "Resource": "*"},
                    {"Effect": "Deny", "Action": "kms:*", "Resource": "*"},
                ],
            }
        ),
    )["Policy"]["PolicySummary"]["Id"]
    o.attach_policy(PolicyId=scp, TargetId=legacy)
    return {"key": key_arn, "function": fn, "queue": q_arn, "topic": topic, **org}


def test_live_and_replayed_facts_are_identical(resources: dict[str, str], tmp_path: Path) -> None:
    live = open_store(tmp_path / "live")
    report = collect_mod.ingest_aws(live, save_raw=tmp_path / "raw", org_role=ORG_ROLE, regions=["us-east-1"])
    assert report.warnings == []
    raw = tmp_path / "raw" / resources["data"] / "us-east-1"
    for op in ("kms-GetKeyPolicy", "lambda-GetPolicy", "sqs-GetQueueAttributes", "sns-GetTopicAttributes"):
        assert json.loads((raw / f"{op}.json").read_text()), op
    replay = open_store(tmp_path / "replay")
    load_snapshot(replay, tmp_path / "raw", seen="2026-05-15T06:00:00Z")

    def table(store: Any) -> list[tuple[Any, ...]]:
        return sorted(
            (
                f.kind,
                f.principal,
                f.action,
                f.resource,
                f.decision.state,
                f.decision.statements,
                f.decision.missing_context,
            )
            for f in facts(api.analysis_context(store))
        )

    live_facts, replay_facts = table(live), table(replay)
    assert live_facts == replay_facts
    assert {f[4] for f in live_facts} >= {"allowed", "denied"}

    ctx = api.analysis_context(live)
    reader = f"arn:aws:iam::{resources['data']}:role/datalake-reader"
    etl = f"arn:aws:iam::{resources['legacy']}:role/legacy-etl-role"
    # the key policy names the reader: enough on its own in the same account
    d0 = can(ctx, reader, "kms:Decrypt", resources["key"])
    assert d0.state == "allowed", d0
    # the key policy names the legacy account and its role allows it, but the legacy account's SCP denies
    d = can(ctx, etl, "kms:Decrypt", resources["key"])
    assert d.state == "denied" and "explicit deny in the SCPs" in d.reason
    # the function policy (added with lambda add-permission) names the legacy account
    d1 = can(ctx, etl, "lambda:InvokeFunction", resources["function"])
    assert d1.state == "allowed", d1
    assert can(ctx, etl, "sqs:SendMessage", resources["queue"]).state == "allowed"
    assert can(ctx, reader, "sqs:SendMessage", resources["queue"]).state == "denied"  # no identity grant
    publishers = {r["principal"]: r["decision"] for r in who_can(ctx, "sns:Publish", resources["topic"])}
    assert publishers.get("events.amazonaws.com") == "allowed"
