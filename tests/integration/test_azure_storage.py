"""Defender for Cloud's storage recommendations, imported and scored end to end: the tenant and its
storage logs (tests/data/azure), the recommendations as `az security assessment list` prints them
(tests/data/proposals/defender-assessments.json)."""

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
from connectors.proposals import import_proposals

pytestmark = pytest.mark.integration

DATA = Path(__file__).resolve().parents[1] / "data"
SUB = "4d1e9b2a-7c3f-4a5e-8b6d-0f1e2d3c4b5a"
LAKE = f"/subscriptions/{SUB}/resourcegroups/fraud-rg/providers/microsoft.storage/storageaccounts/fraudlake"
AS_OF = "2026-05-15T00:00:00Z"


def _store(tmp: Path, with_logs: bool = True) -> GraphStore:
    root = tmp / "tenant"
    shutil.copytree(DATA / "azure" / "acme-tenant", root / "azure")
    if with_logs:
        shutil.copytree(DATA / "azure" / "acme-tenant-logs", root / "azure-logs")
    s = open_store(str(tmp / "store"))
    assert load_directory(s, root, seen=AS_OF) == []
    return s


def _score(store: GraphStore, delta: dict[str, Any]) -> dict[str, Any]:
    proposal = {
        "proposal_id": "p-st",
        "source": {"format": "test", "finding_id": "f", "title": "t", "severity": "MEDIUM"},
        "change": {"kind": "azure.storage_setting", "target": LAKE, "delta": delta, "fidelity": "exact"},
    }
    return score_proposal(proposal, api.analysis_context(store), load_policy(None), parse_time(AS_OF))


def test_defenders_public_access_fix_severs_the_partners_anonymous_reads(tmp_path: Path) -> None:
    store = _store(tmp_path)
    report = import_proposals(store, [DATA / "proposals" / "defender-assessments.json"])
    assert report.errors == []
    proposals = store.get_documents("proposals")
    kinds = sorted((p["change"]["kind"], p["change"]["fidelity"]) for p in proposals.values())
    assert kinds == [
        ("azure.storage_setting", "exact"),
        ("opaque.runbook", "opaque"),
    ]  # the Healthy one counted
    (fix,) = [p for p in proposals.values() if p["change"]["kind"] == "azure.storage_setting"]
    assert fix["change"]["target"] == LAKE and fix["change"]["delta"] == {"allow_blob_public_access": False}
    r = score_proposal(fix, api.analysis_context(store), load_policy(None), parse_time(AS_OF))
    (cut,) = r["severed"]
    assert (cut["consumer"], cut["access"], cut["observed"], cut["events"]) == (
        "urn:ip:20.31.4.5",
        "GetBlob (anonymous)",
        True,
        2,
    )
    assert r["rollback"]["verified"] is True and r["rollback"]["change"]["delta"] == {
        "allow_blob_public_access": True
    }
    assert r["tier"] != "auto"


def test_shared_key_off_severs_key_requests_and_not_the_identitys(tmp_path: Path) -> None:
    r = _score(_store(tmp_path), {"allow_shared_key_access": False})
    nic = f"/subscriptions/{SUB}/resourcegroups/fraud-rg/providers/microsoft.network/networkinterfaces/scoring-vm-nic"
    assert [(s["consumer"], s["access"]) for s in r["severed"]] == [
        (nic, "GetBlob (accountkey)"),  # the scoring VM, by its NIC's address
        ("urn:ip:52.10.1.7", "ListBlobs (accountkey)"),
    ]


def test_without_the_accounts_storage_logs_nobody_is_said_unaffected(tmp_path: Path) -> None:
    r = _score(_store(tmp_path, with_logs=False), {"allow_blob_public_access": False})
    assert r["severed"] == []
    assert "no_evidence_coverage" in {u["reason"] for u in r["unknowns"]} and r["tier"] != "auto"


def test_turning_public_access_on_is_exposure_and_asking_again_changes_nothing(tmp_path: Path) -> None:
    import json

    root = tmp_path / "closed"
    shutil.copytree(DATA / "azure" / "acme-tenant", root / "azure")
    accounts = json.loads((root / "azure" / "storage-account-list.json").read_text())
    accounts[0]["allowBlobPublicAccess"] = False
    (root / "azure" / "storage-account-list.json").write_text(json.dumps(accounts))
    store = open_store(str(tmp_path / "store"))
    assert load_directory(store, root, seen=AS_OF) == []
    opened = _score(store, {"allow_blob_public_access": True})
    assert [(x["principal"], x["access"]) for x in opened["exposure_added"]] == [
        ("anyone", "allow_blob_public_access")
    ]
    assert _score(store, {"allow_blob_public_access": False})["status"] == "already_applied"


def _firewall(store: GraphStore, delta: dict[str, Any]) -> dict[str, Any]:
    proposal = {
        "proposal_id": "p-fw",
        "source": {"format": "test", "finding_id": "f", "title": "t", "severity": "MEDIUM"},
        "change": {
            "kind": "azure.storage_network_rules",
            "target": LAKE,
            "delta": delta,
            "fidelity": "exact",
        },
    }
    return score_proposal(proposal, api.analysis_context(store), load_policy(None), parse_time(AS_OF))


def test_a_firewall_decides_each_request_by_where_it_came_from(tmp_path: Path) -> None:
    """Configure Azure Storage firewalls and virtual networks: with the default action Deny, a public
    address in an IP rule and a subnet in a virtual network rule (its service endpoint) are let in; the
    rest is refused."""
    store = _store(tmp_path)
    nic = f"/subscriptions/{SUB}/resourcegroups/fraud-rg/providers/microsoft.network/networkinterfaces/scoring-vm-nic"
    mi = "urn:azure:principal:3e5f7a9b-1c2d-4e6f-8a0b-9c8d7e6f5a4b"
    r = _firewall(store, {"default_action": "Deny", "ip_rules": ["20.31.4.0/24"]})
    cut = sorted((s["consumer"], s["access"]) for s in r["severed"])
    assert cut == [
        (nic, "GetBlob from 10.60.1.4"),
        (mi, "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read from 10.60.1.4"),
        ("urn:ip:52.10.1.7", "ListBlobs from 52.10.1.7"),
    ]  # the partner's anonymous reads from 20.31.4.5 stay in
    subnet = f"/subscriptions/{SUB}/resourcegroups/fraud-rg/providers/microsoft.network/virtualnetworks/fraud-vnet/subnets/scoring"
    r = _firewall(store, {"default_action": "Deny", "ip_rules": ["20.31.4.0/24"], "vnet_rules": [subnet]})
    assert [(s["consumer"], s["access"]) for s in r["severed"]] == [
        ("urn:ip:52.10.1.7", "ListBlobs from 52.10.1.7")
    ]
    assert r["rollback"]["verified"] is True and r["rollback"]["change"]["delta"]["default_action"] == "Allow"


def test_defender_alerts_and_policy_remediations_are_runbooks_never_safe(tmp_path: Path) -> None:
    store = _store(tmp_path)
    report = import_proposals(
        store, [DATA / "proposals" / "defender-alerts.json", DATA / "proposals" / "policy-remediations.json"]
    )
    assert report.errors == []
    got = sorted(
        (p["source"]["format"], p["change"]["kind"], p["change"]["target"])
        for p in store.get_documents("proposals").values()
    )
    tls_scope = f"/subscriptions/{SUB}"
    assert got == [
        ("defender", "opaque.runbook", LAKE),  # the active alert; the dismissed one counted
        ("policy_remediation", "opaque.runbook", tls_scope),  # a task whose resources were not listed
        ("policy_remediation", "opaque.runbook", LAKE),  # the pending deployment; the succeeded one not
    ]
    for p in store.get_documents("proposals").values():
        r = score_proposal(p, api.analysis_context(store), load_policy(None), parse_time(AS_OF))
        assert r["tier"] != "auto" and "opaque_change" in {u["reason"] for u in r["unknowns"]}
