"""Many flows through NSGs decided at once equal the one-flow decision (``nsg.decide``, whose cases the
Azure documentation gives: tests/unit/test_azure_nsg.py) on random NSGs: rules of random priority,
direction, access and protocol, with addresses, ranges, service tags (known and unknown) and application
security groups, on subnets and interfaces, between ends inside and outside the virtual network."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.azure.nsg import End, Nsg, Rule, decide
from analyzer.azure.nsg_many import decide_many

ADDRESSES = [
    "10.0.1.4",
    "10.0.1.5",
    "10.0.2.4",
    "10.8.0.4",
    "20.50.1.9",
    "168.63.129.16",
    "20.60.1.1",
    "192.168.5.5",
]
PREFIXES = [
    "*",
    "VirtualNetwork",
    "Internet",
    "AzureLoadBalancer",
    "Storage",
    "10.0.1.0/24",
    "10.0.0.0/16",
    "20.50.1.9",
    "20.60.0.0/16",
]
ASGS = ["asg-web", "asg-db"]
STATES = ["denied", "unknown", "allowed"]

rule_st = st.builds(
    lambda name, prio, direction, access, proto, src, src_asg, dst, dst_asg, ports: Rule(
        name,
        prio,
        direction,
        access,
        proto,
        () if src_asg else tuple(src),
        tuple(src_asg),
        ("*",),
        () if dst_asg else tuple(dst),
        tuple(dst_asg),
        tuple(ports),
    ),
    st.uuids().map(lambda u: u.hex[:6]),
    st.integers(100, 4096),
    st.sampled_from(["Inbound", "Outbound"]),
    st.sampled_from(["Allow", "Deny"]),
    st.sampled_from(["Tcp", "Udp", "*"]),
    st.lists(st.sampled_from(PREFIXES), min_size=1, max_size=2),
    st.lists(st.sampled_from(ASGS), max_size=1),
    st.lists(st.sampled_from(PREFIXES), min_size=1, max_size=2),
    st.lists(st.sampled_from(ASGS), max_size=1),
    st.lists(st.sampled_from(["443", "22", "80-90", "*", "5432"]), min_size=1, max_size=2),
)


@st.composite
def world_st(draw: Any) -> list[tuple[End, End, int, str]]:
    nsgs = [Nsg(f"nsg{i}", tuple(draw(st.lists(rule_st, max_size=5)))) for i in range(3)]
    pick = st.sampled_from([None, *nsgs])
    tags = draw(st.sampled_from([{}, {"Storage": ("20.60.0.0/16",)}]))
    ends = []
    for ip in ADDRESSES:
        inside = ip.startswith("10.")
        ends.append(
            End(
                ip,
                nic_nsg=draw(pick) if inside else None,
                subnet_nsg=draw(pick) if inside else None,
                asgs=draw(
                    st.sampled_from([None, frozenset(), frozenset({"asg-web"}), frozenset({"asg-db"})])
                ),
                vnet=("10.0.0.0/16", "10.8.0.0/16") if inside else (),
                tags=tags,
            )
        )
    return [
        (s, d, port, proto)
        for s in ends
        for d in ends
        if s is not d
        for port in (443, 22, 85)
        for proto in ("Tcp", "Udp")
    ]


@settings(max_examples=150, deadline=None)
@given(world_st())
def test_many_flows_decided_at_once_equal_each_decided_alone(flows: list[tuple[End, End, int, str]]) -> None:
    got = decide_many(flows).tolist()
    for (src, dst, port, proto), mine in zip(flows, got, strict=True):
        one = decide(src, dst, port, proto)
        assert STATES[mine] == one.state, (src.ip, dst.ip, port, proto, one.reason)
