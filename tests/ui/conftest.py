"""Shared browser fixtures: Debian's Chromium driven by Playwright."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT

CHROMIUM = "/usr/bin/chromium"
STORY = "bw-87109988a633"
SHOTS = ROOT / "test-output" / "screenshots"
TIMINGS = ROOT / "test-output" / "ui-timings.json"


def took(name: str, seconds: float) -> None:
    """Write down how long a page took in this run (test-output/ui-timings.json). Pages are timed against
    their targets in `bench/app_pages.py`, on a quiet machine; a test on a shared CI worker asserts what
    the page shows, not how fast."""
    TIMINGS.parent.mkdir(parents=True, exist_ok=True)
    seen = json.loads(TIMINGS.read_text()) if TIMINGS.exists() else {}
    seen[name] = round(seconds, 3)
    TIMINGS.write_text(json.dumps(seen, indent=1, sort_keys=True))


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run must install Debian's chromium")
        pytest.skip(f"{CHROMIUM} not installed (apt-get install -y chromium); CI installs it")
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield b
        b.close()
