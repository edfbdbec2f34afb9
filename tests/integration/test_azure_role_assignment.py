"""Removing an Azure role assignment, scored end to end from exports: the tenant (tests/data/azure/
acme-tenant) and its Azure Monitor logs as diagnostic settings archive them (tests/data/azure/
acme-tenant-logs), through `load_directory`, then `azure.remove_role_assignment` proposals."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from analyzer import api
from analyzer.demo import load_directory
from analyzer.governance.tier_policy import load_policy
from analyzer.graph.store import GraphStore, open_store
from analyzer.scoring.blast import score_proposal
from analyzer.timeutil import parse_time

pytestmark = pytest.mark.integration

DATA = Path(__file__).resolve().parents[1] / "data" / "azure"
SUB = "4d1e9b2a-7c3f-4a5e-8b6d-0f1e2d3c4b5a"
RG = f"/subscriptions/{SUB}/resourcegroups/fraud-rg"
LAKE = f"{RG}/providers/microsoft.storage/storageaccounts/fraudlake"
MI = "urn:azure:principal:3e5f7a9b-1c2d-4e6f-8a0b-9c8d7e6f5a4b"
DEV = "urn:azure:principal:5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d"
READER_ASSIGNMENT = (
    f"{LAKE}/providers/Microsoft.Authorization/roleAssignments/6c1d2e3f-4a5b-4c6d-8e7f-0a1b2c3d4e5f"
)
GROUP_ASSIGNMENT = f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleAssignments/9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d"
AS_OF = "2026-05-15T00:00:00Z"
NIC = f"{RG}/providers/microsoft.network/networkinterfaces/scoring-vm-nic"


def _tenant(tmp: Path, with_logs: bool) -> Path:
    root = tmp / ("with-logs" if with_logs else "no-logs")
    shutil.copytree(DATA / "acme-tenant", root / "azure")
    if with_logs:
        shutil.copytree(DATA / "acme-tenant-logs", root / "azure-logs")
    return root


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> GraphStore:
    tmp = tmp_path_factory.mktemp("az-ra")
    s = open_store(str(tmp / "store"))
    assert load_directory(s, _tenant(tmp, True), seen=AS_OF) == []
    return s


def _remove(store: GraphStore, target: str) -> dict[str, Any]:
    proposal = {
        "proposal_id": "p-az",
        "source": {"format": "test", "finding_id": "f", "title": "t", "severity": "HIGH"},
        "change": {
            "kind": "azure.remove_role_assignment",
            "target": target,
            "delta": {},
            "fidelity": "exact",
        },
    }
    return score_proposal(proposal, api.analysis_context(store), load_policy(None), parse_time(AS_OF))


def test_the_logs_become_access_evidence_with_the_assignment_that_allowed_it(store: GraphStore) -> None:
    snap = api.analysis_context(store).snap
    got = {
        (e.src, e.dst, e.props["action"], e.props["assignment"], e.props["plane"], e.props["auth"], e.count)
        for e in snap.edge_records("OBSERVED_AZURE_ACCESS")
    }
    assert got == {
        (
            MI,
            LAKE,
            "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read",
            "6c1d2e3f4a5b4c6d8e7f0a1b2c3d4e5f",
            "data",
            "oauth",
            3,
        ),
        ("urn:ip:52.10.1.7", LAKE, "ListBlobs", "", "data", "accountkey", 1),  # a key's user is its address
        ("urn:ip:20.31.4.5", LAKE, "GetBlob", "", "data", "anonymous", 2),
        (NIC, LAKE, "GetBlob", "", "data", "accountkey", 1),  # a private address one NIC holds: the NIC
        (
            DEV,
            LAKE,
            "Microsoft.Storage/storageAccounts/write",
            "9a8b7c6d5e4f4a3b9c2d1e0f9a8b7c6d",
            "control",
            "oauth",
            1,
        ),
    }  # the refused GetBlob and the write's Start record are not uses


def test_removing_the_identitys_reader_role_severs_its_observed_reads(store: GraphStore) -> None:
    r = _remove(store, READER_ASSIGNMENT)
    (cut,) = r["severed"]
    assert (cut["consumer"], cut["provider"], cut["observed"], cut["events"]) == (
        MI,
        LAKE,
        True,
        3,
    )
    assert cut["access"].endswith("blobs/read") and cut["before"]["decision"] == "allowed"
    assert r["rollback"]["verified"] is True and r["tier"] != "auto"
    assert "no_evidence_coverage" not in {u["reason"] for u in r["unknowns"]}
    assert r["change"]["account"] == SUB


def test_removing_a_groups_role_severs_what_its_member_was_seen_doing(store: GraphStore) -> None:
    """The Activity Log names the group's assignment as what allowed the member's write: the member is
    known to be in the group for that request; which other members there are is unknown."""
    r = _remove(store, GROUP_ASSIGNMENT)
    observed = [(s["consumer"], s["access"]) for s in r["severed"] if s["observed"]]
    assert observed == [(DEV, "Microsoft.Storage/storageAccounts/write")]
    assert "group_members_unknown" in {u["reason"] for u in r["unknowns"]}


def test_an_assignment_that_is_not_there_is_missing_not_safe(store: GraphStore) -> None:
    r = _remove(
        store,
        f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleAssignments/00000000-1111-2222-3333-444444444444",
    )
    assert r["status"] == "target_missing" and r["tier"] != "auto"


def test_without_logs_the_lost_role_is_said_and_the_missing_evidence_too(tmp_path: Path) -> None:
    s = open_store(str(tmp_path / "store"))
    assert load_directory(s, _tenant(tmp_path, False), seen=AS_OF) == []
    r = _remove(s, READER_ASSIGNMENT)
    (cut,) = r["severed"]
    assert cut["observed"] is False and cut["access"] == "role Storage Blob Data Reader"
    reasons = {u["reason"] for u in r["unknowns"]}
    assert "no_evidence_coverage" in reasons and r["tier"] != "auto"
    assert "Azure Activity Log or storage resource log" in next(
        u["detail"] for u in r["unknowns"] if u["reason"] == "no_evidence_coverage"
    )


def test_the_cmdb_names_what_the_removal_reaches(tmp_path: Path) -> None:
    """A CMDB CSV maps the managed identity to the Fraud Scoring Engine and the account (its ARM id as the
    portal prints it, mixed case) to Fraud Lake Storage (its cmdb_ci tag names no CI of this CMDB); Fraud Detection depends on the engine. The
    engine's reads of the lake were never documented."""
    from connectors.cmdb.csvfile import ingest_cmdb_csv

    s = open_store(str(tmp_path / "store"))
    assert load_directory(s, _tenant(tmp_path, True), seen=AS_OF) == []
    lake_as_printed = (
        f"/subscriptions/{SUB}/resourceGroups/fraud-rg/providers/Microsoft.Storage/storageAccounts/fraudlake"
    )
    cmdb = tmp_path / "cmdb.csv"
    cmdb.write_text(
        "ci_id,name,class,criticality,owner,depends_on,aws_arns\n"
        "fraud-detection,Fraud Detection,business_service,critical,fraud,fraud-scoring,\n"
        f"fraud-scoring,Fraud Scoring Engine,application,high,fraud,,{MI}\n"
        f"fraud-lake,Fraud Lake Storage,application,high,data,,{lake_as_printed}\n"
    )
    ingest_cmdb_csv(s, cmdb, seen=AS_OF)
    r = _remove(s, READER_ASSIGNMENT)
    (cut,) = r["severed"]
    assert cut["consumer_cis"] == ["Fraud Scoring Engine"] and cut["provider_cis"] == ["Fraud Lake Storage"]
    assert cut["documented"] is False and r["undocumented_dependencies"] == 1
    assert "Fraud Detection" in {i["name"] for i in r["impacted_services"]}


def test_deleting_the_managed_identity_severs_all_it_does_and_cannot_be_undone(store: GraphStore) -> None:
    proposal = {
        "proposal_id": "p-mi",
        "source": {"format": "test", "finding_id": "f", "title": "t", "severity": "HIGH"},
        "change": {"kind": "azure.remove_managed_identity", "target": MI, "delta": {}, "fidelity": "exact"},
    }
    r = score_proposal(proposal, api.analysis_context(store), load_policy(None), parse_time(AS_OF))
    (cut,) = r["severed"]  # its reads of the lake; the role there is the same loss, not listed twice
    assert (cut["consumer"], cut["provider"], cut["observed"], cut["events"]) == (MI, LAKE, True, 3)
    assert r["rollback"]["verified"] is False and r["tier"] in ("approval", "cab")
    assert "rollback_unverified" in {u["reason"] for u in r["unknowns"]}
    missing = dict(proposal, change=dict(proposal["change"], target="urn:azure:principal:0000"))
    gone = score_proposal(missing, api.analysis_context(store), load_policy(None), parse_time(AS_OF))
    assert gone["status"] == "target_missing"


def test_a_groups_collected_members_decide_instead_of_unknown(tmp_path: Path) -> None:
    """With fraud-engineers' member list (az ad group member list), removing its Contributor assignment
    names the member seen writing and the member who never was, and nothing about membership stays
    unknown; a principal outside the group is decided not to be in it."""
    root = _tenant(tmp_path, True)
    shutil.copytree(DATA / "acme-tenant-groups" / "group-members", root / "azure" / "group-members")
    s = open_store(str(tmp_path / "store"))
    assert load_directory(s, root, seen=AS_OF) == []
    r = _remove(s, GROUP_ASSIGNMENT)
    assert [(x["consumer"], x["observed"]) for x in r["severed"]] == [(DEV, True)]
    assert "group_members_unknown" not in {u["reason"] for u in r["unknowns"]}
    assert any("7c8d9e0f-1a2b-4c3d-8e4f-5a6b7c8d9e0f" in n for n in r["notes"])
    from analyzer.azure.graph import authorization, memberships
    from analyzer.azure.rbac import Request, decide

    snap = api.analysis_context(s).snap
    inside, outside = memberships(snap, DEV)
    assert inside == {"0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e"} and outside == frozenset()
    stranger_in, stranger_out = memberships(snap, MI)
    write = Request(
        MI.removeprefix("urn:azure:principal:"),
        None,
        "Microsoft.Storage/storageAccounts/write",
        LAKE,
        False,
        stranger_in,
        stranger_out,
    )
    assert decide(write, authorization(snap)).state == "denied"  # not conditional: the list says it is not in


def test_a_management_group_assignment_reaches_the_requests_below_it(tmp_path: Path) -> None:
    """scope-overview: an assignment at a management group applies to its subscriptions and everything in
    them; removing it re-decides the requests made there (the identity's reads, allowed through it alone)."""
    import json

    root = _tenant(tmp_path, True)
    listed: list[dict[str, Any]] = json.loads((root / "azure" / "role-assignment-list.json").read_text())
    reader = next(a for a in listed if a["roleDefinitionName"] == "Storage Blob Data Reader")
    mg_scope = "/providers/Microsoft.Management/managementGroups/finance"
    at_mg = dict(
        reader,
        scope=mg_scope,
        id=f"{mg_scope}/providers/Microsoft.Authorization/roleAssignments/0a0b0c0d-1111-4222-8333-444455556666",
    )
    (root / "azure" / "role-assignment-list.json").write_text(
        json.dumps([a for a in listed if a is not reader] + [at_mg])
    )
    s = open_store(str(tmp_path / "store"))
    assert load_directory(s, root, seen=AS_OF) == []
    r = _remove(s, at_mg["id"])
    assert [(x["consumer"], x["provider"], x["observed"]) for x in r["severed"]] == [(MI, LAKE, True)]
