"""Real peer output: Cloud Custodian (installed in its own virtualenv, since c7n pins its own boto3) runs
two policies with --dryrun against a moto server over HTTP, and Blastwall imports the directory it wrote.

The moto account is seeded with the legacy-ETL slice of the sample organization (the workload group with
its all-traffic and S3-range egress rules, the host's interface behind a NAT gateway, the ETL output
bucket whose policy lets the fraud pipeline of another account read it), collected live into the store,
with flow logs naming the host's interface."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest

from analyzer import api
from analyzer.governance.tier_policy import load_policy
from analyzer.graph.store import open_store
from connectors.aws import collect as collect_mod
from connectors.evidence.flowlogs import ingest_flowlogs
from connectors.proposals import import_proposals

pytestmark = pytest.mark.integration
FRAUD_ROLE = "arn:aws:iam::615294837560:role/fraud-feature-pipeline"
POLICY = """
policies:
  - name: sg-no-open-egress
    resource: aws.security-group
    description: Remove all-traffic egress to 0.0.0.0/0 (CIS 5.4-style hardening)
    metadata: {severity: high}
    filters:
      - type: egress
        Cidr: {value: 0.0.0.0/0}
        IpProtocol: "-1"
    actions:
      - type: remove-permissions
        egress: matched
  - name: s3-no-cross-account
    resource: aws.s3
    filters:
      - type: cross-account
    actions:
      - type: remove-statements
        statement_ids: matched
"""


@pytest.fixture
def legacy_slice(moto_server: str) -> dict[str, Any]:
    ec2 = boto3.client("ec2", region_name="us-east-1")
    vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
    private = ec2.create_subnet(VpcId=vpc, CidrBlock="10.40.1.0/24")["Subnet"]["SubnetId"]
    public = ec2.create_subnet(VpcId=vpc, CidrBlock="10.40.0.0/24")["Subnet"]["SubnetId"]
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2.create_nat_gateway(SubnetId=public, AllocationId=eip)["NatGateway"]["NatGatewayId"]
    rtb_public = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=rtb_public, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    ec2.associate_route_table(RouteTableId=rtb_public, SubnetId=public)
    main = ec2.describe_route_tables(
        Filters=[{"Name": "vpc-id", "Values": [vpc]}, {"Name": "association.main", "Values": ["true"]}]
    )["RouteTables"][0]["RouteTableId"]
    ec2.create_route(RouteTableId=main, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat)
    sg = ec2.create_security_group(GroupName="workload", Description="workload instances", VpcId=vpc)[
        "GroupId"
    ]
    ec2.authorize_security_group_egress(
        GroupId=sg,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "52.216.0.0/15"}]}
        ],
    )
    eni = ec2.create_network_interface(SubnetId=private, Groups=[sg], PrivateIpAddress="10.40.1.25")[
        "NetworkInterface"
    ]
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="acme-legacy-etl-output")
    s3.put_bucket_policy(
        Bucket="acme-legacy-etl-output",
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "FraudPipelineRead",
                        "Effect": "Allow",
                        "Principal": {"AWS": FRAUD_ROLE},
                        "Action": "s3:GetObject",
                        "Resource": "arn:aws:s3:::acme-legacy-etl-output/*",
                    }
                ],
            }
        ),
    )
    account = boto3.client("sts").get_caller_identity()["Account"]
    return {"sg": sg, "eni": eni["NetworkInterfaceId"], "account": account}


def _flowlogs(root: Path, account: str, eni: str) -> Path:
    d = root / "AWSLogs" / account / "vpcflowlogs" / "us-east-1" / "2026" / "11" / "20"
    d.mkdir(parents=True)
    lines = [
        "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status"
    ]
    t0 = 1795132800  # 2026-11-20T00:00:00Z
    for k in range(12):
        t = t0 + k * 3600
        for dst in ("3.5.29.104", "52.216.88.133"):
            lines.append(
                f"2 {account} {eni} 10.40.1.25 {dst} {40000 + k} 443 6 10 9000 {t} {t + 60} ACCEPT OK"
            )
    path = d / f"{account}_vpcflowlogs_us-east-1_fl-0example_20261120T0000Z_abcd1234.log.gz"
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    return root


def test_custodian_dryrun_output_is_imported_and_scored(
    custodian: Path, legacy_slice: dict[str, Any], tmp_path: Path, sample_dir: Path
) -> None:
    policy = tmp_path / "policy.yml"
    policy.write_text(POLICY)
    out_dir = tmp_path / "out"
    env = {**os.environ, "HOME": str(tmp_path)}  # Custodian caches results under HOME for 15 minutes
    run = subprocess.run(
        [
            str(custodian),
            "run",
            "--dryrun",
            "--cache-period",
            "0",
            "-s",
            str(out_dir),
            "--region",
            "us-east-1",
            str(policy),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    resources = json.loads((out_dir / "sg-no-open-egress" / "resources.json").read_text())
    # ours, plus the default groups of our VPC and of moto's default VPC (they allow all egress too)
    mine = [r for r in resources if r["GroupId"] == legacy_slice["sg"]]
    assert len(resources) == 3 and mine and mine[0]["MatchedIpPermissionsEgress"]

    store = open_store(tmp_path / "store")
    collect_mod.ingest_aws(store, regions=["us-east-1"])
    ingest_flowlogs(store, [str(_flowlogs(tmp_path / "flows", legacy_slice["account"], legacy_slice["eni"]))])
    report = import_proposals(store, [out_dir, policy])
    assert report.errors == [] and len(report.imported) == 4
    proposals = {p["change"]["target"]: p for p in store.get_documents("proposals").values()}
    sg = proposals[legacy_slice["sg"]]
    assert sg["change"]["fidelity"] == "exact" and sg["change"]["target"] == legacy_slice["sg"]
    assert sg["change"]["delta"]["egress"][0]["IpRanges"] == [{"CidrIp": "0.0.0.0/0"}]
    assert sg["source"]["severity"] == "high" and sg["source"]["dryrun"] is True
    assert sg["source"]["title"].startswith("Remove all-traffic egress")
    s3 = proposals["arn:aws:s3:::acme-legacy-etl-output"]
    assert s3["change"]["delta"] == {"statement_ids": ["FraudPipelineRead"]}

    from datetime import UTC, datetime

    results = api.score(
        store,
        as_of=datetime(2026, 11, 21, tzinfo=UTC),
        policy=load_policy(sample_dir / "policy" / "tier-policy.yaml"),
    )
    by_target = {r["change"]["target"]: r for r in results["results"]}
    severed = by_target[legacy_slice["sg"]]["severed"]
    # the all-traffic rule was the only grant for 3.5.29.104; 52.216.88.133 keeps the S3-range rule
    assert [s["provider"] for s in severed] == ["urn:ip:3.5.29.104"] and severed[0]["events"] == 12
    assert by_target[legacy_slice["sg"]]["rollback"]["verified"] is True
    others = [r for t, r in by_target.items() if t.startswith("sg-") and t != legacy_slice["sg"]]
    assert len(others) == 2 and all(
        r["severed"] == [] for r in others
    )  # default groups: no interface uses them
    gone = by_target["arn:aws:s3:::acme-legacy-etl-output"]["severed"]
    assert [s["consumer"] for s in gone] == [FRAUD_ROLE] and gone[0]["before"]["decision"] == "conditional"
    assert by_target["arn:aws:s3:::acme-legacy-etl-output"]["tier"] != "auto"


def test_output_directory_without_metadata_is_refused_and_the_rest_imports(tmp_path: Path) -> None:
    bad = tmp_path / "out" / "some-policy"
    bad.mkdir(parents=True)
    (bad / "resources.json").write_text("[]")
    good = tmp_path / "proposals.yaml"
    good.write_text(
        "blastwall_proposals: 1\nproposals:\n  - id: A\n    title: t\n    change: {kind: eni.replace_security_groups, "
        "target: eni-1, delta: {groups: [sg-1]}}\n"
    )
    store = open_store(tmp_path / "store")
    report = import_proposals(store, [tmp_path / "out", good])
    assert (
        len(report.errors) == 1
        and "without metadata.json" in report.errors[0]
        and str(bad) in report.errors[0]
    )
    assert len(report.imported) == 1
    assert sys.executable  # the importer ran in-process, no Custodian needed for this one


ACTIONS_POLICY = """
policies:
  - name: ec2-stop
    resource: aws.ec2
    actions: [stop]
  - name: ec2-imdsv2
    resource: aws.ec2
    actions: [{type: set-metadata-access, tokens: required}]
  - name: s3-block
    resource: aws.s3
    actions: [{type: set-public-block}]
  - name: s3-partial-block
    resource: aws.s3
    actions: [{type: set-public-block, BlockPublicPolicy: true}]
  - name: role-boundary
    resource: aws.iam-role
    filters: [{RoleName: app-role}]
    actions: [{type: set-boundary, policy: "arn:aws:iam::123456789012:policy/boundary"}]
  - name: role-detach
    resource: aws.iam-role
    filters: [{RoleName: app-role}]
    actions: [{type: set-policy, state: detached, arn: "arn:aws:iam::123456789012:policy/app-extra"}]
  - name: user-keys
    resource: aws.iam-user
    filters: [{UserName: ci-bot}]
    actions: [{type: remove-keys, disable: true}]
  - name: s3-tag-only
    resource: aws.s3
    actions: [{type: tag, key: owner, value: security}]
"""


def test_custodian_actions_become_exact_changes(custodian: Path, moto_server: str, tmp_path: Path) -> None:
    """Each action whose parameters say what changes (its schema: `custodian schema aws.<r>.actions.<a>`)
    becomes that change kind, exact; a tag action is a no-op, not a proposal."""
    ec2 = boto3.client("ec2", region_name="us-east-1")
    ami = ec2.describe_images()["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="app-data")
    iam = boto3.client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    iam.create_role(RoleName="app-role", AssumeRolePolicyDocument=json.dumps(trust))
    iam.create_user(UserName="ci-bot")
    iam.create_access_key(UserName="ci-bot")
    policy = tmp_path / "policy.yml"
    policy.write_text(ACTIONS_POLICY)
    out_dir = tmp_path / "out"
    run = subprocess.run(
        [
            str(custodian),
            "run",
            "--dryrun",
            "--cache-period",
            "0",
            "-s",
            str(out_dir),
            "--region",
            "us-east-1",
            str(policy),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "HOME": str(tmp_path)},
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    store = open_store(tmp_path / "store")
    report = import_proposals(store, [out_dir, policy])
    assert report.errors == [] and report.skipped == {"no_op_action": 1}
    got = {
        (p["source"]["generator"], p["change"]["kind"]): p["change"]
        for p in store.get_documents("proposals").values()
    }
    assert got[("ec2-stop", "compute.stop_or_terminate")] == {
        "account": "123456789012",
        "region": "us-east-1",
        "lookup": None,
        "kind": "compute.stop_or_terminate",
        "target": instance,
        "delta": {"action": "stop"},
        "fidelity": "exact",
    }
    assert got[("ec2-imdsv2", "setting.harden")]["delta"] == {"setting": "imdsv2_required"}
    flags = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
    assert got[("s3-block", "public_access.block")]["delta"] == dict.fromkeys(flags, True)
    assert got[("s3-partial-block", "public_access.block")]["delta"] == {"BlockPublicPolicy": True}
    boundary = got[("role-boundary", "iam.set_permissions_boundary")]
    assert boundary["target"] == "arn:aws:iam::123456789012:role/app-role"
    assert boundary["delta"] == {"boundary_arn": "arn:aws:iam::123456789012:policy/boundary"}
    assert got[("role-detach", "iam.detach_policy")]["delta"] == {
        "policy_arn": "arn:aws:iam::123456789012:policy/app-extra"
    }
    keys = got[("user-keys", "iam.revoke_credentials")]
    assert keys["target"] == "arn:aws:iam::123456789012:user/ci-bot"
    assert keys["delta"] == {"credential": "access_keys", "action": "deactivate"}
    assert not any(k[0] == "s3-tag-only" for k in got)


def test_a_run_that_really_executed_is_reported_as_done(
    custodian: Path, moto_server: str, tmp_path: Path
) -> None:
    """Custodian run without --dryrun against moto (a fake account: stopping its instance harms nothing):
    the output is a record of what ran, and the result says so instead of reading as a pending request."""
    ec2 = boto3.client("ec2", region_name="us-east-1")
    ami = ec2.describe_images()["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    policy = tmp_path / "policy.yml"
    policy.write_text("policies:\n  - name: ec2-stop\n    resource: aws.ec2\n    actions: [stop]\n")
    out_dir = tmp_path / "out"
    run = subprocess.run(
        [
            str(custodian),
            "run",
            "--cache-period",
            "0",
            "-s",
            str(out_dir),
            "--region",
            "us-east-1",
            str(policy),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "HOME": str(tmp_path)},
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert ec2.describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0]["State"][
        "Name"
    ] in ("stopping", "stopped")
    store = open_store(tmp_path / "store")
    collect_mod.ingest_aws(store, regions=["us-east-1"])
    report = import_proposals(store, [out_dir, policy])
    assert report.errors == []
    (p,) = store.get_documents("proposals").values()
    assert p["source"]["dryrun"] is False and p["source"]["executed"]["by"] == "cloud-custodian"
    assert p["source"]["executed"]["at"].startswith("20") and p["source"]["executed"]["execution_id"]
    from datetime import UTC, datetime

    (r,) = api.score(store, as_of=datetime.now(UTC), save=False)["results"]
    assert any(
        n.startswith("already executed by cloud-custodian at ") and "without a gate pass" in n
        for n in r["notes"]
    )


ISOLATION_POLICY = """
policies:
  - name: ec2-quarantine
    resource: aws.ec2
    actions: [{type: modify-security-groups, remove: all, isolation-group: QUARANTINE}]
  - name: s3-tighten
    resource: aws.s3
    filters: [{Name: shared-data}]
    actions:
      - type: set-statements
        remove: [PartnerRead]
        statements:
          - Sid: DenyHttp
            Effect: Deny
            Action: "s3:GetObject"
            Principal: "*"
            Resource: "arn:aws:s3:::{bucket_name}/*"
            Condition: {Bool: {"aws:SecureTransport": false}}
  - name: s3-sse-s3
    resource: aws.s3
    filters: [{Name: shared-data}]
    actions: [{type: set-bucket-encryption}]
  - name: s3-sse-off
    resource: aws.s3
    filters: [{Name: shared-data}]
    actions: [{type: set-bucket-encryption, enabled: false}]
"""


def test_isolation_set_statements_and_sse_s3_become_exact_changes(
    custodian: Path, moto_server: str, tmp_path: Path
) -> None:
    """modify-security-groups with an isolation group sets each interface's groups as Custodian computes
    them; set-statements is the bucket's own policy less the removed statements plus the added ones (the
    {bucket_name} placeholder filled); set-bucket-encryption defaults to SSE-S3; turning encryption off
    is not a hardening and stays opaque."""
    ec2 = boto3.client("ec2", region_name="us-east-1")
    vpc = ec2.create_vpc(CidrBlock="10.70.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.70.1.0/24")["Subnet"]["SubnetId"]
    web = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc)["GroupId"]
    quarantine = ec2.create_security_group(GroupName="quarantine", Description="q", VpcId=vpc)["GroupId"]
    ami = ec2.describe_images()["Images"][0]["ImageId"]
    instance = ec2.run_instances(
        ImageId=ami, MinCount=1, MaxCount=1, SubnetId=subnet, SecurityGroupIds=[web]
    )["Instances"][0]
    eni = instance["NetworkInterfaces"][0]["NetworkInterfaceId"]
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="shared-data")
    partner = {
        "Sid": "PartnerRead",
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::210987654321:root"},
        "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::shared-data/*",
    }
    own = {
        "Sid": "OwnRead",
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
        "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::shared-data/*",
    }
    s3.put_bucket_policy(
        Bucket="shared-data", Policy=json.dumps({"Version": "2012-10-17", "Statement": [partner, own]})
    )
    policy = tmp_path / "policy.yml"
    policy.write_text(ISOLATION_POLICY.replace("QUARANTINE", quarantine))
    out_dir = tmp_path / "out"
    run = subprocess.run(
        [
            str(custodian),
            "run",
            "--dryrun",
            "--cache-period",
            "0",
            "-s",
            str(out_dir),
            "--region",
            "us-east-1",
            str(policy),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "HOME": str(tmp_path)},
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    store = open_store(tmp_path / "store")
    report = import_proposals(store, [out_dir, policy])
    assert report.errors == []
    got = {
        (p["source"]["generator"], p["change"]["target"]): p["change"]
        for p in store.get_documents("proposals").values()
    }
    isolate = got[("ec2-quarantine", eni)]
    assert (isolate["kind"], isolate["delta"], isolate["fidelity"]) == (
        "eni.replace_security_groups",
        {"groups": [quarantine]},
        "exact",
    )
    tighten = got[("s3-tighten", "arn:aws:s3:::shared-data")]
    assert tighten["kind"] == "resource_policy.remove_statements" and tighten["fidelity"] == "exact"
    statements = tighten["delta"]["new_document"]["Statement"]
    assert [st["Sid"] for st in statements] == ["OwnRead", "DenyHttp"]
    assert statements[1]["Resource"] == "arn:aws:s3:::shared-data/*"
    sse = got[("s3-sse-s3", "arn:aws:s3:::shared-data")]
    assert (sse["kind"], sse["delta"]) == (
        "setting.harden",
        {"setting": "s3_default_encryption", "sse": "AES256"},
    )
    assert got[("s3-sse-off", "arn:aws:s3:::shared-data")]["kind"] == "opaque.runbook"


def test_a_run_that_really_executed_is_in_review_as_ungated(
    custodian: Path, moto_server: str, demo_org: dict, tmp_path: Path
) -> None:
    """The non-dry run's output imported into the demo store: scoring records it in the ledger as an
    execution reported by Custodian (once, however often it is scored), and ``review`` lists it as a change
    that ran without a gate pass."""
    ec2 = boto3.client("ec2", region_name="us-east-1")
    ami = ec2.describe_images()["Images"][0]["ImageId"]
    ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1)
    policy = tmp_path / "policy.yml"
    policy.write_text("policies:\n  - name: ec2-stop\n    resource: aws.ec2\n    actions: [stop]\n")
    out_dir = tmp_path / "out"
    run = subprocess.run(
        [
            str(custodian),
            "run",
            "--cache-period",
            "0",
            "-s",
            str(out_dir),
            "--region",
            "us-east-1",
            str(policy),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "HOME": str(tmp_path)},
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    bw = demo_org["bw"]
    bw("propose", str(out_dir), str(policy))
    first = bw("score", "--format", "json")
    assert "recorded 1 execution(s) a remediation tool reports it already ran" in first.stderr
    again = bw("score", "--format", "json")
    assert "recorded" not in again.stderr  # one run, one execution record
    executed = [
        r for r in json.loads(first.stdout)["results"] if r["source"]["finding_id"].startswith("custodian:")
    ]
    assert len(executed) == 1
    items = json.loads(bw("review", "--since", "1d", "--format", "json").stdout)["executions"]
    (item,) = [i for i in items if i["proposal_id"] == executed[0]["proposal_id"]]
    assert item["reported_by"] == "cloud-custodian" and item["gate_passed_before_execution"] is False
    assert item["outcome"] == "applied"
