"""Terraform plans (shape: Terraform's JSON output format, `resource_changes[].change` with `actions`,
`before`, `after`, `after_unknown`): a rule created on an existing group opens it; resources that are only
created are counted, not proposed; two plans changing one address differently are two proposals."""

from __future__ import annotations

from typing import Any

from connectors.proposals import Skipped
from connectors.proposals.terraform import parse


def plan(*changes: dict[str, Any]) -> dict[str, Any]:
    return {"format_version": "1.2", "terraform_version": "1.9.5", "resource_changes": list(changes)}


def rule_created(group: str | None, unknown_group: bool = False) -> dict[str, Any]:
    after = {
        "cidr_ipv4": "0.0.0.0/0",
        "from_port": 22,
        "to_port": 22,
        "ip_protocol": "tcp",
        "security_group_id": group,
    }
    return {
        "address": "aws_vpc_security_group_ingress_rule.ssh",
        "type": "aws_vpc_security_group_ingress_rule",
        "change": {
            "actions": ["create"],
            "before": None,
            "after": after,
            "after_unknown": {
                "id": True,
                "arn": True,
                "security_group_rule_id": True,
                "security_group_id": unknown_group,
            },
        },
    }


def test_a_rule_created_on_an_existing_group_authorizes_it() -> None:
    (p,) = parse(plan(rule_created("sg-0123456789abcdef0")), "plan.json")
    assert p["change"]["kind"] == "sg.authorize_rules" and p["change"]["target"] == "sg-0123456789abcdef0"
    assert p["change"]["delta"] == {
        "ingress": [
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
        ]
    }


def test_a_rule_on_a_group_the_plan_creates_is_counted_not_proposed() -> None:
    out = parse(plan(rule_created(None, unknown_group=True)), "plan.json")
    assert out == [Skipped("terraform_creates", "aws_vpc_security_group_ingress_rule.ssh")]


def test_two_plans_changing_one_address_differently_are_two_proposals() -> None:
    def trust(principal: str) -> dict[str, Any]:
        doc = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"%s"},"Action":"sts:AssumeRole"}]}'
        return {
            "address": "aws_iam_role.reader",
            "type": "aws_iam_role",
            "change": {
                "actions": ["update"],
                "before": {
                    "arn": "arn:aws:iam::111111111111:role/reader",
                    "assume_role_policy": doc % "arn:aws:iam::222222222222:root",
                },
                "after": {
                    "arn": "arn:aws:iam::111111111111:role/reader",
                    "assume_role_policy": doc % principal,
                },
            },
        }

    (a,) = parse(plan(trust("arn:aws:iam::222222222222:role/etl")), "a.json")
    (b,) = parse(plan(trust("arn:aws:iam::333333333333:root")), "b.json")
    (a2,) = parse(plan(trust("arn:aws:iam::222222222222:role/etl")), "a-again.json")
    assert a["proposal_id"] != b["proposal_id"] and a["proposal_id"] == a2["proposal_id"]
