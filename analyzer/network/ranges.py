"""Reach between sets: a CIDR or a security group at either end, decided for every address.

A range is cut wherever anything that decides a flow could change its answer — the CIDRs of the other
interface's security-group rules, network ACL entries and routes, the prefix lists they name, the VPCs of
the snapshot, and every interface address (a referenced group's members are exactly those interfaces).
Inside one piece every address is decided alike, so one address decides the piece. Pieces with the same
answer and the same reasons are merged; the answer is ``allowed`` / ``denied`` / ``unknown`` when uniform,
``partial`` with the split otherwise. A security group stands for each interface that holds it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from analyzer.errors import BadInput
from analyzer.network.addr import Net, parse_net, protocol_number
from analyzer.network.decide import Endpoint, FlowDecision, decide
from analyzer.network.model import Eni, NetModel

MAX_PIECES = 65_536


@dataclass(frozen=True)
class Piece:
    lo: int
    hi: int
    decision: str
    why: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        first, last = str(Net(4, self.lo, self.lo)).split("/")[0], str(Net(4, self.hi, self.hi)).split("/")[0]
        return {
            "range": first if self.lo == self.hi else f"{first}-{last}",
            "addresses": self.hi - self.lo + 1,
            "decision": self.decision,
            "why": list(self.why),
        }


@dataclass
class SetDecision:
    decision: str
    pieces: list[dict[str, Any]] = field(default_factory=list)
    """For a range end: each piece of the range with its answer (merged)."""
    members: list[dict[str, Any]] = field(default_factory=list)
    """For a security-group end: each interface holding it, with its answer."""

    def as_dict(self) -> dict[str, Any]:
        return {"decision": self.decision, "pieces": self.pieces, "members": self.members}


def _overall(decisions: list[str]) -> str:
    kinds = set(decisions)
    if len(kinds) == 1:
        return kinds.pop()
    return "partial"


def _why(d: FlowDecision) -> tuple[str, ...]:
    return tuple(
        d.allowed_by if d.decision == "allowed" else d.blocked_by if d.decision == "denied" else d.unknown
    )


def _cuts(m: NetModel, eni: Eni, rng: Net) -> list[int]:
    """Every address of ``rng`` where an answer about flows between it and ``eni`` may change."""
    nets: list[Net] = [c for cidrs in m.vpcs.values() for c in cidrs]
    for g in eni.groups:
        for r in m.groups.get(g, []):
            if r.net is not None:
                nets.append(r.net)
            if r.prefix_list is not None:
                nets += m.prefix_lists.get(r.prefix_list, [])
    sub = m.subnets.get(eni.subnet or "")
    if sub is not None:
        nets += [x.net for x in m.acls.get(sub.acl or "", [])]
        for table in {sub.route_table, m.main_table.get(sub.vpc)} - {None}:
            for route in m.routes.get(str(table), []):
                if route.dest is not None:
                    nets.append(route.dest)
                if route.prefix_list is not None:
                    nets += m.prefix_lists.get(route.prefix_list, [])
    nets += [ip for e in m.enis.values() for ip in e.ips]
    cuts = {rng.lo, rng.hi + 1}
    for n in nets:
        if n.version != rng.version:
            continue
        for c in (n.lo, n.hi + 1):
            if rng.lo < c <= rng.hi:
                cuts.add(c)
    return sorted(cuts)


def _holder(m: NetModel, ip: int, near: Eni) -> Eni | None:
    """The interface holding ``ip`` that ``near`` can reach (its VPC, or a peered one); None if none, or
    several (private ranges repeat across VPCs)."""
    vpcs = {near.vpc} | {v for p in m.peerings.values() if p.active and near.vpc in p.vpcs for v in p.vpcs}
    found = [
        e for e in m.enis.values() if e.vpc in vpcs and any(x.lo <= ip <= x.hi and x.size == 1 for x in e.ips)
    ]
    return found[0] if len(found) == 1 else None


def _range_vs_eni(m: NetModel, rng: Net, eni: Eni, range_is_src: bool, proto: int, port: int) -> SetDecision:
    cuts = _cuts(m, eni, rng)
    if len(cuts) - 1 > MAX_PIECES:
        raise BadInput(
            f"{rng} splits into {len(cuts) - 1} pieces for {eni.id}: give a narrower range", path="ENDPOINT"
        )
    this = Endpoint(eni.ips[0] if eni.ips else parse_net("0.0.0.0/32"), eni)
    pieces: list[Piece] = []
    for lo, nxt in itertools.pairwise(cuts):
        other = Endpoint(Net(rng.version, lo, lo), _holder(m, lo, eni) if nxt - lo == 1 else None)
        d = decide(m, other, this, proto, port) if range_is_src else decide(m, this, other, proto, port)
        piece = Piece(lo, nxt - 1, d.decision, _why(d))
        if (
            pieces
            and pieces[-1].decision == piece.decision
            and pieces[-1].why == piece.why
            and pieces[-1].hi + 1 == lo
        ):
            pieces[-1] = Piece(pieces[-1].lo, piece.hi, piece.decision, piece.why)
        else:
            pieces.append(piece)
    return SetDecision(_overall([p.decision for p in pieces]), [p.as_dict() for p in pieces])


def _side(m: NetModel, text: str) -> tuple[str, Any]:
    t = text.strip()
    if t.startswith("sg-"):
        members = [e for e in m.enis.values() if t in e.groups]
        if t not in m.groups and not members:
            raise BadInput(f"security group {t} is not in the snapshot", path="ENDPOINT")
        if not members:
            raise BadInput(f"no interface of the snapshot holds {t}: nothing to decide", path="ENDPOINT")
        return "group", members
    if "/" in t and not t.startswith("arn:"):
        try:
            net = parse_net(t)
        except ValueError as exc:
            raise BadInput(f"{text!r} is not a CIDR", path="ENDPOINT") from exc
        if net.size > 1:
            if net.version != 4:
                raise BadInput("ranges are decided for IPv4 only", path="ENDPOINT")
            return "range", net
    return "one", t


def is_set(text: str) -> bool:
    """A security group id or a CIDR of more than one address."""
    t = text.strip()
    if t.startswith("sg-"):
        return True
    try:
        return "/" in t and not t.startswith("arn:") and parse_net(t).size > 1
    except ValueError:
        return False


def _pairs(m: NetModel, ks: str, vs: Any, kd: str, vd: Any) -> list[tuple[Any, Any]]:
    """The (source, destination) pairs a group end stands for: each member interface."""
    from analyzer.network.service import resolve_endpoint

    def ends(kind: str, value: Any) -> list[Any]:
        if kind == "group":
            return [Endpoint(e.ips[0], e) for e in value if e.ips]
        if kind == "range":
            return [value]
        return [resolve_endpoint(m, value)]

    pairs = [(a, b) for a in ends(ks, vs) for b in ends(kd, vd)]
    return [
        (a, b)
        for a, b in pairs
        if not (isinstance(a, Endpoint) and isinstance(b, Endpoint) and a.eni is not None and a.eni is b.eni)
        and not (isinstance(a, Net) and (not isinstance(b, Endpoint) or b.eni is None))
        and not (isinstance(b, Net) and (not isinstance(a, Endpoint) or a.eni is None))
    ]


def reach_set(m: NetModel, src: str, dst: str, protocol: str, port: int) -> SetDecision:
    """Reach where an end is a range or a security group: see the module."""
    from analyzer.network.service import resolve_endpoint

    proto = protocol_number(protocol)
    ks, vs = _side(m, src)
    kd, vd = _side(m, dst)
    if ks == "range" and kd == "range":
        raise BadInput("one end must be an interface, an address or a security group", path="ENDPOINT")

    if ks == "group" or kd == "group":
        out: list[dict[str, Any]] = []
        for a, b in _pairs(m, ks, vs, kd, vd):
            if isinstance(a, Net):
                got = _range_vs_eni(m, a, b.eni, True, proto, port)
            elif isinstance(b, Net):
                got = _range_vs_eni(m, b, a.eni, False, proto, port)
            else:
                d = decide(m, a, b, proto, port)
                got = SetDecision(d.decision, [{"decision": d.decision, "why": list(_why(d))}])
            label = (
                f"{a.label if not isinstance(a, Net) else a} -> {b.label if not isinstance(b, Net) else b}"
            )
            out.append({"flow": label, **got.as_dict()})
        return SetDecision(_overall([x["decision"] for x in out]), members=out)
    if ks == "range":
        e = resolve_endpoint(m, vd)
        if e.eni is None:
            raise BadInput(
                "a range needs an interface (or a security group) at the other end", path="ENDPOINT"
            )
        return _range_vs_eni(m, vs, e.eni, True, proto, port)
    e = resolve_endpoint(m, vs)
    if e.eni is None:
        raise BadInput("a range needs an interface (or a security group) at the other end", path="ENDPOINT")
    return _range_vs_eni(m, vd, e.eni, False, proto, port)
