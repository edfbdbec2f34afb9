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


Coverage = dict[tuple[Any, Any], frozenset[str]]
"""Per (account, source), the days it has evidence of (``coverage_index``)."""


def coverage_index(docs: dict[str, dict[str, Any]]) -> Coverage:
    """The coverage documents as the days each account has of each source."""
    out: Coverage = {}
    for doc in docs.values():
        key = (doc.get("account"), doc.get("source"))
        out[key] = out.get(key, frozenset()) | frozenset(doc.get("days", []))
    return out


def covered_days(
    index: Coverage,
    account: str,
    start: datetime,
    end: datetime,
    sources: tuple[str, ...] = ("cloudtrail",),
) -> tuple[int, int]:
    """(days with evidence, days in the window) for ``account`` over [start, end]."""
    want = window_days(start, end)
    have: set[str] = set()
    for source in sources:
        have |= index.get((account, source), frozenset()) & want
    return len(have), len(want)
