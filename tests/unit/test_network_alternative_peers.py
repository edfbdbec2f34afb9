"""The safer alternative to a security-group revoke keeps the observed peers: an address seen in flow logs,
or — for east-west traffic between two interfaces of the organization — the peer interface's private
addresses (it offered nothing for an interface peer before)."""

from __future__ import annotations

from analyzer.graph.schema import Batch, NodeRow
from analyzer.graph.snapshot import build_snapshot
from analyzer.scoring.blast import _peer_addresses
from analyzer.scoring.context import build_context
from tests.unit.test_trust_and_scoring import contents

ENI = "arn:aws:ec2:us-east-1:111111111111:network-interface/eni-0peer"


def test_peers_are_addresses_or_an_interfaces_private_addresses() -> None:
    b = Batch("t")
    b.nodes.append(
        NodeRow(
            ENI,
            "NetworkInterface",
            {"eni_id": "eni-0peer", "private_ips": ["10.1.2.3", "10.1.2.4"]},
            "111111111111",
        )
    )
    ctx = build_context(build_snapshot(contents(b)), {})
    assert _peer_addresses(ctx, "urn:ip:203.0.113.9") == ["203.0.113.9"]
    assert _peer_addresses(ctx, ENI) == ["10.1.2.3", "10.1.2.4"]
    assert _peer_addresses(ctx, "arn:aws:ec2:us-east-1:111111111111:network-interface/eni-unknown") == []
