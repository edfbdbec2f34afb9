"""Flow records on the right interface when private ranges are reused: three accounts of one organization
(moto over HTTP, reached through the organization's role), each with a VPC 10.0.0.0/16, a subnet
10.0.1.0/24, a database interface at 10.0.1.4 and an application interface at 10.0.1.9. Each account's
flow logs name its own interfaces (``interface-id``, ``account-id``). Every flow must land on the
interfaces of the account that logged it, and a revoke of the database rule in one account severs that
account's flow and nothing in the others (attributed by address alone, every account's 10.0.1.4 is one
interface, and revoking in one account "severs" another team's traffic)."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from analyzer import api
from analyzer.graph.store import open_store
from connectors.aws import collect as collect_mod
from connectors.evidence.flowlogs import ingest_flowlogs
from connectors.proposals import import_proposals
from tests.integration.test_aws_live_collection import ORG_ROLE, _session

pytestmark = pytest.mark.integration
HEADER = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status"
T0 = 1795132800  # 2026-11-20T00:00:00Z


@pytest.fixture
def three(moto_server: str) -> dict[str, dict[str, str]]:
    o = boto3.client("organizations")
    mgmt = o.create_organization(FeatureSet="ALL")["Organization"]["MasterAccountId"]
    for name in ("payments", "claims"):
        o.create_account(AccountName=name, Email=f"{name}@example.com")
    out = {}
    for a in o.list_accounts()["Accounts"]:
        ec2 = _session(a["Id"], mgmt).client("ec2")
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
        db_sg = ec2.create_security_group(GroupName="db", Description="db", VpcId=vpc)["GroupId"]
        ec2.authorize_security_group_ingress(
            GroupId=db_sg,
            IpPermissions=[
                {
                    "IpProtocol": "tcp",
                    "FromPort": 5432,
                    "ToPort": 5432,
                    "IpRanges": [{"CidrIp": "10.0.1.0/24"}],
                }
            ],
        )
        db = ec2.create_network_interface(SubnetId=subnet, Groups=[db_sg], PrivateIpAddress="10.0.1.4")
        app = ec2.create_network_interface(SubnetId=subnet, PrivateIpAddress="10.0.1.9")
        out[a["Id"]] = {
            "vpc": vpc,
            "db_sg": db_sg,
            "db": db["NetworkInterface"]["NetworkInterfaceId"],
            "app": app["NetworkInterface"]["NetworkInterfaceId"],
            "name": a["Name"],
        }
    return out


def _logs(root: Path, accounts: dict[str, dict[str, str]]) -> Path:
    for account, ids in accounts.items():
        d = root / "AWSLogs" / account / "vpcflowlogs" / "us-east-1" / "2026" / "11" / "20"
        d.mkdir(parents=True)
        lines = [HEADER]
        for k in range(6):  # the app calls its database, logged on both interfaces
            t = T0 + k * 600
            lines.append(
                f"2 {account} {ids['db']} 10.0.1.9 10.0.1.4 {40000 + k} 5432 6 10 900 {t} {t + 60} ACCEPT OK"
            )
            lines.append(
                f"2 {account} {ids['app']} 10.0.1.9 10.0.1.4 {40000 + k} 5432 6 10 900 {t} {t + 60} ACCEPT OK"
            )
        # an interface of an account that was not collected: nothing may land on ours
        lines.append(
            f"2 999999999999 eni-0ffffffffffffffff 10.0.1.9 10.0.1.4 41000 5432 6 1 60 {T0} {T0 + 60} ACCEPT OK"
        )
        (d / f"{account}_vpcflowlogs_us-east-1_fl-1_20261120T0000Z_a1.log.gz").write_bytes(
            gzip.compress(("\n".join(lines) + "\n").encode())
        )
    return root / "AWSLogs"


def test_flows_land_on_their_own_account_and_a_revoke_severs_only_there(
    three: dict[str, dict[str, str]], tmp_path: Path
) -> None:
    store = open_store(tmp_path / "store")
    collect_mod.ingest_aws(store, org_role=ORG_ROLE, regions=["us-east-1"])
    report = ingest_flowlogs(store, [_logs(tmp_path, three)])
    assert report.errors == [] and report.records == 3 * 13
    counts = report.attribution["counts"]
    assert counts["interface"] == 3 * 12 and counts["same_vpc"] == 3 * 12 and counts["interface_unknown"] == 3
    flows = [e for e in store.read_graph().edges if e.kind == "OBSERVED_FLOW"]
    eni_account = {ids[k]: a for a, ids in three.items() for k in ("db", "app")}
    on_interfaces = [e for e in flows if ":network-interface/" in e.src and ":network-interface/" in e.dst]
    assert len(on_interfaces) == 3  # app -> db in each account, both captures folded onto one edge each
    for e in on_interfaces:
        src, dst = e.src.rsplit("/", 1)[-1], e.dst.rsplit("/", 1)[-1]
        assert eni_account[src] == eni_account[dst] == e.src.split(":")[4] == e.dst.split(":")[4]
        assert e.count == 12
    # the uncollected account's records stayed addresses
    assert any(e.src == "urn:ip:10.0.1.9" and e.dst == "urn:ip:10.0.1.4" and e.count == 3 for e in flows)

    target = next(a for a, ids in three.items() if ids["name"] == "payments")
    revoke = {
        "id": "REVOKE-DB",
        "title": "revoke the database rule in payments",
        "change": {
            "kind": "sg.revoke_rules",
            "target": three[target]["db_sg"],
            "delta": {
                "ingress": [
                    {
                        "IpProtocol": "tcp",
                        "FromPort": 5432,
                        "ToPort": 5432,
                        "IpRanges": [{"CidrIp": "10.0.1.0/24"}],
                    }
                ]
            },
        },
    }
    (tmp_path / "p.json").write_text(json.dumps({"blastwall_proposals": 1, "proposals": [revoke]}))
    assert import_proposals(store, [tmp_path / "p.json"]).errors == []
    (r,) = api.score(store, as_of=datetime(2026, 11, 21, tzinfo=UTC), save=False)["results"]
    severed: list[dict[str, Any]] = r["severed"]
    assert [(s["consumer"].rsplit("/", 1)[-1], s["provider"].rsplit("/", 1)[-1]) for s in severed] == [
        (three[target]["app"], three[target]["db"])
    ]
    assert severed[0]["observed"] and severed[0]["events"] == 12


@pytest.fixture
def behind_a_transit_gateway(moto_server: str) -> dict[str, str]:
    """VPC A (10.0.0.0/16, an app at 10.0.1.9) and two VPCs with the same range 10.1.0.0/16, each with a
    database at 10.1.1.4, all attached to one transit gateway. A's attachment is associated with a route
    table into which only B propagates: A's traffic goes to B, never to C (C and B share another table)."""
    ec2 = boto3.client("ec2")
    ids: dict[str, str] = {}
    tgw = ec2.create_transit_gateway(
        Options={"DefaultRouteTableAssociation": "disable", "DefaultRouteTablePropagation": "disable"}
    )["TransitGateway"]["TransitGatewayId"]
    ids["tgw"] = tgw
    attach = {}
    for name, cidr, host in (
        ("A", "10.0.0.0/16", "10.0.1.9"),
        ("B", "10.1.0.0/16", "10.1.1.4"),
        ("C", "10.1.0.0/16", "10.1.1.4"),
    ):
        vpc = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=cidr.replace(".0.0/16", ".1.0/24"))["Subnet"][
            "SubnetId"
        ]
        sg = ec2.create_security_group(GroupName=f"sg-{name}", Description=name, VpcId=vpc)["GroupId"]
        ec2.authorize_security_group_ingress(
            GroupId=sg,
            IpPermissions=[
                {
                    "IpProtocol": "tcp",
                    "FromPort": 5432,
                    "ToPort": 5432,
                    "IpRanges": [{"CidrIp": "10.0.0.0/16"}],
                }
            ],
        )
        eni = ec2.create_network_interface(SubnetId=subnet, Groups=[sg], PrivateIpAddress=host)
        ids |= {
            f"vpc_{name}": vpc,
            f"sg_{name}": sg,
            f"eni_{name}": eni["NetworkInterface"]["NetworkInterfaceId"],
        }
        attach[name] = ec2.create_transit_gateway_vpc_attachment(
            TransitGatewayId=tgw, VpcId=vpc, SubnetIds=[subnet]
        )["TransitGatewayVpcAttachment"]["TransitGatewayAttachmentId"]
    spoke = ec2.create_transit_gateway_route_table(TransitGatewayId=tgw)["TransitGatewayRouteTable"]
    shared = ec2.create_transit_gateway_route_table(TransitGatewayId=tgw)["TransitGatewayRouteTable"]
    a_table, bc_table = spoke["TransitGatewayRouteTableId"], shared["TransitGatewayRouteTableId"]
    ec2.associate_transit_gateway_route_table(
        TransitGatewayRouteTableId=a_table, TransitGatewayAttachmentId=attach["A"]
    )
    for name in ("B", "C"):
        ec2.associate_transit_gateway_route_table(
            TransitGatewayRouteTableId=bc_table, TransitGatewayAttachmentId=attach[name]
        )
    ec2.enable_transit_gateway_route_table_propagation(
        TransitGatewayRouteTableId=a_table, TransitGatewayAttachmentId=attach["B"]
    )
    ec2.enable_transit_gateway_route_table_propagation(
        TransitGatewayRouteTableId=bc_table, TransitGatewayAttachmentId=attach["A"]
    )
    for name, to in (("A", "10.1.0.0/16"), ("B", "10.0.0.0/16"), ("C", "10.0.0.0/16")):
        (main,) = ec2.describe_route_tables(
            Filters=[
                {"Name": "vpc-id", "Values": [ids[f"vpc_{name}"]]},
                {"Name": "association.main", "Values": ["true"]},
            ]
        )["RouteTables"]
        ec2.create_route(RouteTableId=main["RouteTableId"], DestinationCidrBlock=to, TransitGatewayId=tgw)
    ids["account"] = boto3.client("sts").get_caller_identity()["Account"]
    return ids


def test_a_flow_through_a_transit_gateway_lands_where_its_route_table_leads(
    behind_a_transit_gateway: dict[str, str], tmp_path: Path
) -> None:
    ids = behind_a_transit_gateway
    store = open_store(tmp_path / "store")
    collect_mod.ingest_aws(store, regions=["us-east-1"])
    d = tmp_path / "AWSLogs" / ids["account"] / "vpcflowlogs" / "us-east-1" / "2026" / "11" / "20"
    d.mkdir(parents=True)
    lines = [HEADER]
    for k in range(6):  # logged on the app's interface and on the database's it reaches
        t = T0 + k * 600
        for eni in (ids["eni_A"], ids["eni_B"]):
            lines.append(
                f"2 {ids['account']} {eni} 10.0.1.9 10.1.1.4 {40000 + k} 5432 6 10 900 {t} {t + 60} ACCEPT OK"
            )
    (d / f"{ids['account']}_vpcflowlogs_us-east-1_fl-1_20261120T0000Z_a1.log.gz").write_bytes(
        gzip.compress(("\n".join(lines) + "\n").encode())
    )
    report = ingest_flowlogs(store, [tmp_path / "AWSLogs"])
    counts = report.attribution["counts"]
    # each record: its own interface, and the other end through the gateway (C's 10.1.1.4 is not routed)
    assert counts["interface"] == 12 and counts["transit_vpc"] == 12, counts
    assert "ambiguous" not in counts and "out_of_reach" not in counts
    flows = [e for e in store.read_graph().edges if e.kind == "OBSERVED_FLOW"]
    assert [(e.src.rsplit("/", 1)[-1], e.dst.rsplit("/", 1)[-1], e.count) for e in flows] == [
        (ids["eni_A"], ids["eni_B"], 12)
    ]

    def revoke(name: str) -> dict[str, Any]:
        rule = {
            "IpProtocol": "tcp",
            "FromPort": 5432,
            "ToPort": 5432,
            "IpRanges": [{"CidrIp": "10.0.0.0/16"}],
        }
        return {
            "id": f"REVOKE-{name}",
            "title": f"revoke the database rule in VPC {name}",
            "change": {"kind": "sg.revoke_rules", "target": ids[f"sg_{name}"], "delta": {"ingress": [rule]}},
        }

    (tmp_path / "p.json").write_text(
        json.dumps({"blastwall_proposals": 1, "proposals": [revoke("B"), revoke("C")]})
    )
    assert import_proposals(store, [tmp_path / "p.json"]).errors == []
    results = api.score(store, as_of=datetime(2026, 11, 21, tzinfo=UTC), save=False)["results"]
    severed = {
        r["source"]["finding_id"]: [(s["consumer"].rsplit("/", 1)[-1], s["observed"]) for s in r["severed"]]
        for r in results
    }
    assert severed["REVOKE-B"] == [(ids["eni_A"], True)], [r["unknowns"] for r in results]
    before = next(r for r in results if r["source"]["finding_id"] == "REVOKE-B")["severed"][0]["before"]
    assert any("-> " + ids["tgw"] in x for x in before["statements"])  # allowed through the gateway's routes
    assert severed["REVOKE-C"] == []  # C's database was never reached: a revoke there severs nothing
    unknowns = [u for r in results for u in r["unknowns"] if u["reason"] == "flow_may_be_severed"]
    assert unknowns == []
