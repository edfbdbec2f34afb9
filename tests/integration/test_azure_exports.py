"""An Azure tenant from `az -o json` exports (tests/data/azure/acme-tenant, hand-written from the CLI's
documented shapes), loaded into both stores by the one schema, then asked who may do what through the
RBAC engine: the graph holds exactly what decides access."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from analyzer import api
from analyzer.azure.graph import authorization
from analyzer.azure.rbac import Request, decide
from analyzer.demo import load_directory
from analyzer.errors import BadInput
from analyzer.graph.store import GraphStore, open_store
from connectors.azure.exports import ingest_azure
from tests.conftest import emptied

pytestmark = pytest.mark.integration

TENANT = Path(__file__).resolve().parents[1] / "data" / "azure" / "acme-tenant"
SUB = "4d1e9b2a-7c3f-4a5e-8b6d-0f1e2d3c4b5a"
RG = f"/subscriptions/{SUB}/resourcegroups/fraud-rg"
LAKE = f"{RG}/providers/microsoft.storage/storageaccounts/fraudlake"
SCORING_MI = "3e5f7a9b-1c2d-4e6f-8a0b-9c8d7e6f5a4b"
ENGINEERS = "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e"
BLOB_READ = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"


@pytest.fixture(scope="module", params=["sqlite", "neo4j"])
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> GraphStore:
    if request.param == "sqlite":
        uri = str(tmp_path_factory.mktemp("azure") / "store")
    else:
        uri = emptied(request.getfixturevalue("falkordb_server"))
    s = open_store(uri)
    report = ingest_azure(s, TENANT, seen="2026-05-15T00:00:00Z")
    assert report.counts["role_assignments"] == 2 and report.counts["nsgs"] == 1
    return s


def test_the_tenant_becomes_the_graph(store: GraphStore) -> None:
    snap = api.analysis_context(store).snap
    sub = snap.node(f"/subscriptions/{SUB}")
    assert sub is not None and sub.kind == "AzureSubscription" and sub.props["name"] == "fraud-prod"
    # the management group tree: subscription -> Finance -> the tenant root group
    (up,) = snap.edges_from("MEMBER_OF", f"/subscriptions/{SUB}")
    assert up.dst == "/providers/microsoft.management/managementgroups/finance"
    # the network: NIC -> subnet -> vnet, the NSG on the subnet, its rule as printed
    nic = f"{RG}/providers/microsoft.network/networkinterfaces/scoring-vm-nic"
    (subnet,) = snap.edges_from("IN_SUBNET", nic)
    assert [e.dst for e in snap.edges_from("IN_VPC", subnet.dst)] == [
        f"{RG}/providers/microsoft.network/virtualnetworks/fraud-vnet"
    ]
    (nsg,) = snap.edges_from("HAS_SECURITY_GROUP", subnet.dst)
    rules = snap.node(nsg.dst).props["rules"]  # type: ignore[union-attr]
    assert [(r["name"], r["priority"], r["source"], r["destination_ports"]) for r in rules] == [
        ("allow-https-vnet", 100, ["VirtualNetwork"], ["443"])
    ]
    # the scoring VM's system-assigned identity: the principal, with the VM as its resource (its tags)
    mi = snap.node("urn:azure:principal:3e5f7a9b-1c2d-4e6f-8a0b-9c8d7e6f5a4b")
    assert mi is not None and mi.props["kind"] == "SystemAssignedIdentity"
    assert mi.props["resource"].endswith("/virtualmachines/scoring-vm") and mi.props["tags"]["cmdb_ci"]
    lake = snap.node(LAKE)
    assert lake is not None and lake.props["allow_blob_public_access"] is True and lake.account == SUB


def test_who_may_read_the_lake_is_decided_from_the_store(store: GraphStore) -> None:
    """The managed identity holds Storage Blob Data Reader on the account: it reads blobs of every
    container; the engineers' Contributor (a group: memberships not collected) reaches the control plane
    conditionally and never the data; the deployment stack's deny keeps everyone but the engineers from
    deleting in the resource group."""
    authz = authorization(api.analysis_context(store).snap)
    container = f"{LAKE}/blobServices/default/containers/features"

    def state(
        principal: str, action: str, resource: str, data: bool = False, groups: frozenset[str] | None = None
    ) -> str:
        return decide(Request(principal, groups, action, resource, data), authz).state

    assert state(SCORING_MI, BLOB_READ, container, True, frozenset()) == "allowed"
    assert state(SCORING_MI, "Microsoft.Storage/storageAccounts/write", LAKE, groups=frozenset()) == "denied"
    write = "Microsoft.Storage/storageAccounts/write"
    assert state("someone", write, LAKE) == "conditional"  # in fraud-engineers? not collected
    assert state("someone", write, LAKE, groups=frozenset({ENGINEERS})) == "allowed"
    assert state("someone", BLOB_READ, container, True, frozenset({ENGINEERS})) == "denied"
    delete = "Microsoft.Storage/storageAccounts/delete"
    assert (
        state("someone", delete, LAKE, groups=frozenset({ENGINEERS})) == "allowed"
    )  # excluded from the deny
    assert state("someone-else", delete, LAKE, groups=frozenset()) == "denied"


def test_load_directory_reads_the_azure_part_and_a_bad_export_names_its_file(tmp_path: Path) -> None:
    root = tmp_path / "tenant"
    shutil.copytree(TENANT, root / "azure")
    store = open_store(str(tmp_path / "store"))
    assert load_directory(store, root, seen="2026-05-15T00:00:00Z") == []
    assert store.get_node(LAKE) is not None
    (root / "azure" / "keyvault-list.json").write_text(
        json.dumps([{"id": "/subscriptions/x/vaults/v", "type": "Microsoft.KeyVault/vaults"}])
    )
    errors = load_directory(store, root, seen="2026-05-16T00:00:00Z")
    assert (
        len(errors) == 1
        and "keyvault-list.json#[0]" in errors[0]
        and "Microsoft.KeyVault/vaults" in errors[0]
    )
    assert store.get_node(LAKE) is not None  # what was loaded stays
    with pytest.raises(BadInput, match=r"no \*\.json"):
        ingest_azure(store, tmp_path / "empty-dir-that-does-not-exist", seen="2026-05-16T00:00:00Z")


def test_the_cli_loads_the_tenant_and_its_logs(tmp_path: Path) -> None:
    import subprocess

    from tests.conftest import blastwall_cmd

    store = str(tmp_path / "store")
    out = subprocess.run(
        [*blastwall_cmd(), "--store", store, "ingest", "azure", str(TENANT), "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(out.stdout)["counts"]["role_assignments"] == 2
    logs = TENANT.parent / "acme-tenant-logs"
    out = subprocess.run(
        [*blastwall_cmd(), "--store", store, "ingest", "azure-logs", str(logs)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.startswith("2 file(s):") and "2 storage_anonymous" in out.stdout
    again = subprocess.run(
        [*blastwall_cmd(), "--store", store, "ingest", "azure-logs", str(logs)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "0 file(s)" in again.stdout and "2 already ingested" in again.stdout  # nothing counted twice
    bad = subprocess.run(
        [*blastwall_cmd(), "--store", store, "ingest", "azure"], capture_output=True, text=True
    )
    assert bad.returncode == 2 and "give the exports' DIRECTORY, or --live" in bad.stderr
