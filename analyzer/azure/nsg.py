"""Azure network security groups, decided the way the Azure documentation describes them.

* A group's rules are processed by priority, lowest number first (100-4096 for yours; the default rules
  65000-65500 come last); the first rule that matches the five-tuple decides, and processing stops
  ("Azure network security groups overview", security rules).
* Every group holds the default rules: inbound AllowVNetInBound (VirtualNetwork to VirtualNetwork),
  AllowAzureLoadBalancerInBound, DenyAllInbound; outbound AllowVnetOutBound, AllowInternetOutBound,
  DenyAllOutBound (same page, default security rules).
* Inbound traffic meets the subnet's group first, then the network interface's; outbound the interface's
  first, then the subnet's; both must allow, intra-subnet traffic included; a subnet or interface with no
  group lets everything through ("How network security groups filter network traffic").
* A rule's source and destination are Any, addresses or ranges, a service tag, or application security
  groups: a rule naming an application security group applies only to network interfaces that are members
  of it ("Application security groups"). Service tags: ``VirtualNetwork`` is the virtual network's address
  space with its peered networks' (and its connected on-premises ranges, which are not collected: an
  address outside the known ones is unknown to it); ``Internet`` is what is outside the virtual network
  and publicly routable; ``AzureLoadBalancer`` is the host's 168.63.129.16; any other tag is unknown unless
  its prefixes are given ("Azure service tags").
* Groups are stateful: a flow is decided by who opened it, and replies follow.

Decisions are tri-state (``allowed``, ``denied``, ``unknown`` with the reason): a rule whose match cannot be
told decides only if every way it could go ends the same.

>>> rule = Rule("Allow-HTTP", 100, "Inbound", "Allow", "Tcp", ("Internet",), (), ("*",), ("10.0.0.4",), (), ("80",))
>>> nsg = Nsg("nsg1", (rule,))
>>> web = End("10.0.0.4", nic_nsg=None, subnet_nsg=nsg, vnet=("10.0.0.0/16",))
>>> decide(End("20.50.1.9"), web, 80, "Tcp").state, decide(End("20.50.1.9"), web, 22, "Tcp").state
('allowed', 'denied')
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

T, U, F = 2, 1, 0
LOAD_BALANCER = "168.63.129.16"


@dataclass(frozen=True)
class Rule:
    name: str
    priority: int
    direction: str  # Inbound | Outbound
    access: str  # Allow | Deny
    protocol: str  # Tcp | Udp | Icmp | Esp | Ah | *
    source: tuple[str, ...]  # "*", addresses, CIDRs or one service tag
    source_asgs: tuple[str, ...]
    source_ports: tuple[str, ...]
    destination: tuple[str, ...]
    destination_asgs: tuple[str, ...]
    destination_ports: tuple[str, ...]


def _default(name: str, priority: int, direction: str, access: str, src: str, dst: str) -> Rule:
    return Rule(name, priority, direction, access, "*", (src,), (), ("*",), (dst,), (), ("*",))


DEFAULT_RULES = (
    _default("AllowVnetInBound", 65000, "Inbound", "Allow", "VirtualNetwork", "VirtualNetwork"),
    _default("AllowAzureLoadBalancerInBound", 65001, "Inbound", "Allow", "AzureLoadBalancer", "*"),
    _default("DenyAllInBound", 65500, "Inbound", "Deny", "*", "*"),
    _default("AllowVnetOutBound", 65000, "Outbound", "Allow", "VirtualNetwork", "VirtualNetwork"),
    _default("AllowInternetOutBound", 65001, "Outbound", "Allow", "*", "Internet"),
    _default("DenyAllOutBound", 65500, "Outbound", "Deny", "*", "*"),
)
"""The default rules every group holds ("Azure network security groups overview")."""


@dataclass(frozen=True)
class Nsg:
    id: str
    rules: tuple[Rule, ...]
    """Its own rules; the default ones are added when it decides."""

    def ordered(self, direction: str) -> list[Rule]:
        mine = [r for r in (*self.rules, *DEFAULT_RULES) if r.direction.lower() == direction.lower()]
        return sorted(mine, key=lambda r: r.priority)


@dataclass(frozen=True)
class End:
    """One end of a flow: its address and, inside Azure, its interface's and subnet's groups, its
    application security groups (None: not known) and its virtual network's address space with its peers'."""

    ip: str
    nic_nsg: Nsg | None = None
    subnet_nsg: Nsg | None = None
    asgs: frozenset[str] | None = frozenset()
    vnet: tuple[str, ...] = ()
    """Address prefixes of the end's virtual network and the networks peered with it (empty: outside)."""
    tags: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Service tags' prefixes, where known (``ServiceTags_Public``)."""


@dataclass(frozen=True)
class Verdict:
    state: str  # allowed | denied | unknown
    reason: str
    rules: tuple[str, ...] = ()


def _in(ip: str, prefixes: Sequence[str]) -> bool:
    addr = ipaddress.ip_address(ip)
    for p in prefixes:
        try:
            if addr in ipaddress.ip_network(p, strict=False):
                return True
        except ValueError:
            continue
    return False


def _address(prefix: str, ip: str, home: End) -> int:
    """Whether ``ip`` (the address of ``end``) is what a rule's prefix names, evaluated from the group's
    side ``home`` (whose virtual network the VirtualNetwork tag means)."""
    p = prefix.strip()
    low = p.lower()
    if low in ("*", "any", "0.0.0.0/0"):
        return T
    if low == "virtualnetwork":
        return T if home.vnet and _in(ip, home.vnet) else (F if home.vnet and _public(ip) else U)
    if low == "internet":
        if home.vnet and _in(ip, home.vnet):
            return F
        return T if _public(ip) else U
    if low == "azureloadbalancer":
        return T if ip == LOAD_BALANCER else F
    try:
        return T if ipaddress.ip_address(ip) in ipaddress.ip_network(p, strict=False) else F
    except ValueError:
        known = home.tags.get(p) or home.tags.get(low)
        if known is not None:
            return T if _in(ip, known) else F
        return U  # a service tag whose prefixes are not known


def _public(ip: str) -> bool:
    a = ipaddress.ip_address(ip)
    return not (a.is_private or a.is_loopback or a.is_link_local or a.is_reserved or a.is_multicast)


def _side(prefixes: tuple[str, ...], asgs: tuple[str, ...], end: End, home: End) -> int:
    if asgs:
        if end.asgs is None:
            return U
        return T if {a.lower() for a in asgs} & {a.lower() for a in end.asgs} else F
    return max((_address(p, end.ip, home) for p in prefixes), default=F)


def _port(ranges: tuple[str, ...], port: int) -> bool:
    for r in ranges:
        r = r.strip()
        if r in ("*", "Any", "any"):
            return True
        lo, _, hi = r.partition("-")
        try:
            if int(lo) <= port <= int(hi or lo):
                return True
        except ValueError:
            continue
    return False


def _protocol(rule: str, flow: str) -> bool:
    return rule.strip() in ("*", "Any", "any") or rule.strip().lower() == flow.strip().lower()


def _match(rule: Rule, src: End, dst: End, port: int, protocol: str, home: End) -> int:
    if not _protocol(rule.protocol, protocol) or not _port(rule.destination_ports, port):
        return F
    s = _side(rule.source, rule.source_asgs, src, home)
    if s == F:
        return F
    return min(s, _side(rule.destination, rule.destination_asgs, dst, home))


def evaluate(nsg: Nsg, direction: str, src: End, dst: End, port: int, protocol: str) -> Verdict:
    """One group's answer for one direction: the first rule that matches decides."""
    home = dst if direction == "Inbound" else src
    rules = nsg.ordered(direction)

    def from_(i: int) -> Verdict:
        for k in range(i, len(rules)):
            r = rules[k]
            m = _match(r, src, dst, port, protocol, home)
            if m == F:
                continue
            said = "allowed" if r.access.lower() == "allow" else "denied"
            if m == T:
                return Verdict(said, f"{nsg.id.rsplit('/', 1)[-1]}: rule {r.name} ({r.priority})", (r.name,))
            rest = from_(k + 1)  # the rule may or may not match: both ways must end the same
            if rest.state == said:
                return Verdict(said, rest.reason, (r.name, *rest.rules))
            return Verdict(
                "unknown",
                f"{nsg.id.rsplit('/', 1)[-1]}: whether rule {r.name} ({r.priority}) matches is unknown "
                "(a service tag's prefixes, or an interface's application security groups)",
                (r.name, *rest.rules),
            )
        return Verdict("denied", f"{nsg.id}: no rule matched")  # unreachable: the defaults match all

    return from_(0)


def decide(src: End, dst: End, port: int, protocol: str) -> Verdict:
    """A flow opened from ``src`` to ``dst``: the source's interface then subnet groups outbound, the
    destination's subnet then interface groups inbound; all must allow."""
    steps = [(g, "Outbound") for g in (src.nic_nsg, src.subnet_nsg) if g is not None]
    steps += [(g, "Inbound") for g in (dst.subnet_nsg, dst.nic_nsg) if g is not None]
    verdicts = [evaluate(g, direction, src, dst, port, protocol) for g, direction in steps]
    for state in ("denied", "unknown"):
        for v in verdicts:
            if v.state == state:
                return v  # the first group on the path that refuses it, or cannot tell
    if not verdicts:
        return Verdict("allowed", "no network security group on the path")
    return Verdict(
        "allowed", "; ".join(v.reason for v in verdicts), tuple(r for v in verdicts for r in v.rules)
    )
