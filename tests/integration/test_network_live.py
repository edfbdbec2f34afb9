"""VPC configuration created on a moto server over HTTP, collected live, and the same data replayed from
the files the collection saved: identical flow decisions (per flow and vectorized)."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import boto3
import pytest

from analyzer import api
from analyzer.graph.store import open_store
from analyzer.network.decide import decide
from analyzer.network.service import resolve_endpoint
from analyzer.network.vector import Compiled, decide_many, flows_from
from connectors.aws import collect as collect_mod
from connectors.aws.snapshot import load_snapshot

pytestmark = pytest.mark.integration


@pytest.fixture
def vpcs(moto_server: str) -> dict[str, Any]:
    ec2 = boto3.client("ec2", region_name="us-east-1")
    a = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    b = ec2.create_vpc(CidrBlock="10.21.0.0/16")["Vpc"]["VpcId"]
    app = ec2.create_subnet(VpcId=a, CidrBlock="10.20.1.0/24")["Subnet"]["SubnetId"]
    db = ec2.create_subnet(VpcId=a, CidrBlock="10.20.2.0/24")["Subnet"]["SubnetId"]
    pub = ec2.create_subnet(VpcId=a, CidrBlock="10.20.0.0/24")["Subnet"]["SubnetId"]
    other = ec2.create_subnet(VpcId=b, CidrBlock="10.21.1.0/24")["Subnet"]["SubnetId"]
    sg_app = ec2.create_security_group(GroupName="app", Description="app", VpcId=a)["GroupId"]
    sg_db = ec2.create_security_group(GroupName="db", Description="db", VpcId=a)["GroupId"]
    sg_b = ec2.create_security_group(GroupName="b", Description="b", VpcId=b)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=sg_db,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 5432,
                "ToPort": 5432,
                "UserIdGroupPairs": [{"GroupId": sg_app}],
            },
            {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "IpRanges": [{"CidrIp": "10.21.0.0/16"}]},
        ],
    )
    ec2.authorize_security_group_ingress(
        GroupId=sg_app,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
        ],
    )
    ec2.authorize_security_group_ingress(
        GroupId=sg_b, IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "10.20.0.0/16"}]}]
    )
    # a NACL on the db subnet: only 5432 from the app subnet, responses to the VPC
    acl = ec2.create_network_acl(VpcId=a)["NetworkAcl"]["NetworkAclId"]
    for n, egress, proto, ports, cidr, action in [
        (100, False, "6", (5432, 5432), "10.20.1.0/24", "allow"),
        (110, False, "6", (5432, 5432), "10.21.0.0/16", "deny"),
        (100, True, "6", (1024, 65535), "10.20.0.0/16", "allow"),
    ]:
        ec2.create_network_acl_entry(
            NetworkAclId=acl,
            RuleNumber=n,
            Protocol=proto,
            RuleAction=action,
            Egress=egress,
            CidrBlock=cidr,
            PortRange={"From": ports[0], "To": ports[1]},
        )
    assoc = ec2.describe_network_acls(Filters=[{"Name": "association.subnet-id", "Values": [db]}])[
        "NetworkAcls"
    ][0]
    assoc_id = next(x["NetworkAclAssociationId"] for x in assoc["Associations"] if x["SubnetId"] == db)
    ec2.replace_network_acl_association(AssociationId=assoc_id, NetworkAclId=acl)
    # internet gateway + public route table; peering A<->B with routes on both sides
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=a)
    rtb_pub = ec2.create_route_table(VpcId=a)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=rtb_pub, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    ec2.associate_route_table(RouteTableId=rtb_pub, SubnetId=pub)
    pcx = ec2.create_vpc_peering_connection(VpcId=a, PeerVpcId=b)["VpcPeeringConnection"][
        "VpcPeeringConnectionId"
    ]
    ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=pcx)
    main_a = ec2.describe_route_tables(
        Filters=[{"Name": "vpc-id", "Values": [a]}, {"Name": "association.main", "Values": ["true"]}]
    )["RouteTables"][0]["RouteTableId"]
    main_b = ec2.describe_route_tables(
        Filters=[{"Name": "vpc-id", "Values": [b]}, {"Name": "association.main", "Values": ["true"]}]
    )["RouteTables"][0]["RouteTableId"]
    ec2.create_route(RouteTableId=main_a, DestinationCidrBlock="10.21.0.0/16", VpcPeeringConnectionId=pcx)
    ec2.create_route(RouteTableId=main_b, DestinationCidrBlock="10.20.1.0/24", VpcPeeringConnectionId=pcx)
    enis = {}
    for name, subnet, sg, ip in [
        ("app", app, sg_app, "10.20.1.10"),
        ("db", db, sg_db, "10.20.2.10"),
        ("web", pub, sg_app, "10.20.0.10"),
        ("b", other, sg_b, "10.21.1.10"),
    ]:
        enis[name] = ec2.create_network_interface(SubnetId=subnet, Groups=[sg], PrivateIpAddress=ip)[
            "NetworkInterface"
        ]["NetworkInterfaceId"]
    return {"enis": enis, "sg_db": sg_db}


def test_live_and_replayed_network_decisions_are_identical(vpcs: dict[str, Any], tmp_path: Path) -> None:
    live = open_store(tmp_path / "live")
    report = collect_mod.ingest_aws(live, save_raw=tmp_path / "raw", regions=["us-east-1"])
    assert report.accounts and report.warnings == []
    raw = next((tmp_path / "raw").glob("*/us-east-1"))
    for op in ("DescribeNetworkAcls", "DescribeRouteTables", "DescribeVpcPeeringConnections"):
        assert (raw / f"ec2-{op}.json").exists(), op
    replay = open_store(tmp_path / "replay")
    load_snapshot(replay, tmp_path / "raw", seen="2026-05-15T06:00:00Z")
    m_live, m_replay = api.network_model(live), api.network_model(replay)
    assert m_live.problems == m_replay.problems
    endpoints = [*vpcs["enis"].values(), "198.51.100.7", "10.21.9.9", "8.8.8.8"]
    rows = [
        (s, d, p, port)
        for s, d in itertools.permutations(endpoints, 2)
        for p, port in [(6, 5432), (6, 443), (17, 53)]
    ]

    def decisions(m: Any) -> list[str]:
        return [
            decide(m, resolve_endpoint(m, s), resolve_endpoint(m, d), p, port).decision
            for s, d, p, port in rows
        ]

    live_d, replay_d = decisions(m_live), decisions(m_replay)
    assert live_d == replay_d
    cm = Compiled(m_live)
    assert [["denied", "unknown", "allowed"][int(x)] for x in decide_many(cm, flows_from(cm, rows))] == live_d
    e = vpcs["enis"]
    got = dict(zip(rows, live_d, strict=True))
    assert got[(e["app"], e["db"], 6, 5432)] == "allowed"  # group reference + NACL rule 100
    assert got[(e["web"], e["db"], 6, 5432)] == "denied"  # the db NACL admits the app subnet only
    assert got[(e["b"], e["db"], 6, 5432)] == "denied"  # SG allows VPC B, NACL rule 110 denies it
    assert got[(e["app"], e["b"], 6, 443)] == "allowed"  # peering, routes on both sides
    assert got[(e["web"], e["b"], 6, 443)] == "denied"  # VPC B routes back to the app subnet only
    assert got[("198.51.100.7", e["web"], 6, 443)] == "denied"  # IGW route but no public address
