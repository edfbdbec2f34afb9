"""The vectorized NetworkPolicy decision equals the one-flow decision (``netpol.decide``, whose cases the
Kubernetes documentation gives: tests/unit/test_network_policy.py) on random clusters: pods of two
namespaces with random labels (some on the host network), random policies built from every construct the
model knows (pod, namespace and combined selectors with matchLabels and matchExpressions, ipBlock with
except, numbered, ranged and named ports, each protocol, policyTypes given or implied), and random flows
between pods and outside addresses."""

from __future__ import annotations

import ipaddress
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.kubernetes.netpol import Pod, Policy, decide
from analyzer.kubernetes.netpol_many import CompiledPolicies, protocol_number

NAMESPACES = {"fraud": {"team": "fraud"}, "ops": {"team": "ops", "env": "prod"}}
LABELS = {"app": ["scoring", "alerts", "batch"], "tier": ["api", "db"]}
OUTSIDE = ["10.0.9.1", "10.0.9.200", "192.168.1.5", "8.8.8.8"]

labels_st = st.fixed_dictionaries({}, optional={k: st.sampled_from(v) for k, v in LABELS.items()})
selector_st = st.one_of(
    st.just({}),
    st.builds(lambda m: {"matchLabels": m}, labels_st),
    st.builds(
        lambda k, op, vals: {"matchExpressions": [{"key": k, "operator": op, "values": vals}]},
        st.sampled_from(list(LABELS)),
        st.sampled_from(["In", "NotIn"]),
        st.lists(st.sampled_from(["scoring", "alerts", "api", "db"]), min_size=1, max_size=2),
    ),
    st.builds(
        lambda k, op: {"matchExpressions": [{"key": k, "operator": op}]},
        st.sampled_from(list(LABELS)),
        st.sampled_from(["Exists", "DoesNotExist"]),
    ),
)
ns_selector_st = st.one_of(
    st.just({}),
    st.builds(lambda t: {"matchLabels": {"team": t}}, st.sampled_from(["fraud", "ops"])),
    st.just({"matchLabels": {"kubernetes.io/metadata.name": "ops"}}),
)
peer_st = st.one_of(
    st.builds(lambda s: {"podSelector": s}, selector_st),
    st.builds(lambda s: {"namespaceSelector": s}, ns_selector_st),
    st.builds(lambda p, n: {"podSelector": p, "namespaceSelector": n}, selector_st, ns_selector_st),
    st.builds(
        lambda cidr, ex: {"ipBlock": {"cidr": cidr, **({"except": ex} if ex else {})}},
        st.sampled_from(["10.0.0.0/16", "10.0.9.0/24", "0.0.0.0/0", "192.168.0.0/16", "fd00::/8"]),
        st.lists(st.sampled_from(["10.0.9.128/25", "10.0.0.0/24", "192.168.1.0/24"]), max_size=2),
    ),
)
port_st = st.one_of(
    st.builds(
        lambda proto, port: {k: v for k, v in {"protocol": proto, "port": port}.items() if v is not None},
        st.sampled_from([None, "TCP", "UDP", "SCTP"]),
        st.one_of(st.none(), st.sampled_from([443, 8080, 53, "8080", "http"])),
    ),
    st.builds(lambda lo: {"port": lo, "endPort": lo + 100}, st.sampled_from([8000, 400])),
)
rule_st = st.fixed_dictionaries(
    {}, optional={"peers": st.lists(peer_st, max_size=3), "ports": st.lists(port_st, max_size=3)}
)


@st.composite
def policy_st(draw: Any, name: str) -> Policy:
    ingress = [r for r in draw(st.lists(rule_st, max_size=3))]
    egress = [r for r in draw(st.lists(rule_st, max_size=3))]
    spec: dict[str, Any] = {"podSelector": draw(selector_st)}
    if ingress:
        spec["ingress"] = [
            {"from": r["peers"], **({"ports": r["ports"]} if "ports" in r else {})}
            if "peers" in r
            else ({"ports": r["ports"]} if "ports" in r else {})
            for r in ingress
        ]
    if egress:
        spec["egress"] = [
            {"to": r["peers"], **({"ports": r["ports"]} if "ports" in r else {})}
            if "peers" in r
            else ({"ports": r["ports"]} if "ports" in r else {})
            for r in egress
        ]
    types = draw(st.sampled_from([None, ["Ingress"], ["Egress"], ["Ingress", "Egress"]]))
    if types:
        spec["policyTypes"] = types
    return Policy(name, draw(st.sampled_from(list(NAMESPACES))), spec)


@st.composite
def world_st(draw: Any) -> tuple[list[Pod], list[Policy], list[tuple[int, int, str, str, int, str]]]:
    n = draw(st.integers(1, 5))
    pods = [
        Pod(
            f"k8s://c/pods/p{i}",
            draw(st.sampled_from(list(NAMESPACES))),
            draw(labels_st),
            (f"10.0.0.{i + 1}",),
            draw(st.booleans()) and draw(st.booleans()),  # a host-network pod now and then
        )
        for i in range(n)
    ]
    policies = [draw(policy_st(f"np{i}")) for i in range(draw(st.integers(0, 6)))]
    outside = draw(st.permutations(OUTSIDE))
    ports = draw(st.lists(st.sampled_from([443, 8080, 8050, 53, 450]), min_size=1, max_size=3, unique=True))
    protos = draw(
        st.lists(st.sampled_from(["TCP", "UDP", "SCTP", "ICMP"]), min_size=1, max_size=2, unique=True)
    )
    flows = [  # every pair of ends (a pod, or an outside address) on every port and protocol drawn
        (a, b, outside[(a + 1) % len(outside)], outside[(b + 2) % len(outside)], port, proto)
        for a in range(-1, n)
        for b in range(-1, n)
        for port in ports
        for proto in protos
    ]
    return pods, policies, flows


@settings(max_examples=400, deadline=None)
@given(world_st())
def test_vectorized_decisions_equal_the_one_flow_decision(
    world: tuple[list[Pod], list[Policy], list[tuple[int, int, str, str, int, str]]],
) -> None:
    pods, policies, flows = world
    cp = CompiledPolicies(policies, pods, NAMESPACES)

    def ip_of(index: int, outside: str) -> str:
        return pods[index].ips[0] if index >= 0 else outside

    got = cp.decide_many(
        np.array([f[0] for f in flows]),
        np.array([f[1] for f in flows]),
        np.array([int(ipaddress.ip_address(ip_of(f[0], f[2]))) for f in flows]),
        np.array([int(ipaddress.ip_address(ip_of(f[1], f[3]))) for f in flows]),
        np.array([f[4] for f in flows]),
        np.array([protocol_number(f[5]) for f in flows]),
    )
    states = ["denied", "unknown", "allowed"]
    for (s, d, s_out, d_out, port, proto), mine in zip(flows, got.tolist(), strict=True):
        one = decide(
            policies,
            NAMESPACES,
            pods[s] if s >= 0 else None,
            pods[d] if d >= 0 else None,
            ip_of(d, d_out),
            port,
            proto,
            ip_of(s, s_out),
        )
        assert states[mine] == one.state, (s, d, port, proto, one.reason)


def test_a_numbered_port_allows_whatever_named_port_sits_beside_it() -> None:
    """One rule, ports [8080, "http"] in either order: 8080 is allowed (the named port cannot take that
    away), 9090 unknown (it may be the container's "http")."""
    pods = [
        Pod("a", "fraud", {"app": "scoring"}, ("10.0.0.1",)),
        Pod("b", "fraud", {"app": "alerts"}, ("10.0.0.2",)),
    ]
    for ports in ([{"port": 8080}, {"port": "http"}], [{"port": "http"}, {"port": 8080}]):
        policy = Policy(
            "p", "fraud", {"podSelector": {"matchLabels": {"app": "alerts"}}, "ingress": [{"ports": ports}]}
        )
        cp = CompiledPolicies([policy], pods, NAMESPACES)
        got = cp.decide_many(
            np.array([0, 0]),
            np.array([1, 1]),
            np.array([0, 0]),
            np.array([0, 0]),
            np.array([8080, 9090]),
            np.array([6, 6]),
        )
        assert got.tolist() == [2, 1]
        assert [
            decide([policy], NAMESPACES, pods[0], pods[1], "10.0.0.2", p, "TCP").state for p in (8080, 9090)
        ] == ["allowed", "unknown"]
