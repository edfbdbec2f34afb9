"""A private address inside a collected VPC that no member of a referenced group holds carries no group —
but only where the VPC's interfaces were collected: a VPC whose DescribeNetworkInterfaces is missing (the
call refused, the account partial) may hold any interface, so its addresses stay unknown. The scalar
model and the vectorized compilation agree."""

from __future__ import annotations

import numpy as np

from analyzer.network.addr import parse_net
from analyzer.network.load import model_from_documents
from analyzer.network.vector import Compiled, _inside


def _docs() -> dict:
    def vpc(vid: str, cidr: str) -> dict:
        return {"Vpcs": [{"VpcId": vid, "CidrBlock": cidr, "CidrBlockAssociationSet": [{"CidrBlock": cidr}]}]}

    return {
        "111111111111/us-east-1": {
            "ec2-DescribeVpcs": vpc("vpc-a", "10.10.0.0/16"),
            "ec2-DescribeNetworkInterfaces": {"NetworkInterfaces": []},
        },
        "222222222222/us-east-1": {"ec2-DescribeVpcs": vpc("vpc-b", "10.20.0.0/16")},  # interfaces refused
    }


def test_only_vpcs_whose_interfaces_were_collected_count() -> None:
    m = model_from_documents(_docs())
    assert m.interfaces_unknown == {"vpc-b"}
    assert m.in_collected_vpc(parse_net("10.10.3.5/32")) and m.in_collected_vpc(parse_net("10.10.3.0/24"))
    assert not m.in_collected_vpc(parse_net("10.20.0.5/32")) and not m.in_collected_vpc(
        parse_net("172.16.0.1/32")
    )
    cm = Compiled(m)
    ips = np.array([parse_net(x).lo for x in ("10.10.3.5", "10.20.0.5", "172.16.0.1")], np.int64)
    assert _inside(cm.vpc_lo, cm.vpc_hi, ips).tolist() == [True, False, False]
