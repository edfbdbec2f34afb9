"""Prowler itself, run by the suite: Prowler 5.x (installed from PyPI with uv into a virtualenv of its own;
it needs no patch to talk to moto through ``AWS_ENDPOINT_URL``) scans an account moto serves over HTTP,
seeded with one of each misconfiguration Blastwall derives a fix for, next to resources that pass. Its
csv, json-ocsf and json-asff outputs of that one run are imported together, and the account is collected
by Blastwall from the same server, with CloudTrail evidence of what the admin role really does.

What must hold (issue #19's "done when"): one proposal per failing finding whichever format it came in,
no passed finding imported, every fix exact or inferred on the finding's resource with the delta that
makes the check pass, nothing crashed, and the blast radius of the admin-policy fixes decided from the
evidence."""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import venv
import zipfile
from collections import Counter
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
CHECKS = (
    "ec2_securitygroup_allow_ingress_from_internet_to_tcp_port_22",  # EC2.13
    "ec2_securitygroup_allow_ingress_from_internet_to_tcp_port_3389",  # EC2.14
    "ec2_securitygroup_allow_ingress_from_internet_to_all_ports",
    "ec2_securitygroup_allow_ingress_from_internet_to_any_port",
    "ec2_securitygroup_allow_ingress_from_internet_to_high_risk_tcp_ports",  # EC2.19
    "ec2_securitygroup_default_restrict_traffic",  # EC2.2
    "ec2_instance_imdsv2_enabled",  # EC2.8
    "s3_bucket_level_public_access_block",  # S3.8
    "s3_bucket_secure_transport_policy",  # S3.5
    "s3_bucket_policy_public_write_access",  # S3.3
    "awslambda_function_not_publicly_accessible",  # Lambda.1
    "sqs_queues_server_side_encryption_enabled",  # SQS.1
    "sqs_queues_not_publicly_accessible",
    "iam_role_cross_service_confused_deputy_prevention",
    "iam_customer_attached_policy_no_administrative_privileges",  # IAM.1
    "iam_inline_policy_no_administrative_privileges",
    "iam_user_accesskey_unused",  # IAM.8
    "iam_rotate_access_key_90_days",  # IAM.3
)
INTERNET = {"CidrIp": "0.0.0.0/0"}


@pytest.fixture(scope="session")
def prowler(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``prowler`` from PyPI in a virtualenv of its own (it pins its own boto3), installed with uv (pip
    takes about six minutes to resolve Prowler's dependencies, uv about twenty seconds)."""
    env_dir = tmp_path_factory.mktemp("prowler") / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    bin_dir = env_dir / "bin"
    steps = (
        [str(bin_dir / "pip"), "install", "-q", "uv>=0.5"],
        [str(bin_dir / "uv"), "pip", "install", "-q", "--python", str(bin_dir / "python"), "prowler>=5.0,<6"],
    )
    for cmd in steps:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        assert out.returncode == 0, out.stderr[-2000:]
    return bin_dir / "prowler"


def _seed() -> dict[str, str]:
    ec2 = boto3.client("ec2", region_name="us-east-1")
    vpc = ec2.create_vpc(CidrBlock="10.50.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.50.1.0/24")["Subnet"]["SubnetId"]
    ids: dict[str, str] = {"vpc": vpc}

    def group(name: str, *perms: dict[str, Any]) -> None:
        gid = ec2.create_security_group(GroupName=name, Description=name, VpcId=vpc)["GroupId"]
        ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=list(perms))
        ids[name] = gid

    group(
        "open-ssh",
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [INTERNET]},
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [INTERNET]},  # left alone
    )
    group(
        "open-rdp",
        {"IpProtocol": "tcp", "FromPort": 3389, "ToPort": 3389, "Ipv6Ranges": [{"CidrIpv6": "::/0"}]},
    )
    group("open-all", {"IpProtocol": "-1", "IpRanges": [INTERNET]})
    group("open-http-alt", {"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080, "IpRanges": [INTERNET]})
    group(
        "internal",
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]},
    )
    ami = ec2.describe_images()["Images"][0]["ImageId"]
    for name, tokens in (("imds-optional", "optional"), ("imds-required", "required")):
        ids[name] = ec2.run_instances(
            ImageId=ami,
            MinCount=1,
            MaxCount=1,
            SubnetId=subnet,
            MetadataOptions={"HttpTokens": tokens, "HttpEndpoint": "enabled"},
        )["Instances"][0]["InstanceId"]
    s3 = boto3.client("s3", region_name="us-east-1")
    for bucket in ("app-uploads", "public-drop", "locked-down"):
        s3.create_bucket(Bucket=bucket)
    s3.put_bucket_policy(
        Bucket="public-drop",
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "AnyoneWrites",
                        "Effect": "Allow",
                        "Principal": "*",
                        "Action": "s3:PutObject",
                        "Resource": "arn:aws:s3:::public-drop/*",
                    }
                ],
            }
        ),
    )
    s3.put_bucket_policy(
        Bucket="locked-down",
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "TlsOnly",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:*",
                        "Resource": ["arn:aws:s3:::locked-down", "arn:aws:s3:::locked-down/*"],
                        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                    }
                ],
            }
        ),
    )
    s3.put_public_access_block(
        Bucket="locked-down",
        PublicAccessBlockConfiguration={
            k: True
            for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
        },
    )
    iam = boto3.client("iam")
    lambda_trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    fn_role = iam.create_role(RoleName="public-fn-role", AssumeRolePolicyDocument=json.dumps(lambda_trust))
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as z:
        z.writestr("index.py", "def handler(event, context):\n    return 1\n")
    lam = boto3.client("lambda", region_name="us-east-1")
    lam.create_function(
        FunctionName="public-fn",
        Runtime="python3.12",
        Role=fn_role["Role"]["Arn"],
        Handler="index.handler",
        Code={"ZipFile": code.getvalue()},
    )
    lam.add_permission(
        FunctionName="public-fn", StatementId="AnyoneInvokes", Action="lambda:InvokeFunction", Principal="*"
    )
    sqs = boto3.client("sqs", region_name="us-east-1")
    account = boto3.client("sts").get_caller_identity()["Account"]
    sqs.create_queue(QueueName="orders-plain", Attributes={"SqsManagedSseEnabled": "false"})
    sqs.create_queue(QueueName="orders-encrypted", Attributes={"SqsManagedSseEnabled": "true"})
    public = sqs.create_queue(QueueName="orders-public", Attributes={"SqsManagedSseEnabled": "true"})
    sqs.set_queue_attributes(
        QueueUrl=public["QueueUrl"],
        Attributes={
            "Policy": json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "AnyoneSends",
                            "Effect": "Allow",
                            "Principal": "*",
                            "Action": "sqs:SendMessage",
                            "Resource": f"arn:aws:sqs:us-east-1:{account}:orders-public",
                        }
                    ],
                }
            )
        },
    )
    admin = iam.create_policy(
        PolicyName="full-admin",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Sid": "Everything", "Effect": "Allow", "Action": "*", "Resource": "*"},
                    {
                        "Sid": "ReadUploads",
                        "Effect": "Allow",
                        "Action": "s3:GetObject",
                        "Resource": "arn:aws:s3:::app-uploads/*",
                    },
                ],
            }
        ),
    )["Policy"]["Arn"]
    account_trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    for role in ("ops-role", "report-role"):
        iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(account_trust))
        iam.attach_role_policy(RoleName=role, PolicyArn=admin)
    iam.put_role_policy(
        RoleName="ops-role",
        PolicyName="inline-admin",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        ),
    )
    ec2_trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    iam.create_role(RoleName="etl-role", AssumeRolePolicyDocument=json.dumps(ec2_trust))
    iam.create_user(UserName="ci-bot")
    iam.create_access_key(UserName="ci-bot")
    ids["account"] = account
    return ids


def _trail(root: Path, account: str) -> Path:
    """CloudTrail records of what report-role does with the admin policy: reads app-uploads (kept by the
    policy's own ReadUploads statement) and describes instances (only '*' allowed it)."""

    def record(
        name: str, source: str, params: dict[str, Any], resources: list[dict[str, str]]
    ) -> dict[str, Any]:
        return {
            "eventVersion": "1.09",
            "userIdentity": {
                "type": "AssumedRole",
                "arn": f"arn:aws:sts::{account}:assumed-role/report-role/nightly",
                "accountId": account,
                "sessionContext": {
                    "sessionIssuer": {
                        "type": "Role",
                        "arn": f"arn:aws:iam::{account}:role/report-role",
                        "accountId": account,
                    }
                },
            },
            "eventTime": "2026-11-20T02:00:00Z",
            "eventSource": source,
            "eventName": name,
            "awsRegion": "us-east-1",
            "sourceIPAddress": "10.50.1.20",
            "requestParameters": params,
            "eventID": name,
            "resources": resources,
            "eventType": "AwsApiCall",
            "recipientAccountId": account,
            "tlsDetails": {"tlsVersion": "TLSv1.3"},
        }

    records = [
        record(
            "GetObject",
            "s3.amazonaws.com",
            {"bucketName": "app-uploads", "key": "report.csv"},
            [
                {"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::app-uploads/report.csv"},
                {"accountId": account, "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::app-uploads"},
            ],
        ),
        record(
            "DescribeInstances",
            "ec2.amazonaws.com",
            {},
            [{"type": "AWS::EC2::Instance", "ARN": f"arn:aws:ec2:us-east-1:{account}:instance/*"}],
        ),
    ]
    d = root / "AWSLogs" / account / "CloudTrail" / "us-east-1" / "2026" / "11" / "20"
    d.mkdir(parents=True)
    (d / f"{account}_CloudTrail_us-east-1_20261120T0200Z_report.json.gz").write_bytes(
        gzip.compress(json.dumps({"Records": records}).encode())
    )
    return root / "AWSLogs"


@pytest.fixture(scope="module")
def run(prowler: Path, moto_server_module: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One Prowler run for the module (it takes most of a minute)."""
    tmp_path = tmp_path_factory.mktemp("prowler-run")
    ids = _seed()
    out_dir = tmp_path / "prowler"
    env = {**os.environ, "HOME": str(tmp_path)}
    done = subprocess.run(
        [
            str(prowler),
            "aws",
            "-f",
            "us-east-1",
            "--scan-unused-services",
            "--no-banner",
            "-c",
            *CHECKS,
            "--output-formats",
            "csv",
            "json-ocsf",
            "json-asff",
            "-o",
            str(out_dir),
            "-F",
            "run",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert done.returncode in (0, 3), done.stderr[-3000:]  # 3: some check failed
    ocsf = json.loads((out_dir / "run.ocsf.json").read_text())
    store = open_store(tmp_path / "store")
    collect_mod.ingest_aws(store, regions=["us-east-1"])
    assert ingest_cloudtrail(store, [_trail(tmp_path, ids["account"])]).errors == []
    report = import_proposals(
        store, [out_dir / "run.ocsf.json", out_dir / "run.csv", out_dir / "run.asff.json"]
    )
    results = api.score(store, as_of=datetime(2026, 11, 21, tzinfo=UTC))["results"]
    checks = {pid: p["source"]["generator"] for pid, p in store.get_documents("proposals").items()}
    for r in results:
        r["check"] = checks[r["proposal_id"]]
    return {"ids": ids, "ocsf": ocsf, "report": report, "results": results}


def _key(check: str, resource: str) -> tuple[str, str]:
    return check, resource.rsplit("/", 1)[-1].rsplit(":", 1)[-1]


def test_one_proposal_per_failing_finding_and_no_passed_one(run: dict[str, Any]) -> None:
    failing = {
        _key(f["metadata"]["event_code"], f["resources"][0]["uid"])
        for f in run["ocsf"]
        if f["status_code"] == "FAIL"
    }
    passed = [f for f in run["ocsf"] if f["status_code"] == "PASS"]
    assert len(failing) >= 18 and passed  # each seeded misconfiguration fails, the good twins pass
    got = Counter(_key(r["check"], r["change"]["target"]) for r in run["results"])
    assert set(got) == failing and max(got.values()) == 1
    report = run["report"]
    assert report.errors == [] and len(report.imported) == len(failing)
    # the same run in three formats: every failing finding twice more as a duplicate, every passed one
    # three times as passed (ASFF carries them too)
    assert report.skipped["duplicate"] == 2 * len(failing)
    assert report.skipped["passed"] == 3 * len(passed)


def _right_fix(r: dict[str, Any], ids: dict[str, str]) -> bool:
    """The delta that makes the check pass, on the finding's resource."""
    check, change = r["check"], r["change"]
    kind, target, delta = change["kind"], change["target"], change["delta"]
    if check.startswith("ec2_securitygroup_allow_ingress"):
        port = {"open-ssh": 22, "open-rdp": 3389, "open-http-alt": 8080}
        name = next(n for n, g in ids.items() if target.endswith(g))
        rules = delta.get("ingress") or []
        if name == "open-all":
            return kind == "sg.revoke_rules" and rules == [{"IpProtocol": "-1", "IpRanges": [INTERNET]}]
        peers = [p for rule in rules for p in rule.get("IpRanges", []) + rule.get("Ipv6Ranges", [])]
        return (
            kind == "sg.revoke_rules"
            and [rule.get("FromPort") for rule in rules] == [port[name]]
            and peers in ([INTERNET], [{"CidrIpv6": "::/0"}])
        )
    if check == "ec2_securitygroup_default_restrict_traffic":
        return kind == "sg.revoke_rules" and bool(delta.get("ingress") or delta.get("egress"))
    expected = {
        "ec2_instance_imdsv2_enabled": ("setting.harden", {"setting": "imdsv2_required"}),
        "s3_bucket_secure_transport_policy": ("setting.harden", {"setting": "s3_require_tls"}),
        "sqs_queues_server_side_encryption_enabled": ("setting.harden", {"setting": "sqs_encryption"}),
        "awslambda_function_not_publicly_accessible": (
            "resource_policy.remove_statements",
            {"statement_ids": ["AnyoneInvokes"]},
        ),
        "sqs_queues_not_publicly_accessible": (
            "resource_policy.remove_statements",
            {"statement_ids": ["AnyoneSends"]},
        ),
        "iam_role_cross_service_confused_deputy_prevention": (
            "iam.update_trust_policy",
            {"add_service_condition": {"StringEquals": {"aws:SourceAccount": ids["account"]}}},
        ),
        "iam_inline_policy_no_administrative_privileges": (
            "iam.detach_policy",
            {"inline_name": "inline-admin"},
        ),
    }
    if check in expected:
        return (kind, delta) == expected[check]
    if check in ("s3_bucket_level_public_access_block", "s3_bucket_policy_public_write_access"):
        return kind == "public_access.block" and all(delta.values()) and len(delta) == 4
    if check == "iam_customer_attached_policy_no_administrative_privileges":
        return kind == "iam.update_managed_policy" and [
            s.get("Sid") for s in delta["document"]["Statement"]
        ] == ["ReadUploads"]
    return False


def test_every_fix_is_derived_with_the_right_target_and_delta_and_none_crashed(run: dict[str, Any]) -> None:
    results = run["results"]
    assert all(r["status"] in ("scored", "already_applied") for r in results), [
        (r["check"], r["status"]) for r in results if r["status"] not in ("scored", "already_applied")
    ]
    wrong = [
        (r["check"], r["change"]["kind"], r["change"]["delta"])
        for r in results
        if not _right_fix(r, run["ids"])
    ]
    assert all(r["change"]["fidelity"] in ("exact", "inferred") for r in results)
    assert wrong == []
    # the resources that pass were not proposed
    targets = {r["change"]["target"] for r in results}
    assert not any(
        t.endswith((run["ids"]["internal"], run["ids"]["imds-required"], "locked-down", "orders-encrypted"))
        for t in targets
    )


def test_the_admin_fix_severs_what_only_star_allowed_and_keeps_the_rest(run: dict[str, Any]) -> None:
    fix = next(r for r in run["results"] if r["change"]["kind"] == "iam.update_managed_policy")
    cut = [(s["consumer"].rsplit("/", 1)[-1], s["access"]) for s in fix["severed"] if s["observed"]]
    assert cut == [("report-role", "ec2:DescribeInstances")]  # s3:GetObject stays: ReadUploads allows it
    assert fix["rollback"]["verified"] is True and "2 principal(s)" in fix["rollback"]["detail"]
    assert fix["tier"] != "auto"
    inline = next(r for r in run["results"] if r["change"]["kind"] == "iam.detach_policy")
    assert inline["severed"] == []  # ops-role keeps '*' through the managed policy until that is fixed too
