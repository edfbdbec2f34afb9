"""Criticality, one scale for every CMDB: critical, high, medium, low, and unknown (never read as low)."""

from __future__ import annotations

CRITICALITY_ORDER = ("unknown", "low", "medium", "high", "critical")


def normalize_criticality(value: object) -> str:
    """ServiceNow's ``busines_criticality`` choice (or a plain word) -> critical|high|medium|low|unknown.

    >>> normalize_criticality("1 - most critical"), normalize_criticality("4 - not critical")
    ('critical', 'low')
    >>> normalize_criticality(""), normalize_criticality("High")
    ('unknown', 'high')
    """
    text = str(value or "").strip().lower()
    by_number = {"1": "critical", "2": "high", "3": "medium", "4": "low"}
    if text[:1] in by_number and (len(text) == 1 or text[1:].lstrip().startswith("-")):
        return by_number[text[:1]]
    for word in ("critical", "high", "medium", "low"):
        if text == word or text.startswith(word):
            return word
    return "unknown"


def criticality_rank(value: str) -> int:
    """critical 4 … low 1; unknown 0 (callers decide how to treat unknown, never as 'low')."""
    return CRITICALITY_ORDER.index(value) if value in CRITICALITY_ORDER else 0
