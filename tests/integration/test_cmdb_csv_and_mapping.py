"""CMDB from CSV, an explicit mapping file, a configurable tag key, and the unmapped list."""

from __future__ import annotations

from pathlib import Path

import pytest

from analyzer import api
from analyzer.demo import run_demo
from analyzer.errors import BadInput
from analyzer.graph.store import open_store
from connectors.cmdb.csvfile import ingest_cmdb_csv, ingest_mapping

pytestmark = pytest.mark.integration


def test_csv_cmdb_and_mapping(tmp_path: Path) -> None:
    store, _ = run_demo(str(tmp_path / "store"))
    before = {r["id"] for r in api.unmapped(store)}
    assert "arn:aws:iam::739406228105:role/legacy-ops-automation" in before
    csv_file = tmp_path / "cmdb.csv"
    csv_file.write_text(
        "ci_id,name,class,criticality,owner,depends_on,aws_arns\n"
        "ops,Platform Operations,application,3 - less critical,platform-ops,,"
        "arn:aws:iam::739406228105:role/legacy-ops-automation\n"
        "ops-svc,Ops Portal,business_service,high,platform-ops,ops,\n"
    )
    ingest_cmdb_csv(store, csv_file, seen="2026-05-15T06:00:00Z")
    ctx = api.analysis_context(store)
    assert ctx.ci_names(ctx.ci_of["arn:aws:iam::739406228105:role/legacy-ops-automation"]) == [
        "Platform Operations"
    ]
    assert ("urn:cmdb-csv:ops-svc", "urn:cmdb-csv:ops") in ctx.documented
    assert ctx.snap.node("urn:cmdb-csv:ops-svc").kind == "BusinessService"  # type: ignore[union-attr]

    mapping = tmp_path / "map.csv"
    mapping.write_text(
        "resource,ci\narn:aws:iam::210987654321:role/old-vendor-audit,Ops Portal\n"
        "arn:aws:iam::1:role/x,No Such CI\n"
    )
    report = ingest_mapping(store, mapping)
    assert report.loaded == 1 and len(report.errors) == 1 and "map.csv:3" in report.errors[0]
    ctx = api.analysis_context(store)
    assert ctx.ci_names(ctx.ci_of["arn:aws:iam::210987654321:role/old-vendor-audit"]) == ["Ops Portal"]
    after = {r["id"] for r in api.unmapped(store)}
    assert after == before - {
        "arn:aws:iam::739406228105:role/legacy-ops-automation",
        "arn:aws:iam::210987654321:role/old-vendor-audit",
    }


def test_tag_key_is_configurable(tmp_path: Path) -> None:
    store, _ = run_demo(str(tmp_path / "store"))
    etl = "arn:aws:iam::739406228105:role/legacy-etl-role"
    assert etl in api.analysis_context(store).ci_of
    api.set_setting(store, "cmdb_tag_key", "ServiceNowCI")
    assert etl not in api.analysis_context(store).ci_of  # the sample tags with cmdb_ci, not ServiceNowCI
    with pytest.raises(BadInput, match="unknown setting"):
        api.set_setting(store, "nope", "x")


def test_csv_without_required_column_names_it(tmp_path: Path) -> None:
    f = tmp_path / "c.csv"
    f.write_text("name,class\nA,application\n")
    with pytest.raises(BadInput, match=r"c\.csv:1: missing column\(s\) ci_id"):
        ingest_cmdb_csv(open_store(tmp_path / "s"), f, seen="2026-05-15T06:00:00Z")
