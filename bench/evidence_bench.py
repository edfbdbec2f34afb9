"""CloudTrail ingest throughput and memory, against the plain json.load-and-loop reader in the same run.

    python bench/evidence_bench.py [--records-per-file 5000] [--files 10,100]

Writes gzip'd trail files shaped like the sample's (AssumeRole and S3 data events), then for each file
count: Blastwall's reader + aggregation (no store write: the bench measures parsing and attribution),
and a baseline that json.loads each file and loops over its records building the same aggregate with
plain dicts. Peak memory is the tracemalloc peak of one pass, so it should stay flat as files grow.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from connectors.evidence.cloudtrail import Aggregate, aggregate, read_events

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "samples" / "acme-fin" / "cloudtrail"


def make_files(out: Path, n_files: int, per_file: int) -> list[Path]:
    pool = []
    for f in sorted(SAMPLE.rglob("*.json.gz"))[:8]:
        pool += json.loads(gzip.decompress(f.read_bytes()))["Records"]
    files = []
    for i in range(n_files):
        recs = [pool[(i * per_file + j) % len(pool)] for j in range(per_file)]
        p = out / f"f{i:04d}.json.gz"
        p.write_bytes(gzip.compress(json.dumps({"Records": recs}).encode(), compresslevel=6))
        files.append(p)
    return files


def blastwall_pass(files: list[Path]) -> int:
    agg = Aggregate()
    for f in files:
        records, problem = read_events(f)
        assert problem is None
        aggregate(records, agg, str(f))
    return agg.records


def baseline_pass(files: list[Path]) -> int:
    edges: dict[tuple[str, str, str], list[object]] = {}
    n = 0
    for f in files:
        with gzip.open(f, "rt") as fh:
            data = json.load(fh)
        for r in data["Records"]:
            n += 1
            ident = r.get("userIdentity") or {}
            src = ((ident.get("sessionContext") or {}).get("sessionIssuer") or {}).get("arn") or ident.get(
                "arn"
            )
            if r.get("eventName") == "AssumeRole":
                dst = (r.get("requestParameters") or {}).get("roleArn")
            else:
                dst = next(
                    (x["ARN"] for x in r.get("resources") or [] if x.get("type") != "AWS::S3::Object"), None
                )
            key = (str(src), f"{r['eventSource'].split('.')[0]}:{r['eventName']}", str(dst))
            e = edges.setdefault(key, [0, r["eventTime"], r["eventTime"]])
            e[0] = int(e[0]) + 1  # type: ignore[call-overload]
            e[1] = min(str(e[1]), r["eventTime"])
            e[2] = max(str(e[2]), r["eventTime"])
    return n


def measure(fn, files: list[Path]) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    n = fn(files)
    rate = n / (time.perf_counter() - t)
    tracemalloc.start()
    fn(files)
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return rate, peak


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records-per-file", type=int, default=5000)
    ap.add_argument("--files", default="10,100")
    args = ap.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(x) for x in args.files.split(",")):
            d = Path(tmp) / str(n)
            d.mkdir()
            files = make_files(d, n, args.records_per_file)
            ours, ours_mem = measure(blastwall_pass, files)
            base, base_mem = measure(baseline_pass, files)
            results[n] = {
                "blastwall_events_per_s": ours,
                "baseline_events_per_s": base,
                "blastwall_peak_mib": ours_mem,
                "baseline_peak_mib": base_mem,
            }
            print(
                f"{n:>4} files x {args.records_per_file} records: blastwall {ours:>9,.0f} events/s "
                f"(peak {ours_mem:6.1f} MiB) | json.load loop {base:>9,.0f} events/s (peak {base_mem:6.1f} MiB)"
                f" | ratio {ours / base:.2f}"
            )
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / f"evidence-{time.strftime('%Y%m%dT%H%M%S')}.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
