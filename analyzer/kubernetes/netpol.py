"""Kubernetes NetworkPolicy, decided the way the Kubernetes networking model defines it (Kubernetes
documentation, "Network Policies").

* A pod is isolated for ingress when some policy in its namespace selects it (``podSelector``) and has
  ``Ingress`` in its ``policyTypes``; for egress likewise (``policyTypes`` defaults to ``Ingress``, plus
  ``Egress`` when the policy has egress rules). A pod no policy isolates for a direction allows all of it.
* A connection from A to B is allowed when A's egress allows it and B's ingress allows it. An isolated
  direction allows exactly what the union of the rules of the policies selecting the pod allow: a rule
  matches when one of its peers matches (no ``from``/``to``: every peer) and one of its ports matches
  (no ``ports``: every port).
* A peer is ``podSelector`` (pods of the policy's namespace), ``namespaceSelector`` (every pod of the
  namespaces it selects), both in one element (pods matching the first in namespaces matching the
  second), or ``ipBlock`` (``cidr`` less its ``except`` ranges) for addresses outside the cluster.
  Whether an ``ipBlock`` matches a pod's own address is left to the network plugin: unknown.
* A port is a number (``endPort`` makes a range) and a ``protocol`` (default TCP); a named port is
  resolved through the pod's container ports, which the export may not hold: unknown.

Decisions are tri-state: ``allowed``, ``denied``, or ``unknown`` with the reason.

>>> pods = {"a": Pod("a", "fraud", {"app": "scoring"}, ("10.0.0.1",)), "b": Pod("b", "fraud", {"app": "alerts"}, ("10.0.0.2",))}
>>> deny_in = Policy("deny", "fraud", {"podSelector": {"matchLabels": {"app": "alerts"}}, "policyTypes": ["Ingress"]})
>>> decide([deny_in], {"fraud": {}}, pods["a"], pods["b"], "10.0.0.2", 8080, "TCP").state
'denied'
>>> allow = Policy("allow", "fraud", {"podSelector": {"matchLabels": {"app": "alerts"}},
...     "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "scoring"}}}], "ports": [{"port": 8080}]}]})
>>> decide([deny_in, allow], {"fraud": {}}, pods["a"], pods["b"], "10.0.0.2", 8080, "TCP").state
'allowed'
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from analyzer.kubernetes.selectors import selects


@dataclass(frozen=True)
class Pod:
    id: str
    namespace: str
    labels: Mapping[str, str]
    ips: tuple[str, ...]
    host_network: bool = False


@dataclass(frozen=True)
class Policy:
    name: str
    namespace: str
    spec: Mapping[str, Any]

    def types(self) -> set[str]:
        declared = self.spec.get("policyTypes")
        if declared:
            return set(declared)
        return {"Ingress"} | ({"Egress"} if self.spec.get("egress") else set())


@dataclass(frozen=True)
class Verdict:
    state: str  # allowed | denied | unknown
    reason: str
    policies: tuple[str, ...] = ()


def _isolating(policies: Sequence[Policy], pod: Pod, direction: str) -> list[Policy]:
    return [
        p
        for p in policies
        if p.namespace == pod.namespace
        and direction in p.types()
        and selects(p.spec.get("podSelector") or {}, pod.labels)
    ]


def _in_block(block: Mapping[str, Any], ip: str) -> bool:
    try:
        addr = ipaddress.ip_address(ip)
        if addr not in ipaddress.ip_network(str(block.get("cidr")), strict=False):
            return False
        return not any(addr in ipaddress.ip_network(str(x), strict=False) for x in block.get("except") or [])
    except ValueError:
        return False


def _peer(
    element: Mapping[str, Any],
    policy: Policy,
    other: Pod | None,
    other_ip: str,
    namespaces: Mapping[str, Mapping[str, str]],
) -> bool | None:
    """Whether one peer element matches the other end (None: unknown)."""
    if "ipBlock" in element:
        if other is not None:
            return None  # a pod's own address against an ipBlock: the plugin's choice
        return _in_block(element["ipBlock"], other_ip)
    if other is None:
        return False  # pod and namespace selectors select pods only
    pod_sel, ns_sel = element.get("podSelector"), element.get("namespaceSelector")
    if ns_sel is not None:
        ns_ok = selects(
            ns_sel,
            {**(namespaces.get(other.namespace) or {}), "kubernetes.io/metadata.name": other.namespace},
        )
    else:
        ns_ok = other.namespace == policy.namespace
    return ns_ok and (pod_sel is None or selects(pod_sel, other.labels))


def _port(ports: Sequence[Mapping[str, Any]] | None, port: int, protocol: str) -> bool | None:
    if not ports:
        return True
    unknown = False
    for p in ports:
        if str(p.get("protocol") or "TCP").upper() != protocol.upper():
            continue
        value = p.get("port")
        if value is None:
            return True
        if isinstance(value, str) and not value.isdigit():
            unknown = True  # a named port: the container's ports say which number
            continue
        lo = int(value)
        hi = int(p.get("endPort") or lo)
        if lo <= port <= hi:
            return True
    return None if unknown else False


def _direction(
    policies: Sequence[Policy],
    pod: Pod,
    direction: str,
    other: Pod | None,
    other_ip: str,
    port: int,
    protocol: str,
    namespaces: Mapping[str, Mapping[str, str]],
) -> Verdict:
    isolating = _isolating(policies, pod, direction)
    if not isolating:
        return Verdict("allowed", f"no policy isolates {pod.id.rsplit('/', 1)[-1]} for {direction.lower()}")
    key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    unknown: list[str] = []
    for p in isolating:
        for rule in p.spec.get(key) or []:
            peers = rule.get(peers_key)
            peer_ok: bool | None = not peers
            for element in peers or []:
                got = _peer(element, p, other, other_ip, namespaces)
                if got:
                    peer_ok = True
                    break
                if got is None:
                    peer_ok = None
            port_ok = _port(rule.get("ports"), port, protocol)
            if peer_ok and port_ok:
                return Verdict("allowed", f"{p.name} allows it", (p.name,))
            if peer_ok is not False and port_ok is not False:
                unknown.append(p.name)
    names = tuple(p.name for p in isolating)
    if unknown:
        return Verdict(
            "unknown", f"{', '.join(unknown)} may allow it (an ipBlock against a pod, or a named port)", names
        )
    return Verdict(
        "denied",
        f"{', '.join(names)} isolate {pod.id.rsplit('/', 1)[-1]} for {direction.lower()} and none allows it",
        names,
    )


def decide(
    policies: Sequence[Policy],
    namespaces: Mapping[str, Mapping[str, str]],
    src: Pod | None,
    dst: Pod | None,
    dst_ip: str,
    port: int,
    protocol: str,
    src_ip: str = "",
) -> Verdict:
    """A connection from ``src`` to ``dst`` (either may be outside the cluster: None, with its address)."""
    out = Verdict("allowed", "no pod end")
    for pod, direction, other, other_ip in ((src, "Egress", dst, dst_ip), (dst, "Ingress", src, src_ip)):
        if pod is None:
            continue
        if pod.host_network:
            return Verdict(
                "unknown", f"{pod.id.rsplit('/', 1)[-1]} uses its node's network: the plugin decides"
            )
        v = _direction(policies, pod, direction, other, other_ip, port, protocol, namespaces)
        if v.state == "denied":
            return v
        if v.state == "unknown" or out.state == "allowed":
            out = v
    return out
