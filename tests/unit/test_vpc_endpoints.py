"""VPC endpoints from ec2 DescribeVpcEndpoints (the shape the EC2 API Reference documents: PolicyDocument
is a JSON string): their policy is kept for `can --source-vpce`; a malformed entry names its place."""

from __future__ import annotations

import json

import pytest

from analyzer.errors import BadInput
from connectors.aws.snapshot import transform_ec2

POLICY = {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"}]}


def test_an_endpoint_keeps_its_policy_and_vpc() -> None:
    data = {
        "ec2-DescribeVpcEndpoints": {
            "VpcEndpoints": [
                {
                    "VpcEndpointId": "vpce-0a1b2c3d4e5f60718",
                    "VpcEndpointType": "Gateway",
                    "VpcId": "vpc-0123",
                    "ServiceName": "com.amazonaws.us-east-1.s3",
                    "State": "available",
                    "PolicyDocument": json.dumps(POLICY),
                }
            ]
        }
    }
    b = transform_ec2("111122223333", "us-east-1", data, "2026-05-15T06:00:00Z")
    (node,) = [n for n in b.nodes if n.kind == "VpcEndpoint"]
    assert node.id == "arn:aws:ec2:us-east-1:111122223333:vpc-endpoint/vpce-0a1b2c3d4e5f60718"
    assert json.loads(node.props["policy"]) == POLICY and b.warnings == []
    assert any(e.kind == "IN_VPC" and e.src == node.id for e in b.edges)


def test_an_endpoint_without_an_id_is_named() -> None:
    data = {"ec2-DescribeVpcEndpoints": {"VpcEndpoints": [{"VpcId": "vpc-0123"}]}}
    with pytest.raises(BadInput) as exc:
        transform_ec2("111122223333", "us-east-1", data, "2026-05-15T06:00:00Z")
    assert (
        exc.value.file == "ec2-DescribeVpcEndpoints.json"
        and exc.value.path == "$.VpcEndpoints[0].VpcEndpointId"
    )


def test_an_unreadable_endpoint_policy_is_a_warning_with_its_place() -> None:
    bad = {"Statement": [{"Effect": "Perhaps", "Principal": "*", "Action": "s3:*", "Resource": "*"}]}
    data = {
        "ec2-DescribeVpcEndpoints": {
            "VpcEndpoints": [{"VpcEndpointId": "vpce-1", "PolicyDocument": json.dumps(bad)}]
        }
    }
    b = transform_ec2("111122223333", "us-east-1", data, "2026-05-15T06:00:00Z")
    assert len(b.warnings) == 1 and "$.VpcEndpoints[0].PolicyDocument" in b.warnings[0]
