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


class _Forgetful(dict):  # type: ignore[type-arg]
    """A memo that keeps nothing: every answer worked out anew."""

    def __setitem__(self, key: object, value: object) -> None:
        pass


def test_answers_kept_between_records_are_the_answers_worked_out_anew() -> None:
    """The attribution keeps, per address, what does not depend on a record's time (its one holder ever
    in the VPC in reach; the interfaces its history names). Records asking again, at other times, about an
    address held by one interface and one held by two in turn, get the same ends and tallies as without."""
    enis = [
        _eni("eni-app", "vpc-a", "10.0.1.9"),
        _eni("eni-db", "vpc-a", "10.0.1.20"),
        _eni("eni-new", "vpc-a", "10.0.1.30"),
        _eni("eni-peer", "vpc-b", "10.1.1.4"),
    ]
    history = {
        "10.0.1.30": {  # reassigned: eni-old until the 2nd, eni-new from the 3rd
            "holders": [
                {
                    "eni": "arn:aws:ec2:us-east-1:111122223333:network-interface/eni-old",
                    "vpc": "vpc-a",
                    "first_seen": "2026-05-01T00:00:00Z",
                    "last_seen": "2026-05-02T00:00:00Z",
                },
                {
                    "eni": "arn:aws:ec2:us-east-1:111122223333:network-interface/eni-new",
                    "vpc": "vpc-a",
                    "first_seen": "2026-05-03T00:00:00Z",
                    "last_seen": "2026-05-07T00:00:00Z",
                },
            ]
        }
    }
    records = []
    for day in (1, 2, 3, 4, 5):
        when = f"2026-05-0{day}T12:00:00Z"
        for src, dst in (
            ("10.0.1.9", "10.0.1.20"),  # egress from the capturing interface
            ("10.0.1.20", "10.0.1.9"),  # ingress to it
            ("10.0.1.9", "10.0.1.30"),  # to the reassigned address
            ("10.0.1.30", "10.0.1.9"),
            ("10.0.1.9", "10.1.1.4"),  # to a peered VPC
            ("10.0.1.9", "10.9.9.9"),  # to nothing known
        ):
            records.append((src, dst, when))
    kept = FlowAttribution.build(history, enis, [("vpc-a", "vpc-b")])
    anew = FlowAttribution.build(history, enis, [("vpc-a", "vpc-b")])
    anew._settled = _Forgetful()
    anew._holders = _Forgetful()
    for k, (src, dst, when) in enumerate(records):
        assert kept.ends(REC, src, dst, when, f"f:{k}") == anew.ends(REC, src, dst, when, f"f:{k}")
    assert kept.counts == anew.counts and kept.examples == anew.examples
    assert kept._settled and kept._holders  # it did keep answers
    got = [
        kept.ends(REC, "10.0.1.9", "10.0.1.30", w, "f")
        for w in ("2026-05-01T09:00:00Z", "2026-05-04T09:00:00Z")
    ]
    assert [g[1].rsplit("/", 1)[-1] for g in got] == ["eni-old", "eni-new"]  # time still decides
