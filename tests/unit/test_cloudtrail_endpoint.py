"""A call CloudTrail recorded through a VPC endpoint (``vpcEndpointId``, ``vpcEndpointAccountId``, as the
CloudTrail record contents reference documents them) ties the principal to that endpoint, keyed by action,
whichever decoder reads the file (the typed fast path and the plain one agree)."""

from __future__ import annotations

import json
from pathlib import Path

from analyzer.graph.store import open_store
from connectors.evidence.cloudtrail import Aggregate, ingest_cloudtrail, transform_records

ROLE = "arn:aws:iam::111122223333:role/reporting"


def _record(vpce: str | None) -> dict:
    rec = {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "AssumedRole",
            "arn": "arn:aws:sts::111122223333:assumed-role/reporting/job",
            "accountId": "111122223333",
            "sessionContext": {"sessionIssuer": {"type": "Role", "arn": ROLE, "accountId": "111122223333"}},
        },
        "eventTime": "2026-11-20T08:00:00Z",
        "eventSource": "s3.amazonaws.com",
        "eventName": "GetObject",
        "awsRegion": "eu-west-1",
        "sourceIPAddress": "10.1.2.3",
        "requestParameters": {"bucketName": "reports", "key": "a.csv"},
        "resources": [
            {"type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::reports", "accountId": "111122223333"}
        ],
        "recipientAccountId": "111122223333",
        "tlsDetails": {"tlsVersion": "TLSv1.3"},
    }
    if vpce:
        rec |= {"vpcEndpointId": vpce, "vpcEndpointAccountId": "444455556666"}
    return rec


def test_calls_through_an_endpoint_are_tied_to_it(tmp_path: Path) -> None:
    records = [_record("vpce-0a1b2c3d4e5f67890"), _record("vpce-0a1b2c3d4e5f67890"), _record(None)]
    (tmp_path / "trail.json").write_text(json.dumps({"Records": records}))
    store = open_store(tmp_path / "store")
    assert ingest_cloudtrail(store, [tmp_path / "trail.json"]).errors == []
    via = [e for e in store.read_graph().edges if e.kind == "OBSERVED_VIA_ENDPOINT"]
    assert [(e.src, e.dst, e.props["action"], e.count) for e in via] == [
        (ROLE, "arn:aws:ec2:eu-west-1:444455556666:vpc-endpoint/vpce-0a1b2c3d4e5f67890", "s3:GetObject", 2)
    ]
    plain = Aggregate()
    transform_records(records, plain, "trail.json")
    assert [k for k in plain.edges if k[1] == "OBSERVED_VIA_ENDPOINT"] == [
        (ROLE, "OBSERVED_VIA_ENDPOINT", via[0].dst, "s3:GetObject")
    ]


def test_the_address_a_call_came_from_is_kept_and_a_service_name_is_not(tmp_path: Path) -> None:
    """``sourceIPAddress`` is an address for a caller's host and a service's name when a service called
    on the principal's behalf (CloudTrail record contents: "sourceIPAddress")."""
    v6 = _record(None) | {"sourceIPAddress": "2001:db8:0:0::7"}
    service = _record(None) | {"sourceIPAddress": "athena.amazonaws.com"}
    internal = _record(None) | {"sourceIPAddress": "AWS Internal"}
    records = [_record(None), _record("vpce-0a1b2c3d4e5f67890"), v6, service, internal]
    (tmp_path / "trail.json").write_text(json.dumps({"Records": records}))
    store = open_store(tmp_path / "store")
    assert ingest_cloudtrail(store, [tmp_path / "trail.json"]).errors == []
    graph = store.read_graph()
    came_from = sorted((e.src, e.dst, e.count) for e in graph.edges if e.kind == "OBSERVED_FROM_ADDRESS")
    assert came_from == [(ROLE, "urn:ip:10.1.2.3", 2), (ROLE, "urn:ip:2001:db8::7", 1)]
    assert {n.kind for n in graph.nodes if n.id.startswith("urn:ip:")} == {"Address"}
    plain = Aggregate()
    transform_records(records, plain, "trail.json")
    assert sorted(
        (k[0], k[2], e.count) for k, e in plain.edges.items() if k[1] == "OBSERVED_FROM_ADDRESS"
    ) == [
        (ROLE, "urn:ip:10.1.2.3", 2),
        (ROLE, "urn:ip:2001:db8::7", 1),
    ]
