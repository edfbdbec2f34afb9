"""Reach with a range or a security group at either end, on a VPC moto serves (collected over HTTP): the
database's group allows 5432 from 10.10.1.0/24 and from the application's group. A range wholly outside
both — inside the collected VPC, where every interface is known and none in it holds the group — is
denied for every address (it used to be "unknown"); a range across the rule's edge is partial, with each
piece and the rule behind it; the group as the source stands for its member; a private range outside
every collected VPC is decided by what the VPC can route: with no route back to it, denied, whatever an
interface nobody collected might carry."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import boto3
import pytest

from analyzer.graph.store import open_store
from connectors.aws import collect as collect_mod
from tests.conftest import blastwall_cmd

pytestmark = pytest.mark.integration


@pytest.fixture
def net(moto_server: str, tmp_path: Path) -> dict[str, Any]:
    ec2 = boto3.client("ec2", region_name="us-east-1")
    vpc = ec2.create_vpc(CidrBlock="10.10.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.10.2.0/24")["Subnet"]["SubnetId"]
    app_sg = ec2.create_security_group(GroupName="app", Description="app", VpcId=vpc)["GroupId"]
    db_sg = ec2.create_security_group(GroupName="db", Description="db", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=db_sg,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "IpRanges": [{"CidrIp": "10.10.1.0/24"}]},
            {
                "IpProtocol": "tcp",
                "FromPort": 5432,
                "ToPort": 5432,
                "UserIdGroupPairs": [{"GroupId": app_sg}],
            },
        ],
    )
    db = ec2.create_network_interface(SubnetId=subnet, Groups=[db_sg], PrivateIpAddress="10.10.2.10")
    app = ec2.create_network_interface(SubnetId=subnet, Groups=[app_sg], PrivateIpAddress="10.10.2.50")
    store = tmp_path / "store"
    st = open_store(store)
    collect_mod.ingest_aws(st, regions=["us-east-1"])
    st.close()
    return {
        "store": store,
        "db": db["NetworkInterface"]["NetworkInterfaceId"],
        "app": app["NetworkInterface"]["NetworkInterfaceId"],
        "app_sg": app_sg,
        "db_sg": db_sg,
    }


def reach(net: dict[str, Any], src: str, dst: str) -> dict[str, Any]:
    out = subprocess.run(
        [
            *blastwall_cmd(),
            "--store",
            str(net["store"]),
            "reach",
            src,
            dst,
            "--port",
            "5432",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    return dict(json.loads(out.stdout))


def test_a_range_outside_every_allowed_source_is_denied(net: dict[str, Any]) -> None:
    got = reach(net, "10.10.3.0/24", net["db"])
    assert got["decision"] == "denied"
    assert [(p["range"], p["addresses"]) for p in got["pieces"]] == [("10.10.3.0-10.10.3.255", 256)]


def test_a_range_across_the_rules_is_partial_with_the_split(net: dict[str, Any]) -> None:
    got = reach(net, "10.10.0.0/22", net["db"])
    assert got["decision"] == "partial"
    allowed = [(p["range"], p["addresses"]) for p in got["pieces"] if p["decision"] == "allowed"]
    assert allowed == [("10.10.1.0-10.10.1.255", 256), ("10.10.2.50", 1)]
    assert sum(p["addresses"] for p in got["pieces"]) == 1024
    by_group = next(p for p in got["pieces"] if p["range"] == "10.10.2.50")
    assert any(net["db_sg"] in w for w in by_group["why"])
    assert all(
        p["decision"] == "denied" for p in got["pieces"] if (p["range"], p["addresses"]) not in allowed
    )


def test_a_group_stands_for_its_members(net: dict[str, Any]) -> None:
    got = reach(net, net["app_sg"], net["db"])
    assert got["decision"] == "allowed" and [m["flow"] for m in got["members"]] == [
        f"{net['app']} -> {net['db']}"
    ]


def test_a_range_outside_every_collected_vpc_is_decided_by_the_route(net: dict[str, Any]) -> None:
    got = reach(net, "172.16.0.0/24", net["db"])
    assert got["decision"] == "denied" and len(got["pieces"]) == 1
    assert any("route" in w for w in got["pieces"][0]["why"]), got
