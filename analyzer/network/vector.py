"""Many IPv4 flows at once, with the semantics of ``analyzer.network.decide`` (which explains any flow).

Flows are columns: source and destination ENI (index, or -1 for an address outside the snapshot), source
and destination IPv4 address, protocol, port. Security-group rules are compiled to integer intervals
(addresses, ports) per *endpoint class*: ENIs with the same groups share their rules, so flows are
grouped by the class of the endpoint whose groups decide and each group is one NumPy broadcast of its
flows against the class's rules. NACLs are evaluated per subnet in rule order (first match by
``argmax``); the ephemeral return range is split at the ACL's own port boundaries, so one representative
port per segment decides it exactly. Routes: longest prefix match per subnet. The cost grows with
classes, subnets and rules, not with pairs of endpoints.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from analyzer.network.addr import EPHEMERAL, is_private, parse_net
from analyzer.network.decide import F, T, U
from analyzer.network.model import NetModel

CHUNK = 200_000
_PRIV = [parse_net(c) for c in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")]


def private_mask(ip: np.ndarray) -> np.ndarray:
    out = np.zeros(ip.shape, bool)
    for n in _PRIV:
        out |= (ip >= n.lo) & (ip <= n.hi)
    return out


@dataclass
class Flows:
    src_eni: np.ndarray
    dst_eni: np.ndarray
    src_ip: np.ndarray
    dst_ip: np.ndarray
    proto: np.ndarray
    port: np.ndarray

    def __len__(self) -> int:
        return int(self.src_ip.shape[0])


class Compiled:
    """The model as arrays, compiled once per snapshot."""

    def __init__(self, m: NetModel) -> None:
        self.m = m
        self.eni_ids = list(m.enis)
        self.eni_index = {e: i for i, e in enumerate(self.eni_ids)}
        enis = [m.enis[e] for e in self.eni_ids]
        self.vpc_ids = sorted({e.vpc or "" for e in enis})
        self.subnet_ids = sorted({e.subnet or "" for e in enis})
        vcode = {v: i for i, v in enumerate(self.vpc_ids)}
        scode = {v: i for i, v in enumerate(self.subnet_ids)}
        # integer codes (an empty id keeps a code of its own; it never equals a real one)
        self.eni_vpc = np.array([vcode[e.vpc or ""] for e in enis], np.int64)
        self.eni_subnet = np.array([scode[e.subnet or ""] for e in enis], np.int64)
        self.eni_public = np.array([bool(e.public_ips) for e in enis], bool)
        classes: dict[tuple[str, ...], int] = {}
        self.eni_class = np.array(
            [classes.setdefault(tuple(sorted(e.groups)), len(classes)) for e in enis], np.int64
        )
        self.class_groups = list(classes)
        # group membership as sorted (eni * n_groups + group) codes: one searchsorted answers many flows
        self.group_index: dict[str, int] = {}
        codes = []
        for i, e in enumerate(enis):
            for g in e.groups:
                codes.append(i * 1_000_003 + self.group_index.setdefault(g, len(self.group_index)))
        self.pair_codes = np.unique(np.array(codes, np.int64))
        self.classes_of_group: dict[str, list[int]] = {}
        for c, gs in enumerate(self.class_groups):
            for g in gs:
                self.classes_of_group.setdefault(g, []).append(c)
        self.refs: list[str] = []  # shared by every derived compilation: rule tables index into it
        self._rules: dict[tuple[int, str], tuple[np.ndarray, ...]] = {}
        # a derived compilation (``with_group_rules``) reads the rule tables of the classes it did not
        # change from its base's and adds the ones it compiles there
        self._base: dict[tuple[int, str], tuple[np.ndarray, ...]] | None = None
        self._changed: frozenset[int] = frozenset()

    def with_group_rules(self, m: NetModel, changed: set[str]) -> Compiled:
        """This compilation for ``m``, a model that differs from this one only in the rules of the
        ``changed`` groups (same interfaces, same memberships): the arrays are shared and only the rule
        tables of classes holding a changed group are dropped, to be compiled again when asked."""
        out = copy.copy(self)
        out.m = m
        dropped = frozenset(c for g in changed for c in self.classes_of_group.get(g, ()))
        if self._base is None:
            out._base, out._changed, out._rules = self._rules, dropped, {}
        else:
            out._changed = self._changed | dropped
            out._rules = {k: v for k, v in self._rules.items() if k[0] not in dropped}
        return out

    def class_rules(self, c: int, direction: str) -> tuple[np.ndarray, ...]:
        """(proto, lo, hi, net_lo, net_hi, ref_index, unknown) for a class's rules in one direction;
        ``ref_index`` indexes ``self.refs``; net_lo = -1 for non-CIDR rules."""
        key = (c, direction)
        if key in self._rules:
            return self._rules[key]
        shared = self._base is not None and c not in self._changed
        if shared and self._base is not None and key in self._base:
            return self._base[key]
        rows: list[tuple[int, int, int, int, int, int, int]] = []
        missing = False
        for g in self.class_groups[c]:
            if g not in self.m.groups:
                missing = True
                continue
            for r in self.m.groups[g]:
                if r.direction != direction:
                    continue
                if r.broken:
                    rows.append((r.proto, r.lo, r.hi, -1, -1, -1, 1))
                elif r.net is not None:
                    if r.net.version == 4:
                        rows.append((r.proto, r.lo, r.hi, r.net.lo, r.net.hi, -1, 0))
                elif r.ref is not None:
                    if r.ref not in self.refs:
                        self.refs.append(r.ref)
                    rows.append((r.proto, r.lo, r.hi, -1, -1, self.refs.index(r.ref), 0))
                elif r.prefix_list is not None:
                    nets = self.m.prefix_lists.get(r.prefix_list)
                    if nets is None:
                        rows.append((r.proto, r.lo, r.hi, -1, -1, -1, 1))
                    else:
                        rows += [(r.proto, r.lo, r.hi, n.lo, n.hi, -1, 0) for n in nets if n.version == 4]
        arr = np.array(rows, dtype=np.int64).reshape(-1, 7)
        out = (*tuple(arr[:, i] for i in range(7)), np.array(missing))
        if shared and self._base is not None:
            self._base[key] = out
        else:
            self._rules[key] = out
        return out


def _port_ok(
    proto: np.ndarray, lo: np.ndarray, f_proto: np.ndarray, f_port: np.ndarray, hi: np.ndarray
) -> np.ndarray:
    """(flows x rules): protocol and port covered."""
    p_ok = (proto[None, :] == -1) | (proto[None, :] == f_proto[:, None])
    ported = np.isin(f_proto, [6, 17, 1, 58])[:, None]
    port_ok = (
        (proto[None, :] == -1)
        | (lo[None, :] == -1)
        | ~ported
        | ((lo[None, :] <= f_port[:, None]) & (f_port[:, None] <= hi[None, :]))
    )
    return p_ok & port_ok


def sg_tri(cm: Compiled, fl: Flows, side: str) -> np.ndarray:
    """Security groups on one side (``dst``: ingress of the destination; ``src``: egress of the source)."""
    n = len(fl)
    out = np.full(n, T, np.int8)
    own = fl.dst_eni if side == "dst" else fl.src_eni
    peer_eni = fl.src_eni if side == "dst" else fl.dst_eni
    peer_ip = fl.src_ip if side == "dst" else fl.dst_ip
    direction = "ingress" if side == "dst" else "egress"
    has = own >= 0
    cls = np.where(has, cm.eni_class[np.maximum(own, 0)], -1)
    order = np.argsort(cls, kind="stable")
    bounds = np.flatnonzero(np.diff(cls[order])) + 1
    for idx in np.split(order, bounds):
        if len(idx) == 0 or cls[idx[0]] < 0:
            continue
        proto, lo, hi, nlo, nhi, ref, unk, missing = cm.class_rules(int(cls[idx[0]]), direction)
        res = np.empty(len(idx), np.int8)
        for s in range(0, len(idx), CHUNK):
            ch = idx[s : s + CHUNK]
            if len(proto) == 0:
                res[s : s + CHUNK] = U if missing else F
                continue
            pp = _port_ok(proto, lo, fl.proto[ch], fl.port[ch], hi)
            ip = peer_ip[ch][:, None]
            cidr = (nlo[None, :] >= 0) & (nlo[None, :] <= ip) & (ip <= nhi[None, :])
            is_ref = ref >= 0
            ref_hit = np.zeros((len(ch), len(proto)), bool)
            ref_unknown = np.zeros((len(ch), len(proto)), bool)
            pe = peer_eni[ch]
            if is_ref.any():
                outside_private = (pe < 0) & private_mask(peer_ip[ch])
            for j in np.flatnonzero(is_ref):
                gi = cm.group_index.get(cm.refs[int(ref[j])], -1)
                if gi >= 0:
                    code = pe * 1_000_003 + gi
                    pos = np.minimum(np.searchsorted(cm.pair_codes, code), len(cm.pair_codes) - 1)
                    ref_hit[:, j] = (pe >= 0) & (cm.pair_codes[pos] == code)
                ref_unknown[:, j] = outside_private
            hit = pp & (cidr | ref_hit) & (unk[None, :] == 0)
            maybe = pp & (ref_unknown | (unk[None, :] == 1))
            res[s : s + CHUNK] = np.where(
                hit.any(axis=1), T, np.where(maybe.any(axis=1) | bool(missing), U, F)
            )
        out[idx] = res
    return out


def _acl_first(
    cm: Compiled, acl: str, egress: bool, f_proto: np.ndarray, f_port: np.ndarray, peer_ip: np.ndarray
) -> np.ndarray:
    """Allowed by the ACL (first match in rule order; no match = deny), one port per flow."""
    entries = [e for e in cm.m.acls[acl] if e.egress == egress and e.net.version == 4]
    if not entries:
        return np.zeros(len(f_proto), bool)
    proto = np.array([e.proto for e in entries])
    lo = np.array([e.lo for e in entries])
    hi = np.array([e.hi for e in entries])
    nlo = np.array([e.net.lo for e in entries])
    nhi = np.array([e.net.hi for e in entries])
    allow = np.array([e.allow for e in entries])
    match = (
        _port_ok(proto, lo, f_proto, f_port, hi)
        & (nlo[None, :] <= peer_ip[:, None])
        & (peer_ip[:, None] <= nhi[None, :])
    )
    anym = match.any(axis=1)
    first = match.argmax(axis=1)
    return anym & allow[first]


def _segments(cm: Compiled, acl: str, egress: bool) -> list[int]:
    """One representative port per segment of the ephemeral range cut at the ACL's port boundaries."""
    lo, hi = EPHEMERAL
    cuts = {lo, hi + 1}
    for e in cm.m.acls[acl]:
        if e.egress == egress and e.lo != -1:
            for c in (e.lo, e.hi + 1):
                if lo < c <= hi:
                    cuts.add(c)
    edges = sorted(cuts)
    return edges[:-1]


def acl_tri(cm: Compiled, fl: Flows, side: str) -> np.ndarray:
    """Both directions of the ACL of one endpoint's subnet (request and ephemeral response); T where the
    flow stays inside one subnet or the endpoint is outside the snapshot."""
    n = len(fl)
    out = np.full(n, T, np.int8)
    own = fl.src_eni if side == "src" else fl.dst_eni
    other = fl.dst_eni if side == "src" else fl.src_eni
    peer_ip = fl.dst_ip if side == "src" else fl.src_ip
    has = own >= 0
    sub = np.where(has, cm.eni_subnet[np.maximum(own, 0)], -2)
    other_sub = np.where(other >= 0, cm.eni_subnet[np.maximum(other, 0)], -3)
    cross = has & (sub != other_sub)
    req_egress = side == "src"
    cand = np.flatnonzero(cross)
    order = cand[np.argsort(sub[cand], kind="stable")]
    bounds = np.flatnonzero(np.diff(sub[order])) + 1
    for idx in np.split(order, bounds) if len(order) else []:
        subnet = cm.m.subnets.get(cm.subnet_ids[int(sub[idx[0]])])
        if subnet is None or subnet.acl is None or subnet.acl not in cm.m.acls:
            out[idx] = U
            continue
        acl = subnet.acl
        for c0 in range(0, len(idx), CHUNK):
            ch = idx[c0 : c0 + CHUNK]
            req = _acl_first(cm, acl, req_egress, fl.proto[ch], fl.port[ch], peer_ip[ch])
            tri = np.where(req, T, F).astype(np.int8)
            ported = np.isin(fl.proto[ch], [6, 17])
            if ported.any():
                segs = _segments(cm, acl, not req_egress)
                ok_all = np.ones(len(ch), bool)
                ok_any = np.zeros(len(ch), bool)
                for p in segs:
                    a = _acl_first(cm, acl, not req_egress, fl.proto[ch], np.full(len(ch), p), peer_ip[ch])
                    ok_all &= a
                    ok_any |= a
                resp = np.where(ok_all, T, np.where(ok_any, U, F))
                tri = np.where(ported, np.minimum(tri, resp), tri).astype(np.int8)
            out[ch] = tri
    return out


def _route_lookup(cm: Compiled, subnet_id: str, dst_ip: np.ndarray) -> tuple[np.ndarray, list[object]]:
    """Index into the table's routes of the longest-prefix match per flow (-1: none; -2: unknown)."""
    subnet = cm.m.subnets.get(subnet_id)
    table = cm.m.route_table_of(subnet) if subnet else None
    if table is None or table not in cm.m.routes:
        return np.full(len(dst_ip), -2, np.int64), []
    routes: list[object] = []
    rows: list[tuple[int, int, int, int]] = []  # lo, hi, prefix length, route index
    unresolved = False
    for r in cm.m.routes[table]:
        nets = [r.dest] if r.dest is not None else cm.m.prefix_lists.get(r.prefix_list or "")
        if nets is None:
            unresolved = True
            continue
        for n in nets:
            if n is not None and n.version == 4:
                rows.append((n.lo, n.hi, 32 - (n.size.bit_length() - 1), len(routes)))
        routes.append(r)
    none = -2 if unresolved else -1
    if not rows:
        return np.full(len(dst_ip), none, np.int64), routes
    arr = np.array(rows, np.int64)
    nlo, nhi, plen, ridx = arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3]
    match = (nlo[None, :] <= dst_ip[:, None]) & (dst_ip[:, None] <= nhi[None, :])
    score = np.where(match, plen[None, :], -1)
    best = ridx[score.argmax(axis=1)]
    return np.where(match.any(axis=1), best, none), routes


def route_tri(
    cm: Compiled, src_eni: np.ndarray, dst_eni: np.ndarray, dst_ip: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Outbound route from ``src_eni`` to the destination: (tri-state, used a NAT gateway)."""
    from analyzer.network.model import Route

    n = len(src_eni)
    out = np.full(n, T, np.int8)
    via_nat = np.zeros(n, bool)
    s_vpc = cm.eni_vpc[src_eni]
    d_vpc = np.where(dst_eni >= 0, cm.eni_vpc[np.maximum(dst_eni, 0)], -1)
    same_vpc = (dst_eni >= 0) & (s_vpc == d_vpc) & (np.array(cm.vpc_ids, dtype=object)[s_vpc] != "")
    todo = ~same_vpc
    subs = cm.eni_subnet[src_eni]
    dpriv = private_mask(dst_ip) | (dst_eni >= 0)
    cand = np.flatnonzero(todo)
    order = cand[np.argsort(subs[cand], kind="stable")]
    bounds = np.flatnonzero(np.diff(subs[order])) + 1
    for idx in np.split(order, bounds) if len(order) else []:
        s = cm.subnet_ids[int(subs[idx[0]])]
        if s not in cm.m.subnets:
            out[idx] = U
            continue
        best, routes = _route_lookup(cm, s, dst_ip[idx])
        res = np.where(best == -2, U, F).astype(np.int8)
        for k, r in enumerate(routes):
            assert isinstance(r, Route)
            sel = best == k
            if not sel.any():
                continue
            j = idx[sel]
            if not r.active:
                res[sel] = F
            elif r.target_kind == "local":
                res[sel] = T
            elif r.target_kind == "pcx":
                p = cm.m.peerings.get(r.target)
                if p is None:
                    res[sel] = U
                elif not p.active:
                    res[sel] = F
                else:
                    peer_codes = [cm.vpc_ids.index(v) for v in p.vpcs if v in cm.vpc_ids]
                    ok = (dst_eni[j] < 0) | np.isin(d_vpc[j], peer_codes)
                    res[sel] = np.where(ok, T, F)
            elif r.target_kind in ("tgw", "vgw"):
                res[sel] = U
            elif r.target_kind == "igw":
                res[sel] = np.where(dpriv[j], F, np.where(cm.eni_public[src_eni[j]], T, F))
            elif r.target_kind == "nat":
                nat_sub = cm.m.subnets.get(cm.m.nat_subnet.get(r.target, ""))
                if nat_sub is None:
                    res[sel] = np.where(dpriv[j], U, U)
                else:
                    b2, r2 = _route_lookup(cm, nat_sub.id, dst_ip[j])
                    igw = np.array(
                        [getattr(x, "target_kind", "") == "igw" and getattr(x, "active", False) for x in r2]
                        + [False],
                        bool,
                    )
                    ok = np.where(b2 >= 0, igw[np.where(b2 >= 0, b2, len(r2))], False)
                    res[sel] = np.where(dpriv[j], U, np.where(b2 == -2, U, np.where(ok, T, F)))
                    via_nat[j] = True
            else:
                res[sel] = U
        out[idx] = res
    return out, via_nat


def decide_many(cm: Compiled, fl: Flows) -> np.ndarray:
    """Tri-state per flow (0 denied, 1 unknown, 2 allowed), equal to ``decide`` on every IPv4 flow."""
    n = len(fl)
    out = np.full(n, T, np.int8)
    neither = (fl.src_eni < 0) & (fl.dst_eni < 0)
    out = np.minimum(out, sg_tri(cm, fl, "src"))
    out = np.minimum(out, sg_tri(cm, fl, "dst"))
    out = np.minimum(out, acl_tri(cm, fl, "src"))
    out = np.minimum(out, acl_tri(cm, fl, "dst"))
    has_src = fl.src_eni >= 0
    if has_src.any():
        i = np.flatnonzero(has_src)
        r, _ = route_tri(cm, fl.src_eni[i], fl.dst_eni[i], fl.dst_ip[i])
        out[i] = np.minimum(out[i], r)
        back = i[
            (fl.dst_eni[i] >= 0) & (cm.eni_vpc[np.maximum(fl.dst_eni[i], 0)] != cm.eni_vpc[fl.src_eni[i]])
        ]
        if len(back):
            r2, _ = route_tri(cm, fl.dst_eni[back], fl.src_eni[back], fl.src_ip[back])
            out[back] = np.minimum(out[back], r2)
    inbound = np.flatnonzero(~has_src & (fl.dst_eni >= 0))
    if len(inbound):
        r3, nat = route_tri(cm, fl.dst_eni[inbound], np.full(len(inbound), -1), fl.src_ip[inbound])
        r3 = np.where(nat & (r3 == T), F, r3)
        out[inbound] = np.minimum(out[inbound], r3)
    out[neither] = U
    return out.astype(np.int8)


def flows_from(cm: Compiled, rows: list[tuple[str, str, int, int]]) -> Flows:
    """Flows from (source, destination, protocol, port) rows; an endpoint is an ENI id or an IPv4 address."""
    from analyzer.network.addr import parse_ip

    def side(text: str) -> tuple[int, int]:
        if text in cm.eni_index:
            e = cm.m.enis[text]
            v4 = [ip for ip in e.ips if ip.version == 4]
            return cm.eni_index[text], v4[0].lo
        ip = parse_ip(text)
        eni = cm.m.eni_by_ip(ip)
        return (cm.eni_index[eni.id] if eni else -1), ip.lo

    s = [side(r[0]) for r in rows]
    d = [side(r[1]) for r in rows]
    return Flows(
        np.array([x[0] for x in s], np.int64),
        np.array([x[0] for x in d], np.int64),
        np.array([x[1] for x in s], np.int64),
        np.array([x[1] for x in d], np.int64),
        np.array([r[2] for r in rows], np.int64),
        np.array([r[3] for r in rows], np.int64),
    )


__all__ = ["Compiled", "Flows", "decide_many", "flows_from", "is_private"]
