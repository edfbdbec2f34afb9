"""The same events as a trail's log file, as ``lookup-events`` output and as CloudTrail Lake results."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from analyzer.graph.store import open_store
from connectors.evidence.cloudtrail import ingest_cloudtrail
from tests.conftest import SAMPLE


def _sample_records(n: int) -> list[dict]:
    f = sorted((SAMPLE / "cloudtrail" / "AWSLogs" / "482510973311").rglob("*.json.gz"))[0]
    recs = json.loads(gzip.decompress(f.read_bytes()))["Records"]
    return [r for r in recs if r["eventName"] == "AssumeRole"][:n]


def _edges(store_dir: Path, source: Path) -> list[tuple]:
    store = open_store(store_dir)
    report = ingest_cloudtrail(store, [source])
    assert report.errors == []
    return [(e.src, e.kind, e.dst, e.count, e.first_seen, e.last_seen) for e in store.read_graph().edges]


def test_lookup_events_and_lake_give_the_same_usage(tmp_path: Path) -> None:
    recs = _sample_records(5)
    trail = tmp_path / "trail.json"
    trail.write_text(json.dumps({"Records": recs}))
    lookup = tmp_path / "lookup.json"
    lookup.write_text(
        json.dumps(
            {
                "Events": [
                    {
                        "EventId": r["eventID"],
                        "EventName": r["eventName"],
                        "ReadOnly": "true",
                        "EventTime": r["eventTime"],
                        "EventSource": r["eventSource"],
                        "Username": r["userIdentity"]["principalId"].split(":")[-1],
                        "Resources": [
                            {
                                "ResourceType": "AWS::IAM::Role",
                                "ResourceName": r["requestParameters"]["roleArn"],
                            }
                        ],
                        "CloudTrailEvent": json.dumps(r),
                    }
                    for r in recs
                ]
            }
        )
    )
    lake = tmp_path / "lake.json"
    lake.write_text(
        json.dumps(
            {
                "QueryStatus": "FINISHED",
                "QueryStatistics": {"ResultsCount": len(recs)},
                "QueryResultRows": [
                    [
                        {"eventTime": r["eventTime"].replace("T", " ").replace("Z", ".000")},
                        {"eventSource": r["eventSource"]},
                        {"eventName": r["eventName"]},
                        {"awsRegion": r["awsRegion"]},
                        {"recipientAccountId": r["recipientAccountId"]},
                        {"userIdentity.type": r["userIdentity"]["type"]},
                        {"userIdentity.accountId": r["userIdentity"]["accountId"]},
                        {
                            "userIdentity.sessionContext.sessionIssuer.arn": r["userIdentity"][
                                "sessionContext"
                            ]["sessionIssuer"]["arn"]
                        },
                        {"roleArn": r["requestParameters"]["roleArn"]},
                    ]
                    for r in recs
                ],
            }
        )
    )
    expected = _edges(tmp_path / "a", trail)
    assert {e[1] for e in expected} == {"OBSERVED_ASSUME"} and sum(e[3] for e in expected) == 5
    assert _edges(tmp_path / "b", lookup) == expected
    assert _edges(tmp_path / "c", lake) == expected


def test_unknown_json_is_named(tmp_path: Path) -> None:
    f = tmp_path / "x.json"
    f.write_text('{"Items": []}')
    report = ingest_cloudtrail(open_store(tmp_path / "s"), [f])
    assert len(report.errors) == 1 and "not CloudTrail" in report.errors[0] and "x.json" in report.errors[0]
