"""The gate over HTTP under load, the way a remediation pipeline asks it: ``blastwall serve`` in its own
process, clients on loopback with kept-alive connections, ``POST /v1/gate/{id}`` for scored proposals.

    python bench/gate_load.py [--store DIR] [--requests 2000] [--clients 8] [--ledger-records 10000]

Without ``--store`` it uses the demo store (``blastwall demo --no-app``); with one (e.g. an L store from
``bench/run.py --store``), it starts an organization there if the store has no ledger. Before timing, the
ledger is filled with ``--ledger-records`` records (a year of gate answers at a few dozen a day), since
every answer is verified against, and appended to, the ledger. Reported: p50 / p95 / p99 / worst
latency and throughput, beside two baselines measured in the same run:

- the floor: the same gate called in one process with the ledger held (``decisions.gate``), no HTTP;
- what a pipeline does without ``serve``: ``blastwall gate ID`` as a new process per question.

Bounded (loopback only, a fixed number of requests); written to ``bench/results/gate-load-<ts>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from analyzer import api  # noqa: E402
from analyzer.governance.authority import RECORDER_NAME  # noqa: E402
from analyzer.governance.ledger import Ledger, ledger_path_for  # noqa: E402
from analyzer.governance.trust_root import parse  # noqa: E402
from analyzer.graph.store import open_store  # noqa: E402

BLASTWALL = [sys.executable, "-m", "analyzer.cli"]


def _bw(store: Path, *args: str, env: dict[str, str]) -> str:
    out = subprocess.run([*BLASTWALL, "--store", str(store), *args], capture_output=True, text=True, env=env)
    if out.returncode not in (0, 3):
        raise SystemExit(f"blastwall {' '.join(args)} failed:\n{out.stderr[-3000:]}")
    return out.stdout


def _port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare_store(store: Path | None, work: Path) -> tuple[Path, dict[str, str]]:
    env = dict(os.environ)
    if store is None:
        store = work / "store"
        env |= {
            "BLASTWALL_KEYS": str(store / "demo-keys"),
            "BLASTWALL_TRUST_ROOT": str(store / "trust-root.json"),
        }
        _bw(store, "demo", "--no-app", env=env)
        return store, env
    env |= {"BLASTWALL_KEYS": str(work / "keys"), "BLASTWALL_TRUST_ROOT": str(work / "trust-root.json")}
    if not ledger_path_for(str(store)).exists():
        _bw(
            store,
            "org",
            "init",
            "--organization",
            "Bench",
            "--admin",
            "dana",
            "--out",
            str(work / "trust-root.json"),
            env=env,
        )
    elif not (work / "trust-root.json").exists():
        raise SystemExit(
            f"{store} has a ledger: give its trust root and keys in $BLASTWALL_TRUST_ROOT / $BLASTWALL_KEYS"
        )
    return store, env


def fill(ledger: Ledger, records: int) -> None:
    have = sum(1 for _ in ledger.path.open("rb"))
    key = ledger.recorder_key()
    assert key is not None, "the recorder's key is needed to fill the ledger"
    todo = max(0, records - have)
    for start in range(0, todo, 1000):
        n = min(1000, todo - start)
        ledger.append_many(
            [("checkpoint", {"filler": start + i, "pad": "x" * 600}, RECORDER_NAME, key) for i in range(n)]
        )


def percentiles(xs: list[float]) -> dict[str, float]:
    xs = sorted(xs)

    def at(q: float) -> float:
        return round(xs[min(len(xs) - 1, int(q * len(xs)))] * 1000, 2)

    return {
        "p50_ms": at(0.50),
        "p95_ms": at(0.95),
        "p99_ms": at(0.99),
        "worst_ms": round(xs[-1] * 1000, 2),
        "n": len(xs),
    }


def load(url: str, headers: dict[str, str], ids: list[str], requests: int, clients: int) -> dict[str, Any]:
    """``requests`` gate questions from ``clients`` threads, each with its own kept-alive connection."""
    latencies: list[float] = []
    lock = threading.Lock()
    per = requests // clients

    def client(k: int) -> None:
        mine = []
        with httpx.Client(headers=headers, timeout=60) as c:
            for i in range(per):
                pid = ids[(k * per + i) % len(ids)]
                t0 = time.perf_counter()
                r = c.post(f"{url}/v1/gate/{pid}")
                mine.append(time.perf_counter() - t0)
                assert r.status_code == 200, r.text
        with lock:
            latencies.extend(mine)

    t = time.perf_counter()
    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = time.perf_counter() - t
    return percentiles(latencies) | {"per_s": round(len(latencies) / wall, 1), "clients": clients}


def baselines(out: dict[str, Any], store: Path, env: dict[str, str], ids: list[str]) -> None:
    """The floor (the same gate in this process, the ledger held, no HTTP) and a new process per question."""
    from analyzer.governance.decisions import gate

    root = parse(env["BLASTWALL_TRUST_ROOT"])
    held = Ledger(ledger_path_for(str(store)))
    s = open_store(str(store))
    policy = api.current_policy(s)
    floor = []
    for i in range(200):
        t0 = time.perf_counter()
        gate(s, held, ids[i % len(ids)], policy=policy, trust_root=root)
        floor.append(time.perf_counter() - t0)
    s.close()
    out["in_process"] = percentiles(floor[5:])
    cli = []
    for pid in ids[:5]:
        t0 = time.perf_counter()
        _bw(store, "gate", pid, env=env)
        cli.append(time.perf_counter() - t0)
    out["cli_per_question"] = percentiles(cli)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", type=Path)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--ledger-records", type=int, default=10_000)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bw-gate-"))
    store, env = prepare_store(args.store, work)
    os.environ.update(env)
    s = open_store(str(store))
    ids = sorted(d for d in s.get_document_texts(api.RESULTS))[:200]
    s.close()
    if not ids:
        raise SystemExit(f"{store} has no scored proposal to ask the gate about")
    ledger = Ledger(ledger_path_for(str(store)))
    t = time.perf_counter()
    fill(ledger, args.ledger_records)
    print(
        f"ledger filled to {args.ledger_records} records ({ledger.path.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - t:.0f} s"
    )
    _bw(store, "keys", "init", "--name", "pipeline", env=env)
    token = _bw(store, "token", "issue", "pipeline", "--scope", "gate", "--as", "dana", env=env).strip()

    port = _port()
    proc = subprocess.Popen(
        [*BLASTWALL, "--store", str(store), "serve", "--port", str(port), "--as-of", "latest"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    out: dict[str, Any] = {
        "store": str(store),
        "requests": args.requests,
        "clients": args.clients,
        "ledger_records": args.ledger_records,
    }
    try:
        deadline = time.monotonic() + 900
        while True:
            if proc.poll() is not None:
                raise SystemExit(proc.stderr.read() if proc.stderr else "serve stopped")
            try:
                if httpx.get(url + "/readyz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("serve did not get ready")
            time.sleep(0.5)
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(headers=headers) as c:
            for pid in ids[:20]:  # warm: first reads of each result
                assert c.post(f"{url}/v1/gate/{pid}").status_code == 200
        for clients in sorted({1, args.clients}):
            out[f"served_{clients}_clients"] = load(url, headers, ids, args.requests, clients)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    baselines(out, store, env, ids)
    out["ledger_mb_after"] = round(ledger.path.stat().st_size / 1e6, 1)
    for key in sorted(k for k in out if k.startswith("served_")):
        m = out[key]
        print(
            f"served, {m['clients']} client(s): p50 {m['p50_ms']} ms  p95 {m['p95_ms']} ms  "
            f"p99 {m['p99_ms']} ms  worst {m['worst_ms']} ms  {m['per_s']} /s"
        )
    print(
        f"in-process gate (floor): p50 {out['in_process']['p50_ms']} ms  p99 {out['in_process']['p99_ms']} ms"
    )
    print(f"blastwall gate, a new process per question: p50 {out['cli_per_question']['p50_ms']} ms")
    one = out["served_1_clients"]
    print(
        f"p99 target 100 ms (one pipeline asking): {'met' if one['p99_ms'] <= 100 else 'MISSED'}; served p50 "
        f"is {out['cli_per_question']['p50_ms'] / one['p50_ms']:.0f}x faster than a process per question"
    )
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (results / f"gate-load-{stamp}.json").write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
