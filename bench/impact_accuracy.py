"""How well the blast radius discriminates: ``impacted_services`` against the synthetic enterprise's truth.

    python bench/impact_accuracy.py --scale M [--seed 1] [--data DIR] [--store DIR] [--ablate]

Generates ``blastwall synth`` (or reuses ``--data`` and ``--store``, already ingested), scores every
proposal, and prints precision, recall, and the share of propagating proposals that impact more than half
of the services (``analyzer.synth_measure``). ``--ablate`` scores again with each rule that keeps a radius
narrow switched off (the hub rule, the sink rule, the feed share), to show what each one holds. Written to
``bench/results/impact-<scale>-<timestamp>.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from analyzer import api
from analyzer.demo import load_directory
from analyzer.graph import current
from analyzer.graph.store import open_store
from analyzer.scoring import propagation
from analyzer.synth import generate
from analyzer.synth_measure import accuracy
from analyzer.timeutil import parse_time

ABLATIONS = {
    "no hub rule": {"HUB_SHARE": 10.0},
    "no sink rule": {"SINK_WRITERS": 10**9},
    "no feed share": {"FEED_SHARE": 0.0},
    "no sink rule, no feed share": {"SINK_WRITERS": 10**9, "FEED_SHARE": 0.0},
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", default="M", choices=["S", "M", "L"])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--data", type=Path, default=None, help="an existing synth directory")
    ap.add_argument("--store", default=None, help="a store that already holds --data")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--ablate", action="store_true")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bw-impact-"))
    data = args.data or work / "synth"
    if args.data is None:
        generate(args.scale, args.seed, data)
    as_of = json.loads((data / "synth.json").read_text())["as_of"]
    truth = json.loads((data / "truth.json").read_text())
    store = open_store(args.store or str(work / "store"))
    if args.store is None:
        assert load_directory(store, data, seen=as_of) == []

    def measure() -> dict[str, Any]:
        current.forget()
        t = time.perf_counter()
        results = api.score(store, as_of=parse_time(as_of), save=False, workers=args.workers)["results"]
        return accuracy(results, truth).as_dict() | {"score_seconds": round(time.perf_counter() - t, 1)}

    out: dict[str, Any] = {"scale": args.scale, "seed": args.seed, "rules on": measure()}
    if args.ablate:
        for name, patch in ABLATIONS.items():
            saved = {k: getattr(propagation, k) for k in patch}
            for k, v in patch.items():
                setattr(propagation, k, v)
            try:
                out[name] = measure()
            finally:
                for k, v in saved.items():
                    setattr(propagation, k, v)
    for name, a in out.items():
        if isinstance(a, dict):
            print(
                f"{name:<28} precision {a['precision']:.3f}  recall {a['recall']:.3f}  "
                f"wide {a['wide']}/{a['propagating']} ({a['wide_share']:.1%}; truly wide {a['truly_wide']})  "
                f"misses not flagged {a['missed_unflagged']}"
            )
    results_dir = Path(__file__).resolve().parent / "results"
    results_dir.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (results_dir / f"impact-{args.scale}-{stamp}.json").write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
