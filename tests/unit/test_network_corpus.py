"""The network corpus: tests/data/network/cases.yaml on the topology of tests/data/network/topology.py,
each case citing the Amazon VPC rule it checks."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
import yaml

from analyzer.network.addr import parse_net, protocol_number
from analyzer.network.decide import Endpoint, decide
from analyzer.network.model import NetModel, from_api

DATA = Path(__file__).parent.parent / "data" / "network"
CASES = yaml.safe_load((DATA / "cases.yaml").read_text())
_spec = importlib.util.spec_from_file_location("network_topology", DATA / "topology.py")
assert _spec and _spec.loader
topo = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(topo)


def endpoint(m: NetModel, text: str) -> Endpoint:
    if text in m.enis:
        e = m.enis[text]
        return Endpoint(e.ips[0], e)
    return Endpoint(parse_net(str(text)))


def test_corpus_size_and_citations() -> None:
    assert len(CASES) >= 80
    assert all(len(c) in (6, 7) and c[5] for c in CASES)


@pytest.mark.parametrize("case", CASES, ids=[f"{i}-{c[0]}-{c[1]}-{c[2]}{c[3]}" for i, c in enumerate(CASES)])
def test_flow(case: list[Any]) -> None:
    src, dst, proto, port, expected, rule = case[:6]
    patch = case[6] if len(case) > 6 else None
    m = from_api([(topo.ACCOUNT, topo.topology(patch))])
    d = decide(m, endpoint(m, src), endpoint(m, dst), protocol_number(proto), int(port))
    assert d.decision == expected, f"{rule}: {d}"
    if expected == "allowed":
        assert d.allowed_by
    if expected == "denied":
        assert d.blocked_by
    if expected == "unknown":
        assert d.unknown


def test_redundant_rules_are_both_named() -> None:
    m = from_api([(topo.ACCOUNT, topo.topology())])
    d = decide(m, endpoint(m, "eni-app"), endpoint(m, "eni-db"), 6, 5432)
    assert (
        "sg-db ingress tcp:5432 sg-app" in d.allowed_by
        and "sg-db ingress tcp:5432 10.0.2.0/24" in d.allowed_by
    )


def test_problems_name_the_resource() -> None:
    m = from_api(
        [
            (
                topo.ACCOUNT,
                topo.topology(
                    {
                        "groups": {
                            "sg-db": {
                                "IpPermissions": [
                                    {
                                        "IpProtocol": "tcp",
                                        "FromPort": 5432,
                                        "ToPort": 5432,
                                        "IpRanges": [{"CidrIp": "10.0.300.0/24"}],
                                    }
                                ]
                            }
                        }
                    }
                ),
            )
        ]
    )
    text = "\n".join(m.problems)
    assert "sg-db ingress[0]: invalid CIDR '10.0.300.0/24'" in text
    assert "eni-ghost: subnet subnet-gone is not in the snapshot" in text
    assert "eni-orphan-sg: security group sg-deleted is not in the snapshot" in text
