"""Many flows through Azure NSGs at once, with the semantics of ``analyzer.azure.nsg`` (which explains any
one).

Flows are columns over the distinct ends they name: per end its IPv4 address as an integer, whether it is
publicly routable, its application security groups; per flow the source and destination end, port and
protocol. Each NSG decides the flows it is on the path of (the source's interface and subnet NSGs
outbound, the destination's subnet and interface NSGs inbound), rule by rule in priority order, each rule
matched against all of them at once (tri-state: 2 matches, 1 cannot tell, 0 does not): the first certain
match decides, and the rules that could not be told before it must all have the same access, else the
answer is unknown. What depends on the NSG's side of the flow (the ``VirtualNetwork`` and ``Internet``
tags, known service tag prefixes) is computed per distinct virtual network (or tag table) and end, not per
flow. A flow is denied if any step denies it, unknown if any cannot tell, allowed otherwise.

>>> from analyzer.azure.nsg import Nsg, Rule
>>> allow = Rule("https", 100, "Inbound", "Allow", "Tcp", ("*",), (), ("*",), ("*",), (), ("443",))
>>> web = End("10.0.0.4", subnet_nsg=Nsg("n", (allow,)), vnet=("10.0.0.0/16",))
>>> decide_many([(End("20.50.1.9"), web, 443, "Tcp"), (End("20.50.1.9"), web, 22, "Tcp")]).tolist()
[2, 0]
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from analyzer.azure.nsg import LOAD_BALANCER, End, Nsg, T, U, _public

ALLOWED, UNKNOWN, DENIED = 2, 1, 0
ANY = {"*", "any", "0.0.0.0/0"}


def _interval(prefix: str) -> tuple[int, int] | None:
    try:
        net = ipaddress.ip_network(prefix.strip(), strict=False)
    except ValueError:
        return None
    if net.version != 4:
        return None
    return int(net.network_address), int(net.broadcast_address)


@dataclass
class _Ends:
    """The distinct ends of the flows, as columns."""

    ends: list[End]
    ip: np.ndarray  # IPv4 as an integer, -1 for IPv6 or an unparsable address
    public: np.ndarray
    lb: np.ndarray  # the Azure host's 168.63.129.16

    @classmethod
    def of(cls, ends: list[End]) -> _Ends:
        ip, public = [], []
        for e in ends:
            try:
                a = ipaddress.ip_address(e.ip)
            except ValueError:
                ip.append(-1)
                public.append(False)
                continue
            ip.append(int(a) if a.version == 4 else -1)
            public.append(_public(e.ip))
        ips = np.array(ip, np.int64)
        return cls(ends, ips, np.array(public, bool), ips == int(ipaddress.ip_address(LOAD_BALANCER)))

    def within(self, prefixes: Sequence[str]) -> np.ndarray:
        """Per end: its address is in one of ``prefixes`` (the scalar model's ``_in``)."""
        out = np.zeros(len(self.ends), bool)
        for p in prefixes:
            span = _interval(p)
            if span is not None:
                out |= (self.ip >= span[0]) & (self.ip <= span[1])
        v6 = np.flatnonzero(self.ip < 0)
        for k in v6.tolist():  # IPv6 (rare): one by one
            from analyzer.azure.nsg import _in

            try:
                out[k] = _in(self.ends[k].ip, prefixes)
            except ValueError:
                out[k] = False
        return out


class _Side:
    """Match tables of one NSG's side of its flows: per distinct home (virtual network, tags), the
    ``VirtualNetwork`` membership and known tags of every end."""

    def __init__(self, cols: _Ends, homes: list[End]) -> None:
        self.cols = cols
        keys: dict[tuple[tuple[str, ...], int], int] = {}
        self.home_of = np.array([keys.setdefault((h.vnet, id(h.tags)), len(keys)) for h in homes], np.int64)
        self.homes = {k: homes[i] for i, k in enumerate(self.home_of.tolist())}
        self.vnet_member = {k: cols.within(h.vnet) for k, h in self.homes.items()}
        self._tags: dict[tuple[int, str], np.ndarray | None] = {}

    def prefix(self, prefix: str, end: np.ndarray, home: np.ndarray) -> np.ndarray:
        """Tri-state of one source or destination prefix for ends ``end`` seen from homes ``home``."""
        p = prefix.strip()
        low = p.lower()
        n = len(end)
        if low in ANY:
            return np.full(n, T, np.int8)
        if low in ("virtualnetwork", "internet"):
            out = np.empty(n, np.int8)
            for k in np.unique(home).tolist():
                sel = home == k
                has_vnet = bool(self.homes[k].vnet)
                inside = self.vnet_member[k][end[sel]] if has_vnet else np.zeros(int(sel.sum()), bool)
                public = self.cols.public[end[sel]]
                if low == "virtualnetwork":
                    out[sel] = np.where(inside, T, np.where(has_vnet & public, 0, U))
                else:
                    out[sel] = np.where(inside, 0, np.where(public, T, U))
            return out
        if low == "azureloadbalancer":
            return np.where(self.cols.lb[end], T, 0).astype(np.int8)
        span = _interval(p)
        if span is not None:
            ip = self.cols.ip[end]
            return np.where((ip >= span[0]) & (ip <= span[1]), T, 0).astype(np.int8)
        if ":" in p:  # an IPv6 prefix: one by one, as the scalar model
            from analyzer.azure.nsg import _address

            return np.array(
                [
                    _address(p, self.cols.ends[e].ip, self.homes[h])
                    for e, h in zip(end.tolist(), home.tolist(), strict=True)
                ],
                np.int8,
            )
        out = np.empty(n, np.int8)  # a service tag: known where the home's tag table has it
        for k in np.unique(home).tolist():
            sel = home == k
            tags = self.homes[k].tags
            known = tags.get(p) or tags.get(low)
            if known is None:
                out[sel] = U
            else:
                key = (k, p)
                if key not in self._tags:
                    self._tags[key] = self.cols.within(known)
                member = self._tags[key]
                assert member is not None
                out[sel] = np.where(member[end[sel]], T, 0)
        return out


def _asg_member(cols: _Ends, names: tuple[str, ...], end: np.ndarray) -> np.ndarray:
    wanted = {a.lower() for a in names}
    per_end = np.array(
        [U if e.asgs is None else (T if wanted & {a.lower() for a in e.asgs} else 0) for e in cols.ends],
        np.int8,
    )
    return per_end[end]


def _ports(ranges: tuple[str, ...], port: np.ndarray) -> np.ndarray:
    out = np.zeros(len(port), bool)
    for r in ranges:
        r = r.strip()
        if r in ("*", "Any", "any"):
            return np.ones(len(port), bool)
        lo, _, hi = r.partition("-")
        try:
            out |= (port >= int(lo)) & (port <= int(hi or lo))
        except ValueError:
            continue
    return out


def _group(
    nsg: Nsg,
    direction: str,
    cols: _Ends,
    side: _Side,
    src: np.ndarray,
    dst: np.ndarray,
    home: np.ndarray,
    port: np.ndarray,
    proto: np.ndarray,
) -> np.ndarray:
    """One NSG's tri-state answer for one direction over its flows (columns already selected)."""
    n = len(src)
    result = np.full(n, -1, np.int8)
    pend_allow = np.zeros(n, bool)
    pend_deny = np.zeros(n, bool)
    asg_cache: dict[tuple[str, ...], np.ndarray] = {}

    def side_match(
        prefixes: tuple[str, ...], asgs: tuple[str, ...], end: np.ndarray, at: np.ndarray
    ) -> np.ndarray:
        if asgs:
            if asgs not in asg_cache:
                asg_cache[asgs] = _asg_member(cols, asgs, np.arange(len(cols.ends)))
            return asg_cache[asgs][end]
        out = np.zeros(len(end), np.int8)
        for p in prefixes:
            out = np.maximum(out, side.prefix(p, end, home[at]))
        return out

    for rule in nsg.ordered(direction):
        todo = np.flatnonzero(result < 0)
        if not len(todo):
            break
        rp = rule.protocol.strip()
        ok = _ports(rule.destination_ports, port[todo])
        if rp not in ("*", "Any", "any"):
            ok &= proto[todo] == rp.lower()
        at = todo[ok]
        if not len(at):
            continue
        s = side_match(rule.source, rule.source_asgs, src[at], at)
        m = np.where(
            s == 0, 0, np.minimum(s, side_match(rule.destination, rule.destination_asgs, dst[at], at))
        )
        allow = rule.access.lower() == "allow"
        certain = at[m == T]
        if len(certain):
            other = pend_deny[certain] if allow else pend_allow[certain]
            result[certain] = np.where(other, UNKNOWN, ALLOWED if allow else DENIED)
        maybe = at[m == U]
        if len(maybe):
            (pend_allow if allow else pend_deny)[maybe] = True
    return result


def decide_many(flows: Sequence[tuple[End, End, int, str]]) -> np.ndarray:
    """Tri-state per flow (0 denied, 1 unknown, 2 allowed), equal to ``nsg.decide`` on each."""
    n = len(flows)
    index: dict[int, int] = {}
    ends: list[End] = []
    for s, d, _, _ in flows:
        for e in (s, d):
            if id(e) not in index:
                index[id(e)] = len(ends)
                ends.append(e)
    cols = _Ends.of(ends)
    src = np.array([index[id(f[0])] for f in flows], np.int64)
    dst = np.array([index[id(f[1])] for f in flows], np.int64)
    port = np.array([f[2] for f in flows], np.int64)
    proto = np.array([f[3].strip().lower() for f in flows], dtype=object)
    denied = np.zeros(n, bool)
    unknown = np.zeros(n, bool)
    groups: dict[tuple[int, str], tuple[Nsg, list[int]]] = {}
    for i, (s, d, _, _) in enumerate(flows):
        for g, direction in (
            (s.nic_nsg, "Outbound"),
            (s.subnet_nsg, "Outbound"),
            (d.subnet_nsg, "Inbound"),
            (d.nic_nsg, "Inbound"),
        ):
            if g is not None:
                groups.setdefault((id(g), direction), (g, []))[1].append(i)
    side = _Side(cols, ends)  # the home of a step is one of the flow's ends: keyed per end
    for (_, direction), (g, members) in groups.items():
        idx = np.array(members, np.int64)
        home_end = dst[idx] if direction == "Inbound" else src[idx]
        got = _group(
            g, direction, cols, side, src[idx], dst[idx], side.home_of[home_end], port[idx], proto[idx]
        )
        denied[idx[got == DENIED]] = True
        unknown[idx[got == UNKNOWN]] = True
    return np.where(denied, DENIED, np.where(unknown, UNKNOWN, ALLOWED)).astype(np.int8)


__all__ = ["ALLOWED", "DENIED", "UNKNOWN", "decide_many"]
