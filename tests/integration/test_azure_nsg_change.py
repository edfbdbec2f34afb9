"""Changing an Azure NSG's rules, scored from the tenant's exports and its NSG flow logs (version 2, as
Network Watcher writes them: tests/data/azure/acme-tenant-flowlogs)."""

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
NSG = f"{RG}/providers/microsoft.network/networksecuritygroups/scoring-nsg"
NIC = f"{RG}/providers/microsoft.network/networkinterfaces/scoring-vm-nic"
AS_OF = "2026-05-15T00:00:00Z"
DENY_HTTPS = {
    "name": "deny-https-in",
    "priority": 90,
    "direction": "Inbound",
    "access": "Deny",
    "protocol": "Tcp",
    "sourceAddressPrefix": "*",
    "sourcePortRange": "*",
    "destinationAddressPrefix": "*",
    "destinationPortRange": "443",
}


def _store(tmp: Path, with_flows: bool = True) -> GraphStore:
    root = tmp / "tenant"
    shutil.copytree(DATA / "acme-tenant", root / "azure")
    if with_flows:
        shutil.copytree(DATA / "acme-tenant-flowlogs", root / "azure-flowlogs")
    s = open_store(str(tmp / "store"))
    assert load_directory(s, root, seen=AS_OF) == []
    return s


def _score(store: GraphStore, delta: dict[str, Any]) -> dict[str, Any]:
    proposal = {
        "proposal_id": "p-nsg",
        "source": {"format": "test", "finding_id": "f", "title": "t", "severity": "HIGH"},
        "change": {"kind": "azure.nsg_rules", "target": NSG, "delta": delta, "fidelity": "exact"},
    }
    return score_proposal(proposal, api.analysis_context(store), load_policy(None), parse_time(AS_OF))


def test_flow_logs_become_flows_between_the_nic_and_its_peers(tmp_path: Path) -> None:
    snap = api.analysis_context(_store(tmp_path)).snap
    flows = [
        (e.src, e.dst, e.props["protocol"], e.props["port"], e.count)
        for e in snap.edge_records("OBSERVED_FLOW")
    ]
    # each connection once (its Begin tuple), the denied attempt not a flow
    assert flows == [("urn:ip:10.60.2.9", NIC, "tcp", "443", 3)]


def test_a_deny_ahead_of_the_allow_severs_the_observed_connections(tmp_path: Path) -> None:
    r = _score(_store(tmp_path), {"authorize": [DENY_HTTPS]})
    (cut,) = r["severed"]
    assert (cut["consumer"], cut["provider"], cut["access"], cut["events"], cut["observed"]) == (
        "urn:ip:10.60.2.9",
        NIC,
        "tcp/443",
        3,
        True,
    )
    assert "deny-https-in" in cut["after"]["reason"]
    assert r["rollback"]["verified"] is True and r["rollback"]["change"]["delta"] == {
        "revoke": ["deny-https-in"]
    }


def test_revoking_the_allow_cuts_nothing_the_default_rule_still_allows(tmp_path: Path) -> None:
    """Network security groups overview: AllowVNetInBound (65000) lets the virtual network in on any port,
    so revoking the explicit VirtualNetwork allow changes no observed flow (10.60.2.9 is in the VNet)."""
    r = _score(_store(tmp_path), {"revoke": ["allow-https-vnet"]})
    assert r["severed"] == [] and r["rollback"]["verified"] is True
    assert "no_evidence_coverage" not in {u["reason"] for u in r["unknowns"]}


def test_without_flow_logs_nothing_is_said_to_flow(tmp_path: Path) -> None:
    r = _score(_store(tmp_path, with_flows=False), {"authorize": [DENY_HTTPS]})
    assert r["severed"] == [] and "no_evidence_coverage" in {u["reason"] for u in r["unknowns"]}
    assert r["tier"] != "auto"


def test_vnet_flow_logs_decide_it_too(tmp_path: Path) -> None:
    """VNet flow logs (the successor of NSG flow logs: per virtual network, times in milliseconds, a D state
    for what was denied) cover the NSG's interfaces through their network."""
    root = tmp_path / "tenant"
    shutil.copytree(DATA / "acme-tenant", root / "azure")
    shutil.copytree(DATA / "acme-tenant-vnetflowlogs", root / "azure-flowlogs")
    store = open_store(str(tmp_path / "store"))
    assert load_directory(store, root, seen=AS_OF) == []
    r = _score(store, {"authorize": [DENY_HTTPS]})
    assert [(s["consumer"], s["provider"], s["events"]) for s in r["severed"]] == [
        ("urn:ip:10.60.2.9", NIC, 2)
    ]
    assert "no_evidence_coverage" not in {u["reason"] for u in r["unknowns"]}
