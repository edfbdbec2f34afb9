"""The app's callbacks called as plain functions inside a request (no browser)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from analyzer.app.proxy_identity import ProxyConfig

STORY = "bw-87109988a633"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from analyzer.app import create_app
    from analyzer.demo import run_demo

    uri = str(tmp_path_factory.mktemp("cb") / "store")
    store, _ = run_demo(uri)
    store.close()
    yield create_app(uri, "header", proxy=ProxyConfig("plain"), app_key_dir=Path(uri) / "demo-keys")


def _text(component: Any) -> str:
    """All text under a Dash component tree (a grid's: its rows' values)."""
    if component is None:
        return ""
    if isinstance(component, str | int | float):
        return str(component)
    if isinstance(component, list | tuple):
        return " ".join(_text(c) for c in component)
    rows = getattr(component, "rowData", None)
    if isinstance(rows, list):
        return " ".join(str(v) for r in rows for v in r.values())
    return _text(getattr(component, "children", None))


def test_queue_page_callback(app: Any) -> None:
    from analyzer.app.pages import queue

    everything = [*queue.TIERS], [*queue.CRITICALITIES]
    with app.server.test_request_context("/"):
        got, summary = queue.rows({"startRow": 0, "endRow": 2}, None, *everything)
        assert (
            len(got["rowData"]) == 2 and got["rowCount"] == 6 and summary.startswith("6 scored proposal(s).")
        )
        cab = {"tier": {"filterType": "text", "type": "equals", "filter": "cab"}}
        got, summary = queue.rows({"startRow": 0, "endRow": 100, "filterModel": cab}, None, *everything)
        # the AWS story, the CSPM's run of the same fix three days before (it ran: the sentence says so),
        # the EKS one (an IRSA narrowing that cuts fraud-scoring) and the Azure one (Defender's shared-key
        # fix that cuts the model training's reads)
        assert [r["tier"] for r in got["rowData"]] == ["cab"] * 4 and "matching the column filters" in summary
        assert sorted(r["change"] for r in got["rowData"]) == [
            "azure.storage_setting",
            "iam.update_trust_policy",
            "iam.update_trust_policy",
            "iam.update_trust_policy",
        ]
        ran = [r for r in got["rowData"] if "already ran" in r["verdict"]]
        assert len(ran) == 1 and "aws-ssm-automation:ACME-CSPM-RestrictCrossAccountTrust" in ran[0]["verdict"]
        got, summary = queue.rows({"startRow": 0, "endRow": 100}, "fraud detection", *everything)
        assert [r["tier"] for r in got["rowData"]] == [
            "cab"
        ] * 4 and "matching the search 'fraud detection'" in summary
        got, summary = queue.rows({"startRow": 0, "endRow": 100}, None, ["approval"], ["none"])
        assert [r["tier"] for r in got["rowData"]] == ["approval", "approval"]
        assert "tier approval and worst impact none" in summary
        bad = {"tier": {"filterType": "set", "values": ["cab"]}}
        got, summary = queue.rows({"startRow": 0, "endRow": 100, "filterModel": bad}, None, *everything)
        assert got == {"rowData": [], "rowCount": 0} and "filter type 'set'" in summary


def test_explorer_callbacks(app: Any) -> None:
    from analyzer.app.pages import explorer

    with app.server.test_request_context("/explorer"):
        found = _text(explorer.search("role/datalake-reader"))
        assert "Who can assume it" in found and "legacy-etl-role" in found
        # a bucket: who can read and write its objects, decided by the bucket policy and identity policies
        bucket = _text(explorer.search("acme-datalake-curated"))
        assert (
            "Who can access it" in bucket and "datalake-reader" in bucket and "aws:SecureTransport" in bucket
        )
        # an instance: who can reach it, rule by rule, decided end to end
        instance = _text(explorer.search("legacy-etl-01"))
        assert "Who can reach it" in instance and "10.40.0.0/16" in instance
        # a workload of the sample's EKS cluster, and the IRSA role its service account gets
        deployment = _text(explorer.search("deployments/fraud-scoring"))
        assert "fraud-scoring" in deployment and "KubernetesWorkload" in deployment
        irsa = _text(explorer.search("role/eks-fraud-datalake"))
        assert "Who can assume it" in irsa
        # both pods' service accounts, decided with their token's sub and aud (not left conditional)
        for sa in ("serviceaccounts/fraud-scoring allowed", "serviceaccounts/fraud-batch allowed"):
            assert sa in irsa, irsa[irsa.find("Who can assume it") :]
        assert "Nothing matches" in _text(explorer.search("no-such-thing-anywhere"))
        assert "legacy-etl-role" in _text(explorer.undocumented("x"))


def test_review_and_audit_callbacks(app: Any) -> None:
    from analyzer.app.pages import audit, review

    with app.server.test_request_context("/review"):
        # the sample's week, ending at its scoring's time: the CSPM's run nobody asked Blastwall about
        result, tiers, quality, services, suggested = review.review_page("7d")
        text = _text(result)
        assert "1 execution(s) from 2026-05-08T06:00:00Z to 2026-05-15T06:00:00Z" in text
        assert "1 without a gate pass, 1 nobody asked Blastwall about, 1 with unpredicted breakage" in text
        assert "broke, NOT PREDICTED: legacy-etl-role -> datalake-reader: refused 36 time(s)" in text
        assert "would have said: tier CAB by rule critical-undocumented-dependency" in text
        bars = {t.name: dict(zip(t.x, t.y, strict=True)) for t in tiers.data}
        assert list(bars) == ["not asked"] and bars["not asked"]["2026-05-12"] == 1
        assert sum(bars["not asked"].values()) == 1 and len(bars["not asked"]) == 8  # every day of the week
        recall = next(t for t in quality.data if t.name == "recall")
        assert list(recall.x) == ["iam.update_trust_policy"] and list(recall.y) == [0.0]
        assert "Fraud Detection [critical]" in list(services.data[0].y)
        assert "without asking the gate" in _text(suggested)
        exported = audit.export(1, "json")
        assert (
            exported["filename"] == "blastwall-change-records.json"
            and '"change_records"' in exported["content"]
        )


def test_deciding_needs_a_user_and_the_role(app: Any, tmp_path: Path) -> None:
    from analyzer.app import data

    with app.server.test_request_context("/"):
        assert data.decide(STORY, True, "x").startswith("Sign in to decide")
    # roles come from the ledger: a header claiming a role gives none
    headers = {"X-Forwarded-User": "sam", "X-Forwarded-Groups": "change-advisory-board"}
    with app.server.test_request_context("/", headers=headers):
        refused = data.decide(STORY, True, "ok")
        assert refused.startswith("Refused:") and "sam holds no role in the ledger" in refused
    headers = {"X-Forwarded-User": "priya"}
    with app.server.test_request_context("/", headers=headers):
        assert data.decide(STORY, True, "").startswith("Refused:")  # a decision needs a comment
        assert data.decide(STORY, True, "ETL moved first").startswith("Approved by priya")


def test_proposal_page_renders_every_kind_of_result(tmp_path: Path) -> None:
    """The proposal page renders network, resource-policy and identity results, not only trust changes."""
    import yaml

    from analyzer.app import create_app
    from analyzer.demo import SAMPLE_AS_OF, run_demo
    from analyzer.graph.store import open_store
    from connectors.proposals import import_proposals

    uri = str(tmp_path / "store")
    store, _ = run_demo(uri)
    sample = Path(__file__).resolve().parents[2] / "data" / "samples" / "acme-fin"
    from connectors.evidence.flowlogs import ingest_flowlogs

    ingest_flowlogs(store, [str(sample / "flowlogs")])
    import json as _json

    sg = _json.loads((sample / "aws/739406228105/us-east-1/ec2-DescribeSecurityGroups.json").read_text())[
        "SecurityGroups"
    ][0]["GroupId"]
    f = tmp_path / "p.yaml"
    f.write_text(
        yaml.safe_dump(
            {
                "blastwall_proposals": 1,
                "proposals": [
                    {
                        "id": "N",
                        "title": "net",
                        "change": {
                            "kind": "sg.revoke_rules",
                            "target": sg,
                            "delta": {
                                "egress": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
                            },
                        },
                    },
                    {
                        "id": "R",
                        "title": "rp",
                        "change": {
                            "kind": "resource_policy.remove_statements",
                            "target": "arn:aws:s3:::acme-legacy-etl-output",
                            "delta": {"statement_ids": ["FraudPipelineRead"]},
                        },
                    },
                ],
            }
        )
    )
    ids = import_proposals(store, [f]).imported
    from analyzer import api
    from analyzer.timeutil import parse_time

    api.score(store, ids, as_of=parse_time(SAMPLE_AS_OF))
    store.close()
    app = create_app(uri, "header", proxy=ProxyConfig("plain"))
    from analyzer.app.pages import proposal  # pages register with the app: import after creating it

    for pid in ids:
        with app.server.test_request_context(f"/proposal/{pid}"):
            text = _text(proposal.layout(pid))
        assert "Rollback verified" in text and ("sg.revoke_rules" in text or "resource_policy" in text), pid
    assert open_store(uri) is not None


def test_the_lists_anchor_at_the_newest_scoring_without_reading_every_result(app: Any) -> None:
    from analyzer import api
    from analyzer.app.data import CONFIG_KEY
    from analyzer.graph.store import open_store

    store = open_store(app.server.config[CONFIG_KEY])
    last = store.get_document(api.SCORING, "last")
    try:
        assert last is not None and last["scored"] == 6
        assert api.iso(api.last_scoring_time(store)) == "2026-05-15T06:00:00Z"  # the demo's anchor
        store.delete_documents(api.SCORING, ["last"])  # a store scored before the record existed
        assert api.iso(api.last_scoring_time(store)) == "2026-05-15T06:00:00Z"
    finally:
        store.put_documents(api.SCORING, {"last": last})  # the module's other tests share the store
        store.close()
