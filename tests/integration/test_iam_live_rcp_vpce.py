"""Resource control policies and VPC endpoint policies, collected live from a moto server over HTTP
(Organizations with RCPs enabled, an S3 gateway endpoint with its policy) and from the same responses
replayed as files: the RCP denies outsiders on member-account buckets and nothing on the management
account's or on services RCPs do not cover; ``can --source-vpce`` reads the endpoint's policy; ``who-can``
agrees with ``can`` for every principal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner

from analyzer import api
from analyzer.cli import main
from analyzer.graph.store import open_store
from analyzer.scoring.access import can, who_can
from connectors.aws import collect as collect_mod
from connectors.aws.snapshot import load_snapshot
from tests.integration.test_aws_live_collection import ORG_ROLE, _session, org  # noqa: F401 (fixture)

pytestmark = pytest.mark.integration
OUTSIDER = "arn:aws:iam::999999999999:root"


def _grant_outsider(s3: Any, bucket: str, owner_role: str) -> None:
    s3.put_bucket_policy(
        Bucket=bucket,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "Reader",
                        "Effect": "Allow",
                        "Principal": {"AWS": owner_role},
                        "Action": "s3:GetObject",
                        "Resource": f"arn:aws:s3:::{bucket}/*",
                    },
                    {
                        "Sid": "Partner",
                        "Effect": "Allow",
                        "Principal": {"AWS": OUTSIDER},
                        "Action": "s3:GetObject",
                        "Resource": f"arn:aws:s3:::{bucket}/*",
                    },
                ],
            }
        ),
    )


@pytest.fixture
def perimeter(org: dict[str, str]) -> dict[str, str]:  # noqa: F811
    data, mgmt = org["data"], org["mgmt"]
    o = boto3.client("organizations")
    org_id = o.describe_organization()["Organization"]["Id"]
    root = o.list_roots()["Roots"][0]["Id"]
    o.enable_policy_type(RootId=root, PolicyType="RESOURCE_CONTROL_POLICY")
    rcp = o.create_policy(
        Name="identity-perimeter",
        Description="only the organization reaches its S3 data",
        Type="RESOURCE_CONTROL_POLICY",
        Content=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "EnforceOrgIdentities",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": ["s3:*", "kms:*"],
                        "Resource": "*",
                        "Condition": {
                            "StringNotEqualsIfExists": {"aws:PrincipalOrgID": org_id},
                            "Bool": {"aws:PrincipalIsAWSService": "false"},
                        },
                    },
                    {
                        "Sid": "NotAnRcpService",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "sns:*",
                        "Resource": "*",
                    },
                ],
            }
        ),
    )["Policy"]["PolicySummary"]["Id"]
    o.attach_policy(PolicyId=rcp, TargetId=root)  # the whole organization, the management account too
    reader = f"arn:aws:iam::{data}:role/datalake-reader"
    d = _session(data, mgmt)
    _grant_outsider(d.client("s3"), "curated-zone", reader)
    m3 = boto3.client("s3")
    m3.create_bucket(Bucket="mgmt-reports")
    _grant_outsider(m3, "mgmt-reports", reader)
    # an SNS topic in the data account lets the outsider publish (RCPs do not cover SNS)
    sns = d.client("sns", region_name="us-east-1")
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    sns.set_topic_attributes(
        TopicArn=topic,
        AttributeName="Policy",
        AttributeValue=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": OUTSIDER},
                        "Action": "sns:Publish",
                        "Resource": topic,
                    }
                ],
            }
        ),
    )
    # a key whose policy lets the outsider decrypt
    kms = d.client("kms", region_name="us-east-1")
    key = kms.create_key(Description="partner exchange")["KeyMetadata"]
    kms.put_key_policy(
        KeyId=key["KeyId"],
        PolicyName="default",
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": OUTSIDER},
                        "Action": "kms:Decrypt",
                        "Resource": "*",
                    }
                ],
            }
        ),
    )
    # two S3 gateway endpoints: one lets GetObject through, one only ListBucket
    ec2 = d.client("ec2")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "cidr", "Values": ["10.10.0.0/16"]}])["Vpcs"][0]["VpcId"]

    def endpoint(actions: list[str]) -> str:
        return ec2.create_vpc_endpoint(
            VpcId=vpc,
            ServiceName="com.amazonaws.us-east-1.s3",
            VpcEndpointType="Gateway",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Principal": "*", "Action": actions, "Resource": "*"}],
                }
            ),
        )["VpcEndpoint"]["VpcEndpointId"]

    return {
        **org,
        "reader": reader,
        "topic": topic,
        "key": key["Arn"],
        "vpce_get": endpoint(["s3:GetObject"]),
        "vpce_list": endpoint(["s3:ListBucket"]),
    }


def test_rcps_and_endpoint_policies_live_and_replayed(perimeter: dict[str, str], tmp_path: Path) -> None:
    live = open_store(tmp_path / "live")
    report = collect_mod.ingest_aws(live, save_raw=tmp_path / "raw", org_role=ORG_ROLE, regions=["us-east-1"])
    assert report.warnings == []
    listed = json.loads(
        (tmp_path / "raw" / perimeter["mgmt"] / "global" / "organizations-ListPolicies.json").read_text()
    )
    assert {p["Type"] for p in listed["Policies"]} == {"SERVICE_CONTROL_POLICY", "RESOURCE_CONTROL_POLICY"}
    replay = open_store(tmp_path / "replay")
    load_snapshot(replay, tmp_path / "raw", seen="2026-05-15T06:00:00Z")

    for store in (live, replay):
        ctx = api.analysis_context(store)
        # the member account's bucket: the RCP denies the outsider whatever the bucket policy grants
        d = can(ctx, OUTSIDER, "s3:GetObject", "arn:aws:s3:::curated-zone/part-1")
        assert (
            d.state == "denied" and d.reason == "explicit deny in the RCPs at " + d.reason.split(" at ")[1]
        ), d
        assert any("EnforceOrgIdentities" in s for s in d.statements), d
        # ... and not the organization's own role
        assert (
            can(ctx, perimeter["reader"], "s3:GetObject", "arn:aws:s3:::curated-zone/part-1").state
            == "allowed"
        )
        # RCPs do not affect the management account's resources: the outsider's own policies decide
        m = can(ctx, OUTSIDER, "s3:GetObject", "arn:aws:s3:::mgmt-reports/r.csv")
        assert m.state == "conditional" and "identity policies of " + OUTSIDER in " ".join(
            m.missing_context
        ), m
        # nor services RCPs do not cover (SNS): the RCP's Deny sns:* does not apply
        t = can(ctx, OUTSIDER, "sns:Publish", perimeter["topic"])
        assert t.state == "conditional" and not any("NotAnRcpService" in s for s in t.statements), t
        # the endpoint's policy, from the snapshot
        obj = "arn:aws:s3:::curated-zone/part-1"
        assert (
            can(ctx, perimeter["reader"], "s3:GetObject", obj, source_vpce=perimeter["vpce_get"]).state
            == "allowed"
        )
        e = can(ctx, perimeter["reader"], "s3:GetObject", obj, source_vpce=perimeter["vpce_list"])
        assert e.state == "denied" and e.reason == "the VPC endpoint policy does not allow it", e
        u = can(ctx, perimeter["reader"], "s3:GetObject", obj, source_vpce="vpce-0notcollected")
        assert (
            u.state == "conditional"
            and "policy of VPC endpoint vpce-0notcollected (not collected)" in u.missing_context
        )
        # who-can decides every principal as can does
        rows = who_can(ctx, "s3:GetObject", obj, include_denied=True)
        assert {r["principal"] for r in rows} >= {OUTSIDER, perimeter["reader"]}
        for r in rows:
            assert r["decision"] == can(ctx, r["principal"], "s3:GetObject", obj).state, r

    # RCPs do not apply to AWS managed keys (KMS Developer Guide, "Resource control policies in AWS KMS").
    # moto makes only customer managed keys: the saved DescribeKey response is edited to say AWS
    assert can(api.analysis_context(live), OUTSIDER, "kms:Decrypt", perimeter["key"]).state == "denied"
    described = tmp_path / "raw" / perimeter["data"] / "us-east-1" / "kms-DescribeKey.json"
    text = described.read_text()
    assert '"KeyManager": "CUSTOMER"' in text
    described.write_text(text.replace('"KeyManager": "CUSTOMER"', '"KeyManager": "AWS"'))
    edited = open_store(tmp_path / "edited")
    load_snapshot(edited, tmp_path / "raw", seen="2026-05-15T06:00:00Z")
    k = can(api.analysis_context(edited), OUTSIDER, "kms:Decrypt", perimeter["key"])
    assert k.state == "conditional" and not any(s.startswith("rcp:") for s in k.statements), k

    runner = CliRunner()
    out = runner.invoke(
        main,
        [
            "--store",
            str(tmp_path / "live"),
            "can",
            "datalake-reader",
            "s3:GetObject",
            obj,
            "--source-vpce",
            perimeter["vpce_list"],
            "--format",
            "json",
        ],
    )
    assert out.exit_code == 0, out.output
    payload = json.loads(out.output)
    assert payload["decision"] == "denied" and payload["source_vpce"] == perimeter["vpce_list"]
    out = runner.invoke(main, ["--store", str(tmp_path / "live"), "can", OUTSIDER, "s3:GetObject", obj])
    assert out.output.startswith("DENIED:") and "explicit deny in the RCPs" in out.output


def test_rcps_count_only_while_the_policy_type_is_enabled(perimeter: dict[str, str], tmp_path: Path) -> None:
    o = boto3.client("organizations")
    o.disable_policy_type(RootId=o.list_roots()["Roots"][0]["Id"], PolicyType="RESOURCE_CONTROL_POLICY")
    store = open_store(tmp_path / "s")
    collect_mod.ingest_aws(store, org_role=ORG_ROLE, regions=["us-east-1"])
    ctx = api.analysis_context(store)
    d = can(ctx, OUTSIDER, "s3:GetObject", "arn:aws:s3:::curated-zone/part-1")
    assert d.state == "conditional" and not any("RCP" in s for s in d.statements), d
