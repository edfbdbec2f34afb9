"""Many IPv4 flows at once, with the semantics of ``analyzer.network.decide`` (which explains any flow).

Flows are columns: source and destination ENI (index, or -1 for an address outside the snapshot), source
and destination IPv4 address, protocol, port. Security-group rules are compiled to integer intervals
(addresses, ports) in one table per direction, each group's rules contiguous; a flow is paired with
every rule of every group its deciding endpoint holds and all pairs are matched at once (interfaces
rarely share their exact set of groups, so grouping flows by that set gave thousands of tiny batches). NACLs are evaluated per subnet in rule order (first match by
``argmax``); the ephemeral return range is split at the ACL's own port boundaries, so one representative
port per segment decides it exactly. Routes: longest prefix match per subnet. The cost grows with
classes, subnets and rules, not with pairs of endpoints.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from analyzer.network.addr import EPHEMERAL, Net, is_private, parse_net
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


@dataclass(frozen=True)
class RuleTable:
    """Every security group's rules in one direction as integer columns, each group's rules contiguous
    (``start``/``count`` per group index): ``ref`` is the index of a referenced group (-1 if no interface
    holds it), ``is_ref`` marks group references, ``unk`` rules whose effect is unknown (unreadable, an
    unknown prefix list); ``missing`` marks groups an interface names that the snapshot does not hold."""

    start: np.ndarray
    count: np.ndarray
    missing: np.ndarray
    proto: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    nlo: np.ndarray
    nhi: np.ndarray
    ref: np.ndarray
    is_ref: np.ndarray
    unk: np.ndarray
    extra: RuleTable | None = None
    """Rows past the columns above (indices ``len(proto)`` and up): a derived table's changed groups,
    kept apart so the base's columns are shared rather than copied per proposal."""

    def take(self, name: str, rows: np.ndarray) -> np.ndarray:
        """One column at ``rows``, reading rows past the shared columns from ``extra``."""
        col = getattr(self, name)
        if self.extra is None:
            return col[rows]
        n = len(col)
        past = rows >= n
        if not past.any():
            return col[rows]
        out = col[np.where(past, 0, rows)]
        out[past] = getattr(self.extra, name)[rows[past] - n]
        return out


class Compiled:
    PERSISTABLE = True  # arrays and plain values: kept in a persisted analysis context
    """The model as arrays, compiled once per snapshot."""

    def __init__(self, m: NetModel) -> None:
        self.m = m
        self.eni_ids = list(m.enis)
        self.eni_index = {e: i for i, e in enumerate(self.eni_ids)}
        enis = [m.enis[e] for e in self.eni_ids]
        self.vpc_ids = sorted({e.vpc or "" for e in enis})
        self.subnet_ids = sorted({e.subnet or "" for e in enis})
        vcode = {v: i for i, v in enumerate(self.vpc_ids)}
        self.vpc_code = vcode
        scode = {v: i for i, v in enumerate(self.subnet_ids)}
        # integer codes (an empty id keeps a code of its own; it never equals a real one)
        self.eni_vpc = np.array([vcode[e.vpc or ""] for e in enis], np.int64)
        self.eni_subnet = np.array([scode[e.subnet or ""] for e in enis], np.int64)
        self.eni_public = np.array([bool(e.public_ips) for e in enis], bool)
        # each interface's groups (CSR: eni_groups[eni_goff[i]:eni_goff[i + 1]]) and, for group
        # references, membership as sorted (eni * n_groups + group) codes: one searchsorted answers many
        self.group_index: dict[str, int] = {}
        groups: list[int] = []
        counts: list[int] = []
        for e in enis:
            distinct = sorted(set(e.groups))
            groups += [self.group_index.setdefault(g, len(self.group_index)) for g in distinct]
            counts.append(len(distinct))
        self.eni_groups = np.array(groups, np.int64)
        self.eni_gcount = np.array(counts, np.int64)
        self.eni_goff = np.zeros(len(enis) + 1, np.int64)
        np.cumsum(self.eni_gcount, out=self.eni_goff[1:])
        owner = np.repeat(np.arange(len(enis), dtype=np.int64), self.eni_gcount)
        self.pair_codes = np.unique(owner * 1_000_003 + self.eni_groups)
        # the IPv4 addresses of each group's members (group << 32 | address), and the collected VPCs'
        # IPv4 ranges, merged: an address inside them that no member holds carries no group
        codes = [
            (self.group_index[g] << 32) | ip.lo
            for e in enis
            for g in set(e.groups)
            for ip in e.ips
            if ip.version == 4
        ]
        self.member_ip_codes = np.unique(np.array(codes, np.int64))
        spans = _subtract(
            _merged(n for v, cidrs in m.vpcs.items() if v not in m.interfaces_unknown for n in cidrs),
            _merged(n for v in m.interfaces_unknown for n in m.vpcs.get(v, [])),
        )
        self.vpc_lo = np.array([a for a, _ in spans], np.int64)
        self.vpc_hi = np.array([b for _, b in spans], np.int64)
        self.group_ids = list(self.group_index)
        self._tables: dict[str, RuleTable] = {}
        # a derived compilation (``with_group_rules``) differs from its base in the changed groups' rules
        self._base: Compiled | None = None
        self._changed: frozenset[str] = frozenset()

    def with_group_rules(self, m: NetModel, changed: set[str]) -> Compiled:
        """This compilation for ``m``, a model that differs from this one only in the rules of the
        ``changed`` groups (same interfaces, same memberships): every array is shared, and the rule tables
        are the base's with the changed groups' rules compiled again."""
        out = copy.copy(self)
        out.m = m
        out._base = self._base or self
        out._changed = self._changed | frozenset(changed)
        out._tables = {}
        return out

    def rule_table(self, direction: str) -> RuleTable:
        """The rules of every group one interface holds, in ``direction`` (built once)."""
        if direction in self._tables:
            return self._tables[direction]
        if self._base is None:
            rows: list[tuple[int, ...]] = []
            start: list[int] = []
            count: list[int] = []
            missing: list[bool] = []
            for g in self.group_ids:
                got = self._group_rows(g, direction)
                start.append(len(rows))
                count.append(len(got or ()))
                missing.append(got is None)
                rows += got or []
            table = _table(rows, start, count, missing)
        else:
            # the base's table, with each changed group's rules appended and its entry pointed at them
            base = self._base.rule_table(direction)
            starts, counts, missed = base.start.copy(), base.count.copy(), base.missing.copy()
            added: list[tuple[int, ...]] = []
            for g in sorted(self._changed):
                gi = self.group_index.get(g)
                if gi is None:
                    continue  # no interface holds it: it decides no flow
                got = self._group_rows(g, direction)
                starts[gi], counts[gi], missed[gi] = len(base.proto) + len(added), len(got or ()), got is None
                added += got or []
            # the base's rule columns are shared, not copied (at L they hold millions of rows and a
            # proposal changes a group or two): the changed groups' rows are read from ``extra``
            table = dataclasses.replace(
                base,
                start=starts,
                count=counts,
                missing=missed,
                extra=_table(added, [], [], []) if added else None,
            )
        self._tables[direction] = table
        return table

    def _group_rows(self, g: str, direction: str) -> list[tuple[int, ...]] | None:
        """(proto, lo, hi, net_lo, net_hi, ref, is_ref, unknown) per rule of ``g``; None if the snapshot
        does not hold the group. Non-CIDR rules have net_lo = -1; IPv6 ranges decide no IPv4 flow."""
        if g not in self.m.groups:
            return None
        rows: list[tuple[int, ...]] = []
        for r in self.m.groups[g]:
            if r.direction != direction:
                continue
            if r.broken:
                rows.append((r.proto, r.lo, r.hi, -1, -1, -1, 0, 1))
            elif r.net is not None:
                if r.net.version == 4:
                    rows.append((r.proto, r.lo, r.hi, r.net.lo, r.net.hi, -1, 0, 0))
            elif r.ref is not None:
                rows.append((r.proto, r.lo, r.hi, -1, -1, self.group_index.get(r.ref, -1), 1, 0))
            elif r.prefix_list is not None:
                nets = self.m.prefix_lists.get(r.prefix_list)
                if nets is None:
                    rows.append((r.proto, r.lo, r.hi, -1, -1, -1, 0, 1))
                else:
                    rows += [(r.proto, r.lo, r.hi, n.lo, n.hi, -1, 0, 0) for n in nets if n.version == 4]
        return rows


def _table(rows: list[tuple[int, ...]], start: list[int], count: list[int], missing: list[bool]) -> RuleTable:
    arr = np.array(rows, dtype=np.int64).reshape(-1, 8)
    return RuleTable(
        np.array(start, np.int64),
        np.array(count, np.int64),
        np.array(missing, bool),
        arr[:, 0],
        arr[:, 1],
        arr[:, 2],
        arr[:, 3],
        arr[:, 4],
        arr[:, 5],
        arr[:, 6].astype(bool),
        arr[:, 7].astype(bool),
    )


def _ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The concatenation of ``arange(s, s + c)`` for each (s, c)."""
    total = int(counts.sum())
    if total == 0:
        return np.empty(0, np.int64)
    before = np.cumsum(counts) - counts
    return np.repeat(starts - before, counts) + np.arange(total, dtype=np.int64)


def _covers(
    proto: np.ndarray, lo: np.ndarray, hi: np.ndarray, f_proto: np.ndarray, f_port: np.ndarray
) -> np.ndarray:
    """Rule (proto, lo, hi) covers the flow's protocol and port, element by element (broadcasting)."""
    ported = np.isin(f_proto, [6, 17, 1, 58])
    return ((proto == -1) | (proto == f_proto)) & (
        (proto == -1) | (lo == -1) | ~ported | ((lo <= f_port) & (f_port <= hi))
    )


def _port_ok(
    proto: np.ndarray, lo: np.ndarray, f_proto: np.ndarray, f_port: np.ndarray, hi: np.ndarray
) -> np.ndarray:
    """(flows x rules): protocol and port covered."""
    return _covers(proto[None, :], lo[None, :], hi[None, :], f_proto[:, None], f_port[:, None])


PAIRS = 2_000_000
"""Flows are decided in blocks of about this many (flow, rule) pairs."""


def sg_tri(cm: Compiled, fl: Flows, side: str) -> np.ndarray:
    """Security groups on one side (``dst``: ingress of the destination; ``src``: egress of the source).

    Each flow is paired with every rule of every group its interface holds (flows -> groups -> rules,
    all as index arrays), the pairs are matched in one pass, and a flow is allowed if one pair allows it,
    unknown if one might (or a group is missing from the snapshot), denied otherwise."""
    out = np.full(len(fl), T, np.int8)
    own = fl.dst_eni if side == "dst" else fl.src_eni
    has = np.flatnonzero(own >= 0)
    if not len(has):
        return out
    tab = cm.rule_table("ingress" if side == "dst" else "egress")
    # (flow, group) pairs, flow by flow: those of flows a..b are pf/pg[poff[a]:poff[b]]
    gcount = cm.eni_gcount[own[has]]
    pf = np.repeat(np.arange(len(has), dtype=np.int64), gcount)
    pg = cm.eni_groups[_ranges(cm.eni_goff[own[has]], gcount)]
    poff = np.concatenate([[0], np.cumsum(gcount)])
    cum = np.cumsum(np.bincount(pf, weights=tab.count[pg], minlength=len(has)).astype(np.int64))
    bounds = [0, *np.searchsorted(cum, np.arange(PAIRS, int(cum[-1]), PAIRS)).tolist(), len(has)]
    peer_eni = fl.src_eni if side == "dst" else fl.dst_eni
    peer_ip = fl.src_ip if side == "dst" else fl.dst_ip
    res = np.empty(len(has), np.int8)
    for a, b in itertools.pairwise(bounds):
        if a >= b:
            continue
        ch = has[a:b]
        k = b - a
        cf, cg = pf[poff[a] : poff[b]] - a, pg[poff[a] : poff[b]]
        missing = np.zeros(k, bool)
        missing[cf[tab.missing[cg]]] = True
        rc = tab.count[cg]
        rf = np.repeat(cf, rc)  # the flow of each (flow, rule) pair
        ri = _ranges(tab.start[cg], rc)  # the rule
        pp = _covers(
            tab.take("proto", ri), tab.take("lo", ri), tab.take("hi", ri), fl.proto[ch][rf], fl.port[ch][rf]
        )
        ip = peer_ip[ch][rf]
        nlo = tab.take("nlo", ri)
        cidr = (nlo >= 0) & (nlo <= ip) & (ip <= tab.take("nhi", ri))
        pe = peer_eni[ch][rf]
        ref = tab.take("ref", ri)
        code = pe * 1_000_003 + ref
        at = np.minimum(np.searchsorted(cm.pair_codes, code), max(len(cm.pair_codes) - 1, 0))
        member = cm.pair_codes[at] == code if len(cm.pair_codes) else np.zeros(len(code), bool)
        is_ref = tab.take("is_ref", ri)
        ref_hit = is_ref & (ref >= 0) & (pe >= 0) & member
        outside_private = (peer_eni[ch] < 0) & private_mask(peer_ip[ch])
        inside = _inside(cm.vpc_lo, cm.vpc_hi, peer_ip[ch])
        held = _member(cm.member_ip_codes, ref, ip)
        ref_unknown = is_ref & outside_private[rf] & (~inside[rf] | held)
        unk = tab.take("unk", ri)
        hit = np.zeros(k, bool)
        hit[rf[pp & (cidr | ref_hit) & ~unk]] = True
        maybe = missing.copy()
        maybe[rf[pp & (ref_unknown | unk)]] = True
        res[a:b] = np.where(hit, T, np.where(maybe, U, F))
    out[has] = res
    return out


def _merged(nets: Iterable[Net]) -> list[list[int]]:
    """IPv4 networks as sorted, disjoint, merged [lo, hi] intervals."""
    spans: list[list[int]] = []
    for lo, hi in sorted((n.lo, n.hi) for n in nets if n.version == 4):
        if spans and lo <= spans[-1][1] + 1:
            spans[-1][1] = max(spans[-1][1], hi)
        else:
            spans.append([lo, hi])
    return spans


def _subtract(spans: list[list[int]], holes: list[list[int]]) -> list[list[int]]:
    """``spans`` without every address of ``holes`` (both sorted and disjoint).

    >>> _subtract([[0, 9], [20, 29]], [[5, 22]])
    [[0, 4], [23, 29]]
    """
    out = []
    for lo, hi in spans:
        cur = lo
        for hlo, hhi in holes:
            if hhi < cur or hlo > hi:
                continue
            if hlo > cur:
                out.append([cur, hlo - 1])
            cur = max(cur, hhi + 1)
        if cur <= hi:
            out.append([cur, hi])
    return out


def _inside(lo: np.ndarray, hi: np.ndarray, ip: np.ndarray) -> np.ndarray:
    """Per address: inside one of the sorted, disjoint ranges ``lo[i]..hi[i]``."""
    if not len(lo):
        return np.zeros(len(ip), bool)
    at = np.searchsorted(lo, ip, side="right") - 1
    return (at >= 0) & (ip <= hi[np.maximum(at, 0)])


def _member(codes: np.ndarray, group: np.ndarray, ip: np.ndarray) -> np.ndarray:
    """Per (group, address) pair: a member of the group holds the address."""
    if not len(codes):
        return np.zeros(len(ip), bool)
    want = (np.maximum(group, 0) << 32) | ip
    at = np.minimum(np.searchsorted(codes, want), len(codes) - 1)
    return (codes[at] == want) & (group >= 0)


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


def _through_transit(
    cm: Compiled, gateway: str, vpc: str, dst_eni: np.ndarray, d_vpc: np.ndarray, dst_ip: np.ndarray
) -> np.ndarray:
    """Tri-state of routes to a transit gateway from ``vpc``, as ``decide.transit_side`` decides them."""
    t = cm.m.transit
    key = (gateway, vpc)
    if key in t.maybe or key not in t.via:
        return np.full(len(dst_eni), F if key in t.attached and key not in t.maybe else U, np.int8)
    reached = t.via[key]
    codes = [cm.vpc_code[v] for v in reached if v in cm.vpc_code]
    inside = np.zeros(len(dst_ip), bool)
    for v in reached:
        for c in cm.m.vpcs.get(v, ()):
            if c.version == 4:
                inside |= (c.lo <= dst_ip) & (dst_ip <= c.hi)
    eni_ok = np.isin(d_vpc, codes)
    return np.where(dst_eni >= 0, np.where(eni_ok, T, F), np.where(inside, T, U)).astype(np.int8)


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
            elif r.target_kind == "tgw":
                src_vpc = cm.vpc_ids[int(s_vpc[j[0]])]
                res[sel] = _through_transit(cm, r.target, src_vpc, dst_eni[j], d_vpc[j], dst_ip[j])
            elif r.target_kind == "vgw":
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
