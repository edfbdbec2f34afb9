"""The sample organization loaded into a real embedded store: mappings, evidence, snapshot reuse."""

from __future__ import annotations

from pathlib import Path

import pytest

from analyzer.demo import run_demo
from analyzer.graph.current import load_snapshot
from analyzer.graph.schema import Batch, NodeRow
from analyzer.graph.store import GraphStore, open_store
from analyzer.scoring.context import build_context


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> GraphStore:
    store, _ = run_demo(str(tmp_path_factory.mktemp("sample") / "store"))
    return store


def _names(store: GraphStore, resource: str) -> list[str]:
    ctx = build_context(load_snapshot(store), store.get_documents("coverage"))
    return [ctx.ci(c)["name"] for c in ctx.ci_of.get(resource, [])]


def test_resources_map_to_cis_by_tag_and_by_correlation_id(demo_store: GraphStore) -> None:
    assert _names(demo_store, "arn:aws:iam::739406228105:role/legacy-etl-role") == ["Legacy Fraud ETL"]
    # the bucket has a cmdb_ci tag *and* is the correlation_id of the same CI: one mapping, not two
    assert _names(demo_store, "arn:aws:s3:::acme-datalake-curated") == ["Enterprise Data Lake"]
    assert _names(demo_store, "arn:aws:iam::739406228105:role/legacy-ops-automation") == []


def test_correlation_id_alone_maps(tmp_path: Path, demo_store: GraphStore) -> None:
    snap = load_snapshot(demo_store)
    ctx = build_context(snap, {})
    ci = next(n for n in snap.nodes if n.props.get("correlation_id") == "arn:aws:s3:::acme-datalake-curated")
    assert ci.id in ctx.ci_of["arn:aws:s3:::acme-datalake-curated"]


def test_evidence_coverage_per_account(demo_store: GraphStore) -> None:
    cov = demo_store.get_documents("coverage")
    accounts = {d["account"] for d in cov.values() if d["source"] == "cloudtrail"}
    assert accounts == {"482510973311", "615294837560", "739406228105"}  # not the management account: unknown
    data = cov["cloudtrail/482510973311/us-east-1"]
    assert (data["from"], data["to"], len(data["days"])) == ("2026-05-01", "2026-05-14", 14)


def test_flow_logs_resolve_to_the_etl_eni(demo_store: GraphStore) -> None:
    snap = load_snapshot(demo_store)
    flows = snap.edge_records("OBSERVED_FLOW")
    assert flows and all(
        e.src.startswith("arn:aws:ec2:us-east-1:739406228105:network-interface/") for e in flows
    )
    # S3 over 443, and the old vendor's SFTP (22) that the ACL has blocked since (stale evidence)
    assert {(e.props["port"], e.dst.startswith("urn:ip:203.0.113.80")) for e in flows} == {
        ("443", False),
        ("22", True),
    }
    rejects = snap.edge_records("OBSERVED_REJECT")
    assert {e.props["port"] for e in rejects} == {"22"} and all(
        e.src.startswith("urn:ip:198.51.100.") for e in rejects
    )


def test_snapshot_is_reused_until_the_store_changes(demo_store: GraphStore) -> None:
    first = load_snapshot(demo_store)
    assert load_snapshot(demo_store) is first
    demo_store.load(Batch("test", nodes=[NodeRow("urn:test:new", "Resource")]), update_tag=1)
    second = load_snapshot(demo_store)
    assert second is not first and "urn:test:new" in second.index


def test_undocumented_ranks_the_fraud_feed_first(demo_store: GraphStore) -> None:
    from analyzer import api
    from analyzer.timeutil import parse_time

    rep = api.undocumented(demo_store, as_of=parse_time("2026-05-15T06:00:00Z"))
    first = rep["dependencies"][0]
    assert (first["consumer"], first["provider"]) == (
        "arn:aws:iam::739406228105:role/legacy-etl-role",
        "arn:aws:iam::482510973311:role/datalake-reader",
    )
    assert first["dependants_max_criticality"] == "critical" and "Fraud Detection" in first["dependants"]
    assert first["events"] == 3996  # every 5 minutes for 14 days, less the 36 refused in the incident
    # documented ones are not listed: the feature pipeline's own use of the data lake is in the CMDB
    assert not any(d["consumer"].endswith("fraud-feature-pipeline") for d in rep["dependencies"])
    # the ETL instance's flows are attributed to its CI through the instance it is attached to
    flows = [d for d in rep["dependencies"] if ":network-interface/" in d["consumer"]]
    assert flows and all(d["consumer_cis"] == ["Legacy Fraud ETL"] for d in flows)


def test_iam_last_accessed_is_evidence_per_service(demo_store: GraphStore) -> None:
    snap = load_snapshot(demo_store)
    last = {
        (e.src.rsplit("/", 1)[-1], e.props["namespace"]): e.last_seen
        for e in snap.edge_records("LAST_ACCESSED")
    }
    assert last[("legacy-etl-role", "sts")] == "2026-05-15T05:53:00Z"
    assert ("legacy-etl-role", "kms") not in last  # reported, never used: no edge
    assert ("fraud-scoring-engine", "dynamodb") in last


def test_flows_go_to_the_eni_that_held_the_address_at_the_time(tmp_path: Path) -> None:
    """The ETL's address moves to a new ENI between two snapshots: earlier flows stay with the old ENI."""
    import json
    import shutil

    from connectors.aws.snapshot import load_snapshot as load_aws
    from connectors.evidence.flowlogs import ingest_flowlogs
    from tests.conftest import SAMPLE

    first, second = tmp_path / "s1", tmp_path / "s2"
    shutil.copytree(SAMPLE / "aws", first)
    shutil.copytree(SAMPLE / "aws", second)
    f = second / "739406228105" / "us-east-1" / "ec2-DescribeNetworkInterfaces.json"
    data = json.loads(f.read_text())
    old = data["NetworkInterfaces"][0]["NetworkInterfaceId"]
    data["NetworkInterfaces"][0]["NetworkInterfaceId"] = "eni-0replacement00001"
    f.write_text(json.dumps(data))
    store = open_store(tmp_path / "store")
    load_aws(store, first, seen="2026-05-01T00:00:00Z")
    load_aws(store, second, seen="2026-05-10T00:00:00Z")
    ingest_flowlogs(store, [SAMPLE / "flowlogs"])
    flows = load_snapshot(store).edge_records("OBSERVED_FLOW")
    by_src = {e.src.rsplit("/", 1)[-1]: e for e in flows}
    assert by_src[old].last_seen < "2026-05-10" and by_src["eni-0replacement00001"].first_seen >= "2026-05-10"
    assert {n.id.rsplit("/", 1)[-1] for n in store.read_graph().nodes if n.kind == "NetworkInterface"} >= {
        old,
        "eni-0replacement00001",
    }
