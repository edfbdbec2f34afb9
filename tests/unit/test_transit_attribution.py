"""Flow ends behind a transit gateway: attributed where the attachment's route table leads, left as an
address (and counted) where the route table was not collected, and never to a VPC on the same gateway
that the table does not route to."""

from __future__ import annotations

from types import SimpleNamespace

from analyzer.network.transit import TransitRoutes
from connectors.evidence.attribution import FlowAttribution


def _eni(eni: str, vpc: str, ip: str) -> SimpleNamespace:
    return SimpleNamespace(
        id=f"arn:aws:ec2:us-east-1:111122223333:network-interface/{eni}",
        account="111122223333",
        props={"eni_id": eni, "vpc_id": vpc, "private_ips": [ip]},
    )


ENIS = [
    _eni("eni-app", "vpc-a", "10.0.1.9"),
    _eni("eni-b", "vpc-b", "10.1.1.4"),
    _eni("eni-c", "vpc-c", "10.1.1.4"),
]
REC = {"interface-id": "eni-app", "account-id": "111122223333"}


def test_routed_by_the_associated_table_only() -> None:
    routes = TransitRoutes(
        via={("tgw-1", "vpc-a"): frozenset({"vpc-b"})}, attached=frozenset({("tgw-1", "vpc-a")})
    )
    fa = FlowAttribution.build({}, ENIS, [], routes)
    src, dst = fa.ends(REC, "10.0.1.9", "10.1.1.4", None, "f:1")
    assert src.endswith("/eni-app") and dst.endswith("/eni-b")
    assert fa.counts["transit_vpc"] == 1 and fa.counts["interface"] == 1


def test_both_routed_is_ambiguous_and_unknown_tables_are_never_guessed() -> None:
    both = TransitRoutes(via={("tgw-1", "vpc-a"): frozenset({"vpc-b", "vpc-c"})})
    fa = FlowAttribution.build({}, ENIS, [], both)
    assert fa.ends(REC, "10.0.1.9", "10.1.1.4", None, "f:1")[1] == "urn:ip:10.1.1.4"
    assert fa.counts["ambiguous"] == 1
    unknown = TransitRoutes(maybe={("tgw-1", "vpc-a"): frozenset({"vpc-b"})})
    fa = FlowAttribution.build({}, ENIS[:2], [], unknown)  # only B holds it, but A's table is unknown
    assert fa.ends(REC, "10.0.1.9", "10.1.1.4", None, "f:1")[1] == "urn:ip:10.1.1.4"
    assert fa.counts["transit_routes_unknown"] == 1 and "f:1" in fa.examples["transit_routes_unknown"][0]
    fa = FlowAttribution.build({}, ENIS[:2], [])  # no gateway at all: out of reach, as before
    assert fa.ends(REC, "10.0.1.9", "10.1.1.4", None, "f:1")[1] == "urn:ip:10.1.1.4"
    assert fa.counts["out_of_reach"] == 1
