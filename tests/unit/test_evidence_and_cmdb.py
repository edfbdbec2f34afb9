from pathlib import Path

import pytest

from analyzer.errors import BadInput
from connectors.cmdb import normalize_criticality
from connectors.cmdb.backstage import get_documents
from connectors.cmdb.backstage import transform as backstage_transform
from connectors.evidence.cloudtrail import Aggregate, principal_of, transform_records
from connectors.evidence.flowlogs import FlowAggregate, transform_lines


@pytest.mark.parametrize(
    ("raw", "norm"),
    [
        ("1 - most critical", "critical"),
        ("2 - somewhat critical", "high"),
        ("3 - less critical", "medium"),
        ("4 - not critical", "low"),
        ("", "unknown"),
        ("5 - bogus", "unknown"),
    ],
)
def test_servicenow_criticality(raw: str, norm: str) -> None:
    assert normalize_criticality(raw) == norm


@pytest.mark.parametrize(
    ("identity", "expected"),
    [
        ({"type": "IAMUser", "arn": "arn:aws:iam::1:user/a", "accountId": "1"}, "arn:aws:iam::1:user/a"),
        (
            {
                "type": "AssumedRole",
                "arn": "arn:aws:sts::1:assumed-role/r/s",
                "accountId": "1",
                "sessionContext": {"sessionIssuer": {"arn": "arn:aws:iam::1:role/r"}},
            },
            "arn:aws:iam::1:role/r",
        ),
        ({"type": "AWSService", "invokedBy": "lambda.amazonaws.com"}, "urn:aws:service:lambda.amazonaws.com"),
        ({"type": "AWSAccount", "accountId": "2"}, "arn:aws:iam::2:root"),
        ({"type": "Root", "accountId": "3", "arn": "arn:aws:iam::3:root"}, "arn:aws:iam::3:root"),
        (
            {
                "type": "FederatedUser",
                "accountId": "4",
                "arn": "arn:aws:sts::4:federated-user/bob",
                "sessionContext": {"sessionIssuer": {"arn": "arn:aws:iam::4:user/bob"}},
            },
            "arn:aws:iam::4:user/bob",
        ),
        ({}, "urn:aws:anonymous"),
    ],
)
def test_cloudtrail_attribution(identity: dict, expected: str) -> None:
    assert principal_of(identity)[0] == expected


def test_denied_calls_are_kept_apart() -> None:
    ident = {"type": "IAMUser", "arn": "arn:aws:iam::1:user/a", "accountId": "1"}
    rec = {
        "eventTime": "2026-05-01T00:00:00Z",
        "userIdentity": ident,
        "eventSource": "s3.amazonaws.com",
        "eventName": "GetObject",
        "requestParameters": {"bucketName": "b"},
        "recipientAccountId": "1",
    }
    tls = {"tlsDetails": {"tlsVersion": "TLSv1.2"}}
    agg = Aggregate()
    transform_records([rec | tls, rec | tls | {"errorCode": "AccessDenied"}], agg, "f")
    kinds = sorted(e.kind for e in agg.edges.values())
    assert kinds == ["OBSERVED_CALL", "OBSERVED_DENIED"]


def test_s3_calls_without_tls_details_are_recorded_apart() -> None:
    ident = {"type": "IAMUser", "arn": "arn:aws:iam::1:user/a", "accountId": "1"}
    rec = {
        "eventTime": "2026-05-01T00:00:00Z",
        "userIdentity": ident,
        "eventSource": "s3.amazonaws.com",
        "eventName": "PutObject",
        "requestParameters": {"bucketName": "b"},
        "recipientAccountId": "1",
    }
    agg = Aggregate()
    transform_records([rec, rec | {"tlsDetails": {"tlsVersion": "TLSv1.3"}}], agg, "f")
    by_kind = {e.kind: e.count for e in agg.edges.values()}
    assert by_kind == {"OBSERVED_CALL": 2, "OBSERVED_WITHOUT_TLS": 1}


def test_cloudtrail_record_without_time_is_named() -> None:
    with pytest.raises(BadInput, match=r"\$\.Records\[0\]\.eventTime"):
        transform_records([{"userIdentity": {}}], Aggregate(), "f.json")


def test_flowlogs_custom_header_and_bad_lines() -> None:
    lines = [
        "version vpc-id srcaddr dstaddr srcport dstport protocol start action flow-direction",
        "5 vpc-1 10.0.0.5 10.0.0.9 40000 5432 6 1746057600 ACCEPT egress",
        "5 vpc-1 10.0.0.9 10.0.0.5 5432 40000 6 1746057600 ACCEPT ingress",
        "5 vpc-1 10.0.0.5 too few",
        "5 vpc-1 198.51.100.1 10.0.0.9 5555 22 6 1746057600 REJECT ingress",
    ]
    agg = FlowAggregate()
    transform_lines(lines, "f.log", {"10.0.0.5": "eni-a", "10.0.0.9": "eni-b"}, "us-east-1", agg)
    flows = {(e.src, e.kind, e.dst, e.props["port"]): e.count for e in agg.edges.values()}
    assert flows[("eni-a", "OBSERVED_FLOW", "eni-b", "5432")] == 2  # request and response folded
    assert flows[("urn:ip:198.51.100.1", "OBSERVED_REJECT", "eni-b", "22")] == 1
    assert agg.skipped == ["f.log:4: expected 10 fields, found 5"]


def test_backstage_entities_and_dependencies(tmp_path: Path) -> None:
    f = tmp_path / "catalog-info.yaml"
    f.write_text("""\
apiVersion: backstage.io/v1alpha1
kind: System
metadata: {name: payments, annotations: {blastwall.io/criticality: high}}
spec: {owner: team-pay}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: ledger
  annotations: {blastwall.io/aws-arns: "arn:aws:iam::1:role/ledger"}
spec: {type: service, lifecycle: production, owner: team-pay, system: payments, dependsOn: ["resource:ledger-db"]}
""")
    b = backstage_transform(get_documents([f]), seen="2026-05-01T00:00:00Z")
    nodes = {n.id: n for n in b.nodes if not n.stub}
    assert nodes["urn:backstage:system:default/payments"].props["criticality"] == "high"
    assert nodes["urn:backstage:component:default/ledger"].props["aws_arns"] == ["arn:aws:iam::1:role/ledger"]
    deps = {(e.src, e.dst) for e in b.edges}
    assert ("urn:backstage:component:default/ledger", "urn:backstage:resource:default/ledger-db") in deps
    assert ("urn:backstage:system:default/payments", "urn:backstage:component:default/ledger") in deps
