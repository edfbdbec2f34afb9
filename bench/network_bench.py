"""Observed flows at scale: the vectorized decision against the per-flow loop, in the same run.

    python bench/network_bench.py [--flows 5000000] [--groups 20000] [--rules 100000] [--enis 60000]
                                  [--vpcs 40] [--loop-sample 3000] [--seed 5]

A synthetic region shaped like a real estate: VPCs with private and public subnets, NACLs with ordered
allow/deny entries and ephemeral ranges, route tables (local, NAT, IGW, peering), security groups whose
popularity follows a power law (shared groups on thousands of ENIs) with CIDR, group-reference and
all-traffic rules; ENIs with one to three groups. Flows: ENI to ENI inside a VPC and across peerings, to
the internet, and from the internet, on a realistic port mix.

Prints the decision time, the per-flow loop's time per flow on a random sample, the extrapolated loop
time and the ratio; checks both agree on the sample; writes bench/results/network-<timestamp>.json.
Target (issue #4): 5M flows against 20k security groups / 100k rules in under 60 s on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from analyzer.network.decide import Endpoint, decide
from analyzer.network.model import from_api
from analyzer.network.vector import Compiled, Flows, decide_many

PORTS = np.array([443, 80, 22, 5432, 3306, 6379, 8080, 8443, 53, 9092, 27017, 25])


def ip(a: int, b: int, c: int, d: int) -> str:
    return f"{a}.{b}.{c}.{d}"


def build(args: argparse.Namespace) -> tuple[dict[str, Any], list[tuple[str, int, int]]]:
    rng = np.random.default_rng(args.seed)
    vpcs, subnets, acls, tables, peerings, nats = [], [], [], [], [], []
    subnet_of_vpc: dict[int, list[tuple[str, int]]] = {}
    for v in range(args.vpcs):
        vid = f"vpc-{v:05d}"
        vpcs.append(
            {
                "VpcId": vid,
                "CidrBlock": f"10.{v}.0.0/16",
                "CidrBlockAssociationSet": [{"CidrBlock": f"10.{v}.0.0/16"}],
            }
        )
        pub = f"subnet-{v:05d}-pub"
        subnets.append({"SubnetId": pub, "VpcId": vid, "CidrBlock": f"10.{v}.0.0/24"})
        subnet_of_vpc[v] = [(pub, 0)]
        for s in range(1, args.subnets_per_vpc):
            sid = f"subnet-{v:05d}-{s:03d}"
            subnets.append({"SubnetId": sid, "VpcId": vid, "CidrBlock": f"10.{v}.{s}.0/24"})
            subnet_of_vpc[v].append((sid, s))
        nats.append({"NatGatewayId": f"nat-{v:05d}", "SubnetId": pub, "VpcId": vid, "State": "available"})
        peer = (v + 1) % args.vpcs
        if v % 2 == 0:
            peerings.append(
                {
                    "VpcPeeringConnectionId": f"pcx-{v:05d}",
                    "RequesterVpcInfo": {"VpcId": vid},
                    "AccepterVpcInfo": {"VpcId": f"vpc-{peer:05d}"},
                    "Status": {"Code": "active"},
                }
            )
        local = {"DestinationCidrBlock": f"10.{v}.0.0/16", "GatewayId": "local", "State": "active"}
        pcx_routes = []
        if v % 2 == 0:
            pcx_routes.append(
                {
                    "DestinationCidrBlock": f"10.{peer}.0.0/16",
                    "VpcPeeringConnectionId": f"pcx-{v:05d}",
                    "State": "active",
                }
            )
        else:
            prev = (v - 1) % args.vpcs
            pcx_routes.append(
                {
                    "DestinationCidrBlock": f"10.{prev}.0.0/17",
                    "VpcPeeringConnectionId": f"pcx-{prev:05d}",
                    "State": "active",
                }
            )
        tables.append(
            {
                "RouteTableId": f"rtb-{v:05d}-pub",
                "VpcId": vid,
                "Routes": [
                    local,
                    {"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": f"igw-{v:05d}", "State": "active"},
                ],
                "Associations": [{"Main": False, "SubnetId": pub}],
            }
        )
        tables.append(
            {
                "RouteTableId": f"rtb-{v:05d}-main",
                "VpcId": vid,
                "Routes": [
                    local,
                    {"DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": f"nat-{v:05d}", "State": "active"},
                    *pcx_routes,
                ],
                "Associations": [{"Main": True}],
            }
        )
        # ACLs: an open default for the public subnet, a stricter one per private subnet
        star = [
            {
                "RuleNumber": 32767,
                "Protocol": "-1",
                "RuleAction": "deny",
                "Egress": e,
                "CidrBlock": "0.0.0.0/0",
            }
            for e in (False, True)
        ]
        acls.append(
            {
                "NetworkAclId": f"acl-{v:05d}-open",
                "VpcId": vid,
                "Entries": [
                    {
                        "RuleNumber": 100,
                        "Protocol": "-1",
                        "RuleAction": "allow",
                        "Egress": e,
                        "CidrBlock": "0.0.0.0/0",
                    }
                    for e in (False, True)
                ]
                + star,
                "Associations": [{"SubnetId": pub}],
            }
        )
        for sid, s in subnet_of_vpc[v][1:]:
            entries = [
                {
                    "RuleNumber": 90,
                    "Protocol": "6",
                    "RuleAction": "deny",
                    "Egress": False,
                    "CidrBlock": f"10.{v}.{(s + 1) % 50}.0/24",
                    "PortRange": {"From": 22, "To": 22},
                },
                {
                    "RuleNumber": 100,
                    "Protocol": "-1",
                    "RuleAction": "allow",
                    "Egress": False,
                    "CidrBlock": "10.0.0.0/8",
                },
                {
                    "RuleNumber": 110,
                    "Protocol": "6",
                    "RuleAction": "allow",
                    "Egress": False,
                    "CidrBlock": "0.0.0.0/0",
                    "PortRange": {"From": 1024, "To": 65535},
                },
                {
                    "RuleNumber": 120,
                    "Protocol": "17",
                    "RuleAction": "allow",
                    "Egress": False,
                    "CidrBlock": "0.0.0.0/0",
                    "PortRange": {"From": 1024, "To": 65535},
                },
                {
                    "RuleNumber": 100,
                    "Protocol": "-1",
                    "RuleAction": "allow",
                    "Egress": True,
                    "CidrBlock": "10.0.0.0/8",
                },
                {
                    "RuleNumber": 110,
                    "Protocol": "6",
                    "RuleAction": "allow",
                    "Egress": True,
                    "CidrBlock": "0.0.0.0/0",
                    "PortRange": {"From": 443, "To": 443},
                },
                {
                    "RuleNumber": 120,
                    "Protocol": "6",
                    "RuleAction": "allow",
                    "Egress": True,
                    "CidrBlock": "0.0.0.0/0",
                    "PortRange": {"From": 32768, "To": 65535},
                },
                {
                    "RuleNumber": 130,
                    "Protocol": "17",
                    "RuleAction": "allow",
                    "Egress": True,
                    "CidrBlock": "0.0.0.0/0",
                    "PortRange": {"From": 53, "To": 53},
                },
            ]
            acls.append(
                {
                    "NetworkAclId": f"acl-{sid}",
                    "VpcId": vid,
                    "Entries": entries + star,
                    "Associations": [{"SubnetId": sid}],
                }
            )
    # security groups: ~rules/groups rules each, CIDR / reference / all-traffic
    groups = []
    per = max(1, args.rules // args.groups)
    for g in range(args.groups):
        v = g % args.vpcs
        ingress = []
        for r in range(per):
            port = int(PORTS[(g + r) % len(PORTS)])
            kind = (g * 7 + r) % 5
            if kind == 0:
                ingress.append(
                    {
                        "IpProtocol": "tcp",
                        "FromPort": port,
                        "ToPort": port,
                        "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                    }
                )
            elif kind in (1, 2):
                ingress.append(
                    {
                        "IpProtocol": "tcp",
                        "FromPort": port,
                        "ToPort": port,
                        "IpRanges": [{"CidrIp": f"10.{(v + r) % args.vpcs}.0.0/16"}],
                    }
                )
            elif kind == 3:
                ref = int(rng.zipf(1.6)) % args.groups
                ingress.append(
                    {
                        "IpProtocol": "tcp",
                        "FromPort": port,
                        "ToPort": port,
                        "UserIdGroupPairs": [{"GroupId": f"sg-{ref:06d}"}],
                    }
                )
            else:
                ingress.append({"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": f"sg-{g:06d}"}]})
        egress = (
            [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
            if g % 4
            else [
                {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
                {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "10.0.0.0/8"}]},
            ]
        )
        groups.append(
            {
                "GroupId": f"sg-{g:06d}",
                "VpcId": f"vpc-{v:05d}",
                "IpPermissions": ingress,
                "IpPermissionsEgress": egress,
            }
        )
    enis = []
    eni_meta: list[tuple[str, int, int]] = []
    for i in range(args.enis):
        v = int(rng.integers(args.vpcs))
        sid, s = subnet_of_vpc[v][int(rng.integers(len(subnet_of_vpc[v])))]
        address = ip(10, v, s, 4 + (i // args.vpcs) % 250)
        k = 1 + int(rng.integers(3))
        gs = {int(x) % args.groups for x in rng.zipf(1.4, k)}
        gs = {(g - g % args.vpcs) + v if (g - g % args.vpcs) + v < args.groups else v for g in gs}  # same VPC
        e: dict[str, Any] = {
            "NetworkInterfaceId": f"eni-{i:08d}",
            "SubnetId": sid,
            "VpcId": f"vpc-{v:05d}",
            "PrivateIpAddresses": [{"PrivateIpAddress": address}],
            "Groups": [{"GroupId": f"sg-{g:06d}"} for g in sorted(gs)],
        }
        if s == 0:
            e["Association"] = {"PublicIp": ip(54, v, (i // 250) % 250, i % 250)}
        enis.append(e)
        eni_meta.append((address, v, s))
    data = {
        "ec2-DescribeVpcs": {"Vpcs": vpcs},
        "ec2-DescribeSubnets": {"Subnets": subnets},
        "ec2-DescribeSecurityGroups": {"SecurityGroups": groups},
        "ec2-DescribeNetworkInterfaces": {"NetworkInterfaces": enis},
        "ec2-DescribeNetworkAcls": {"NetworkAcls": acls},
        "ec2-DescribeRouteTables": {"RouteTables": tables},
        "ec2-DescribeVpcPeeringConnections": {"VpcPeeringConnections": peerings},
        "ec2-DescribeNatGateways": {"NatGateways": nats},
    }
    return data, eni_meta


def flows(cm: Compiled, n: int, seed: int) -> Flows:
    rng = np.random.default_rng(seed)
    m = len(cm.eni_ids)
    src = rng.integers(0, m, n)
    # destinations: 70% an ENI (popular ones more often), 20% the internet, 10% from the internet
    hot = rng.permutation(m)[rng.zipf(1.3, n) % m]
    dst = np.where(rng.random(n) < 0.5, hot, rng.integers(0, m, n))
    kind = rng.random(n)
    ext_ip = (np.int64(52) << 24) + rng.integers(0, 1 << 22, n)
    eni_ip = np.array([cm.m.enis[e].ips[0].lo for e in cm.eni_ids], np.int64)
    src_eni = np.where(kind < 0.9, src, -1)
    dst_eni = np.where(kind < 0.7, dst, np.where(kind < 0.9, -1, dst))
    src_ip = np.where(src_eni >= 0, eni_ip[np.maximum(src_eni, 0)], ext_ip)
    dst_ip = np.where(dst_eni >= 0, eni_ip[np.maximum(dst_eni, 0)], ext_ip)
    proto = np.where(rng.random(n) < 0.9, 6, 17)
    port = PORTS[rng.integers(0, len(PORTS), n)]
    return Flows(
        src_eni.astype(np.int64),
        dst_eni.astype(np.int64),
        src_ip,
        dst_ip,
        proto.astype(np.int64),
        port.astype(np.int64),
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--flows", type=int, default=5_000_000)
    ap.add_argument("--groups", type=int, default=20_000)
    ap.add_argument("--rules", type=int, default=100_000)
    ap.add_argument("--enis", type=int, default=60_000)
    ap.add_argument("--vpcs", type=int, default=40)
    ap.add_argument("--subnets-per-vpc", type=int, default=8)
    ap.add_argument("--loop-sample", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()

    t0 = time.perf_counter()
    data, _ = build(args)
    model = from_api([("123456789012", data)])
    cm = Compiled(model)
    fl = flows(cm, args.flows, args.seed + 1)
    t_build = time.perf_counter() - t0
    n_rules = sum(len(v) for v in model.groups.values())

    t0 = time.perf_counter()
    got = decide_many(cm, fl)
    t_vec = time.perf_counter() - t0

    rng = np.random.default_rng(args.seed + 2)
    sample = rng.choice(len(fl), size=min(args.loop_sample, len(fl)), replace=False)
    eps: list[tuple[Endpoint, Endpoint, int, int]] = []
    from analyzer.network.addr import Net

    for i in sample:

        def ep(eni: int, address: int) -> Endpoint:
            if eni >= 0:
                e = model.enis[cm.eni_ids[eni]]
                return Endpoint(e.ips[0], e)
            return Endpoint(Net(4, int(address), int(address)))

        eps.append(
            (
                ep(int(fl.src_eni[i]), fl.src_ip[i]),
                ep(int(fl.dst_eni[i]), fl.dst_ip[i]),
                int(fl.proto[i]),
                int(fl.port[i]),
            )
        )
    t0 = time.perf_counter()
    loop = [decide(model, s, d, p, port).decision for s, d, p, port in eps]
    t_loop = (time.perf_counter() - t0) / len(sample)
    assert [["denied", "unknown", "allowed"][int(x)] for x in got[sample]] == loop, (
        "vectorized and per-flow disagree"
    )

    states, counts = np.unique(got, return_counts=True)
    loop_total = t_loop * len(fl)
    result = {
        "flows": len(fl),
        "security_groups": len(model.groups),
        "rules": n_rules,
        "enis": len(model.enis),
        "groups_held_by_interfaces": len(cm.group_ids),
        "subnets": len(model.subnets),
        "decisions": {
            ["denied", "unknown", "allowed"][int(k)]: int(v) for k, v in zip(states, counts, strict=True)
        },
        "build_s": round(t_build, 1),
        "vectorized_s": round(t_vec, 2),
        "vectorized_us_per_flow": round(t_vec / len(fl) * 1e6, 3),
        "loop_us_per_flow": round(t_loop * 1e6, 1),
        "loop_extrapolated_s": round(loop_total, 1),
        "ratio": round(loop_total / t_vec, 1),
        "cpus": os.cpu_count(),
        "target_s": 60,
    }
    print(
        f"{len(fl):,} flows; {len(model.groups):,} security groups, {n_rules:,} rules; {len(model.enis):,} ENIs in "
        f"{len(cm.group_ids):,} groups held by interfaces; {len(model.subnets):,} subnets"
    )
    print(f"decisions: {result['decisions']}")
    print(f"{'method':<30}{'per flow':>14}{'all flows':>14}")
    print(f"{'vectorized':<30}{result['vectorized_us_per_flow']:>11.2f} us{t_vec:>12.1f} s")
    print(f"{'per-flow loop (sampled)':<30}{result['loop_us_per_flow']:>11.1f} us{loop_total:>12.1f} s")
    print(
        f"ratio: {result['ratio']}x; target: under {result['target_s']} s -> {'met' if t_vec < result['target_s'] else 'NOT met'}"
    )
    if not args.no_write:
        out = Path(__file__).resolve().parent / "results"
        out.mkdir(exist_ok=True)
        path = out / f"network-{time.strftime('%Y%m%dT%H%M%S')}.json"
        path.write_text(json.dumps(result, indent=2))
        print(f"written {path}")


if __name__ == "__main__":
    main()
