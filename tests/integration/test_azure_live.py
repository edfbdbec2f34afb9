"""Live collection from Azure Resource Manager through the Azure SDK's ARM pipeline, against a local fake of
the ARM list endpoints built from their documented shapes (tests/fake_arm.py). The credential is a fixed
token: Microsoft Entra ID cannot run here, so the token issuer is the one part stubbed (hence the name)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from analyzer import api
from analyzer.graph.store import open_store
from connectors.azure.exports import get_export, ingest_azure
from connectors.azure.live import ingest_azure_live
from tests import fake_arm

pytestmark = pytest.mark.integration

TENANT = Path(__file__).resolve().parents[1] / "data" / "azure" / "acme-tenant"
TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJub25lIn0.e30.fixed"


class StaticToken:
    """An azure-core TokenCredential that hands out one token (Entra ID is not reachable here)."""

    def __init__(self, token: str) -> None:
        self.token = token

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        assert scopes == ("https://management.azure.com/.default",)
        return AccessToken(self.token, 4102444800)


def _shape(store: Any) -> tuple[list[Any], list[Any]]:
    g = store.read_graph()
    nodes = sorted((n.id, n.kind, n.props) for n in g.nodes if not n.id.startswith("urn:ip:"))
    edges = sorted((e.src, e.kind, e.dst, e.key, e.props) for e in g.edges)
    return nodes, edges


def test_live_tenant_equals_the_exported_one_with_a_static_token_because_entra_id_cannot_run_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with fake_arm.serving(TENANT, TOKEN, tmp_path, page=1) as (url, cert, seen):
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))  # trust the fake's certificate, as for a proxy
        live = open_store(str(tmp_path / "live"))
        report = ingest_azure_live(
            live, seen="2026-05-15T00:00:00Z", credential=StaticToken(TOKEN), endpoint=url
        )
    assert report.warnings == []
    # every list was paged (one item per page) and asked with an api-version
    assert sum(p.endswith("/roleAssignments") for p in seen) == 2  # two assignments, two pages
    exported = open_store(str(tmp_path / "exported"))
    ingest_azure(exported, TENANT, seen="2026-05-15T00:00:00Z")
    assert _shape(live) == _shape(exported)
    snap = api.analysis_context(live).snap
    assert len(list(snap.edge_records("ASSIGNED"))) == 2


def test_a_list_the_credential_may_not_read_is_named_not_taken_as_empty(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    refuse = frozenset({"microsoft.authorization/denyassignments"})
    with fake_arm.serving(TENANT, TOKEN, tmp_path, refuse=refuse) as (url, cert, _):
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
        store = open_store(str(tmp_path / "s"))
        report = ingest_azure_live(
            store, seen="2026-05-15T00:00:00Z", credential=StaticToken(TOKEN), endpoint=url
        )
        (warning,) = report.warnings
        assert "Microsoft.Authorization/denyAssignments" in warning and "HTTP 403" in warning
        assert report.counts.get("deny_assignments", 0) == 0 and report.counts["role_assignments"] == 2
        # a wrong token: every list refused, each named; nothing loaded as if the tenant were empty
        other = open_store(str(tmp_path / "t"))
        refused = ingest_azure_live(
            other, seen="2026-05-15T00:00:00Z", credential=StaticToken("wrong"), endpoint=url
        )
    assert refused.warnings and all("HTTP 401" in w for w in refused.warnings)
    assert refused.counts == {}


def test_the_fake_serves_what_the_export_holds() -> None:
    """The fake's REST shapes flatten back to exactly the export (so the equality above compares the
    reader, not the fake)."""
    from connectors.azure.live import flatten

    def without_rg(value: Any) -> Any:  # the CLI adds resourceGroup; ARM's REST shape has none
        if isinstance(value, list):
            return [without_rg(v) for v in value]
        if isinstance(value, dict):
            return {k: without_rg(v) for k, v in value.items() if k != "resourceGroup"}
        return value

    export = get_export(TENANT)
    for kind, objs in export.objects.items():
        if kind in ("subscription", "management_group", "deny_assignment"):
            continue
        for obj, where in objs:
            assert flatten(fake_arm.rest_shape(obj)) == without_rg(obj), where
