"""The VPC configuration as plain objects: security groups (rules expanded one per peer), NACL entries in
rule order, route tables with their associations, VPCs, subnets, ENIs, peering connections, NAT gateways,
prefix lists. Built from the DescribeX API responses (``from_api``) or from the store's snapshot
(``from_snapshot``); what cannot be read is listed in ``problems`` with the resource id and makes the
decisions it touches ``unknown``."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from analyzer.network.addr import Net, parse_ip, parse_net, protocol_number
from analyzer.network.transit import OPS as TRANSIT_OPS
from analyzer.network.transit import TransitRoutes, transit_routes
from analyzer.slotted import by_constructor


@by_constructor
@dataclass(frozen=True, slots=True)
class SgRule:
    group: str
    direction: str  # ingress | egress
    proto: int  # -1 all
    lo: int  # port (or ICMP type) range; -1..-1 means all
    hi: int
    net: Net | None = None
    ref: str | None = None  # a referenced security group id
    prefix_list: str | None = None
    rule_id: str = ""
    broken: str | None = None  # why this rule cannot be read (it may match anything)

    def describe(self) -> str:
        return self.rule_id


@by_constructor
@dataclass(frozen=True, slots=True)
class NaclEntry:
    acl: str
    number: int
    egress: bool
    proto: int
    lo: int
    hi: int
    allow: bool
    net: Net

    @property
    def rule_id(self) -> str:
        n = "*" if self.number >= 32767 else str(self.number)
        return f"{self.acl} {'egress' if self.egress else 'ingress'} rule {n} ({'allow' if self.allow else 'deny'})"


@by_constructor
@dataclass(frozen=True, slots=True)
class Route:
    table: str
    dest: Net | None
    prefix_list: str | None
    target_kind: str  # local | igw | nat | pcx | tgw | vgw | eni | vpce | other
    target: str
    active: bool

    @property
    def rule_id(self) -> str:
        d = str(self.dest) if self.dest else self.prefix_list
        return f"{self.table} route {d} -> {self.target}{'' if self.active else ' (blackhole)'}"


@by_constructor
@dataclass(slots=True)
class Eni:
    id: str
    account: str
    vpc: str | None
    subnet: str | None
    ips: list[Net]
    public_ips: list[Net]
    groups: list[str]
    attached_to: str | None = None
    kind: str = "interface"


@by_constructor
@dataclass(slots=True)
class Subnet:
    id: str
    vpc: str
    cidrs: list[Net]
    acl: str | None = None
    route_table: str | None = None


@by_constructor
@dataclass(slots=True)
class Peering:
    id: str
    vpcs: tuple[str, str]
    active: bool


@dataclass
class NetModel:
    vpcs: dict[str, list[Net]] = field(default_factory=dict)
    subnets: dict[str, Subnet] = field(default_factory=dict)
    groups: dict[str, list[SgRule]] = field(default_factory=dict)  # group id -> its rules
    acls: dict[str, list[NaclEntry]] = field(default_factory=dict)  # acl id -> entries in rule order
    routes: dict[str, list[Route]] = field(default_factory=dict)  # table id -> routes
    main_table: dict[str, str] = field(default_factory=dict)  # vpc -> main route table
    enis: dict[str, Eni] = field(default_factory=dict)
    peerings: dict[str, Peering] = field(default_factory=dict)
    nat_subnet: dict[str, str] = field(default_factory=dict)  # nat gateway -> its subnet
    prefix_lists: dict[str, list[Net]] = field(default_factory=dict)
    instance_enis: dict[str, list[str]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    interfaces_unknown: set[str] = field(default_factory=set)
    """VPCs whose interfaces were not collected (an interface there may hold any address, any group)."""
    transit: TransitRoutes = field(default_factory=TransitRoutes)
    """Where each VPC's transit gateways route its traffic (their route tables)."""
    tables_collected: bool = False
    acls_collected: bool = False
    _by_ip: dict[tuple[int, int], str] | None = None

    def in_collected_vpc(self, net: Net) -> bool:
        """Whether ``net`` lies inside a VPC of the snapshot whose interfaces were all collected (and in no
        VPC whose interfaces were not)."""
        known = [v for v in self.vpcs if v not in self.interfaces_unknown]
        if any(c.overlaps(net) for v in self.interfaces_unknown for c in self.vpcs[v]):
            return False
        return any(c.contains(net) for v in known for c in self.vpcs[v])

    def member_addresses(self, group: str, net: Net) -> bool:
        """Whether an interface holding ``group`` has an address inside ``net``."""
        return any(net.overlaps(ip) for e in self.enis.values() if group in e.groups for ip in e.ips)

    def eni_by_ip(self, net: Net) -> Eni | None:
        if self._by_ip is None:
            self._by_ip = {}
            for e in self.enis.values():
                for ip in e.ips + e.public_ips:
                    self._by_ip[(ip.version, ip.lo)] = e.id
        if net.size != 1:
            return None
        eid = self._by_ip.get((net.version, net.lo))
        return self.enis.get(eid) if eid else None

    def members(self, group: str) -> set[str]:
        return {e.id for e in self.enis.values() if group in e.groups}

    def route_table_of(self, subnet: Subnet) -> str | None:
        return subnet.route_table or self.main_table.get(subnet.vpc)

    def vpc_of_ip(self, net: Net) -> str | None:
        for vpc, cidrs in self.vpcs.items():
            if any(c.contains(net) for c in cidrs):
                return vpc
        return None


# -- reading DescribeX responses ---------------------------------------------------------------------------
def _ports(perm: dict[str, Any]) -> tuple[int, int]:
    lo, hi = perm.get("FromPort"), perm.get("ToPort")
    if lo is None or lo == -1:
        return -1, -1
    return int(lo), int(hi if hi is not None and hi != -1 else lo)


def sg_rules(
    group: str, direction: str, perms: Iterable[dict[str, Any]], problems: list[str]
) -> list[SgRule]:
    """One SgRule per (permission, peer): IpRanges, Ipv6Ranges, UserIdGroupPairs, PrefixListIds."""
    out: list[SgRule] = []
    for i, perm in enumerate(perms):
        where = f"{group} {direction}[{i}]"
        try:
            proto = protocol_number(perm.get("IpProtocol"))
            lo, hi = _ports(perm)
            if proto in (6, 17) and lo != -1 and not (0 <= lo <= hi <= 65535):
                raise ValueError(f"invalid port range {lo}-{hi}")
        except ValueError as exc:
            problems.append(f"{where}: {exc} (rule treated as unknown)")
            out.append(SgRule(group, direction, -1, -1, -1, rule_id=where, broken=str(exc)))
            continue
        pname = {6: "tcp", 17: "udp", 1: "icmp", -1: "all"}.get(proto, str(proto))
        port = "" if lo == -1 else f":{lo}" if lo == hi else f":{lo}-{hi}"
        for r in perm.get("IpRanges") or []:
            text = r.get("CidrIp", "")
            rid = f"{group} {direction} {pname}{port} {text}"
            try:
                out.append(SgRule(group, direction, proto, lo, hi, net=parse_net(text), rule_id=rid))
            except ValueError as exc:
                problems.append(f"{where}: {exc} (rule treated as unknown)")
                out.append(SgRule(group, direction, proto, lo, hi, rule_id=rid, broken=str(exc)))
        for r in perm.get("Ipv6Ranges") or []:
            text = r.get("CidrIpv6", "")
            rid = f"{group} {direction} {pname}{port} {text}"
            try:
                out.append(SgRule(group, direction, proto, lo, hi, net=parse_net(text), rule_id=rid))
            except ValueError as exc:
                problems.append(f"{where}: {exc} (rule treated as unknown)")
                out.append(SgRule(group, direction, proto, lo, hi, rule_id=rid, broken=str(exc)))
        for r in perm.get("UserIdGroupPairs") or []:
            ref = r.get("GroupId", "")
            rid = f"{group} {direction} {pname}{port} {ref}"
            out.append(SgRule(group, direction, proto, lo, hi, ref=ref, rule_id=rid))
        for r in perm.get("PrefixListIds") or []:
            pl = r.get("PrefixListId", "")
            rid = f"{group} {direction} {pname}{port} {pl}"
            out.append(SgRule(group, direction, proto, lo, hi, prefix_list=pl, rule_id=rid))
    return out


def nacl_entries(acl: dict[str, Any], problems: list[str]) -> list[NaclEntry]:
    aid = acl["NetworkAclId"]
    out = []
    for e in acl.get("Entries") or []:
        try:
            proto = protocol_number(e.get("Protocol"))
            if proto in (6, 17):
                pr = e.get("PortRange") or {}
                lo, hi = int(pr.get("From", 0)), int(pr.get("To", 65535))
                if not 0 <= lo <= hi <= 65535:
                    raise ValueError(f"invalid port range {lo}-{hi}")
            elif proto in (1, 58):
                t = int((e.get("IcmpTypeCode") or {}).get("Type", -1))
                lo, hi = (t, t) if t != -1 else (-1, -1)
            else:
                lo, hi = -1, -1
            net = parse_net(e.get("CidrBlock") or e.get("Ipv6CidrBlock") or "")
        except ValueError as exc:
            problems.append(
                f"{aid} entry {e.get('RuleNumber')}: {exc} (entry skipped; decisions it touches are unknown)"
            )
            continue
        out.append(
            NaclEntry(
                aid,
                int(e["RuleNumber"]),
                bool(e.get("Egress")),
                proto,
                lo,
                hi,
                e.get("RuleAction") == "allow",
                net,
            )
        )
    out.sort(key=lambda x: (x.egress, x.number))
    return out


def _route(table: str, r: dict[str, Any], problems: list[str]) -> Route | None:
    dest = r.get("DestinationCidrBlock") or r.get("DestinationIpv6CidrBlock")
    pl = r.get("DestinationPrefixListId")
    try:
        net = parse_net(dest) if dest else None
    except ValueError as exc:
        problems.append(f"{table}: {exc} (route skipped)")
        return None
    if r.get("VpcPeeringConnectionId"):
        kind, target = "pcx", r["VpcPeeringConnectionId"]
    elif r.get("TransitGatewayId"):
        kind, target = "tgw", r["TransitGatewayId"]
    elif r.get("NatGatewayId"):
        kind, target = "nat", r["NatGatewayId"]
    elif r.get("NetworkInterfaceId") or r.get("InstanceId"):
        kind, target = "eni", r.get("NetworkInterfaceId") or r["InstanceId"]
    else:
        gw = str(r.get("GatewayId") or "")
        kind = "local" if gw == "local" else gw.split("-", 1)[0] if gw else "other"
        kind = {"igw": "igw", "eigw": "igw", "vgw": "vgw", "vpce": "vpce", "local": "local"}.get(
            kind, "other"
        )
        target = gw or "unknown"
    return Route(table, net, pl, kind, target, r.get("State", "active") != "blackhole")


def _shared(text: Any) -> Any:
    return sys.intern(text) if type(text) is str else text


def from_api(responses: Iterable[tuple[str, dict[str, Any]]]) -> NetModel:
    """Build the model from (account, {"ec2-DescribeX": response, …}) pairs (one per account and region)."""
    m = NetModel()
    transit = []
    for account, data in responses:
        if any(op in data for op in TRANSIT_OPS):
            transit.append({op: data[op] for op in TRANSIT_OPS if op in data})
        for v in (data.get("ec2-DescribeVpcs") or {}).get("Vpcs", []):
            cidrs = [c["CidrBlock"] for c in v.get("CidrBlockAssociationSet") or [] if c.get("CidrBlock")]
            cidrs += [
                c["Ipv6CidrBlock"]
                for c in v.get("Ipv6CidrBlockAssociationSet") or []
                if c.get("Ipv6CidrBlock")
            ]
            nets = []
            for c in cidrs or [v.get("CidrBlock", "")]:
                try:
                    nets.append(parse_net(c))
                except ValueError as exc:
                    m.problems.append(f"{v['VpcId']}: {exc}")
            m.vpcs[v["VpcId"]] = nets
            if "ec2-DescribeNetworkInterfaces" not in data:  # refused or not collected: some may be unknown
                m.interfaces_unknown.add(v["VpcId"])
        for s in (data.get("ec2-DescribeSubnets") or {}).get("Subnets", []):
            nets = []
            for c in [s.get("CidrBlock")] + [
                a.get("Ipv6CidrBlock") for a in s.get("Ipv6CidrBlockAssociationSet") or []
            ]:
                if c:
                    try:
                        nets.append(parse_net(c))
                    except ValueError as exc:
                        m.problems.append(f"{s['SubnetId']}: {exc}")
            m.subnets[s["SubnetId"]] = Subnet(s["SubnetId"], s["VpcId"], nets)
        for g in (data.get("ec2-DescribeSecurityGroups") or {}).get("SecurityGroups", []):
            m.groups[_shared(g["GroupId"])] = sg_rules(
                g["GroupId"], "ingress", g.get("IpPermissions") or [], m.problems
            ) + sg_rules(g["GroupId"], "egress", g.get("IpPermissionsEgress") or [], m.problems)
        if "ec2-DescribeNetworkAcls" in data:
            m.acls_collected = True
        for a in (data.get("ec2-DescribeNetworkAcls") or {}).get("NetworkAcls", []):
            m.acls[a["NetworkAclId"]] = nacl_entries(a, m.problems)
            for assoc in a.get("Associations") or []:
                if assoc.get("SubnetId") in m.subnets:
                    m.subnets[assoc["SubnetId"]].acl = a["NetworkAclId"]
                else:
                    m.problems.append(
                        f"{a['NetworkAclId']}: associated subnet {assoc.get('SubnetId')} is not in the snapshot"
                    )
        if "ec2-DescribeRouteTables" in data:
            m.tables_collected = True
        for t in (data.get("ec2-DescribeRouteTables") or {}).get("RouteTables", []):
            tid = t["RouteTableId"]
            m.routes[tid] = [
                r for r in (_route(tid, x, m.problems) for x in t.get("Routes") or []) if r is not None
            ]
            for assoc in t.get("Associations") or []:
                if assoc.get("Main"):
                    m.main_table[t["VpcId"]] = tid
                elif assoc.get("SubnetId") in m.subnets:
                    m.subnets[assoc["SubnetId"]].route_table = tid
        for p in (data.get("ec2-DescribeVpcPeeringConnections") or {}).get("VpcPeeringConnections", []):
            a = (p.get("RequesterVpcInfo") or {}).get("VpcId", "")
            b = (p.get("AccepterVpcInfo") or {}).get("VpcId", "")
            m.peerings[p["VpcPeeringConnectionId"]] = Peering(
                p["VpcPeeringConnectionId"], (a, b), (p.get("Status") or {}).get("Code") == "active"
            )
        for n in (data.get("ec2-DescribeNatGateways") or {}).get("NatGateways", []):
            if n.get("State", "available") == "available":
                m.nat_subnet[n["NatGatewayId"]] = n.get("SubnetId", "")
        for pl, resp in (data.get("ec2-GetManagedPrefixListEntries") or {}).items():
            nets = []
            for e in (resp or {}).get("Entries", []):
                try:
                    nets.append(parse_net(e["Cidr"]))
                except (ValueError, KeyError) as exc:
                    m.problems.append(f"{pl}: {exc}")
            m.prefix_lists[pl] = nets
        for e in (data.get("ec2-DescribeNetworkInterfaces") or {}).get("NetworkInterfaces", []):
            eid = _shared(e["NetworkInterfaceId"])
            ips: list[Net] = []
            pubs: list[Net] = []
            texts = [(p.get("PrivateIpAddress"), False) for p in e.get("PrivateIpAddresses") or []]
            texts += [
                ((p.get("Association") or {}).get("PublicIp"), True)
                for p in e.get("PrivateIpAddresses") or []
            ]
            texts += [(p.get("Ipv6Address"), False) for p in e.get("Ipv6Addresses") or []]
            texts += [((e.get("Association") or {}).get("PublicIp"), True)]
            for text, public in texts:
                if not text:
                    continue
                try:
                    ip = parse_ip(text)
                except ValueError as exc:
                    m.problems.append(f"{eid}: {exc}")
                    continue
                target = pubs if public else ips
                if ip not in target:
                    target.append(ip)
            att = e.get("Attachment") or {}
            subnet = e.get("SubnetId")
            if subnet and subnet not in m.subnets:
                m.problems.append(
                    f"{eid}: subnet {subnet} is not in the snapshot (its NACL and routes are unknown)"
                )
            m.enis[eid] = Eni(  # the ids many interfaces repeat are shared (a million ENIs at scale)
                eid,
                _shared(account),
                _shared(e.get("VpcId")),
                _shared(subnet),
                ips,
                pubs,
                [_shared(g["GroupId"]) for g in e.get("Groups") or []],
                att.get("InstanceId") or e.get("RequesterId") or e.get("Description"),
                e.get("InterfaceType") or "interface",
            )
            if att.get("InstanceId"):
                m.instance_enis.setdefault(att["InstanceId"], []).append(eid)
    m.transit = transit_routes(transit)
    for eni in m.enis.values():
        for g in eni.groups:
            if g not in m.groups:
                m.problems.append(
                    f"{eni.id}: security group {g} is not in the snapshot (decisions through it are unknown)"
                )
    return m


EC2_OPS = (
    "ec2-DescribeVpcs",
    "ec2-DescribeSubnets",
    "ec2-DescribeSecurityGroups",
    "ec2-DescribeNetworkInterfaces",
    "ec2-DescribeNetworkAcls",
    "ec2-DescribeRouteTables",
    "ec2-DescribeVpcPeeringConnections",
    "ec2-DescribeNatGateways",
    "ec2-GetManagedPrefixListEntries",
    *TRANSIT_OPS,
)
