"""The Dash app in a real headless Chromium (Debian's), driven by Playwright."""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import free_port
from tests.ui.conftest import SHOTS, STORY, took

pytestmark = pytest.mark.ui


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from werkzeug.serving import make_server

    from analyzer import api
    from analyzer.app import create_app
    from analyzer.demo import run_demo
    from analyzer.governance.decisions import decide
    from analyzer.governance.trust_root import parse

    base = tmp_path_factory.mktemp("ui")
    uri = str(base / "store")
    store, _ = run_demo(uri)
    decide(
        store,
        api.ledger_of(store),
        STORY,
        who="priya",
        approve=True,
        comment="ETL moved first (CHG0042)",
        policy=api.current_policy(store),
        key_dir=Path(uri) / "demo-keys",
    )
    store.close()
    port = free_port()
    root = parse(str(Path(uri) / "trust-root.json"))
    server = make_server("127.0.0.1", port, create_app(uri, trust_root=root).server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()


CENTER = ".ag-center-cols-container .ag-row"


def cells(page: Any, column: str, within: str = "") -> list[str]:
    """The texts of one column in a grid's rendered rows, in row order (not the loading placeholders).

    Read in one script, so a grid redrawing between two reads cannot mix two states of its rows."""
    pairs = page.evaluate(
        "([sel, col]) => Array.from(document.querySelectorAll(sel)).map(r => "
        "[Number(r.getAttribute('row-index') || 0), r.querySelector(`[col-id=\"${col}\"]`)?.innerText ?? ''])",
        [f"{within} {CENTER}:not(.ag-row-loading)".strip(), column],
    )
    return [text for _, text in sorted((int(i), str(t)) for i, t in pairs)]


def settled_cells(page: Any, column: str, ok: Any, timeout: float = 10.0) -> list[str]:
    """A column's drawn texts once ``ok`` holds for them, or as they stand after ``timeout`` seconds (the
    caller asserts on them): a grid answering a filter redraws a moment after the count above it."""
    end = time.monotonic() + timeout
    texts = cells(page, column)
    while not ok(texts) and time.monotonic() < end:
        page.wait_for_timeout(100)
        texts = cells(page, column)
    return texts


def drawn(page: Any, count: int, within: str = "") -> None:
    """Wait until the grid has drawn at least ``count`` rows (its first row can be drawn before the rest)."""
    page.wait_for_function(
        "([sel, n]) => document.querySelectorAll(sel).length >= n",
        arg=[f"{within} {CENTER}:not(.ag-row-loading)".strip(), count],
    )


def test_queue_shows_tiers_and_opens_the_story(browser: object, app_url: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 900})  # type: ignore[attr-defined]
    page.goto(app_url + "/")
    page.wait_for_selector("text=Proposed remediations")
    page.wait_for_selector("text=6 scored proposal(s).")
    drawn(page, 6)
    tiers = cells(page, "tier")
    # the six sample proposals, none auto: the AWS story (and the CSPM's earlier run of the same fix, which
    # its sentence says already ran), the EKS one (an IRSA narrowing) and the Azure one (Defender's
    # shared-key fix) go to the CAB
    assert sorted(tiers) == ["approval", "approval", "cab", "cab", "cab", "cab"]
    assert sum("it already ran (aws-ssm-automation" in v for v in cells(page, "verdict")) == 1
    assert cells(page, "verdict")[0].startswith("Changing who may assume datalake-reader")
    assert cells(page, "top_impact")[0] == "Fraud Detection (critical) +4"
    page.screenshot(path=str(SHOTS / "queue.png"), full_page=True)

    page.locator(f"a:text-is('{STORY}')").click()
    page.wait_for_selector("text=Severed dependencies")
    assert page.url.endswith(f"/proposal/{STORY}")  # the link opens in place
    verdict = page.locator("#proposal-verdict")
    assert verdict.inner_text().startswith(
        "Changing who may assume datalake-reader cuts legacy-etl-role's observed, undocumented use"
    )
    assert (
        "Fraud Detection (critical)" in verdict.inner_text()
        and "change advisory board" in verdict.inner_text()
    )
    # the severed dependencies, grouped by consumer: the ETL's observed use first
    page.wait_for_selector("#severed-groups .ag-row [col-id=consumer]")
    consumers = cells(page, "consumer", "#severed-groups")
    assert consumers[0] == "arn:aws:iam::739406228105:role/legacy-etl-role" and len(consumers) == 2
    assert cells(page, "observed", "#severed-groups")[0] == "1"
    listed = cells(page, "documented", "#severed-table")  # the full list, open: two rows, neither documented
    assert listed == ["NO", "NO"]
    evidence = page.inner_text("#proposal-evidence")  # the window the verdict stands on, fresh here
    assert evidence.startswith("evidence 2026-02-14 to 2026-05-15") and "Evidence:" not in evidence
    body = page.inner_text("body")
    assert "Tier: cab" in body
    assert "legacy-etl-role" in body and "NO" in body
    assert "Fraud Detection" in body and "critical" in body
    page.wait_for_selector("canvas")  # the cytoscape graph rendered
    page.wait_for_selector("#usage-timeline .main-svg")  # and the plotly usage timeline
    assert "3996 events" in page.inner_text("#usage-timeline")
    assert page.inner_text("#decision").startswith("Approved by priya (change-advisory-board)")
    assert "0 observed" in page.inner_text("#safer-alternative")
    page.screenshot(path=str(SHOTS / "proposal.png"), full_page=True)


BIG = "bw-big000000001"
EXPECTED: dict[str, int] = {}
"""What the 10,000-row queue holds, counted from the stored results (not through the app's filter)."""


@pytest.fixture(scope="module")
def big_app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An app over 10,000 scored proposals (copies of the sample's, distinct ids and risks)."""
    from werkzeug.serving import make_server

    from analyzer.app import create_app
    from analyzer.demo import run_demo
    from analyzer.scoring.verdict import verdict

    uri = str(tmp_path_factory.mktemp("ui-big") / "store")
    store, payload = run_demo(uri)
    base = payload["results"]
    docs = {}
    for i in range(10_000):
        r = dict(base[i % len(base)])
        r["proposal_id"] = f"bw-{i:012d}"
        r["risk_score"] = (i * 37) % 101
        docs[r["proposal_id"]] = r
    # one hub-sized blast radius: 500 severed (a dozen observed), 120 impacted services
    story = next(r for r in base if r["tier"] == "cab")
    big = dict(story, proposal_id=BIG)
    first = story["severed"][0]
    big["severed"] = [
        dict(
            first,
            consumer=f"arn:aws:iam::{300000000000 + k:012d}:role/consumer-{k:03d}",
            observed=k < 12,
            events=(500 - k) if k < 12 else 0,
        )
        for k in range(500)
    ]
    big["impacted_services"] = [
        dict(story["impacted_services"][0], name=f"Service {k:03d}", id=f"ci-{k:03d}") for k in range(120)
    ]
    big.pop("summary", None)
    docs[BIG] = big
    store.put_documents("results", docs)
    every = list(store.get_documents("results").values())
    EXPECTED.update(
        total=len(every),
        cab=sum(1 for r in every if r["tier"] == "cab"),
        risky=sum(1 for r in every if r["risk_score"] > 90),
        edges=sum(1 for r in every if r["risk_score"] < 3 or 97 < r["risk_score"] < 100),
        approval=sum(1 for r in every if r["tier"] == "approval"),
        top_priority=max(r.get("priority", 0) for r in every),
        fraud=sum(
            1
            for r in every
            if "fraud"
            in (
                (r.get("summary") or verdict(r)) + " ".join(i["name"] for i in r["impacted_services"])
            ).lower()
        ),
        fraud_min_risk=min(
            r["risk_score"]
            for r in every
            if "fraud"
            in (
                (r.get("summary") or verdict(r)) + " ".join(i["name"] for i in r["impacted_services"])
            ).lower()
        ),
    )
    store.close()
    port = free_port()
    server = make_server("127.0.0.1", port, create_app(uri).server, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:  # served the way production is: visited once /readyz says the caches are built
        try:
            if urllib.request.urlopen(url + "/readyz", timeout=5).status == 200:
                break
        except urllib.error.HTTPError:
            pass
        assert time.monotonic() < deadline, "the app never became ready"
        time.sleep(0.2)
    yield url
    server.shutdown()


def test_queue_of_ten_thousand_rows_filters_and_scrolls_on_the_server(
    browser: object, big_app_url: str
) -> None:
    """10,001 proposals in the grid: the first rows, a block far down drawn on demand, and every filter
    leaves exactly the rows it asks for (counted from the stored results, not through the app)."""
    page = browser.new_page(viewport={"width": 1366, "height": 768})  # type: ignore[attr-defined]
    t = time.perf_counter()
    page.goto(big_app_url + "/")
    page.wait_for_selector(f"{CENTER}:not(.ag-row-loading) [col-id=tier]")
    first_rows = time.perf_counter() - t
    page.wait_for_selector(f"text={EXPECTED['total']} scored proposal(s).")
    took("queue 10k: first rows", first_rows)
    priorities = [int(x) for x in cells(page, "priority")]
    assert priorities == sorted(priorities, reverse=True) and priorities[0] == EXPECTED["top_priority"]
    # a block far down: asked for, served and drawn within a second
    t = time.perf_counter()
    page.evaluate("dash_ag_grid.getApi('queue-table').ensureIndexVisible(7000, 'top')")
    page.wait_for_selector(f"{CENTER}[row-index='7000']:not(.ag-row-loading) [col-id=tier]")
    took("queue 10k: a block far down", time.perf_counter() - t)
    # the charts' and graph's scripts are fetched only once the user is idle, not under that scroll
    assert page.locator("#queue-prefetch .js-plotly-plot").count() == 0
    page.screenshot(path=str(SHOTS / "queue-10k.png"))
    page.evaluate("dash_ag_grid.getApi('queue-table').ensureIndexVisible(0, 'top')")

    def settled(count: int, words: str) -> None:
        """The count is said and every drawn row holds its served values (no placeholder, no blank tier:
        the grid draws a purged block's rows before their values arrive)."""
        page.wait_for_selector(f"text={count} scored proposal(s) matching {words}")
        page.wait_for_function(
            "sel => { const rows = Array.from(document.querySelectorAll(sel));"
            " return rows.length > 0 && rows.every(r => !r.classList.contains('ag-row-loading')"
            " && (r.querySelector('[col-id=tier]')?.innerText || '').trim() !== ''); }",
            arg=CENTER,
        )

    # typed into the tier column's floating filter: contains, the grid's default for text
    page.locator(".ag-floating-filter[aria-colindex='3'] input").fill("cab")
    settled(EXPECTED["cab"], "the column filters")
    assert set(settled_cells(page, "tier", lambda t: set(t) == {"cab"})) == {"cab"}
    page.locator(".ag-floating-filter[aria-colindex='3'] input").fill("")
    # an operator the floating box cannot type, set the way the column menu sets it
    page.evaluate(
        "dash_ag_grid.getApi('queue-table').setFilterModel("
        "{risk: {filterType: 'number', type: 'greaterThan', filter: 90}})"
    )
    settled(EXPECTED["risky"], "the column filters")
    risks = [int(x) for x in settled_cells(page, "risk", lambda t: bool(t) and min(map(int, t)) > 90)]
    assert risks and min(risks) > 90 and EXPECTED["risky"] < EXPECTED["total"]
    page.evaluate(
        "dash_ag_grid.getApi('queue-table').setFilterModel({risk: {filterType: 'number', operator: 'OR',"
        " conditions: [{filterType: 'number', type: 'lessThan', filter: 3},"
        " {filterType: 'number', type: 'inRange', filter: 97, filterTo: 100}]}})"
    )
    settled(EXPECTED["edges"], "the column filters")
    edge_risks = settled_cells(page, "risk", lambda t: all(int(x) < 3 or 97 < int(x) < 100 for x in t))
    assert edge_risks and all(int(x) < 3 or 97 < int(x) < 100 for x in edge_risks)
    page.evaluate("dash_ag_grid.getApi('queue-table').setFilterModel(null)")
    page.wait_for_selector(f"text={EXPECTED['total']} scored proposal(s).")
    # the sets beside the grid: approval only
    for tier in ("cab", "auto", "blocked"):
        page.locator("#queue-tiers label", has_text=tier).locator("input").uncheck()
    settled(EXPECTED["approval"], "tier approval")
    assert set(settled_cells(page, "tier", lambda t: set(t) == {"approval"})) == {"approval"}
    for tier in ("cab", "auto", "blocked"):
        page.locator("#queue-tiers label", has_text=tier).locator("input").check()
    page.fill("#queue-search", "fraud")
    page.keyboard.press("Enter")
    settled(EXPECTED["fraud"], "the search 'fraud'")
    page.wait_for_selector("#queue-prefetch .js-plotly-plot", state="attached", timeout=15_000)
    verdicts = cells(page, "verdict")
    assert verdicts and all("Fraud Detection" in v for v in verdicts)
    page.screenshot(path=str(SHOTS / "queue-search-fraud.png"))
    # sorting asks the server too: risk ascending puts the least risky matching proposal first
    page.locator(".ag-header-cell[col-id=risk] .ag-header-cell-label").click()
    page.wait_for_function(
        "() => document.querySelector(\".ag-header-cell[col-id=risk]\").getAttribute('aria-sort') === 'ascending'"
    )
    page.wait_for_function(
        "m => document.querySelector(\".ag-center-cols-container .ag-row[row-index='0'] [col-id=risk]\")"
        "?.innerText === String(m)",
        arg=EXPECTED["fraud_min_risk"],
    )


def test_a_hub_sized_blast_radius_reads_in_one_screen_or_two(browser: object, big_app_url: str) -> None:
    """500 severed and 120 impacted: the verdict is in the first viewport of a 1366x768 screen, the page
    stays under 3,000 px (the timeline draws observed use only, the severed list is grouped by consumer and
    the full list folded), and the graph has its legend."""
    page = browser.new_page(viewport={"width": 1366, "height": 768})  # type: ignore[attr-defined]
    page.goto(big_app_url + f"/proposal/{BIG}")
    verdict = page.locator("#proposal-verdict")
    verdict.wait_for()
    box = verdict.bounding_box()
    assert box is not None and box["y"] + box["height"] <= 768
    assert "cuts consumer-000's and 11 other consumers' observed" in verdict.inner_text()
    # the consumers' 500 accounts have no evidence loaded at all: unknown use, said in red under the verdict
    evidence = page.inner_text("#proposal-evidence")
    assert evidence.startswith("Evidence: no evidence in the window") and "300000000000" in evidence
    page.wait_for_selector("#severed-groups .ag-row [col-id=consumer]")
    assert len(cells(page, "consumer", "#severed-groups")) == 10  # a page of the 500 consumers' groups
    assert "of 500" in page.inner_text("#severed-groups .ag-paging-row-summary-panel")
    assert "of 120" in page.inner_text("#impacted-table .ag-paging-row-summary-panel")
    caption = page.inner_text("#usage-caption")
    assert (
        caption.startswith("12 severed dependenc(ies) observed")
        and "488 more nobody was seen using" in caption
    )
    assert "severed, nobody documented it" in page.inner_text("#graph-legend")
    # the graph folds past two dozen consumers; clicking the fold draws the next two dozen
    page.wait_for_selector("#proposal-graph canvas")
    page.wait_for_function("() => document.getElementById('proposal-graph')._cyreg?.cy?.nodes().length > 0")
    count = "() => document.getElementById('proposal-graph')._cyreg.cy.nodes('.consumer').length"
    fold = "document.getElementById('proposal-graph')._cyreg.cy.getElementById('cluster:severed')"
    assert page.evaluate(count) == 24 and "+476 more severed" in page.evaluate(f"{fold}.data('label')")
    at = page.evaluate(f"() => {fold}.renderedPosition()")
    box = page.locator("#proposal-graph").bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + at["x"], box["y"] + at["y"])
    page.wait_for_function(f"() => ({count})() === 48")
    assert "+452 more severed" in page.evaluate(f"() => {fold}.data('label')")
    height = page.evaluate("document.documentElement.scrollHeight")
    page.screenshot(path=str(SHOTS / "proposal-hub.png"), full_page=True)
    assert height < 3000, height


def test_the_eks_story_names_the_workload_its_pods_and_the_service_above(
    browser: object, app_url: str
) -> None:
    """The sample's IRSA narrowing, as a reviewer reads it: the deployment cut, undocumented, and Fraud
    Detection above it."""
    page = browser.new_page(viewport={"width": 1400, "height": 900})  # type: ignore[attr-defined]
    page.goto(app_url + "/proposal/bw-bc03e454cd0a")
    page.wait_for_selector("text=Severed dependencies")
    verdict = page.inner_text("#proposal-verdict")
    assert (
        verdict.startswith(
            "Changing who may assume eks-fraud-datalake cuts fraud-scoring's observed, undocumented use (336 events)"
        )
        and "Fraud Detection (critical)" in verdict
    )
    page.wait_for_selector("#severed-groups .ag-row [col-id=consumer]")
    assert cells(page, "consumer", "#severed-groups") == [
        "k8s://615294837560/us-east-1/fraud-eks/namespaces/fraud/deployments/fraud-scoring"
    ]
    assert cells(page, "documented", "#severed-table") == ["NO"]
    assert "Tier: cab" in page.inner_text("body")


def test_explorer_finds_who_can_assume_and_the_undocumented(browser: object, app_url: str) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 900})  # type: ignore[attr-defined]
    page.goto(app_url + "/explorer")
    page.fill("#explorer-query", "role/datalake-reader")
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Who can assume it")
    page.wait_for_selector(".ag-row >> text=legacy-etl-role")  # the grid's rows drawn, not only its heading
    body = page.inner_text("body")
    assert "legacy-etl-role" in body and "fraud-feature-pipeline" in body and "Enterprise Data Lake" in body
    assert "the CMDB does not relate Legacy Fraud ETL to Enterprise Data Lake" in body
    page.screenshot(path=str(SHOTS / "explorer.png"), full_page=True)
    page.fill("#explorer-query", "acme-datalake-curated")
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Who can access it")
    assert "s3:GetObject" in page.inner_text("body")
    page.screenshot(path=str(SHOTS / "explorer-access.png"), full_page=True)
    page.fill("#explorer-query", "legacy-etl-01")
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Who can reach it")
    page.screenshot(path=str(SHOTS / "explorer-reach.png"), full_page=True)
    # neighbours are links: following one explores it
    page.fill("#explorer-query", "role/datalake-reader")
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Who can assume it")
    etl = "arn:aws:iam::739406228105:role/legacy-etl-role"
    page.locator(f"#explorer-result a:text-is('{etl}')").first.click()
    page.wait_for_selector(f"h3:text-is('IamRole: {etl}')")
    assert "/explorer?q=" in page.url
    assert page.inner_text("#explorer-undocumented-count").startswith(  # + IRSA's and the Azure trainer's
        "8 undocumented observed dependenc(ies)"
    )
    evidence = page.inner_text("#explorer-evidence")  # what the list stands on, above it
    assert evidence.startswith("evidence 2026-02-14 to 2026-05-15") and "Evidence:" not in evidence
    assert "482510973311 14" in evidence and "739406228105 14" in evidence


def test_audit_shows_the_verified_ledger_and_exports(browser: object, app_url: str) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 900})  # type: ignore[attr-defined]
    page.goto(app_url + "/audit")
    page.wait_for_selector("text=verifies against the trust root sha256:")
    assert STORY in page.inner_text("#audit-table") and "priya" in page.inner_text("#audit-table")
    with page.expect_download() as dl:
        page.click("#audit-export-button")
    content = Path(dl.value.path()).read_text()
    assert content.startswith("ledger_seq,ledger_hash,proposal_id") and STORY in content
    page.screenshot(path=str(SHOTS / "audit.png"), full_page=True)
    page.click("nav >> text=Review")  # the navigation reaches every page
    page.wait_for_selector("text=execution(s) from")
    page.goto(app_url + f"/proposal/{STORY}")
    page.wait_for_selector("text=Severed dependencies")


def test_review_replays_the_incident_with_its_charts_and_what_to_change(
    browser: object, app_url: str
) -> None:
    """The sample's week as the weekly meeting reads it: the CSPM's run, its unpredicted breakage and what
    Blastwall would have said, the three charts drawn with their bars, and the process finding."""
    page = browser.new_page(viewport={"width": 1400, "height": 1200})  # type: ignore[attr-defined]
    page.goto(app_url + "/review")
    page.wait_for_selector("#review-runs pre")
    summary = page.inner_text("#review-result")
    assert (
        "1 execution(s) from 2026-05-08T06:00:00Z to 2026-05-15T06:00:00Z: 1 without a gate pass" in summary
    )
    run = page.inner_text("#review-runs")
    assert "WITHOUT A GATE PASS; nobody asked Blastwall before it ran" in run
    assert "broke, NOT PREDICTED: legacy-etl-role -> datalake-reader: refused 36 time(s)" in run
    assert "what broke reaches: Fraud Detection [critical]" in run
    assert "would have said: tier CAB by rule critical-undocumented-dependency" in run
    page.wait_for_selector(f'#review-table {CENTER}:not(.ag-row-loading) [col-id="gate passed"]')
    assert settled_cells(page, "gate passed", lambda t: t == ["NO"]) == ["NO"]
    # each chart drew its bars: one day of the week with a run nobody asked about, recall 0 for trust
    # changes, and the services the breakage reached
    page.wait_for_selector("#review-services-chart .bars path")
    bars = page.evaluate(
        "ids => ids.map(id => document.querySelectorAll(`#${id} .bars path`).length)",
        ["review-chart", "review-services-chart"],
    )
    assert bars[0] >= 1 and bars[1] == 5
    assert "not asked" in page.inner_text("#review-chart")
    assert "Fraud Detection [critical]" in page.inner_text("#review-services-chart")
    assert "0%" in page.inner_text("#review-prediction-chart")
    assert "ran 1 change(s) without asking the gate" in page.inner_text("#review-suggestions")
    page.screenshot(path=str(SHOTS / "review.png"), full_page=True)


def test_the_weekly_review_prints_to_pdf(tmp_path: Path) -> None:
    """``review --pdf``: the HTML report printed by this machine's Chromium, its charts drawn first."""
    import re

    from analyzer.demo import run_demo
    from analyzer.governance.review import review_html
    from analyzer.governance.review_pdf import write_pdf

    store, payload = run_demo(str(tmp_path / "store"))
    store.close()
    page = review_html(payload["review"])
    assert page.count('class="plotly-graph-div"') == 3 and page.count("plotly.js v") == 1
    out = tmp_path / "review.pdf"
    write_pdf(page, out)
    data = out.read_bytes()
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    # the charts and the runs: two pages or more
    assert len(re.findall(rb"/Type\s*/Page(?![a-z])", data)) >= 2


def test_unknown_proposal_page_says_so(browser: object, app_url: str) -> None:
    page = browser.new_page()  # type: ignore[attr-defined]
    page.goto(app_url + "/proposal/bw-doesnotexist")
    page.wait_for_selector("text=Not found")
