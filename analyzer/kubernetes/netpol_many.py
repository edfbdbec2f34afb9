"""Many pod flows at once, with the semantics of ``analyzer.kubernetes.netpol`` (which explains any one).

A cluster's NetworkPolicies are compiled once against its pods: per direction, which pods some policy
isolates, and per rule the pods it applies to, what each pod is as a peer (tri-state: a selector matches
or not, an ``ipBlock`` against a pod's own address is unknown), the ``ipBlock`` address intervals (less
their ``except`` ranges) for ends outside the cluster, and its ports as intervals per protocol (a named
port unknown). Pods sharing a namespace and labels are one class, so selectors are evaluated per class,
not per pod. A flow is then decided by indexing: its pod end's rules, its other end's peer value, its port
in the rule's intervals; a rule allows with the minimum of peer and port, a direction with the maximum over
its rules (0 denied, 1 unknown, 2 allowed), a connection with the source's egress and the destination's
ingress.

>>> from analyzer.kubernetes.netpol import Pod, Policy
>>> pods = [Pod("a", "fraud", {"app": "scoring"}, ("10.0.0.1",)), Pod("b", "fraud", {"app": "alerts"}, ("10.0.0.2",))]
>>> deny_in = Policy("deny", "fraud", {"podSelector": {"matchLabels": {"app": "alerts"}}, "policyTypes": ["Ingress"]})
>>> cp = CompiledPolicies([deny_in], pods, {"fraud": {}})
>>> cp.decide_many(np.array([0, 1]), np.array([1, 0]), np.array([0, 0]), np.array([0, 0]),
...                np.array([8080, 8080]), np.array([6, 6])).tolist()
[0, 2]
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from analyzer.kubernetes.netpol import Pod, Policy
from analyzer.kubernetes.selectors import selects

PROTOCOLS = {"TCP": 6, "UDP": 17, "SCTP": 132}
"""The protocols a NetworkPolicy port names, as IP protocol numbers (flows carry the number)."""

DENIED, UNKNOWN, ALLOWED = 0, 1, 2


def protocol_number(name: str) -> int:
    """``TCP``/``tcp``/``6`` -> 6; a protocol a policy cannot name -> -1 (no port rule matches it)."""
    text = str(name).upper()
    if text.isdigit():
        return int(text)
    return PROTOCOLS.get(text, -1)


@dataclass(frozen=True)
class _Rule:
    targets: np.ndarray  # bool per pod: the policy selects it (for this direction)
    peer: np.ndarray  # int8 per pod class: the pod as a peer of the rule
    blocks: np.ndarray  # (k, 2) int64 IPv4 intervals an outside address matches; any when ``open_peers``
    open_peers: bool  # no from/to: every peer, inside or outside
    ports: tuple[tuple[int, int, int, int], ...]  # (protocol, lo, hi, value): value 2 a match, 1 named
    any_port: bool


def _v4_intervals(block: Mapping[str, Any]) -> list[tuple[int, int]]:
    """``cidr`` less every ``except`` range, as closed integer intervals (IPv4 only; IPv6 matches no
    IPv4 address, and an unparsable block matches nothing, as ``netpol`` decides)."""
    try:
        net = ipaddress.ip_network(str(block.get("cidr")), strict=False)
        holes = [ipaddress.ip_network(str(x), strict=False) for x in block.get("except") or []]
    except ValueError:
        return []
    if net.version != 4:
        return []
    spans = [(int(net.network_address), int(net.broadcast_address))]
    for h in holes:
        if h.version != 4:
            continue
        lo, hi = int(h.network_address), int(h.broadcast_address)
        cut: list[tuple[int, int]] = []
        for a, b in spans:
            if hi < a or lo > b:
                cut.append((a, b))
                continue
            if a < lo:
                cut.append((a, lo - 1))
            if hi < b:
                cut.append((hi + 1, b))
        spans = cut
    return spans


class CompiledPolicies:
    """A cluster's NetworkPolicies against its pods, for ``decide_many``.

    Parameters
    ----------
    policies : sequence of Policy
    pods : sequence of Pod
        Indexed by position: flows name their pod ends by these positions (-1: outside the cluster).
    namespaces : mapping
        Namespace name -> its labels (``kubernetes.io/metadata.name`` is added, as the API server does).
    """

    def __init__(
        self, policies: Sequence[Policy], pods: Sequence[Pod], namespaces: Mapping[str, Mapping[str, str]]
    ) -> None:
        self.n = len(pods)
        classes: dict[tuple[str, tuple[tuple[str, str], ...]], int] = {}
        self.pod_class = np.array(
            [classes.setdefault((p.namespace, tuple(sorted(p.labels.items()))), len(classes)) for p in pods],
            np.int64,
        ).reshape(-1)
        self.host = np.array([p.host_network for p in pods], bool).reshape(-1)
        members = list(classes)
        ns_labels = {
            ns: {**(namespaces.get(ns) or {}), "kubernetes.io/metadata.name": ns} for ns, _ in members
        }
        self.isolated: dict[str, np.ndarray] = {}
        self.rules: dict[str, list[_Rule]] = {}
        for direction, key, peers_key in (("Ingress", "ingress", "from"), ("Egress", "egress", "to")):
            isolated = np.zeros(len(members), bool)
            rules: list[_Rule] = []
            for policy in policies:
                if direction not in policy.types():
                    continue
                pod_sel = policy.spec.get("podSelector") or {}
                selected = np.array(
                    [ns == policy.namespace and selects(pod_sel, dict(labels)) for ns, labels in members],
                    bool,
                )
                isolated |= selected
                for rule in policy.spec.get(key) or []:
                    rules.append(self._rule(policy, rule, peers_key, members, ns_labels, selected))
            self.isolated[direction] = isolated
            self.rules[direction] = rules

    def _rule(
        self,
        policy: Policy,
        rule: Mapping[str, Any],
        peers_key: str,
        members: list[tuple[str, tuple[tuple[str, str], ...]]],
        ns_labels: Mapping[str, Mapping[str, str]],
        selected: np.ndarray,
    ) -> _Rule:
        peers = rule.get(peers_key) or []
        peer = np.full(len(members), ALLOWED if not peers else DENIED, np.int8)
        blocks: list[tuple[int, int]] = []
        for element in peers:
            if "ipBlock" in element:
                blocks += _v4_intervals(element["ipBlock"])
                np.maximum(peer, UNKNOWN, out=peer)  # a pod's own address against an ipBlock
                continue
            pod_sel, ns_sel = element.get("podSelector"), element.get("namespaceSelector")
            for i, (ns, labels) in enumerate(members):
                ns_ok = selects(ns_sel, ns_labels[ns]) if ns_sel is not None else ns == policy.namespace
                if ns_ok and (pod_sel is None or selects(pod_sel, dict(labels))):
                    peer[i] = ALLOWED
        ports: list[tuple[int, int, int, int]] = []
        for p in rule.get("ports") or []:
            proto = protocol_number(str(p.get("protocol") or "TCP"))
            value = p.get("port")
            if value is None:
                ports.append((proto, 0, 65535, ALLOWED))
            elif isinstance(value, str) and not value.isdigit():
                ports.append((proto, 0, 65535, UNKNOWN))  # a named port: the container's ports say
            else:
                lo = int(value)
                ports.append((proto, lo, int(p.get("endPort") or lo), ALLOWED))
        return _Rule(
            targets=selected,
            peer=peer,
            blocks=np.array(blocks, np.int64).reshape(-1, 2),
            open_peers=not peers,
            ports=tuple(ports),
            any_port=not rule.get("ports"),
        )

    def _direction(
        self,
        direction: str,
        me: np.ndarray,
        other: np.ndarray,
        other_ip: np.ndarray,
        port: np.ndarray,
        proto: np.ndarray,
    ) -> np.ndarray:
        """Tri-state of one direction for flows whose pod end is ``me`` (all >= 0)."""
        mine = self.pod_class[me]
        out = np.where(self.isolated[direction][mine], DENIED, ALLOWED).astype(np.int8)
        rules = self.rules[direction]
        if not rules:
            return out
        # the flows of each class of pod ends, so a rule visits only the flows of the pods it applies to
        order = np.argsort(mine, kind="stable")
        offsets = np.zeros(len(self.isolated[direction]) + 1, np.int64)
        np.cumsum(np.bincount(mine, minlength=len(offsets) - 1), out=offsets[1:])
        for r in rules:
            classes = np.flatnonzero(r.targets)
            if not len(classes):
                continue
            pos = np.concatenate([order[offsets[c] : offsets[c + 1]] for c in classes.tolist()])
            pos = pos[out[pos] < ALLOWED]
            if not len(pos):
                continue
            o = other[pos]
            if r.open_peers:
                peer = np.full(len(pos), ALLOWED, np.int8)
            else:
                ip = other_ip[pos]
                outside = np.zeros(len(pos), bool)
                for lo, hi in r.blocks.tolist():
                    outside |= (ip >= lo) & (ip <= hi)
                inside_peer = (
                    r.peer[self.pod_class[np.maximum(o, 0)]] if self.n else np.zeros(len(pos), np.int8)
                )
                peer = np.where(o >= 0, inside_peer, np.where(outside, ALLOWED, DENIED)).astype(np.int8)
            if r.any_port:
                ports = np.full(len(pos), ALLOWED, np.int8)
            else:
                ports = np.zeros(len(pos), np.int8)
                pp, pr_ = port[pos], proto[pos]
                for pr, lo, hi, value in r.ports:
                    hit = (pr_ == pr) & (pp >= lo) & (pp <= hi)
                    ports[hit] = np.maximum(ports[hit], value)
            out[pos] = np.maximum(out[pos], np.minimum(peer, ports))
        return out

    def decide_many(
        self,
        src: np.ndarray,
        dst: np.ndarray,
        src_ip: np.ndarray,
        dst_ip: np.ndarray,
        port: np.ndarray,
        proto: np.ndarray,
    ) -> np.ndarray:
        """Tri-state per flow (0 denied, 1 unknown, 2 allowed), equal to ``netpol.decide`` on each.

        Parameters
        ----------
        src, dst : int arrays
            Pod positions, -1 for an end outside the cluster.
        src_ip, dst_ip : int arrays
            IPv4 addresses as integers (used for an end outside the cluster; 0 when unknown).
        port, proto : int arrays
            Destination port and IP protocol number.
        """
        src, dst = np.asarray(src, np.int64), np.asarray(dst, np.int64)
        out = np.full(len(src), ALLOWED, np.int8)
        egress = np.full(len(src), ALLOWED, np.int8)
        ingress = np.full(len(src), ALLOWED, np.int8)
        s_pod, d_pod = src >= 0, dst >= 0
        s_host = np.zeros(len(src), bool)
        d_host = np.zeros(len(src), bool)
        if self.n:
            s_host[s_pod] = self.host[src[s_pod]]
            d_host[d_pod] = self.host[dst[d_pod]]
        e = s_pod & ~s_host
        if e.any():
            egress[e] = self._direction("Egress", src[e], dst[e], dst_ip[e], port[e], proto[e])
        i = d_pod & ~d_host
        if i.any():
            ingress[i] = self._direction("Ingress", dst[i], src[i], src_ip[i], port[i], proto[i])
        # as netpol.decide: a host-network source is unknown; else a denying egress; else a host-network
        # destination is unknown; else both directions
        out = np.minimum(egress, ingress)
        out = np.where(d_host & (egress != DENIED), UNKNOWN, out)
        out = np.where(s_host, UNKNOWN, out)
        return out.astype(np.int8)
