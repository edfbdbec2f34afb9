"""The app over a synthetic enterprise at scale M (40 accounts, 16,000 interfaces, 2,000 scored
proposals), in real Chromium at 1366x768: the queue, the largest proposal and the explorer on a hub
role; filters leave exactly the rows the stored results say; the largest blast radius stays under
3,000 px with its verdict in the first screen. Screenshots go to test-output/screenshots/m-*.png, the
pages' times to test-output/ui-timings.json (`bench/app_pages.py` times them against their targets).

The store is built once for the module (synth, ingest, score: about 40 s); the app runs in its own process
(`blastwall app`) and warms its caches as it starts; the timings are taken once it says it is ready
(`/readyz`)."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import blastwall_cmd, free_port
from tests.ui.conftest import SHOTS, took
from tests.ui.test_app_browser import CENTER, cells

pytestmark = pytest.mark.ui
FACTS: dict[str, Any] = {}
"""What the M store holds, read from the stored results (not through the app)."""


def _bw(store: Path, *args: str) -> None:
    out = subprocess.run([*blastwall_cmd(), "--store", str(store), *args], capture_output=True, text=True)
    assert out.returncode == 0, (args, out.stderr[-2000:])


@pytest.fixture(scope="module")
def m_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from analyzer import api
    from analyzer.graph.store import open_store

    base = tmp_path_factory.mktemp("m")
    data, store = base / "synth", base / "store"
    subprocess.run(
        [*blastwall_cmd(), "synth", "--scale", "M", "--out", str(data)], check=True, capture_output=True
    )
    as_of = json.loads((data / "synth.json").read_text())["as_of"]
    _bw(store, "ingest", "directory", str(data), "--collected-at", as_of)
    _bw(store, "score", "--all", "--as-of", as_of, "--format", "json")
    s = open_store(store)
    results = api.saved_results(s)
    s.close()
    biggest = max(results, key=lambda r: (len(r["severed"]) + len(r["impacted_services"]), r["proposal_id"]))
    FACTS.update(
        total=len(results),
        cab=sum(1 for r in results if r["tier"] == "cab"),
        critical_worst=sum(
            1
            for r in results
            if r["impacted_services"] and r["impacted_services"][0]["criticality"] == "critical"
        ),
        severing=sum(1 for r in results if any(x["observed"] for x in r["severed"])),
        biggest=biggest["proposal_id"],
        biggest_target=biggest["change"]["target"],
        biggest_severed=len(biggest["severed"]),
        biggest_impacted=len(biggest["impacted_services"]),
    )
    # a hub-sized blast radius is there: dozens of accesses cut, most of the estate's services impacted
    assert FACTS["total"] == 2000 and FACTS["biggest_severed"] > 20 and FACTS["biggest_impacted"] > 60
    assert 0 < FACTS["critical_worst"] < FACTS["severing"] < FACTS["total"]  # filters that discriminate
    port = free_port()
    server = subprocess.Popen(  # its own process, as `blastwall app` runs in production
        [*blastwall_cmd(), "--store", str(store), "app", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:  # ready: the queue and the undocumented list built in the background
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            try:
                with urllib.request.urlopen(url + "/readyz", timeout=5) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError):
                pass
            assert time.monotonic() < deadline, "the app did not get ready in 5 minutes"
            time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_queue_at_m_first_rows_and_filters(browser: object, m_app: str) -> None:
    page = browser.new_page(viewport={"width": 1366, "height": 768})  # type: ignore[attr-defined]
    t = time.perf_counter()
    page.goto(m_app + "/")
    page.wait_for_selector(f"{CENTER}:not(.ag-row-loading) [col-id=verdict]")
    first_rows = time.perf_counter() - t
    page.wait_for_selector(f"text={FACTS['total']} scored proposal(s).")
    page.screenshot(path=str(SHOTS / "m-queue.png"))
    took("M: queue first rows", first_rows)
    # worst impact critical only, by the set beside the grid
    for level in ("high", "medium", "low", "none"):
        page.locator("#queue-criticality label", has_text=level).locator("input").uncheck()
    page.wait_for_selector(
        f"text={FACTS['critical_worst']} scored proposal(s) matching worst impact critical"
    )
    page.wait_for_selector(f"{CENTER}:not(.ag-row-loading) [col-id=top_impact]")
    worst = cells(page, "top_impact")
    assert worst and all("(critical)" in w for w in worst)
    page.screenshot(path=str(SHOTS / "m-queue-critical.png"))
    for level in ("high", "medium", "low", "none"):
        page.locator("#queue-criticality label", has_text=level).locator("input").check()
    # a number filter from the column: proposals that sever observed use
    page.evaluate(
        "dash_ag_grid.getApi('queue-table').setFilterModel("
        "{severed_observed: {filterType: 'number', type: 'greaterThan', filter: 0}})"
    )
    page.wait_for_selector(f"text={FACTS['severing']} scored proposal(s) matching the column filters")
    page.wait_for_selector(f"{CENTER}:not(.ag-row-loading) [col-id=severed_observed]")
    assert all(int(x) > 0 for x in cells(page, "severed_observed"))
    page.screenshot(path=str(SHOTS / "m-queue-filtered.png"))


def opened(browser: object, m_app: str) -> Any:
    """A page of a user who has the app open: the queue shown, and the scripts of the graph and the charts
    it fetches after its first rows in the browser's cache; the next page is timed from there. Opened
    cold, before those scripts arrive, the largest proposal takes about 3 s."""
    page = browser.new_page(viewport={"width": 1366, "height": 768})  # type: ignore[attr-defined]
    page.goto(m_app + "/")
    page.wait_for_selector(f"{CENTER}:not(.ag-row-loading) [col-id=verdict]")
    page.wait_for_selector("#queue-prefetch .js-plotly-plot", state="attached")
    return page


def test_the_largest_proposal_at_m(browser: object, m_app: str) -> None:
    page = opened(browser, m_app)
    t = time.perf_counter()
    page.goto(m_app + f"/proposal/{FACTS['biggest']}")
    page.wait_for_selector("#proposal-verdict")
    page.wait_for_selector("#severed-groups .ag-row [col-id=consumer]")
    shown = time.perf_counter() - t
    box = page.locator("#proposal-verdict").bounding_box()
    assert box is not None and box["y"] + box["height"] <= 768  # the verdict in the first screen
    height = page.evaluate("document.documentElement.scrollHeight")
    page.screenshot(path=str(SHOTS / "m-proposal-largest.png"), full_page=True)
    took("M: largest proposal", shown)
    assert height < 3000, height
    assert f"Every severed dependency ({FACTS['biggest_severed']} listed)" in page.inner_text("body")
    # each impacted service says how it is reached and by which chain, starting at a consumer cut off
    page.wait_for_selector("#impacted-table .ag-row [col-id=chain]")
    first = page.locator("#impacted-table .ag-row").first
    assert first.locator("[col-id=reached]").inner_text() in ("membership", "observed", "documented")
    chain = first.locator("[col-id=chain]").inner_text()
    assert "part of svc-" in chain, chain


def test_explorer_at_m(browser: object, m_app: str) -> None:
    from urllib.parse import quote

    page = opened(browser, m_app)
    t = time.perf_counter()
    page.goto(m_app + "/explorer?q=" + quote(FACTS["biggest_target"], safe=""))
    page.wait_for_selector("#explorer-result h3")
    page.wait_for_selector("#explorer-undocumented-count")
    shown = time.perf_counter() - t
    assert FACTS["biggest_target"] in page.inner_text("#explorer-result h3")
    count = page.inner_text("#explorer-undocumented-count")
    assert count.split(" ", 1)[0].isdigit() and "the 200 with the most critical dependants shown" in count
    page.screenshot(path=str(SHOTS / "m-explorer.png"))
    took("M: explorer on a hub role", shown)
