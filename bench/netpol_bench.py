"""NetworkPolicy decisions at scale: the vectorized decision against the per-flow one, in the same run.

    python bench/netpol_bench.py [--pods 5000] [--namespaces 50] [--policies 300] [--flows 200000]
                                 [--loop-sample 3000] [--seed 7]

A cluster shaped like the synthetic enterprise's (a namespace per team, Deployments of 1-6 replicas with
`app`/`tier` labels): each namespace has a default deny for ingress, and its workloads policies allowing
their callers by pod selector, namespace selector or both, on numbered ports and ranges, some egress
rules with ipBlocks. Flows: pod to pod within and across namespaces, and to and from outside addresses.

Prints compiling the policies, deciding every flow, the per-flow loop's time per flow on a random
sample, the extrapolated loop time and the ratio; checks both agree on the sample; writes
bench/results/netpol-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from analyzer.kubernetes.netpol import Pod, Policy, decide
from analyzer.kubernetes.netpol_many import CompiledPolicies

PORTS = [8080, 443, 5432, 6379, 9090, 53]


def build(args: argparse.Namespace) -> tuple[list[Pod], list[Policy], dict[str, dict[str, str]]]:
    rng = np.random.default_rng(args.seed)
    namespaces = {f"team-{i:03d}": {"team": f"t{i % 7}"} for i in range(args.namespaces)}
    names = list(namespaces)
    pods: list[Pod] = []
    apps: list[tuple[str, str]] = []
    while len(pods) < args.pods:
        ns = names[int(rng.integers(len(names)))]
        app = f"app-{len(apps):05d}"
        apps.append((ns, app))
        tier = ["api", "db", "worker"][int(rng.integers(3))]
        for _ in range(int(rng.integers(1, 7))):
            i = len(pods)
            pods.append(
                Pod(f"p{i}", ns, {"app": app, "tier": tier}, (str(ipaddress.IPv4Address(0x0A400000 + i)),))
            )
    policies = [Policy(f"deny-{ns}", ns, {"podSelector": {}, "policyTypes": ["Ingress"]}) for ns in names]
    while len(policies) < args.policies:
        ns, app = apps[int(rng.integers(len(apps)))]
        caller = apps[int(rng.integers(len(apps)))][1]
        kind = int(rng.integers(4))
        peer: dict[str, Any] = (
            {"podSelector": {"matchLabels": {"app": caller}}}
            if kind == 0
            else {"namespaceSelector": {"matchLabels": {"team": f"t{int(rng.integers(7))}"}}}
            if kind == 1
            else {
                "podSelector": {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["api"]}]},
                "namespaceSelector": {},
            }
            if kind == 2
            else {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.64.0.0/16"]}}
        )
        port = PORTS[int(rng.integers(len(PORTS)))]
        spec: dict[str, Any] = {
            "podSelector": {"matchLabels": {"app": app}},
            "ingress": [
                {"from": [peer], "ports": [{"port": port, **({"endPort": port + 10} if kind == 3 else {})}]}
            ],
        }
        if rng.random() < 0.2:
            spec["egress"] = [
                {"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]},
                {"ports": [{"port": 53, "protocol": "UDP"}]},
            ]
            spec["policyTypes"] = ["Ingress", "Egress"]
        policies.append(Policy(f"np-{len(policies)}", ns, spec))
    return pods, policies, namespaces


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pods", type=int, default=5000)
    ap.add_argument("--namespaces", type=int, default=50)
    ap.add_argument("--policies", type=int, default=300)
    ap.add_argument("--flows", type=int, default=200_000)
    ap.add_argument("--loop-sample", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    pods, policies, namespaces = build(args)
    rng = np.random.default_rng(args.seed + 1)
    n = len(pods)
    src = rng.integers(-1, n, args.flows) if n else np.full(args.flows, -1)
    dst = rng.integers(-1, n, args.flows) if n else np.full(args.flows, -1)
    outside = rng.integers(0x0A000000, 0x0AFFFFFF, args.flows)
    pod_ip = np.array([int(ipaddress.IPv4Address(p.ips[0])) for p in pods], np.int64)
    src_ip = np.where(src >= 0, pod_ip[np.maximum(src, 0)], outside)
    dst_ip = np.where(dst >= 0, pod_ip[np.maximum(dst, 0)], outside[::-1])
    port = np.array(PORTS, np.int64)[rng.integers(0, len(PORTS), args.flows)]
    proto = np.where(port == 53, 17, 6)

    t = time.perf_counter()
    cp = CompiledPolicies(policies, pods, namespaces)
    compile_s = time.perf_counter() - t
    t = time.perf_counter()
    got = cp.decide_many(src, dst, src_ip, dst_ip, port, proto)
    decide_s = time.perf_counter() - t

    sample = rng.choice(args.flows, min(args.loop_sample, args.flows), replace=False)
    states = ("denied", "unknown", "allowed")
    t = time.perf_counter()
    loop = [
        decide(
            policies,
            namespaces,
            pods[src[i]] if src[i] >= 0 else None,
            pods[dst[i]] if dst[i] >= 0 else None,
            str(ipaddress.IPv4Address(int(dst_ip[i]))),
            int(port[i]),
            "UDP" if proto[i] == 17 else "TCP",
            str(ipaddress.IPv4Address(int(src_ip[i]))),
        ).state
        for i in sample.tolist()
    ]
    per_flow = (time.perf_counter() - t) / len(sample)
    agree = all(states[got[i]] == s for i, s in zip(sample.tolist(), loop, strict=True))
    loop_s = per_flow * args.flows
    result = {
        "pods": n,
        "policies": len(policies),
        "flows": args.flows,
        "compile_s": round(compile_s, 3),
        "decide_s": round(decide_s, 3),
        "loop_per_flow_us": round(per_flow * 1e6, 1),
        "loop_extrapolated_s": round(loop_s, 1),
        "ratio": round(loop_s / (compile_s + decide_s), 1),
        "agree_on_sample": agree,
        "states": {s: int((got == k).sum()) for k, s in enumerate(states)},
    }
    print(json.dumps(result, indent=2))
    out = (
        Path(__file__).resolve().parent
        / "results"
        / f"netpol-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json"
    )
    out.write_text(json.dumps(result, indent=2) + "\n")
    if not agree:
        raise SystemExit("the vectorized decision and the per-flow loop disagree on the sample")


if __name__ == "__main__":
    main()
