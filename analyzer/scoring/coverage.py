"""Reading evidence coverage: absence of evidence is only evidence of absence where logs were kept."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any


def window_days(start: datetime, end: datetime) -> frozenset[str]:
    """The days (``YYYY-MM-DD``) from ``start`` to ``end``, both included."""
    return _days(start.date(), end.date())


@lru_cache(maxsize=64)
def _days(first: date, last: date) -> frozenset[str]:
    out = set()
    d = first
    while d <= last:
        out.add(d.isoformat())
        d += timedelta(days=1)
    return frozenset(out)


def covered_days(
    docs: dict[str, dict[str, Any]],
    account: str,
    start: datetime,
    end: datetime,
    sources: tuple[str, ...] = ("cloudtrail",),
) -> tuple[int, int]:
    """(days with evidence, days in the window) for ``account`` over [start, end]."""
    want = window_days(start, end)
    have: set[str] = set()
    for doc in docs.values():
        if doc.get("account") == account and doc.get("source") in sources:
            have |= set(doc.get("days", [])) & want
    return len(have), len(want)
