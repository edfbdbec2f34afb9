"""The app's pages timed in real Chromium against their targets, the way a user opens them.

    python bench/app_pages.py [--scale M] [--runs 7] [--data DIR] [--store DIR]

Builds a synthetic enterprise (``blastwall synth``, ``ingest directory``, ``score --all``; or reuses
``--store``), starts ``blastwall app`` in its own process, waits for ``/readyz`` (the caches it warms as it
starts), then opens each page ``--runs`` times in a new browser page and reports the median and the worst
against the target:

- the queue's first rows (target 2 s), from navigation to the first drawn row;
- the largest proposal (target 2 s), opened from the queue a user has open (its scripts cached);
- the explorer on the role the most severed dependencies hang from (target 3 s: who can assume it is
  decided for every principal of the estate).

Beside each, the server's own share: the same callbacks' HTTP requests as the browser made them, from
request to response, summed (``/_dash-update-component``), so a slow page says whether the time went to
the server or to drawing. The tests in ``tests/ui`` assert what these pages show; this measures how fast,
on a quiet machine (a CI worker shared with other jobs is not one). Written to
``bench/results/app-pages-<scale>-<timestamp>.json``.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from analyzer import api  # noqa: E402
from analyzer.graph.store import open_store  # noqa: E402

BLASTWALL = [sys.executable, "-m", "analyzer.cli"]
CHROMIUM = "/usr/bin/chromium"
ROW = ".ag-center-cols-container .ag-row:not(.ag-row-loading)"


def _run(*args: str) -> None:
    out = subprocess.run([*BLASTWALL, *args], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"blastwall {' '.join(args)} failed:\n{out.stderr[-3000:]}")


def build(scale: str, data: Path, store: Path) -> None:
    if not (data / "synth.json").exists():
        _run("synth", "--scale", scale, "--out", str(data))
    as_of = json.loads((data / "synth.json").read_text())["as_of"]
    _run("--store", str(store), "ingest", "directory", str(data), "--collected-at", as_of)
    _run("--store", str(store), "score", "--all", "--as-of", as_of, "--format", "json")


def largest(store: Path) -> dict[str, Any]:
    s = open_store(store)
    try:
        results = api.saved_results(s)
    finally:
        s.close()
    return max(results, key=lambda r: (len(r["severed"]) + len(r["impacted_services"]), r["proposal_id"]))


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(store: Path) -> tuple[subprocess.Popen[str], str]:
    port = _port()
    proc = subprocess.Popen(
        [*BLASTWALL, "--store", str(store), "app", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 600
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"the app stopped: {proc.stderr.read() if proc.stderr else ''}")
        try:
            with urllib.request.urlopen(url + "/readyz", timeout=5) as r:
                if r.status == 200:
                    return proc, url
        except (urllib.error.URLError, ConnectionError):
            pass
        if time.monotonic() > deadline:
            raise SystemExit("the app did not get ready in 10 minutes")
        time.sleep(0.5)


class Server:
    """The time the browser's Dash callback requests spent between request and response."""

    def __init__(self, page: Any) -> None:
        self.seconds = 0.0
        page.on("requestfinished", self._finished)

    def _finished(self, request: Any) -> None:
        if "/_dash-update-component" in request.url:
            t = request.timing  # milliseconds from the request's start; -1 when not reached
            if t["responseEnd"] > 0 and t["requestStart"] >= 0:
                self.seconds += (t["responseEnd"] - t["requestStart"]) / 1000


def timed(browser: Any, url: str, runs: int, step: Callable[[Any], None], warm: bool) -> dict[str, Any]:
    totals, server = [], []
    for _ in range(runs):
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        if warm:  # a user who has the queue open: its rows drawn and the deferred scripts fetched
            page.goto(url + "/")
            page.wait_for_selector(ROW)
            page.wait_for_selector("#queue-prefetch .js-plotly-plot", state="attached")
        share = Server(page)
        t = time.perf_counter()
        step(page)
        totals.append(time.perf_counter() - t)
        page.wait_for_load_state("networkidle")
        server.append(share.seconds)
        page.close()
    return {
        "median_s": round(statistics.median(totals), 3),
        "worst_s": round(max(totals), 3),
        "server_median_s": round(statistics.median(server), 3),
        "runs": [round(x, 3) for x in totals],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", default="M", choices=["S", "M", "L"])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--data", type=Path, help="a synth directory to reuse")
    ap.add_argument("--store", type=Path, help="a store already scored: skip building")
    args = ap.parse_args()
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    work = Path(tempfile.mkdtemp(prefix="bw-pages-"))
    store = args.store or work / "store"
    if args.store is None:
        t = time.perf_counter()
        build(args.scale, args.data or work / "synth", store)
        print(f"built and scored {args.scale} in {time.perf_counter() - t:.0f} s")
    big = largest(store)
    proc, url = serve(store)
    from playwright.sync_api import sync_playwright

    targets = {"queue first rows": 2.0, "largest proposal": 2.0, "explorer on a hub role": 3.0}
    steps: dict[str, tuple[Callable[[Any], None], bool]] = {
        "queue first rows": (lambda p: (p.goto(url + "/"), p.wait_for_selector(ROW)), False),
        "largest proposal": (
            lambda p: (
                p.goto(url + f"/proposal/{big['proposal_id']}"),
                p.wait_for_selector("#proposal-verdict"),
                p.wait_for_selector("#severed-groups .ag-row [col-id=consumer]"),
            ),
            True,
        ),
        "explorer on a hub role": (
            lambda p: (
                p.goto(url + "/explorer?q=" + quote(big["change"]["target"], safe="")),
                p.wait_for_selector("#explorer-result h3"),
                p.wait_for_selector("#explorer-undocumented-count"),
            ),
            True,
        ),
    }
    out: dict[str, Any] = {"scale": args.scale, "largest": big["proposal_id"], "pages": {}}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
            )
            for name, (step, warm) in steps.items():
                m = timed(browser, url, args.runs, step, warm)
                m["target_s"] = targets[name]
                out["pages"][name] = m
                verdict = "met" if m["median_s"] <= targets[name] else "MISSED"
                print(
                    f"{name:<24} median {m['median_s']:.2f} s  worst {m['worst_s']:.2f} s  "
                    f"(server {m['server_median_s']:.2f} s)  target {targets[name]:.0f} s: {verdict}"
                )
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (results / f"app-pages-{args.scale}-{stamp}.json").write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
