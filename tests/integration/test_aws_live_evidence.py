"""Evidence read live through boto3 from a moto server over HTTP equals the same data read from files."""

from __future__ import annotations

import gzip
import time
from pathlib import Path

import boto3
import pytest

from analyzer.graph.store import open_store
from connectors.aws.snapshot import load_snapshot
from connectors.evidence.cloudtrail import ingest_cloudtrail
from connectors.evidence.flowlogs import ingest_flowlogs
from tests.conftest import SAMPLE, SAMPLE_AS_OF

pytestmark = pytest.mark.integration
DATA = "482510973311"


def _edges(store_dir: Path, kind_prefix: str = "OBSERVED") -> list[tuple]:
    g = open_store(store_dir).read_graph()
    return [
        (e.src, e.kind, e.dst, e.key, e.count, e.first_seen, e.last_seen)
        for e in g.edges
        if e.kind.startswith(kind_prefix)
    ]


def test_cloudtrail_from_s3_equals_files(moto_server: str, tmp_path: Path) -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="acme-org-cloudtrail")
    local = SAMPLE / "cloudtrail"
    for f in sorted((local / "AWSLogs" / DATA).rglob("*.json.gz")):
        s3.upload_file(str(f), "acme-org-cloudtrail", str(f.relative_to(local)))
    s3.put_object(
        Bucket="acme-org-cloudtrail",
        Key=f"AWSLogs/{DATA}/CloudTrail-Digest/us-east-1/x.json.gz",
        Body=gzip.compress(b"{}"),
    )
    live = ingest_cloudtrail(open_store(tmp_path / "live"), [f"s3://acme-org-cloudtrail/AWSLogs/{DATA}/"])
    files = ingest_cloudtrail(open_store(tmp_path / "files"), [local / "AWSLogs" / DATA])
    assert live.errors == [] and live.files == files.files > 0 and live.records == files.records
    assert _edges(tmp_path / "live") == _edges(tmp_path / "files")


def test_missing_bucket_is_named_and_nothing_written(moto_server: str, tmp_path: Path) -> None:
    store = open_store(tmp_path / "s")
    report = ingest_cloudtrail(store, ["s3://no-such-bucket/AWSLogs/"])
    assert len(report.errors) == 1 and "s3://no-such-bucket/AWSLogs/" in report.errors[0]
    assert len(store.read_graph().edges) == 0


def test_flow_logs_from_cloudwatch_logs_equal_files(moto_server: str, tmp_path: Path) -> None:
    logs = boto3.client("logs")
    logs.create_log_group(logGroupName="vpc-flow-logs")
    files = sorted((SAMPLE / "flowlogs").rglob("*.log.gz"))[:2]
    by_eni: dict[str, list[tuple[int, str]]] = {}
    for f in files:
        for line in gzip.decompress(f.read_bytes()).decode().splitlines()[1:]:
            parts = line.split()
            by_eni.setdefault(parts[2], []).append((int(parts[10]) * 1000, line))
    # CloudWatch Logs drops events older than 14 days: ingestion time is now, the records keep their own times
    now_ms = int(time.time() * 1000) - 60_000
    for eni, events in by_eni.items():
        logs.create_log_stream(logGroupName="vpc-flow-logs", logStreamName=f"{eni}-all")
        batch = [{"timestamp": now_ms + i, "message": m} for i, (_, m) in enumerate(sorted(events))]
        logs.put_log_events(logGroupName="vpc-flow-logs", logStreamName=f"{eni}-all", logEvents=batch)
    for name in ("live", "files"):
        load_snapshot(open_store(tmp_path / name), SAMPLE / "aws", seen=SAMPLE_AS_OF)
    live = ingest_flowlogs(open_store(tmp_path / "live"), ["logs://vpc-flow-logs"])
    from_files = ingest_flowlogs(open_store(tmp_path / "files"), files)
    assert live.errors == [] and live.records == from_files.records > 0
    assert _edges(tmp_path / "live") == _edges(tmp_path / "files")
    again = ingest_flowlogs(open_store(tmp_path / "live"), ["logs://vpc-flow-logs"])
    assert again.skipped_already_ingested == 1 and _edges(tmp_path / "live") == _edges(tmp_path / "files")
