"""Security-group checks: which rules open what to the internet, and the revocation of exactly those
peers (AWS Security Hub controls reference, EC2 controls; Prowler's ``ec2_securitygroup_*`` checks).

A permission is AWS's ``IpPermissions`` item: one protocol and port range with its peers. "Open to the
internet" is a peer ``0.0.0.0/0`` (IPv4) or ``::/0`` (IPv6). Revoking removes only the listed peers of a
permission and keeps the rest (other CIDRs, groups); a port range that covers the port is revoked for the
internet peers as a whole (AWS cannot revoke part of a range), which the blast radius then scores.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from analyzer.checks import Check, Derived, register

INTERNET_V4, INTERNET_V6 = "0.0.0.0/0", "::/0"

HIGH_RISK_PORTS = (
    20,
    21,
    22,
    23,
    25,
    110,
    135,
    143,
    445,
    1433,
    1434,
    3000,
    3306,
    3389,
    4333,
    5000,
    5432,
    5500,
    5601,
    8080,
    8088,
    8888,
    9200,
    9300,
)
"""Security Hub EC2.19, "Security groups should not allow unrestricted access to ports with high risk"."""
AUTHORIZED_PORTS = (80, 443)
"""Security Hub EC2.18's default ``authorizedTcpPorts`` parameter."""


def _covers(perm: dict[str, Any], port: int, protocols: tuple[str, ...] = ("tcp",)) -> bool:
    proto = str(perm.get("IpProtocol", "-1"))
    proto = {"6": "tcp", "17": "udp"}.get(proto, proto)
    if proto == "-1":
        return True
    if proto not in protocols:
        return False
    lo, hi = perm.get("FromPort"), perm.get("ToPort")
    if lo is None or hi is None:
        return False
    return int(lo) <= port <= int(hi)


def _internet(perm: dict[str, Any], v4: bool = True, v6: bool = True) -> dict[str, Any] | None:
    """The permission cut to its internet peers (None when it has none)."""
    ranges = [r for r in perm.get("IpRanges") or [] if v4 and r.get("CidrIp") == INTERNET_V4]
    ranges6 = [r for r in perm.get("Ipv6Ranges") or [] if v6 and r.get("CidrIpv6") == INTERNET_V6]
    if not ranges and not ranges6:
        return None
    out: dict[str, Any] = {"IpProtocol": perm.get("IpProtocol", "-1")}
    for k in ("FromPort", "ToPort"):
        if perm.get(k) is not None:
            out[k] = perm[k]
    if ranges:
        out["IpRanges"] = [{"CidrIp": INTERNET_V4}]
    if ranges6:
        out["Ipv6Ranges"] = [{"CidrIpv6": INTERNET_V6}]
    return out


def _label(perm: dict[str, Any]) -> str:
    proto = str(perm.get("IpProtocol"))
    if proto == "-1":
        return "all traffic"
    lo, hi = perm.get("FromPort"), perm.get("ToPort")
    return f"{proto}/{lo}" if lo == hi else f"{proto}/{lo}-{hi}"


def revoke_open(group: dict[str, Any], opens: Any, what: str, *, v4: bool = True, v6: bool = True) -> Derived:
    """Revoke the internet peers of every ingress permission ``opens(perm)`` is true for."""
    revoke = []
    for perm in group.get("IpPermissions") or []:
        if opens(perm):
            cut = _internet(perm, v4, v6)
            if cut is not None:
                revoke.append(cut)
    gid = group.get("GroupId")
    if not revoke:
        return Derived({"ingress": []}, f"{gid} opens no {what} to the internet: the check passes")
    shown = ", ".join(_label(p) for p in revoke)
    return Derived({"ingress": revoke}, f"{gid} opens {what} to the internet through {shown}")


def ports(*numbers: int) -> Any:
    return lambda perm: any(_covers(perm, p, ("tcp", "udp")) for p in numbers)


def _all_ports(perm: dict[str, Any]) -> bool:
    if str(perm.get("IpProtocol")) == "-1":
        return True
    return perm.get("FromPort") == 0 and perm.get("ToPort") == 65535


def _unauthorized(perm: dict[str, Any]) -> bool:
    """EC2.18: a permission opening anything but the authorized TCP ports."""
    proto = str(perm.get("IpProtocol"))
    if proto != "tcp":
        return True
    lo, hi = perm.get("FromPort"), perm.get("ToPort")
    if lo is None or hi is None:
        return True
    return (
        any(p not in AUTHORIZED_PORTS for p in range(int(lo), int(hi) + 1))
        if int(hi) - int(lo) < 70000
        else True
    )


SH = "AWS Security Hub User Guide, 'Security Hub controls for Amazon EC2'"

register(
    Check(
        ("EC2.13", "ec2_securitygroup_allow_ingress_from_internet_to_tcp_port_22"),
        "sg.revoke_rules",
        "ec2-DescribeSecurityGroups",
        lambda g: revoke_open(g, ports(22), "port 22"),
        f"{SH}: EC2.13, no ingress from 0.0.0.0/0 or ::/0 to port 22",
    )
)
register(
    Check(
        ("EC2.14", "ec2_securitygroup_allow_ingress_from_internet_to_tcp_port_3389"),
        "sg.revoke_rules",
        "ec2-DescribeSecurityGroups",
        lambda g: revoke_open(g, ports(3389), "port 3389"),
        f"{SH}: EC2.14, no ingress from 0.0.0.0/0 or ::/0 to port 3389",
    )
)
register(
    Check(
        ("EC2.53",),
        "sg.revoke_rules",
        "ec2-DescribeSecurityGroups",
        lambda g: revoke_open(
            g, ports(22, 3389), "remote administration ports (22, 3389) over IPv4", v6=False
        ),
        f"{SH}: EC2.53, no ingress from 0.0.0.0/0 to remote server administration ports",
    )
)
register(
    Check(
        ("EC2.54",),
        "sg.revoke_rules",
        "ec2-DescribeSecurityGroups",
        lambda g: revoke_open(
            g, ports(22, 3389), "remote administration ports (22, 3389) over IPv6", v4=False
        ),
        f"{SH}: EC2.54, no ingress from ::/0 to remote server administration ports",
    )
)
register(
    Check(
        ("EC2.19", "ec2_securitygroup_allow_ingress_from_internet_to_high_risk_tcp_ports"),
        "sg.revoke_rules",
        "ec2-DescribeSecurityGroups",
        lambda g: revoke_open(g, ports(*HIGH_RISK_PORTS), "high-risk ports"),
        f"{SH}: EC2.19, no unrestricted access to ports with high risk",
    )
)
register(
    Check(
        ("EC2.18",),
        "sg.revoke_rules",
        "ec2-DescribeSecurityGroups",
        lambda g: revoke_open(g, _unauthorized, "ports other than the authorized TCP 80 and 443"),
        f"{SH}: EC2.18, unrestricted incoming traffic only for authorized ports (default 80, 443)",
    )
)
register(
    Check(
        ("ec2_securitygroup_allow_ingress_from_internet_to_all_ports",),
        "sg.revoke_rules",
        "ec2-DescribeSecurityGroups",
        lambda g: revoke_open(g, _all_ports, "every port"),
        "Prowler check metadata: security groups should not allow ingress from the internet to all ports",
    )
)
register(
    Check(
        ("ec2_securitygroup_allow_ingress_from_internet_to_any_port",),
        "sg.revoke_rules",
        "ec2-DescribeSecurityGroups",
        lambda g: revoke_open(g, lambda p: True, "any port"),
        "Prowler check metadata: security groups should not allow ingress from the internet to any port",
    )
)


def _default_group(group: dict[str, Any]) -> Derived:
    """EC2.2: the VPC's default group allows no inbound or outbound traffic: revoke every rule."""
    gid = group.get("GroupId")
    if group.get("GroupName") != "default":
        return Derived({"ingress": [], "egress": []}, f"{gid} is not a VPC's default group")
    ingress = [dict(p) for p in group.get("IpPermissions") or []]
    egress = [dict(p) for p in group.get("IpPermissionsEgress") or []]
    for side in (ingress, egress):
        for p in side:
            for k in ("UserIdGroupPairs",):
                if p.get(k):
                    p[k] = [{"GroupId": x["GroupId"]} for x in p[k] if x.get("GroupId")]
    if not ingress and not egress:
        return Derived(
            {"ingress": [], "egress": []}, f"the default group {gid} has no rules: the check passes"
        )
    return Derived(
        {"ingress": ingress, "egress": egress},
        f"the default group {gid} has {len(ingress)} inbound and {len(egress)} outbound rule(s)",
    )


register(
    Check(
        ("EC2.2", "ec2_securitygroup_default_restrict_traffic"),
        "sg.revoke_rules",
        "ec2-DescribeSecurityGroups",
        _default_group,
        f"{SH}: EC2.2, VPC default security groups should not allow inbound or outbound traffic",
    )
)

_PORT_CHECK = re.compile(
    r"^ec2_securitygroup_allow_ingress_from_internet_to_(?:tcp_|udp_)?(?:[a-z]+_)*port_(.+)$"
)


@cache
def port_check(check_id: str) -> Check | None:
    """Prowler's per-service port checks (``..._to_tcp_port_mysql_3306``, ``..._to_port_mongodb_27017_27018``,
    ``..._to_tcp_ftp_port_20_21``): the numbers in the id are the ports."""
    m = _PORT_CHECK.match(check_id)
    if not m:
        return None
    numbers = tuple(int(x) for x in re.findall(r"\d+", m.group(1)))
    if not numbers:
        return None
    what = "port " + ", ".join(str(n) for n in numbers)
    return Check(
        (check_id,),
        "sg.revoke_rules",
        "ec2-DescribeSecurityGroups",
        lambda g: revoke_open(g, ports(*numbers), what),
        f"Prowler check metadata: {check_id}",
    )
