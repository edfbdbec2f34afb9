"""Azure NSG decisions at scale: many flows decided at once against the per-flow decision, in the same run.

    python bench/nsg_bench.py [--nics 2000] [--nsgs 50] [--rules 30] [--flows 200000] [--loop-sample 3000]

A virtual network of subnets, each with an NSG of custom rules (addresses, ranges, service tags, ASGs,
ports) above the defaults, and some interfaces with an NSG of their own; flows between interfaces and to
and from outside addresses on a realistic port mix. Prints both times, the ratio, and whether both agree
on a sample; writes bench/results/nsg-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from analyzer.azure.nsg import End, Nsg, Rule, decide
from analyzer.azure.nsg_many import decide_many

PORTS = [443, 80, 22, 5432, 1433, 6379, 8080, 3389]
PREFIXES = ["VirtualNetwork", "Internet", "*", "10.0.0.0/16", "10.0.1.0/24", "AzureLoadBalancer", "Storage"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nics", type=int, default=2000)
    ap.add_argument("--nsgs", type=int, default=50)
    ap.add_argument("--rules", type=int, default=30)
    ap.add_argument("--flows", type=int, default=200_000)
    ap.add_argument("--loop-sample", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=3)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    nsgs = []
    for g in range(args.nsgs):
        rules = []
        for k in range(args.rules):
            port = str(PORTS[int(rng.integers(len(PORTS)))])
            asg = rng.random() < 0.2
            rules.append(
                Rule(
                    f"r{g}-{k}",
                    100 + 10 * k,
                    "Inbound" if rng.random() < 0.7 else "Outbound",
                    "Allow" if rng.random() < 0.7 else "Deny",
                    "Tcp",
                    () if asg else (PREFIXES[int(rng.integers(len(PREFIXES)))],),
                    (f"asg-{int(rng.integers(5))}",) if asg else (),
                    ("*",),
                    ("*",),
                    (),
                    (port,),
                )
            )
        nsgs.append(Nsg(f"nsg-{g}", tuple(rules)))
    ends = [
        End(
            f"10.0.{i // 250}.{i % 250 + 4}",
            nic_nsg=nsgs[int(rng.integers(len(nsgs)))] if rng.random() < 0.3 else None,
            subnet_nsg=nsgs[(i // 250) % len(nsgs)],
            asgs=frozenset({f"asg-{int(rng.integers(5))}"}),
            vnet=("10.0.0.0/16",),
        )
        for i in range(args.nics)
    ]
    outside = [End(f"20.{50 + k}.1.9") for k in range(20)]
    everyone = ends + outside
    src = rng.integers(0, len(everyone), args.flows)
    dst = rng.integers(0, args.nics, args.flows)
    port = np.array(PORTS)[rng.integers(0, len(PORTS), args.flows)]
    flows = [
        (everyone[s], ends[d], int(p), "Tcp")
        for s, d, p in zip(src.tolist(), dst.tolist(), port.tolist(), strict=True)
    ]
    t = time.perf_counter()
    got = decide_many(flows)
    many_s = time.perf_counter() - t
    sample = rng.choice(len(flows), min(args.loop_sample, len(flows)), replace=False).tolist()
    t = time.perf_counter()
    loop = [decide(*flows[i]).state for i in sample]
    per_flow = (time.perf_counter() - t) / len(sample)
    names = ("denied", "unknown", "allowed")
    agree = all(names[got[i]] == s for i, s in zip(sample, loop, strict=True))
    result = {
        "nics": args.nics,
        "nsgs": args.nsgs,
        "rules_per_nsg": args.rules,
        "flows": args.flows,
        "decide_many_s": round(many_s, 2),
        "loop_per_flow_us": round(per_flow * 1e6, 1),
        "loop_extrapolated_s": round(per_flow * args.flows, 1),
        "ratio": round(per_flow * args.flows / many_s, 1),
        "agree_on_sample": agree,
    }
    print(json.dumps(result, indent=2))
    out = (
        Path(__file__).resolve().parent
        / "results"
        / f"nsg-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json"
    )
    out.write_text(json.dumps(result, indent=2) + "\n")
    if not agree:
        raise SystemExit("the two disagree on the sample")


if __name__ == "__main__":
    main()
