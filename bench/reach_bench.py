"""Reachability baseline: Blastwall's frontier BFS against networkx and SciPy, measured in the same run.

    python bench/reach_bench.py [--nodes 100000] [--edges 1000000] [--sources 64] [--seed 7]

Prints ms per source for each method and the ratios, and writes bench/results/reach-<timestamp>.json.
This is the baseline the condensed bit-parallel sweep (the scale issue) has to beat; it is not a target.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import breadth_first_order

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from analyzer.core import reachable
from analyzer.core.sweep import condense, reach_sets


def synthetic(n: int, m: int, seed: int) -> sp.csr_array:
    """Dependency-like graph: consumers pick providers with power-law popularity (shared roles, hubs)."""
    rng = np.random.default_rng(seed)
    src = rng.integers(0, n, m)
    hubs = rng.permutation(n)[rng.zipf(1.6, m) % n]
    dst = np.where(rng.random(m) < 0.5, hubs, rng.integers(0, n, m))  # half to hubs, half anywhere
    g = sp.csr_array((np.ones(m, dtype=bool), (src, dst)), shape=(n, n))
    g.sum_duplicates()
    return g


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nodes", type=int, default=100_000)
    ap.add_argument("--edges", type=int, default=1_000_000)
    ap.add_argument("--sources", type=int, default=64)
    ap.add_argument("--networkx-sample", type=int, default=3)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    g = synthetic(args.nodes, args.edges, args.seed)
    rng = np.random.default_rng(args.seed + 1)
    sources = rng.integers(0, args.nodes, args.sources)
    rows = {}

    t = time.perf_counter()
    ours = reachable(g, [[s] for s in sources])
    rows["blastwall frontier BFS"] = (time.perf_counter() - t) / len(sources)

    t = time.perf_counter()
    condensed = condense(g)
    condense_s = time.perf_counter() - t
    t = time.perf_counter()
    swept = reach_sets(condensed, [[int(s)] for s in sources])
    rows["condensed bit-packed sweep"] = (time.perf_counter() - t) / len(sources)
    for r, row in zip(ours, swept, strict=True):
        assert np.array_equal(r.reached, row), "sweep and frontier BFS disagree"

    t = time.perf_counter()
    scipy_sets = [breadth_first_order(g, int(s), directed=True, return_predecessors=False) for s in sources]
    rows["scipy breadth_first_order"] = (time.perf_counter() - t) / len(sources)
    for r, s in zip(ours, scipy_sets, strict=True):
        assert set(np.flatnonzero(r.reached).tolist()) == set(s.tolist()), "methods disagree"

    import networkx as nx

    t = time.perf_counter()
    G = nx.from_scipy_sparse_array(g, create_using=nx.DiGraph)
    build = time.perf_counter() - t
    sample = sources[: args.networkx_sample]
    t = time.perf_counter()
    for s in sample:
        nx.descendants(G, int(s))
    rows["networkx descendants"] = (time.perf_counter() - t) / len(sample)

    base = rows["blastwall frontier BFS"]
    print(
        f"graph: {args.nodes:,} nodes, {g.nnz:,} edges; {len(sources)} sources "
        f"(networkx on {len(sample)}; its graph build {build:.1f} s not counted; "
        f"condensing once: {condense_s:.2f} s, {condensed.n_components:,} components)"
    )
    print(f"{'method':<28} {'ms/source':>10} {'x blastwall':>12}")
    for name, sec in rows.items():
        print(f"{name:<28} {sec * 1000:>10.2f} {sec / base:>12.1f}")
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    (out / f"reach-{stamp}.json").write_text(
        json.dumps(
            {
                "args": vars(args),
                "edges": int(g.nnz),
                "ms_per_source": {k: v * 1000 for k, v in rows.items()},
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
