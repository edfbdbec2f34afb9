"""Security-group checks as predicates over DescribeSecurityGroups items, with the exact revocation
(AWS Security Hub User Guide, 'Security Hub controls for Amazon EC2': EC2.2, EC2.13, EC2.14, EC2.18,
EC2.19, EC2.53, EC2.54; Prowler's ec2_securitygroup_* checks)."""

from __future__ import annotations

from typing import Any

import pytest

from analyzer.checks import find

ANY4 = {"CidrIp": "0.0.0.0/0"}
ANY6 = {"CidrIpv6": "::/0"}


def group(
    *ingress: dict[str, Any], name: str = "web", egress: tuple[dict[str, Any], ...] = ()
) -> dict[str, Any]:
    return {
        "GroupId": "sg-1",
        "GroupName": name,
        "IpPermissions": list(ingress),
        "IpPermissionsEgress": list(egress),
    }


def perm(proto: str, lo: int | None, hi: int | None, *v4: str, v6: tuple[str, ...] = ()) -> dict[str, Any]:
    p: dict[str, Any] = {
        "IpProtocol": proto,
        "IpRanges": [{"CidrIp": c} for c in v4],
        "Ipv6Ranges": [{"CidrIpv6": c} for c in v6],
    }
    if lo is not None:
        p["FromPort"], p["ToPort"] = lo, hi
    return p


def fix(check_id: str, g: dict[str, Any]) -> dict[str, Any]:
    found = find(check_id)
    assert found is not None, check_id
    return found[1].fix(g).delta


def test_ec2_13_revokes_only_the_internet_peers_of_the_rule_covering_22() -> None:
    g = group(perm("tcp", 22, 22, "10.0.0.0/8", "0.0.0.0/0"), perm("tcp", 443, 443, "0.0.0.0/0"))
    assert fix("EC2.13", g) == {
        "ingress": [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [ANY4]}]
    }


def test_a_range_or_all_traffic_covering_the_port_is_revoked_for_the_internet() -> None:
    g = group(perm("tcp", 0, 65535, "0.0.0.0/0"), perm("-1", None, None, v6=("::/0",)))
    assert fix("ec2_securitygroup_allow_ingress_from_internet_to_tcp_port_22", g) == {
        "ingress": [
            {"IpProtocol": "tcp", "FromPort": 0, "ToPort": 65535, "IpRanges": [ANY4]},
            {"IpProtocol": "-1", "Ipv6Ranges": [ANY6]},
        ]
    }


def test_a_passing_group_gives_an_empty_fix() -> None:
    d = find("EC2.14")[1].fix(group(perm("tcp", 3389, 3389, "10.0.0.0/8")))  # type: ignore[index]
    assert d.delta == {"ingress": []} and d.passes and "the check passes" in d.why


def test_ec2_53_is_ipv4_and_ec2_54_ipv6() -> None:
    g = group(perm("tcp", 22, 22, "0.0.0.0/0", v6=("::/0",)))
    assert fix("EC2.53", g)["ingress"][0] == {
        "IpProtocol": "tcp",
        "FromPort": 22,
        "ToPort": 22,
        "IpRanges": [ANY4],
    }
    assert fix("EC2.54", g)["ingress"][0] == {
        "IpProtocol": "tcp",
        "FromPort": 22,
        "ToPort": 22,
        "Ipv6Ranges": [ANY6],
    }


def test_ec2_18_keeps_the_authorized_ports_open() -> None:
    g = group(
        perm("tcp", 443, 443, "0.0.0.0/0"),
        perm("tcp", 8443, 8443, "0.0.0.0/0"),
        perm("udp", 53, 53, "0.0.0.0/0"),
    )
    assert [p.get("FromPort") for p in fix("EC2.18", g)["ingress"]] == [8443, 53]


def test_ec2_19_high_risk_ports() -> None:
    g = group(perm("tcp", 3306, 3306, "0.0.0.0/0"), perm("tcp", 443, 443, "0.0.0.0/0"))
    assert [p["FromPort"] for p in fix("EC2.19", g)["ingress"]] == [3306]


def test_all_ports_is_not_any_port() -> None:
    """'..._to_any_port' is any open port; '..._to_all_ports' only a rule opening every port (the static
    table once mapped the first to the second, and missed 22, 443 and 3389)."""
    g = group(
        perm("tcp", 22, 22, "0.0.0.0/0"),
        perm("tcp", 443, 443, "0.0.0.0/0"),
        perm("tcp", 3389, 3389, "0.0.0.0/0"),
    )
    assert len(fix("ec2_securitygroup_allow_ingress_from_internet_to_any_port", g)["ingress"]) == 3
    assert fix("ec2_securitygroup_allow_ingress_from_internet_to_all_ports", g) == {"ingress": []}


def test_the_default_group_loses_every_rule() -> None:
    g = group(
        perm("-1", None, None),
        name="default",
        egress=(perm("-1", None, None, "0.0.0.0/0"),),
    )
    g["IpPermissions"][0]["UserIdGroupPairs"] = [{"GroupId": "sg-1", "UserId": "123456789012"}]
    d = fix("EC2.2", g)
    assert d["ingress"][0]["UserIdGroupPairs"] == [{"GroupId": "sg-1"}] and d["egress"][0]["IpRanges"] == [
        ANY4
    ]
    assert fix("EC2.2", group(perm("-1", None, None, "0.0.0.0/0"))) == {
        "ingress": [],
        "egress": [],
    }  # not default


@pytest.mark.parametrize(
    ("check_id", "port"),
    [
        ("ec2_securitygroup_allow_ingress_from_internet_to_tcp_port_mysql_3306", 3306),
        ("ec2_securitygroup_allow_ingress_from_internet_to_tcp_ftp_port_20_21", 21),
        ("ec2_securitygroup_allow_ingress_from_internet_to_port_mongodb_27017_27018", 27018),
        ("ec2_securitygroup_allow_ingress_from_internet_to_tcp_port_oracle_1521_2483", 2483),
    ],
)
def test_prowler_port_checks_read_their_ports_from_the_id(check_id: str, port: int) -> None:
    g = group(perm("tcp", port, port, "0.0.0.0/0"), perm("tcp", 443, 443, "0.0.0.0/0"))
    assert [p["FromPort"] for p in fix(check_id, g)["ingress"]] == [port]


def test_an_unknown_check_is_not_guessed() -> None:
    assert find("ec2_instance_imdsv2_enabled", "S3.8", None) is None


def test_only_checks_that_ship_a_fixer_name_prowler_fixer() -> None:
    from connectors.proposals.checks import prowler_proposer

    assert (
        prowler_proposer("ec2_securitygroup_allow_ingress_from_internet_to_high_risk_tcp_ports")
        == "prowler --fixer"
    )
    assert prowler_proposer("prowler-s3_account_level_public_access_blocks") == "prowler --fixer"
    assert prowler_proposer("ec2_securitygroup_allow_ingress_from_internet_to_tcp_port_22") == "prowler"


def test_a_public_statement_is_removed_a_fenced_one_is_not() -> None:
    found = find("Lambda.1")
    assert found is not None
    policy = {
        "Statement": [
            {"Sid": "Anyone", "Effect": "Allow", "Principal": "*", "Action": "lambda:InvokeFunction"},
            {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "lambda:InvokeFunction"},
            {
                "Sid": "FromMyBucket",
                "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "lambda:InvokeFunction",
                "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::mine"}},
            },
            {
                "Sid": "OrgOnly",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "lambda:InvokeFunction",
                "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-1"}},
            },
        ]
    }
    d = found[1].fix({"id": "fn", "policy": policy})
    assert d.delta == {"statement_ids": ["Anyone"], "statements": [policy["Statement"][1]]}
    assert found[1].fix({"id": "fn", "policy": None}).passes
