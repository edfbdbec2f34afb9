"""Addresses and ranges as integers: a CIDR is the closed interval [lo, hi] of its addresses, IPv4 and
IPv6 kept apart by ``version``. Ports and protocols as AWS writes them."""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass

from analyzer.slotted import by_constructor

PROTOCOLS = {
    "-1": -1,
    "all": -1,
    "tcp": 6,
    "udp": 17,
    "icmp": 1,
    "icmpv6": 58,
    "58": 58,
    "6": 6,
    "17": 17,
    "1": 1,
}
NAMES = {6: "tcp", 17: "udp", 1: "icmp", 58: "icmpv6", -1: "all"}
EPHEMERAL = (1024, 65535)
"""The client port range AWS's NACL guidance covers for return traffic (Linux uses 32768-60999, Windows
49152-65535, ELB and NAT gateways 1024-65535)."""


@by_constructor
@dataclass(frozen=True, order=True, slots=True)
class Net:
    version: int
    lo: int
    hi: int

    def contains(self, other: Net) -> bool:
        return self.version == other.version and self.lo <= other.lo and other.hi <= self.hi

    def overlaps(self, other: Net) -> bool:
        return self.version == other.version and self.lo <= other.hi and other.lo <= self.hi

    @property
    def size(self) -> int:
        return self.hi - self.lo + 1

    def __str__(self) -> str:
        return str(ipaddress.ip_network((_addr(self.version, self.lo), _prefix(self)), strict=False))


def _addr(version: int, value: int) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.IPv4Address(value) if version == 4 else ipaddress.IPv6Address(value)


def _prefix(n: Net) -> int:
    bits = 32 if n.version == 4 else 128
    return bits - (n.size.bit_length() - 1)


def parse_net(text: str) -> Net:
    """A CIDR or a single address; raises ValueError with the text when it is neither.

    >>> parse_net("10.0.0.0/8").size
    16777216
    >>> str(parse_net("2001:db8::/32"))
    '2001:db8::/32'
    """
    try:
        n = ipaddress.ip_network(text.strip(), strict=False)
    except ValueError as exc:
        raise ValueError(f"invalid CIDR {text!r}") from exc
    return Net(n.version, int(n.network_address), int(n.broadcast_address))


_LEADING_ZERO = re.compile(r"(?:^|\.)0\d")


def parse_ip(text: str) -> Net:
    """One address. Dotted-quad IPv4 (almost every address in a snapshot) takes a fast path that accepts
    exactly what ``ipaddress`` accepts (no leading zeros); everything else goes through ``ipaddress``.

    >>> parse_ip("10.0.0.5").lo == 167772165, parse_ip("2001:db8::1").version
    (True, 6)
    """
    t = text.strip()
    try:
        packed = socket.inet_pton(socket.AF_INET, t)
    except OSError:
        packed = b""
    if packed and not _LEADING_ZERO.search(t):
        v = int.from_bytes(packed, "big")
        return Net(4, v, v)
    try:
        a = ipaddress.ip_address(t)
    except ValueError as exc:
        raise ValueError(f"invalid IP address {text!r}") from exc
    return Net(a.version, int(a), int(a))


def protocol_number(value: str | int | None) -> int:
    """AWS protocol spellings ('tcp', '6', '-1' …) as IANA numbers, -1 for all."""
    if value is None:
        return -1
    text = str(value).lower()
    if text in PROTOCOLS:
        return PROTOCOLS[text]
    if text.lstrip("-").isdigit():
        return int(text)
    raise ValueError(f"unknown protocol {value!r}")


PRIVATE = [
    parse_net(c) for c in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
]


def is_private(n: Net) -> bool:
    return any(p.contains(n) for p in PRIVATE)


INTERNET_V4 = parse_net("0.0.0.0/0")
INTERNET_V6 = parse_net("::/0")
