"""The corpus topology, written as the EC2 Describe* responses AWS returns (one account, us-east-1).

VPC A 10.0.0.0/16 (+ 2600:1f18:a::/56): subnets pub 10.0.1.0/24 (IGW route), priv 10.0.2.0/24 (NAT,
peering to B, transit gateway to 172.16/12, a blackhole), db 10.0.3.0/24 (strict NACL), edge 10.0.4.0/24
(NACL whose return ports are only partly open). VPC B 10.1.0.0/16 peered with A (routes on both sides).
VPC C 10.2.0.0/16 peered with A, route only on A's side. VPC D 10.3.0.0/16, a pending peering.
"""

from __future__ import annotations

import copy
from typing import Any

ACCOUNT = "111122223333"


def sg(
    gid: str, vpc: str, ingress: list[dict[str, Any]], egress: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    all_out = [
        {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}], "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}
    ]
    return {
        "GroupId": gid,
        "GroupName": gid,
        "VpcId": vpc,
        "OwnerId": ACCOUNT,
        "IpPermissions": ingress,
        "IpPermissionsEgress": all_out if egress is None else egress,
    }


def tcp(
    port: int | tuple[int, int],
    *,
    cidr: str | None = None,
    v6: str | None = None,
    group: str | None = None,
    pl: str | None = None,
    proto: str = "tcp",
) -> dict[str, Any]:
    lo, hi = port if isinstance(port, tuple) else (port, port)
    p: dict[str, Any] = {"IpProtocol": proto, "FromPort": lo, "ToPort": hi}
    p["IpRanges"] = [{"CidrIp": cidr}] if cidr else []
    p["Ipv6Ranges"] = [{"CidrIpv6": v6}] if v6 else []
    p["UserIdGroupPairs"] = [{"GroupId": group, "UserId": ACCOUNT}] if group else []
    p["PrefixListIds"] = [{"PrefixListId": pl}] if pl else []
    return p


def entry(
    n: int,
    egress: bool,
    action: str,
    cidr: str,
    proto: str = "-1",
    ports: tuple[int, int] | None = None,
    icmp: int | None = None,
) -> dict[str, Any]:
    e: dict[str, Any] = {"RuleNumber": n, "Egress": egress, "RuleAction": action, "Protocol": proto}
    e["Ipv6CidrBlock" if ":" in cidr else "CidrBlock"] = cidr
    if ports:
        e["PortRange"] = {"From": ports[0], "To": ports[1]}
    if icmp is not None:
        e["IcmpTypeCode"] = {"Type": icmp, "Code": -1}
    return e


def star() -> list[dict[str, Any]]:
    return [
        entry(32767, False, "deny", "0.0.0.0/0"),
        entry(32767, True, "deny", "0.0.0.0/0"),
        entry(32768, False, "deny", "::/0"),
        entry(32768, True, "deny", "::/0"),
    ]


def open_acl(aid: str, vpc: str, subnets: list[str]) -> dict[str, Any]:
    return {
        "NetworkAclId": aid,
        "VpcId": vpc,
        "IsDefault": True,
        "Entries": [
            entry(100, False, "allow", "0.0.0.0/0"),
            entry(100, True, "allow", "0.0.0.0/0"),
            entry(101, False, "allow", "::/0"),
            entry(101, True, "allow", "::/0"),
            *star(),
        ],
        "Associations": [{"NetworkAclId": aid, "SubnetId": s} for s in subnets],
    }


def eni(
    eid: str,
    subnet: str,
    vpc: str,
    ip: str,
    groups: list[str],
    public: str | None = None,
    v6: str | None = None,
) -> dict[str, Any]:
    e: dict[str, Any] = {
        "NetworkInterfaceId": eid,
        "SubnetId": subnet,
        "VpcId": vpc,
        "OwnerId": ACCOUNT,
        "InterfaceType": "interface",
        "PrivateIpAddress": ip,
        "PrivateIpAddresses": [{"Primary": True, "PrivateIpAddress": ip}],
        "Groups": [{"GroupId": g, "GroupName": g} for g in groups],
        "Status": "in-use",
        "Ipv6Addresses": [{"Ipv6Address": v6}] if v6 else [],
    }
    if public:
        e["Association"] = {"PublicIp": public}
        e["PrivateIpAddresses"][0]["Association"] = {"PublicIp": public}
    return e


def tgw_attachment(attachment: str, vpc: str, table: str) -> dict[str, Any]:
    """A VPC attachment of tgw-1 as DescribeTransitGatewayAttachments returns it."""
    return {
        "TransitGatewayAttachmentId": attachment,
        "TransitGatewayId": "tgw-1",
        "TransitGatewayOwnerId": ACCOUNT,
        "ResourceOwnerId": ACCOUNT,
        "ResourceType": "vpc",
        "ResourceId": vpc,
        "State": "available",
        "Association": {"TransitGatewayRouteTableId": table, "State": "associated"},
    }


def route(dest: str, **target: str) -> dict[str, Any]:
    r: dict[str, Any] = {
        "DestinationIpv6CidrBlock" if ":" in dest else "DestinationCidrBlock": dest,
        "State": target.pop("State", "active"),
    }
    r.update(target)
    return r


BASE: dict[str, Any] = {
    "ec2-DescribeVpcs": {
        "Vpcs": [
            {
                "VpcId": "vpc-a",
                "CidrBlock": "10.0.0.0/16",
                "CidrBlockAssociationSet": [{"CidrBlock": "10.0.0.0/16"}],
                "Ipv6CidrBlockAssociationSet": [{"Ipv6CidrBlock": "2600:1f18:a::/56"}],
            },
            {
                "VpcId": "vpc-b",
                "CidrBlock": "10.1.0.0/16",
                "CidrBlockAssociationSet": [{"CidrBlock": "10.1.0.0/16"}],
            },
            {
                "VpcId": "vpc-c",
                "CidrBlock": "10.2.0.0/16",
                "CidrBlockAssociationSet": [{"CidrBlock": "10.2.0.0/16"}],
            },
            {
                "VpcId": "vpc-d",
                "CidrBlock": "10.3.0.0/16",
                "CidrBlockAssociationSet": [{"CidrBlock": "10.3.0.0/16"}],
            },
            {  # behind transit gateway tgw-1: vpc-a's route table reaches vpc-e, not vpc-f
                "VpcId": "vpc-e",
                "CidrBlock": "172.16.0.0/16",
                "CidrBlockAssociationSet": [{"CidrBlock": "172.16.0.0/16"}],
            },
            {
                "VpcId": "vpc-f",
                "CidrBlock": "172.17.0.0/16",
                "CidrBlockAssociationSet": [{"CidrBlock": "172.17.0.0/16"}],
            },
        ]
    },
    "ec2-DescribeSubnets": {
        "Subnets": [
            {
                "SubnetId": "subnet-pub",
                "VpcId": "vpc-a",
                "CidrBlock": "10.0.1.0/24",
                "Ipv6CidrBlockAssociationSet": [{"Ipv6CidrBlock": "2600:1f18:a:1::/64"}],
            },
            {"SubnetId": "subnet-priv", "VpcId": "vpc-a", "CidrBlock": "10.0.2.0/24"},
            {"SubnetId": "subnet-db", "VpcId": "vpc-a", "CidrBlock": "10.0.3.0/24"},
            {"SubnetId": "subnet-edge", "VpcId": "vpc-a", "CidrBlock": "10.0.4.0/24"},
            {"SubnetId": "subnet-b", "VpcId": "vpc-b", "CidrBlock": "10.1.1.0/24"},
            {"SubnetId": "subnet-c", "VpcId": "vpc-c", "CidrBlock": "10.2.1.0/24"},
            {"SubnetId": "subnet-d", "VpcId": "vpc-d", "CidrBlock": "10.3.1.0/24"},
            {"SubnetId": "subnet-e", "VpcId": "vpc-e", "CidrBlock": "172.16.1.0/24"},
            {"SubnetId": "subnet-f", "VpcId": "vpc-f", "CidrBlock": "172.17.1.0/24"},
        ]
    },
    "ec2-DescribeSecurityGroups": {
        "SecurityGroups": [
            sg(
                "sg-web",
                "vpc-a",
                [tcp(443, cidr="0.0.0.0/0"), tcp(80, cidr="0.0.0.0/0"), tcp(443, v6="::/0")],
            ),
            sg(
                "sg-app",
                "vpc-a",
                [
                    tcp(8080, group="sg-web"),
                    {"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": "sg-app"}]},
                ],
            ),
            sg("sg-db", "vpc-a", [tcp(5432, group="sg-app"), tcp(5432, cidr="10.0.2.0/24")], egress=[]),
            sg(
                "sg-batch",
                "vpc-a",
                [],
                egress=[tcp(443, cidr="0.0.0.0/0"), tcp(53, cidr="10.0.0.2/32", proto="udp")],
            ),
            sg(
                "sg-peer",
                "vpc-b",
                [
                    tcp(5432, cidr="10.0.0.0/16"),
                    tcp(-1, group="sg-app", proto="icmp"),
                    tcp((9000, 9100), cidr="10.0.2.0/24", proto="udp"),
                ],
            ),
            sg("sg-c", "vpc-c", [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}]),
            sg("sg-d", "vpc-d", [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}]),
            sg("sg-e", "vpc-e", [tcp(443, cidr="10.0.0.0/8")]),
            sg("sg-f", "vpc-f", [tcp(443, cidr="10.0.0.0/8")]),
            sg(
                "sg-ssh",
                "vpc-a",
                [tcp(22, cidr="203.0.113.0/24"), tcp(22, pl="pl-corp"), tcp(3389, pl="pl-missing")],
            ),
            sg("sg-edge", "vpc-a", [tcp(8443, cidr="0.0.0.0/0")]),
            sg(
                "sg-icmp",
                "vpc-a",
                [
                    {
                        "IpProtocol": "icmp",
                        "FromPort": 8,
                        "ToPort": -1,
                        "IpRanges": [{"CidrIp": "10.0.0.0/8"}],
                    },
                    {
                        "IpProtocol": "icmpv6",
                        "FromPort": -1,
                        "ToPort": -1,
                        "Ipv6Ranges": [{"CidrIpv6": "::/0"}],
                    },
                ],
            ),
        ]
    },
    "ec2-DescribeNetworkInterfaces": {
        "NetworkInterfaces": [
            eni(
                "eni-web",
                "subnet-pub",
                "vpc-a",
                "10.0.1.10",
                ["sg-web"],
                public="54.1.1.10",
                v6="2600:1f18:a:1::10",
            ),
            eni("eni-web-private", "subnet-pub", "vpc-a", "10.0.1.11", ["sg-web"]),
            eni("eni-app", "subnet-priv", "vpc-a", "10.0.2.20", ["sg-app"]),
            eni("eni-app2", "subnet-priv", "vpc-a", "10.0.2.21", ["sg-app"]),
            eni("eni-db", "subnet-db", "vpc-a", "10.0.3.30", ["sg-db"]),
            eni("eni-batch", "subnet-priv", "vpc-a", "10.0.2.40", ["sg-batch"]),
            eni("eni-peer", "subnet-b", "vpc-b", "10.1.1.50", ["sg-peer"]),
            eni("eni-c", "subnet-c", "vpc-c", "10.2.1.60", ["sg-c"]),
            eni("eni-d", "subnet-d", "vpc-d", "10.3.1.70", ["sg-d"]),
            eni("eni-e", "subnet-e", "vpc-e", "172.16.1.10", ["sg-e"]),
            eni("eni-f", "subnet-f", "vpc-f", "172.17.1.10", ["sg-f"]),
            eni("eni-bastion", "subnet-pub", "vpc-a", "10.0.1.12", ["sg-ssh", "sg-icmp"], public="54.1.1.12"),
            eni("eni-edge", "subnet-edge", "vpc-a", "10.0.4.40", ["sg-edge", "sg-app"], public="54.1.1.40"),
            eni("eni-ghost", "subnet-gone", "vpc-a", "10.0.9.9", ["sg-app"]),
            eni("eni-orphan-sg", "subnet-priv", "vpc-a", "10.0.2.99", ["sg-deleted"]),
        ]
    },
    "ec2-DescribeNetworkAcls": {
        "NetworkAcls": [
            open_acl("acl-a", "vpc-a", ["subnet-pub", "subnet-priv"]),
            {
                "NetworkAclId": "acl-db",
                "VpcId": "vpc-a",
                "IsDefault": False,
                "Entries": [
                    entry(90, False, "deny", "10.0.2.40/32", "6", (5432, 5432)),
                    entry(100, False, "allow", "10.0.2.0/24", "6", (5432, 5432)),
                    entry(110, False, "deny", "0.0.0.0/0", "6", (5432, 5432)),
                    entry(120, False, "allow", "10.1.0.0/16", "6", (5432, 5432)),
                    entry(200, False, "allow", "0.0.0.0/0", "6", (1024, 65535)),
                    entry(100, True, "allow", "10.0.0.0/8", "6", (1024, 65535)),
                    entry(110, True, "allow", "10.0.0.0/8", "6", (5432, 5432)),
                    *star(),
                ],
                "Associations": [{"SubnetId": "subnet-db"}],
            },
            {
                "NetworkAclId": "acl-edge",
                "VpcId": "vpc-a",
                "IsDefault": False,
                "Entries": [
                    entry(100, False, "allow", "0.0.0.0/0", "6", (8443, 8443)),
                    entry(110, False, "allow", "0.0.0.0/0", "6", (1024, 65535)),
                    entry(120, False, "allow", "10.0.0.0/16", "-1"),
                    entry(100, True, "allow", "0.0.0.0/0", "6", (32768, 65535)),
                    entry(110, True, "allow", "10.0.0.0/16", "-1"),
                    *star(),
                ],
                "Associations": [{"SubnetId": "subnet-edge"}],
            },
            open_acl("acl-b", "vpc-b", ["subnet-b"]),
            open_acl("acl-c", "vpc-c", ["subnet-c"]),
            open_acl("acl-e", "vpc-e", ["subnet-e"]),
            open_acl("acl-f", "vpc-f", ["subnet-f"]),
            open_acl("acl-d", "vpc-d", ["subnet-d"]),
        ]
    },
    "ec2-DescribeRouteTables": {
        "RouteTables": [
            {
                "RouteTableId": "rtb-main-a",
                "VpcId": "vpc-a",
                "Routes": [route("10.0.0.0/16", GatewayId="local")],
                "Associations": [{"Main": True}],
            },
            {
                "RouteTableId": "rtb-pub",
                "VpcId": "vpc-a",
                "Routes": [
                    route("10.0.0.0/16", GatewayId="local"),
                    route("2600:1f18:a::/56", GatewayId="local"),
                    route("0.0.0.0/0", GatewayId="igw-a"),
                    route("::/0", GatewayId="igw-a"),
                ],
                "Associations": [
                    {"Main": False, "SubnetId": "subnet-pub"},
                    {"Main": False, "SubnetId": "subnet-edge"},
                ],
            },
            {
                "RouteTableId": "rtb-priv",
                "VpcId": "vpc-a",
                "Routes": [
                    route("10.0.0.0/16", GatewayId="local"),
                    route("0.0.0.0/0", NatGatewayId="nat-a"),
                    route("10.1.0.0/16", VpcPeeringConnectionId="pcx-ab"),
                    route("10.2.0.0/16", VpcPeeringConnectionId="pcx-ac"),
                    route("10.3.0.0/16", VpcPeeringConnectionId="pcx-ad"),
                    route("172.16.0.0/12", TransitGatewayId="tgw-1"),
                    route("192.168.50.0/24", VpcPeeringConnectionId="pcx-gone", State="blackhole"),
                ],
                "Associations": [
                    {"Main": False, "SubnetId": "subnet-priv"},
                    {"Main": False, "SubnetId": "subnet-db"},
                ],
            },
            {
                "RouteTableId": "rtb-b",
                "VpcId": "vpc-b",
                "Routes": [
                    route("10.1.0.0/16", GatewayId="local"),
                    route("10.0.2.0/24", VpcPeeringConnectionId="pcx-ab"),
                ],
                "Associations": [{"Main": True}],
            },
            {
                "RouteTableId": "rtb-c",
                "VpcId": "vpc-c",
                "Routes": [route("10.2.0.0/16", GatewayId="local")],
                "Associations": [{"Main": True}],
            },
            {
                "RouteTableId": "rtb-e",
                "VpcId": "vpc-e",
                "Routes": [
                    route("172.16.0.0/16", GatewayId="local"),
                    route("10.0.0.0/16", TransitGatewayId="tgw-1"),
                ],
                "Associations": [{"Main": True}],
            },
            {
                "RouteTableId": "rtb-f",
                "VpcId": "vpc-f",
                "Routes": [
                    route("172.17.0.0/16", GatewayId="local"),
                    route("10.0.0.0/16", TransitGatewayId="tgw-1"),
                ],
                "Associations": [{"Main": True}],
            },
            {
                "RouteTableId": "rtb-d",
                "VpcId": "vpc-d",
                "Routes": [
                    route("10.3.0.0/16", GatewayId="local"),
                    route("10.0.0.0/16", VpcPeeringConnectionId="pcx-ad"),
                ],
                "Associations": [{"Main": True}],
            },
        ]
    },
    "ec2-DescribeVpcPeeringConnections": {
        "VpcPeeringConnections": [
            {
                "VpcPeeringConnectionId": "pcx-ab",
                "RequesterVpcInfo": {"VpcId": "vpc-a"},
                "AccepterVpcInfo": {"VpcId": "vpc-b"},
                "Status": {"Code": "active"},
            },
            {
                "VpcPeeringConnectionId": "pcx-ac",
                "RequesterVpcInfo": {"VpcId": "vpc-a"},
                "AccepterVpcInfo": {"VpcId": "vpc-c"},
                "Status": {"Code": "active"},
            },
            {
                "VpcPeeringConnectionId": "pcx-ad",
                "RequesterVpcInfo": {"VpcId": "vpc-a"},
                "AccepterVpcInfo": {"VpcId": "vpc-d"},
                "Status": {"Code": "pending-acceptance"},
            },
        ]
    },
    "ec2-DescribeNatGateways": {
        "NatGateways": [
            {"NatGatewayId": "nat-a", "SubnetId": "subnet-pub", "VpcId": "vpc-a", "State": "available"}
        ]
    },
    # transit gateway tgw-1 (Amazon VPC Transit Gateways guide, "Transit gateway route tables"): vpc-a's
    # attachment is associated with tgw-rtb-a, into which only vpc-e's propagates; vpc-e's and vpc-f's with
    # tgw-rtb-ef, into which vpc-a's propagates. So vpc-a reaches vpc-e; vpc-f reaches vpc-a, but not back.
    "ec2-DescribeTransitGatewayAttachments": {
        "TransitGatewayAttachments": [
            tgw_attachment("tgw-attach-a", "vpc-a", "tgw-rtb-a"),
            tgw_attachment("tgw-attach-e", "vpc-e", "tgw-rtb-ef"),
            tgw_attachment("tgw-attach-f", "vpc-f", "tgw-rtb-ef"),
        ]
    },
    "ec2-DescribeTransitGatewayRouteTables": {
        "TransitGatewayRouteTables": [
            {"TransitGatewayRouteTableId": "tgw-rtb-a", "TransitGatewayId": "tgw-1", "State": "available"},
            {"TransitGatewayRouteTableId": "tgw-rtb-ef", "TransitGatewayId": "tgw-1", "State": "available"},
        ]
    },
    "ec2-SearchTransitGatewayRoutes": {
        "tgw-rtb-a": {
            "Routes": [
                {
                    "DestinationCidrBlock": "172.16.0.0/16",
                    "TransitGatewayAttachments": [
                        {
                            "ResourceId": "vpc-e",
                            "TransitGatewayAttachmentId": "tgw-attach-e",
                            "ResourceType": "vpc",
                        }
                    ],
                    "Type": "propagated",
                    "State": "active",
                }
            ],
            "AdditionalRoutesAvailable": False,
        },
        "tgw-rtb-ef": {"Routes": [], "AdditionalRoutesAvailable": False},
    },
    "ec2-GetTransitGatewayRouteTablePropagations": {
        "tgw-rtb-a": {
            "TransitGatewayRouteTablePropagations": [
                {
                    "TransitGatewayAttachmentId": "tgw-attach-e",
                    "ResourceId": "vpc-e",
                    "ResourceType": "vpc",
                    "State": "enabled",
                }
            ]
        },
        "tgw-rtb-ef": {
            "TransitGatewayRouteTablePropagations": [
                {
                    "TransitGatewayAttachmentId": "tgw-attach-a",
                    "ResourceId": "vpc-a",
                    "ResourceType": "vpc",
                    "State": "enabled",
                }
            ]
        },
    },
    "ec2-GetManagedPrefixListEntries": {
        "pl-corp": {"Entries": [{"Cidr": "198.51.100.0/24"}, {"Cidr": "192.0.2.0/28"}]}
    },
}


def topology(patch: dict[str, Any] | None = None) -> dict[str, Any]:
    """The base responses with ``patch`` applied: {"groups": {id: {"IpPermissions": [...]}}, "acls": {id: entries},
    "drop": ["ec2-DescribeNetworkAcls", ...]}."""
    data = copy.deepcopy(BASE)
    patch = patch or {}
    for g in data["ec2-DescribeSecurityGroups"]["SecurityGroups"]:
        g.update((patch.get("groups") or {}).get(g["GroupId"], {}))
    for a in data["ec2-DescribeNetworkAcls"]["NetworkAcls"]:
        if a["NetworkAclId"] in (patch.get("acls") or {}):
            a["Entries"] = patch["acls"][a["NetworkAclId"]] + star()
    for op in patch.get("drop") or []:
        data.pop(op, None)
    return data
