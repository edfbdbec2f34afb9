"""Batch scoring at scale on a synthetic enterprise, with the baselines measured in the same run.

    python bench/run.py --scale M [--seed 1] [--workers 2] [--data DIR] [--store DIR] [--no-dask]

Generates ``blastwall synth --scale S|M|L`` (or reuses ``--data``), loads it into a fresh SQLite store
through the real importers, then prints one table:

- load: files -> store (the importers), and store -> analysis context (what every scoring run pays once);
- per proposal: p50 / p95 of ``score_proposal`` on one core, after load;
- throughput: every proposal of the batch with ``--workers`` local processes, and the time 10,000 would
  take at that rate;
- propagation (the core): impact reachability for every scored proposal's severed consumers as one
  condensed bit-packed sweep, against SciPy ``breadth_first_order`` per proposal and networkx (graph
  rebuilt from the edges, then ``descendants``, per proposal, on a sample), with the ratios;
- peak memory (this process, and the worker processes);
- Dask: a LocalCluster run gives the same results as the single-process run (unless ``--no-dask``).

The numbers are also written to ``bench/results/run-<scale>-<timestamp>.json`` for comparison over time.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from analyzer import api
from analyzer.core.sweep import condense, reach_sets
from analyzer.demo import load_directory
from analyzer.graph.store import open_store
from analyzer.scoring.blast import score_proposal
from analyzer.scoring.propagation import build_graphs
from analyzer.synth import generate
from analyzer.timeutil import parse_time

VOLATILE = {"analyzer_version"}


def mib_self() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def mib_children() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def comparable(payload: dict[str, Any]) -> dict[str, Any]:
    return {r["proposal_id"]: {k: v for k, v in r.items() if k not in VOLATILE} for r in payload["results"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", choices=["S", "M", "L"], default="M")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--data", type=Path, default=None, help="an existing synth directory (default: generate)")
    ap.add_argument("--store", type=Path, default=None, help="where the store goes (default: a temp dir)")
    ap.add_argument("--per-proposal-sample", type=int, default=500)
    ap.add_argument("--networkx-sample", type=int, default=3)
    ap.add_argument("--scipy-sample", type=int, default=200, help="proposals BFS'd one by one with SciPy")
    ap.add_argument("--no-dask", action="store_true")
    ap.add_argument("--loaded", action="store_true", help="--store already holds --data: skip the load")
    ap.add_argument("--batch", type=int, default=None, help="score only the first N proposals as the batch")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bw-bench-"))
    rows: dict[str, Any] = {"scale": args.scale, "seed": args.seed, "workers": args.workers}
    try:
        data = args.data
        if data is None:
            data = work / "synth"
            t = time.perf_counter()
            rows["counts"] = generate(args.scale, args.seed, data)
            rows["generate_s"] = time.perf_counter() - t
        manifest = json.loads((data / "synth.json").read_text())
        as_of = parse_time(manifest["as_of"])
        uri = str(args.store or work / "store")
        store = open_store(uri)
        t = time.perf_counter()
        errors = [] if args.loaded else load_directory(store, data, seen=manifest["as_of"])
        rows["load_files_to_store_s"] = None if args.loaded else time.perf_counter() - t
        if errors:
            raise SystemExit("the synthetic data did not load:\n" + "\n".join(errors[:10]))
        t = time.perf_counter()
        ctx = api.analysis_context(store)
        rows["load_store_to_context_s"] = time.perf_counter() - t
        print(f"... context {rows['load_store_to_context_s']:.1f} s", file=sys.stderr, flush=True)
        rows["nodes"] = len(ctx.snap.nodes)
        rows["edges"] = int(sum(len(k.records) for k in ctx.snap.edges.values()))
        policy = api.current_policy(store)
        proposals = sorted(store.get_documents("proposals").values(), key=lambda p: p["proposal_id"])
        rows["proposals"] = len(proposals)

        # per proposal, one core, after load (the first call builds the shared per-snapshot structures)
        sample = proposals[: args.per_proposal_sample]
        score_proposal(sample[0], ctx, policy, as_of)
        times = []
        results = []
        for p in sample:
            t = time.perf_counter()
            results.append(score_proposal(p, ctx, policy, as_of))
            times.append(time.perf_counter() - t)
        ms = np.array(times) * 1000
        rows["per_proposal_ms"] = {"p50": float(np.percentile(ms, 50)), "p95": float(np.percentile(ms, 95))}
        print(f"... per proposal {rows['per_proposal_ms']}", file=sys.stderr, flush=True)
        # what scoring needs, without a batch's results: the context, the structures built on first use
        # (network model, indexes of evidence, propagation graphs) and the sample's scoring
        rows["peak_mib_scoring_one_process"] = mib_self()

        # throughput: the whole batch on local processes
        t = time.perf_counter()
        chosen = [p["proposal_id"] for p in proposals[: args.batch]] if args.batch else None
        batch = api.score(
            store, chosen, as_of=as_of, save=False, workers=args.workers, store_uri=uri, chunk_size=50
        )  # workers=1: in this process, on its context
        took = time.perf_counter() - t
        rows["batch_s"] = took
        rows["batch_proposals"] = len(batch["results"])
        rows["throughput_per_s"] = len(batch["results"]) / took
        rows["projected_10k_s"] = 10_000 / rows["throughput_per_s"]
        # memory of scoring itself, before the baselines below build graphs of their own
        rows["peak_mib"] = {"this_process": mib_self(), "largest_worker": mib_children()}
        print(f"... batch {took:.1f} s, peak {rows['peak_mib']}", file=sys.stderr, flush=True)

        # propagation: the severed consumers of every scored proposal, one sweep vs per-proposal BFS
        graphs = build_graphs(ctx, as_of - timedelta(days=policy.window_days), as_of)
        seeds = [
            sorted(
                {
                    ctx.snap.index[s["consumer"]]
                    for s in r["severed"]
                    if s["observed"] and s["consumer"] in ctx.snap.index
                }
            )
            for r in batch["results"]
        ]
        seeds = [s for s in seeds if s] or [[0]]
        rows["propagation_sets"] = len(seeds)
        t = time.perf_counter()
        cond = condense(graphs.impact)
        rows["condense_s"] = time.perf_counter() - t
        t = time.perf_counter()
        swept = reach_sets(cond, seeds)
        sweep = (time.perf_counter() - t) / len(seeds)
        from scipy.sparse.csgraph import breadth_first_order

        t = time.perf_counter()
        # the baselines on a random sample of the same sets, among those of at most 64 sources: SciPy and
        # networkx walk from one source at a time, and a shared role's narrowing severs tens of thousands
        # of principals (that leaves the baselines their cheapest cases: the ratios are understated)
        rng = np.random.default_rng(args.seed)
        small = [i for i, s in enumerate(seeds) if len(s) <= 64]
        pick = sorted(rng.choice(small, size=min(len(small), args.scipy_sample), replace=False).tolist())
        rows["baseline_sample"] = {"sets": len(pick), "of_sets_with_at_most_64_sources": len(small)}
        for i in pick:
            s, row = seeds[i], swept[i]
            got = np.zeros(graphs.impact.shape[0], bool)
            for src in s:
                got[breadth_first_order(graphs.impact, src, directed=True, return_predecessors=False)] = True
            if not np.array_equal(got, row):
                raise SystemExit("the sweep and SciPy disagree: a bug, not a benchmark result")
        scipy_per = (time.perf_counter() - t) / len(pick)
        import networkx as nx

        coo = graphs.impact.tocoo()
        nx_sample = [seeds[i] for i in pick[: args.networkx_sample]]
        t = time.perf_counter()
        for s in nx_sample:  # the naive tool: rebuild the graph from the edges, then walk it
            g = nx.DiGraph()
            g.add_nodes_from(range(graphs.impact.shape[0]))
            g.add_edges_from(zip(coo.row.tolist(), coo.col.tolist(), strict=True))
            reached: set[int] = set(s)
            for src in s:
                reached |= nx.descendants(g, src)
        nx_per = (time.perf_counter() - t) / len(nx_sample)
        rows["propagation_ms_per_proposal"] = {
            "condensed_sweep": sweep * 1000,
            "scipy_bfs": scipy_per * 1000,
            "networkx_recompute": nx_per * 1000,
        }
        rows["ratio_scipy_over_sweep"] = scipy_per / sweep
        rows["ratio_networkx_over_sweep"] = nx_per / sweep
        rows["ratio_networkx_over_proposal_p50"] = nx_per * 1000 / rows["per_proposal_ms"]["p50"]

        if not args.no_dask:
            single = api.score(store, as_of=as_of, save=False, chunk_size=50)
            t = time.perf_counter()
            dask = api.score(
                store, as_of=as_of, save=False, chunk_size=50, scheduler="local", workers=args.workers
            )
            rows["dask_batch_s"] = time.perf_counter() - t
            rows["dask_equals_single_process"] = comparable(dask) == comparable(single)
    finally:
        if args.data is None and args.store is None:
            shutil.rmtree(work, ignore_errors=True)
    _print(rows)
    out = Path(__file__).parent / "results" / f"run-{args.scale}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(rows, indent=2))
    print(f"\nwritten: {out}")


def _print(r: dict[str, Any]) -> None:
    pp, prop = r["per_proposal_ms"], r["propagation_ms_per_proposal"]
    lines = [
        f"scale {r['scale']} (seed {r['seed']}): {r['nodes']:,} nodes, {r['edges']:,} edges, {r['proposals']:,} proposals",
        f"{'load: files -> store':<44}{r['load_files_to_store_s'] or 0:>10.1f} s"
        + (" (not measured: --loaded)" if r["load_files_to_store_s"] is None else ""),
        f"{'load: store -> analysis context':<44}{r['load_store_to_context_s']:>10.1f} s",
        f"{'per proposal p50 / p95 (1 core)':<44}{pp['p50']:>10.1f} / {pp['p95']:.1f} ms",
        f"{'batch of ' + format(r['batch_proposals'], ',') + ', ' + str(r['workers']) + ' process(es)':<44}{r['batch_s']:>10.1f} s ({r['throughput_per_s']:.0f}/s)",
        f"{'10,000 proposals at that rate':<44}{r['projected_10k_s']:>10.1f} s",
        f"{'propagation: condensed sweep':<44}{prop['condensed_sweep']:>10.3f} ms/proposal",
        f"{'propagation: SciPy BFS per proposal':<44}{prop['scipy_bfs']:>10.3f} ms/proposal  ({r['ratio_scipy_over_sweep']:.1f}x)",
        f"{'networkx recompute per proposal':<44}{prop['networkx_recompute']:>10.1f} ms/proposal  ({r['ratio_networkx_over_sweep']:,.0f}x the sweep, {r['ratio_networkx_over_proposal_p50']:.0f}x a whole scoring)",
        f"{'peak memory: context + sample scored':<44}{r['peak_mib_scoring_one_process']:>10.0f} MiB",
        f"{'peak memory with the batch: this / worker':<44}{r['peak_mib']['this_process']:>10.0f} / {r['peak_mib']['largest_worker']:.0f} MiB",
    ]
    if "dask_equals_single_process" in r:
        lines.append(
            f"{'Dask LocalCluster == single process':<44}{r['dask_equals_single_process']!s:>10} ({r['dask_batch_s']:.1f} s)"
        )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
