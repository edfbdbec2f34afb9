"""Reading evidence coverage: absence of evidence is only evidence of absence where logs were kept."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any


def covered_days(
    docs: dict[str, dict[str, Any]],
    account: str,
    start: datetime,
    end: datetime,
    sources: tuple[str, ...] = ("cloudtrail",),
) -> tuple[int, int]:
    """(days with evidence, days in the window) for ``account`` over [start, end]."""
    want = set()
    d = start.date()
    while d <= end.date():
        want.add(d.isoformat())
        d += timedelta(days=1)
    have: set[str] = set()
    for doc in docs.values():
        if doc.get("account") == account and doc.get("source") in sources:
            have |= set(doc.get("days", [])) & want
    return len(have), len(want)
