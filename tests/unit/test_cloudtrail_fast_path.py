"""The fast path (schema-decoded records) and the general path (dicts) aggregate identically."""

import gzip
import json
from pathlib import Path

import msgspec

from connectors.evidence.cloudtrail import _LOG_DECODER, Aggregate, transform_records, transform_structs
from tests.conftest import SAMPLE

IDENTITIES = [
    {"type": "IAMUser", "arn": "arn:aws:iam::1:user/a", "accountId": "1"},
    {
        "type": "AssumedRole",
        "arn": "arn:aws:sts::1:assumed-role/r/s",
        "accountId": "1",
        "sessionContext": {"sessionIssuer": {"arn": "arn:aws:iam::1:role/r"}},
    },
    {"type": "AWSService", "invokedBy": "lambda.amazonaws.com"},
    {"type": "AWSAccount", "accountId": "2"},
    {"type": "Root", "accountId": "3", "arn": "arn:aws:iam::3:root"},
    {
        "type": "FederatedUser",
        "accountId": "4",
        "arn": "arn:aws:sts::4:federated-user/bob",
        "sessionContext": {"sessionIssuer": {"arn": "arn:aws:iam::4:user/bob"}},
    },
    {},
]


def _both(raw: bytes) -> tuple[Aggregate, Aggregate]:
    fast, slow = Aggregate(), Aggregate()
    transform_structs(_LOG_DECODER.decode(raw).Records, fast)
    transform_records(json.loads(raw)["Records"], slow, "f")
    return fast, slow


def _same(a: Aggregate, b: Aggregate) -> None:
    view = lambda g: {k: (e.count, e.first_seen, e.last_seen, e.props, e.account) for k, e in g.edges.items()}  # noqa: E731
    assert view(a) == view(b) and a.kinds == b.kinds and a.days == b.days and a.records == b.records


def test_sample_files_aggregate_the_same() -> None:
    for f in sorted((SAMPLE / "cloudtrail").rglob("*.json.gz"))[:40]:
        _same(*_both(gzip.decompress(f.read_bytes())))


def test_every_identity_type_and_shape_aggregates_the_same() -> None:
    recs = []
    for i, ident in enumerate(IDENTITIES):
        base = {"eventTime": f"2026-05-0{i + 1}T00:00:00Z", "userIdentity": ident, "awsRegion": "eu-west-1"}
        recs += [
            base
            | {
                "eventSource": "s3.amazonaws.com",
                "eventName": "GetObject",
                "requestParameters": {"bucketName": "b"},
            },
            base
            | {
                "eventSource": "sts.amazonaws.com",
                "eventName": "AssumeRole",
                "errorCode": "AccessDenied",
                "requestParameters": {"roleArn": "arn:aws:iam::9:role/x"},
            },
            base
            | {
                "eventSource": "kms.amazonaws.com",
                "eventName": "Decrypt",
                "resources": [{"ARN": "arn:aws:kms:eu-west-1:9:key/k", "type": "AWS::KMS::Key"}],
            },
            base | {"eventSource": "ec2.amazonaws.com", "eventName": "DescribeInstances"},
        ]
    _same(*_both(msgspec.json.encode({"Records": recs})))


def test_missing_required_fields_fall_back_to_the_general_path(tmp_path: Path) -> None:
    from connectors.evidence.cloudtrail import read_events

    f = tmp_path / "x.json"
    f.write_text(json.dumps({"Records": [{"eventName": "GetObject"}]}))
    records, problem = read_events(f)
    assert problem is None and isinstance(records[0], dict)  # the general path then names the missing field


def test_role_changes_are_who_changed_what_and_when_on_both_paths() -> None:
    """The incident's day in the sample: the CSPM's runbook rewriting datalake-reader's trust and the on-call
    engineer putting it back are ``OBSERVED_CHANGE`` evidence (not use of the role), the ETL's refusals
    ``OBSERVED_DENIED``; both paths agree."""
    day = (
        SAMPLE / "cloudtrail" / "AWSLogs" / "482510973311" / "CloudTrail" / "us-east-1" / "2026" / "05" / "12"
    )
    fast, slow = Aggregate(), Aggregate()
    for f in sorted(day.glob("*.json.gz")):
        raw = gzip.decompress(f.read_bytes())
        transform_structs(_LOG_DECODER.decode(raw).Records, fast)
        transform_records(json.loads(raw)["Records"], slow, "f")
    _same(fast, slow)
    reader = "arn:aws:iam::482510973311:role/datalake-reader"
    changes = {k[0]: e for k, e in fast.edges.items() if k[1] == "OBSERVED_CHANGE"}
    assert set(changes) == {
        "arn:aws:iam::482510973311:role/cspm-auto-remediation",
        "arn:aws:iam::482510973311:role/AWSReservedSSO_PlatformOnCall_5e1f0c2a9b7d4e31",
    }
    assert all(
        e.dst == reader and e.props == {"action": "iam:UpdateAssumeRolePolicy"} for e in changes.values()
    )
    assert (
        changes["arn:aws:iam::482510973311:role/cspm-auto-remediation"].first_seen == "2026-05-12T09:14:29Z"
    )
    denied = [e for k, e in fast.edges.items() if k[1] == "OBSERVED_DENIED" and k[2] == reader]
    assert [(e.src, e.count) for e in denied] == [("arn:aws:iam::739406228105:role/legacy-etl-role", 36)]
    # a role change is not use of the role
    assert not [k for k in fast.edges if k[1] in ("OBSERVED_CALL", "OBSERVED_ASSUME") and "cspm" in k[0]]


def test_security_group_changes_are_changes_of_the_group_on_both_paths() -> None:
    """``AuthorizeSecurityGroupIngress`` and its kin name the group by id (EC2 API reference: GroupId;
    ``ModifySecurityGroupRules`` under ``requestParameters.ModifySecurityGroupRulesRequest.GroupId``):
    the change lands on the group's node, in the record's region and account; a refused one is denied."""
    who = {
        "type": "AssumedRole",
        "arn": "arn:aws:sts::111122223333:assumed-role/ops/s",
        "accountId": "111122223333",
        "sessionContext": {"sessionIssuer": {"arn": "arn:aws:iam::111122223333:role/ops"}},
    }
    base = {"userIdentity": who, "eventSource": "ec2.amazonaws.com", "awsRegion": "eu-west-1"}
    base |= {"recipientAccountId": "111122223333"}
    recs = [
        base | {"eventTime": "2026-05-12T12:00:00Z", "eventName": "AuthorizeSecurityGroupIngress",
                "requestParameters": {"groupId": "sg-0abc", "ipPermissions": {"items": []}}},
        base | {"eventTime": "2026-05-12T12:05:00Z", "eventName": "RevokeSecurityGroupEgress",
                "requestParameters": {"groupId": "sg-0abc"}, "errorCode": "Client.UnauthorizedOperation"},
        # CloudTrail records this one's request nested (the path AWS's EventBridge patterns on it use)
        base | {"eventTime": "2026-05-12T12:07:00Z", "eventName": "ModifySecurityGroupRules",
                "requestParameters": {"ModifySecurityGroupRulesRequest": {"GroupId": "sg-0abc",
                    "SecurityGroupRule": {"SecurityGroupRuleId": "sgr-0def", "tag": 1}}}},
        base | {"eventTime": "2026-05-12T12:06:00Z", "eventName": "DescribeSecurityGroups",
                "requestParameters": {"groupId": "sg-0abc"}},
    ]  # fmt: skip
    fast, slow = _both(json.dumps({"Records": recs}).encode())
    _same(fast, slow)
    group = "arn:aws:ec2:eu-west-1:111122223333:security-group/sg-0abc"
    kinds = sorted((k[1], k[3]) for k in fast.edges if k[2] == group)
    assert kinds == [
        ("OBSERVED_CHANGE", "ec2:AuthorizeSecurityGroupIngress"),
        ("OBSERVED_CHANGE", "ec2:ModifySecurityGroupRules"),
        ("OBSERVED_DENIED", "ec2:RevokeSecurityGroupEgress"),
    ]
    assert fast.kinds[group] == ("SecurityGroup", "111122223333")
