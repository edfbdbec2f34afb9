"""The weekly review as a PDF: the HTML report printed by headless Chromium (the machine's own; nothing is
downloaded). Chromium runs the report's plotly.js before it prints, so the charts are in the PDF.

The browser is ``$BLASTWALL_CHROMIUM``, else the first of ``chromium``, ``chromium-browser``,
``google-chrome`` on the PATH; without one the command says how to get one instead of failing obscurely.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from analyzer.errors import BadInput, BlastwallError

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-pdf-header-footer",
    "--virtual-time-budget=15000",
)


def browser() -> str:
    given = os.environ.get("BLASTWALL_CHROMIUM")
    if given:
        if not Path(given).is_file():
            raise BadInput(
                f"$BLASTWALL_CHROMIUM names {given}, which is not a file", path="BLASTWALL_CHROMIUM"
            )
        return given
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    raise BadInput(
        "--pdf prints the HTML report with headless Chromium, and none is installed: apt-get install "
        "chromium (or set BLASTWALL_CHROMIUM to a Chrome or Chromium binary), or use --html"
    )


def write_pdf(html_text: str, out: Path, timeout: float = 120) -> None:
    exe = browser()
    with tempfile.TemporaryDirectory(prefix="blastwall-pdf-") as tmp:
        page = Path(tmp) / "review.html"
        page.write_text(html_text, encoding="utf-8")
        target = Path(out).resolve()
        done = subprocess.run(
            [exe, *FLAGS, f"--user-data-dir={tmp}/profile", f"--print-to-pdf={target}", page.as_uri()],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if done.returncode != 0 or not target.is_file() or target.stat().st_size == 0:
            tail = (done.stderr or "").strip().splitlines()[-3:]
            raise BlastwallError(f"{exe} did not print the review to {target}: {' | '.join(tail)}")
