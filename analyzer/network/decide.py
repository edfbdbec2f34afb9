"""Whether the VPC configuration allows a flow, the way the VPC decides it (Amazon VPC User Guide:
"Security group rules", "Network ACLs", "Route tables", "VPC peering").

A flow goes from a source endpoint to a destination endpoint with a protocol and a port (the ICMP type
for ICMP). An endpoint is an ENI of the snapshot or an address range outside it. The flow is allowed only
when every component on its path allows it:

* the source's security groups allow it out and the destination's allow it in (stateful: the return
  traffic of an allowed flow is allowed); a rule's peer is a CIDR, a security group (any ENI that has it,
  also across a peering), or a prefix list;
* between different subnets, both subnets' network ACLs allow it, each in both directions: the request
  out of the source subnet and into the destination subnet, and (stateless) the response back, whose
  destination port is the client's ephemeral port (1024-65535). Entries are evaluated in rule-number order;
  the first match decides; none matching is the final ``*`` deny. Traffic inside one subnet does not
  cross the ACL;
* a route: inside a VPC the local route; between VPCs an active peering route on *both* sides; to the
  internet an internet gateway (the ENI needs a public address) or a NAT gateway whose subnet routes to an
  internet gateway; from the internet only to an ENI with a public address whose subnet routes to an
  internet gateway; through a transit gateway when the route table of the source VPC's attachment routes
  to the destination's VPC (``analyzer.network.transit``). Virtual private gateways are not followed:
  ``unknown``.

Decisions are ``allowed`` (with ``allowed_by``: every rule and route that allows it, so a flow allowed
twice shows both), ``denied`` (``blocked_by``: the component that refuses it) or ``unknown`` (with the
reason: a security group, subnet, ACL or route table not in the snapshot, an unreadable rule, a prefix
list not collected, a transit gateway route table not collected, an ephemeral range only partly
allowed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from analyzer.network.addr import EPHEMERAL, NAMES, Net, is_private
from analyzer.network.model import Eni, NaclEntry, NetModel, SgRule, Subnet

Decision = Literal["allowed", "denied", "unknown"]
F, U, T = 0, 1, 2


@dataclass(frozen=True)
class Endpoint:
    """An ENI of the snapshot, or an address range outside it."""

    net: Net
    eni: Eni | None = None

    @property
    def label(self) -> str:
        return self.eni.id if self.eni else str(self.net)


@dataclass
class FlowDecision:
    decision: Decision
    allowed_by: list[str] = field(default_factory=list)
    blocked_by: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "decision": self.decision,
            "allowed_by": self.allowed_by,
            "blocked_by": self.blocked_by,
            "unknown": self.unknown,
        }


def _port_match(proto: int, lo: int, hi: int, flow_proto: int, port_lo: int, port_hi: int) -> int:
    """Tri-state: does a rule (proto, lo..hi) cover the flow's protocol and the whole port range."""
    if proto != -1 and proto != flow_proto:
        return F
    if proto == -1 or lo == -1 or flow_proto not in (6, 17, 1, 58):
        return T
    if lo <= port_lo and port_hi <= hi:
        return T
    if lo <= port_hi and port_lo <= hi:
        return U  # covers part of the range
    return F


def _peer_match(m: NetModel, r: SgRule, peer: Endpoint) -> tuple[int, str | None]:
    """Tri-state: is ``peer`` inside the rule's source/destination, and why not known."""
    if r.broken:
        return U, f"{r.rule_id}: {r.broken}"
    if r.net is not None:
        if r.net.contains(peer.net):
            return T, None
        return (U, f"{r.rule_id} covers only part of {peer.label}") if r.net.overlaps(peer.net) else (F, None)
    if r.ref is not None:
        if peer.eni is not None:  # an ENI's groups are known completely
            return (T, None) if r.ref in peer.eni.groups else (F, None)
        if not is_private(peer.net):
            return F, None
        if not m.in_collected_vpc(peer.net):  # an interface Blastwall did not collect may carry the group
            return U, f"{r.rule_id}: whether {peer.label} carries {r.ref} is not known"
        # inside a collected VPC every interface is known: only the group's members carry it
        if m.member_addresses(r.ref, peer.net):
            return U, (
                f"{r.rule_id}: {peer.label} holds addresses of interfaces in {r.ref}"
                + (" (not tied to one)" if peer.net.size == 1 else "; the rest do not carry it")
            )
        return F, None
    if r.prefix_list is not None:
        nets = m.prefix_lists.get(r.prefix_list)
        if nets is None:
            return U, f"{r.rule_id}: prefix list {r.prefix_list} entries not collected"
        if any(n.contains(peer.net) for n in nets):
            return T, None
        return (
            (U, f"{r.rule_id} covers only part of {peer.label}")
            if any(n.overlaps(peer.net) for n in nets)
            else (F, None)
        )
    return F, None


def sg_side(
    m: NetModel, eni: Eni, direction: str, peer: Endpoint, proto: int, port: int
) -> tuple[int, list[str], list[str]]:
    """One ENI's security groups in one direction: (tri-state, allowing rules, unknown reasons)."""
    allowing: list[str] = []
    unknown: list[str] = []
    for g in eni.groups:
        if g not in m.groups:
            unknown.append(f"security group {g} of {eni.id} is not in the snapshot")
            continue
        for r in m.groups[g]:
            if r.direction != direction:
                continue
            pm = _port_match(r.proto, r.lo, r.hi, proto, port, port)  # a broken rule keeps what was readable
            if pm == F:
                continue
            am, why = _peer_match(m, r, peer)
            v = min(pm, am)
            if v == T:
                allowing.append(r.rule_id)
            elif v == U:
                unknown.append(why or f"{r.rule_id}: partly covers the flow")
    if allowing:
        return T, allowing, []
    return (U if unknown else F), [], unknown


def _acl_port(entries: list[NaclEntry], peer: Net, proto: int, port: int) -> tuple[int, str]:
    """First matching entry for one port: (T allow / F deny / U partial address match, the entry)."""
    for e in entries:
        if e.proto != -1 and e.proto != proto:
            continue
        if not e.net.overlaps(peer):
            continue
        full = e.proto == -1 or e.lo == -1 or proto not in (6, 17, 1, 58)
        if not full and not (e.lo <= port <= e.hi):
            continue
        if not e.net.contains(peer):
            return U, f"{e.rule_id} covers only part of {peer}"
        return (T if e.allow else F), e.rule_id
    return F, "rule * (deny)"


def acl_side(
    m: NetModel, subnet: Subnet, egress: bool, peer: Net, proto: int, port_lo: int, port_hi: int
) -> tuple[int, str]:
    """A subnet's network ACL in one direction, for every port of a range: the first matching entry in
    rule order decides each port. The range is cut at the entries' own port boundaries, so one port per
    segment decides it exactly: (T all allowed / F all denied / U some of each, the deciding entry)."""
    if subnet.acl is None or subnet.acl not in m.acls:
        return U, f"network ACL of {subnet.id} is not in the snapshot"
    entries = [x for x in m.acls[subnet.acl] if x.egress == egress]
    cuts = {port_lo, port_hi + 1}
    for e in entries:
        if e.lo != -1:
            cuts.update(c for c in (e.lo, e.hi + 1) if port_lo < c <= port_hi)
    results = [_acl_port(entries, peer, proto, p) for p in sorted(cuts)[:-1]]
    name = f"{subnet.acl} {'egress' if egress else 'ingress'}"
    if all(v == T for v, _ in results):
        return T, results[0][1]
    if all(v == F for v, _ in results):
        why = results[0][1]
        return F, why if why.startswith(subnet.acl) else f"{name} {why}"
    partial = next((w for v, w in results if v == U), None)
    return (
        U,
        partial or f"{name}: ports {port_lo}-{port_hi} only partly allowed (depends on the client's port)",
    )


def _lookup(m: NetModel, subnet: Subnet, dst: Net) -> tuple[str, object]:
    """Longest-prefix match in the subnet's route table: ('route', Route) | ('none', reason) | ('unknown', reason)."""
    table = m.route_table_of(subnet)
    if table is None or table not in m.routes:
        return "unknown", f"route table of {subnet.id} is not in the snapshot"
    best = None
    best_len = -1
    unknown_pl = None
    for r in m.routes[table]:
        if r.dest is not None:
            if (
                r.dest.contains(dst)
                and r.dest.size
                and (128 if dst.version == 6 else 32) - (r.dest.size.bit_length() - 1) > best_len
            ):
                best, best_len = r, (128 if dst.version == 6 else 32) - (r.dest.size.bit_length() - 1)
        elif r.prefix_list is not None:
            nets = m.prefix_lists.get(r.prefix_list)
            if nets is None:
                unknown_pl = f"{r.rule_id}: prefix list entries not collected"
            elif any(n.contains(dst) for n in nets):
                plen = max(
                    (128 if dst.version == 6 else 32) - (n.size.bit_length() - 1)
                    for n in nets
                    if n.contains(dst)
                )
                if plen > best_len:
                    best, best_len = r, plen
    if best is None:
        if unknown_pl:
            return "unknown", unknown_pl
        return "none", f"{table}: no route to {dst}"
    return "route", best


def transit_side(
    m: NetModel, vpc: str | None, gateway: str, rule: str, dst: Endpoint
) -> tuple[int, list[str], str]:
    """A route to a transit gateway: the route table of ``vpc``'s attachment decides. An interface is
    reached when that table routes to its VPC; an address inside a VPC it routes to, likewise; any other
    address is unknown (VPN, Direct Connect and peering attachments are not modelled)."""
    key = (gateway, vpc or "")
    via = rule
    if key in m.transit.maybe:
        return U, [via], f"{via}: the route table of {vpc}'s attachment was not collected"
    if key not in m.transit.via:
        if key in m.transit.attached:
            return F, [], f"{via}: {vpc}'s attachment is associated with no route table"
        return U, [via], f"{via}: no attachment of {vpc} to {gateway} in the snapshot"
    reached = m.transit.via[key]
    if dst.eni is not None:
        if dst.eni.vpc in reached:
            return T, [via], ""
        return F, [], f"{via}: its route table for {vpc} does not route to {dst.eni.vpc}"
    if any(c.contains(dst.net) for v in reached for c in m.vpcs.get(v, ())):
        return T, [via], ""
    return U, [via], f"{via}: {dst.label} is outside every VPC its route table reaches"


def route_side(m: NetModel, src: Endpoint, dst: Endpoint) -> tuple[int, list[str], str]:
    """Can traffic from ``src`` (an ENI) reach ``dst``: (tri-state, routes used, reason when not)."""
    assert src.eni is not None
    s_eni = src.eni
    if dst.eni is not None and dst.eni.vpc == s_eni.vpc and s_eni.vpc is not None:
        return T, ["local"], ""
    if s_eni.subnet is None or s_eni.subnet not in m.subnets:
        return U, [], f"subnet of {s_eni.id} is not in the snapshot"
    subnet = m.subnets[s_eni.subnet]
    kind, r = _lookup(m, subnet, dst.net)
    if kind != "route":
        return (U if kind == "unknown" else F), [], str(r)
    from analyzer.network.model import Route

    assert isinstance(r, Route)
    if not r.active:
        return F, [], f"{r.rule_id} is a blackhole"
    if r.target_kind == "local":
        return T, [r.rule_id], ""
    if r.target_kind == "pcx":
        p = m.peerings.get(r.target)
        if p is None:
            return U, [], f"{r.rule_id}: peering connection not in the snapshot"
        if not p.active:
            return F, [], f"{r.target} is not active"
        if dst.eni is not None and dst.eni.vpc not in p.vpcs:
            return F, [], f"{r.rule_id} leads to another VPC than {dst.eni.id}'s"
        return T, [r.rule_id], ""
    if r.target_kind == "tgw":
        return transit_side(m, s_eni.vpc, r.target, r.rule_id, dst)
    if r.target_kind == "vgw":
        return U, [r.rule_id], f"{r.rule_id}: VPN gateway routing is not modelled"
    if r.target_kind == "igw":
        if dst.eni is not None or is_private(dst.net):
            return F, [], f"{r.rule_id}: an internet gateway does not reach {dst.label}"
        if dst.net.version == 6 and not any(ip.version == 6 for ip in s_eni.ips):
            return F, [], f"{r.rule_id}: {s_eni.id} has no IPv6 address"
        if dst.net.version == 4 and not s_eni.public_ips:
            return F, [], f"{r.rule_id}: {s_eni.id} has no public address"
        return T, [r.rule_id], ""
    if r.target_kind == "nat":
        if dst.eni is not None or is_private(dst.net):
            return (
                U,
                [r.rule_id],
                f"{r.rule_id}: traffic to private addresses through a NAT gateway is not modelled",
            )
        nat_subnet = m.subnets.get(m.nat_subnet.get(r.target, ""))
        if nat_subnet is None:
            return U, [r.rule_id], f"{r.rule_id}: NAT gateway {r.target} or its subnet not in the snapshot"
        k2, r2 = _lookup(m, nat_subnet, dst.net)
        if k2 == "route" and getattr(r2, "target_kind", "") == "igw" and getattr(r2, "active", False):
            return T, [r.rule_id, r2.rule_id], ""  # type: ignore[attr-defined]
        if k2 == "unknown":
            return U, [r.rule_id], str(r2)
        return F, [], f"{r.rule_id}: the NAT gateway's subnet has no internet gateway route"
    return U, [r.rule_id], f"{r.rule_id}: target {r.target} is not modelled"


def inbound_route(m: NetModel, src: Endpoint, dst: Endpoint) -> tuple[int, list[str], str]:
    """From outside the snapshot's ENIs to ``dst``: the return path must exist (internet: a public
    address and an internet-gateway route; private ranges: a route back)."""
    assert dst.eni is not None
    back_kind, routes, reason = route_side(m, dst, src)
    if back_kind != T:
        return back_kind, routes, reason
    if any("-> nat-" in x for x in routes):  # a NAT gateway is outbound only: nobody can start a flow in
        return F, [], f"{dst.eni.id} reaches {src.label} only through a NAT gateway (outbound only)"
    return T, routes, ""


def decide(m: NetModel, src: Endpoint, dst: Endpoint, proto: int, port: int) -> FlowDecision:
    """The VPC's decision for one flow, with the rules that allow it or the component that blocks it."""
    allowed: list[str] = []
    unknown: list[str] = []
    parts: list[tuple[int, list[str], list[str], str]] = []  # (tri, allowing, unknown, blocked)

    def add(v: int, allow: list[str], unk: list[str], blocked: str) -> None:
        parts.append((v, allow, unk, blocked))

    if src.eni is None and dst.eni is None:
        return FlowDecision("unknown", unknown=["neither endpoint is an ENI of the snapshot"])
    name = f"{NAMES.get(proto, str(proto))}/{port}"
    # security groups (stateful)
    if src.eni is not None:
        v, a, u = sg_side(m, src.eni, "egress", dst, proto, port)
        add(v, a, u, f"{src.eni.id} security groups: no egress rule allows {name} to {dst.label}")
    if dst.eni is not None:
        v, a, u = sg_side(m, dst.eni, "ingress", src, proto, port)
        add(v, a, u, f"{dst.eni.id} security groups: no ingress rule allows {name} from {src.label}")
    # network ACLs (stateless), only between different subnets
    same_subnet = src.eni is not None and dst.eni is not None and src.eni.subnet == dst.eni.subnet
    if not same_subnet:
        eph = EPHEMERAL if proto in (6, 17) else (port, port)
        for ep, egress_out, peer in ((src, True, dst), (dst, False, src)):
            if ep.eni is None:
                continue
            sub = m.subnets.get(ep.eni.subnet or "")
            if sub is None:
                add(U, [], [f"subnet {ep.eni.subnet} of {ep.eni.id} is not in the snapshot"], "")
                continue
            v, why = acl_side(m, sub, egress_out, peer.net, proto, port, port)
            add(v, [why] if v == T else [], [why] if v == U else [], why)
            if proto in (6, 17):  # the response goes back to the client's ephemeral port
                rv, rwhy = acl_side(m, sub, not egress_out, peer.net, proto, *eph)
                add(rv, [rwhy] if rv == T else [], [rwhy] if rv == U else [], f"response: {rwhy}")
    # routes
    if src.eni is not None:
        v, rts, why = route_side(m, src, dst)
        add(v, rts, [why] if v == U else [], why)
        if dst.eni is not None and dst.eni.vpc != src.eni.vpc:
            v, rts, why = route_side(m, dst, src)  # peering needs the route back too
            add(v, rts, [why] if v == U else [], f"return route: {why}")
    else:
        v, rts, why = inbound_route(m, src, dst)
        add(v, rts, [why] if v == U else [], why)
    worst = min(p[0] for p in parts)
    for _, a, u, _ in parts:
        allowed += a
        unknown += u
    if worst == F:
        return FlowDecision("denied", blocked_by=[p[3] for p in parts if p[0] == F])
    if worst == U:
        return FlowDecision("unknown", allowed_by=allowed, unknown=list(dict.fromkeys(unknown)))
    return FlowDecision("allowed", allowed_by=list(dict.fromkeys(allowed)))
