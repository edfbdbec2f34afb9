"""Live collection through boto3 from a moto server over HTTP: three accounts of one organization, reached
through an assumed role, the same graph when the saved raw responses are replayed, and a refused call."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from analyzer import api
from analyzer.graph.store import open_store
from analyzer.scoring.assume import decide_assume, trust_statements
from connectors.aws import collect as collect_mod
from connectors.aws.snapshot import load_snapshot

pytestmark = pytest.mark.integration
ORG_ROLE = "OrganizationAccountAccessRole"


def _session(account: str, mgmt: str) -> Any:
    if account == mgmt:
        return boto3.session.Session(region_name="us-east-1")
    creds = boto3.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/{ORG_ROLE}", RoleSessionName="setup"
    )["Credentials"]
    return boto3.session.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name="us-east-1",
    )


@pytest.fixture
def org(moto_server: str) -> dict[str, str]:
    o = boto3.client("organizations")
    mgmt = o.create_organization(FeatureSet="ALL")["Organization"]["MasterAccountId"]
    for name in ("datalake", "legacy"):
        o.create_account(AccountName=name, Email=f"{name}@example.com")
    ids = {a["Name"]: a["Id"] for a in o.list_accounts()["Accounts"]}
    data, legacy = ids["datalake"], ids["legacy"]
    d = _session(data, mgmt)
    d.client("iam").create_role(
        RoleName="datalake-reader",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "Legacy",
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:aws:iam::{legacy}:root"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
        Tags=[{"Key": "cmdb_ci", "Value": "Enterprise Data Lake"}],
    )
    s3 = d.client("s3")
    s3.create_bucket(Bucket="curated-zone")
    s3.put_bucket_policy(
        Bucket="curated-zone",
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:aws:iam::{data}:role/datalake-reader"},
                        "Action": "s3:GetObject",
                        "Resource": "arn:aws:s3:::curated-zone/*",
                    }
                ],
            }
        ),
    )
    s3.put_bucket_tagging(
        Bucket="curated-zone", Tagging={"TagSet": [{"Key": "cmdb_ci", "Value": "Enterprise Data Lake"}]}
    )
    ec2 = d.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.10.0.0/16")["Vpc"]["VpcId"]
    sg = ec2.create_security_group(GroupName="workload", Description="w", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=sg,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}
        ],
    )
    iam = _session(legacy, mgmt).client("iam")
    iam.create_role(
        RoleName="legacy-etl-role",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "ec2.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )
    iam.put_role_policy(
        RoleName="legacy-etl-role",
        PolicyName="assume-reader",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "sts:AssumeRole",
                        "Resource": f"arn:aws:iam::{data}:role/datalake-reader",
                    }
                ],
            }
        ),
    )
    return {"mgmt": mgmt, "data": data, "legacy": legacy}


def test_collects_the_organization_and_replays_identically(org: dict[str, str], tmp_path: Path) -> None:
    live = open_store(tmp_path / "live")
    report = collect_mod.ingest_aws(live, save_raw=tmp_path / "raw", org_role=ORG_ROLE, regions=["us-east-1"])
    assert report.accounts == sorted(org.values()) and report.warnings == []
    raw = tmp_path / "raw" / org["data"]
    assert (raw / "global" / "iam-GetAccountAuthorizationDetails.json").exists()
    assert json.loads((raw / "global" / "s3-GetBucketTagging.json").read_text())["curated-zone"]["TagSet"]
    assert (tmp_path / "raw" / org["mgmt"] / "global" / "organizations-ListAccounts.json").exists()
    assert not (raw / "global" / "organizations-ListAccounts.json").exists()  # only the management account

    reader = f"arn:aws:iam::{org['data']}:role/datalake-reader"
    ctx = api.analysis_context(live)
    trust = trust_statements(reader, ctx.snap.node(reader).props["trust_policy"])  # type: ignore[union-attr]
    etl = f"arn:aws:iam::{org['legacy']}:role/legacy-etl-role"
    assert (
        decide_assume(ctx, etl, reader, trust).state == "allowed"
    )  # both sides allow, through the org's data
    assert ctx.ci_of.get("arn:aws:s3:::curated-zone") is None  # no CMDB loaded: nothing maps yet
    sgs = [n for n in ctx.snap.nodes if n.kind == "SecurityGroup" and n.account == org["data"]]
    assert any(p["FromPort"] == 443 for g in sgs for p in g.props["ingress"])

    replay = open_store(tmp_path / "replay")
    load_snapshot(replay, tmp_path / "raw", seen="2026-05-15T06:00:00Z")

    def shape(s: Any) -> tuple[list[Any], list[Any]]:
        g = s.read_graph()
        return [(n.id, n.kind, n.props) for n in g.nodes], [(e.src, e.kind, e.dst, e.key) for e in g.edges]

    assert shape(replay) == shape(live)


def test_refused_call_is_a_warning_and_marks_the_account_partial_mocked_refusal(
    org: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """moto does not enforce IAM here, so the refusal is injected: a botocore hook makes ListBuckets in the
    data account answer AccessDenied, exactly as AWS shapes that error."""
    from botocore.exceptions import ClientError

    from connectors.aws import session as session_mod

    real = session_mod.client_for

    def client_for(session: Any, service: str, region: str | None = None, host_prefix: bool = True) -> Any:
        c = real(session, service, region, host_prefix)
        if service == "s3":
            account = real(session, "sts").get_caller_identity()["Account"]
            if account == org["data"]:

                def refuse(**kwargs: Any) -> None:
                    raise ClientError(
                        {"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}, "ListBuckets"
                    )

                c.meta.events.register("before-call.s3.ListBuckets", refuse)
        return c

    monkeypatch.setattr(session_mod, "client_for", client_for)
    store = open_store(tmp_path / "s")
    report = collect_mod.ingest_aws(store, org_role=ORG_ROLE, regions=["us-east-1"])
    assert report.accounts == sorted(org.values())
    assert (
        len(report.warnings) == 1
        and org["data"] in report.warnings[0]
        and "s3-ListBuckets" in report.warnings[0]
    )
    docs = store.get_documents(collect_mod.COLLECTION)
    assert docs[org["data"]]["partial"] is True and docs[org["legacy"]]["partial"] is False
    assert any(n.id == f"arn:aws:iam::{org['data']}:role/datalake-reader" for n in store.read_graph().nodes)
    # a proposal on the partially collected account says so instead of looking safe
    from connectors.proposals import import_proposals

    reader = f"arn:aws:iam::{org['data']}:role/datalake-reader"
    finding = {
        "SchemaVersion": "2018-10-08",
        "Id": f"aa/{reader}/{org['legacy']}",
        "ProductArn": "arn:aws:securityhub:us-east-1::product/aws/access-analyzer",
        "GeneratorId": "aws/access-analyzer",
        "AwsAccountId": org["data"],
        "Types": ["Software and Configuration Checks/AWS Security Best Practices/External Access Granted"],
        "CreatedAt": "2026-05-15T05:00:00Z",
        "UpdatedAt": "2026-05-15T05:00:00Z",
        "Severity": {"Label": "HIGH"},
        "Title": "role allows cross-account access",
        "Description": "x",
        "Resources": [
            {"Type": "AwsIamRole", "Id": reader, "Details": {"Other": {"External Principal": org["legacy"]}}}
        ],
    }
    f = tmp_path / "finding.json"
    f.write_text(json.dumps({"Findings": [finding]}))
    assert import_proposals(store, [f]).errors == []
    (result,) = api.score(store)["results"]
    assert "partial_collection" in {u["reason"] for u in result["unknowns"]} and result["tier"] != "auto"


def test_last_accessed_jobs_are_polled_and_merged_stubbed_because_moto_lacks_them() -> None:
    """moto does not implement GenerateServiceLastAccessedDetails, so botocore's Stubber answers with the
    documented response shapes: a job in progress, then finished in two pages."""
    from botocore.stub import Stubber

    iam = boto3.client("iam", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    arn = "arn:aws:iam::111122223333:role/etl"
    done = {
        "JobStatus": "COMPLETED",
        "JobType": "SERVICE_LEVEL",
        "JobCreationDate": "2026-05-15T06:00:00Z",
        "JobCompletionDate": "2026-05-15T06:00:05Z",
    }
    with Stubber(iam) as stub:
        stub.add_response(
            "generate_service_last_accessed_details",
            {"JobId": "9f1c5e2a-7b3d-4e8f-a1b2-c3d4e5f60718"},
            {"Arn": arn},
        )
        stub.add_response(
            "get_service_last_accessed_details",
            {
                "JobStatus": "IN_PROGRESS",
                "JobCreationDate": "2026-05-15T06:00:00Z",
                "JobCompletionDate": "2026-05-15T06:00:00Z",
                "ServicesLastAccessed": [],
            },
            {"JobId": "9f1c5e2a-7b3d-4e8f-a1b2-c3d4e5f60718"},
        )
        stub.add_response(
            "get_service_last_accessed_details",
            done
            | {
                "ServicesLastAccessed": [
                    {
                        "ServiceName": "AWS Security Token Service",
                        "ServiceNamespace": "sts",
                        "LastAuthenticated": "2026-05-15T05:53:00Z",
                    }
                ],
                "IsTruncated": True,
                "Marker": "m2",
            },
            {"JobId": "9f1c5e2a-7b3d-4e8f-a1b2-c3d4e5f60718"},
        )
        stub.add_response(
            "get_service_last_accessed_details",
            done
            | {
                "ServicesLastAccessed": [{"ServiceName": "Amazon S3", "ServiceNamespace": "s3"}],
                "IsTruncated": False,
            },
            {"JobId": "9f1c5e2a-7b3d-4e8f-a1b2-c3d4e5f60718", "Marker": "m2"},
        )
        waits: list[float] = []
        out = collect_mod.last_accessed(iam, [arn], sleep=waits.append)
    assert waits == [0.5]
    assert [s["ServiceNamespace"] for s in out[arn]["ServicesLastAccessed"]] == ["sts", "s3"]
    assert out[arn]["JobStatus"] == "COMPLETED" and out[arn]["IsTruncated"] is False
