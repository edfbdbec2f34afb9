"""Evidence coverage: which (source, account, region) has evidence for which days.

Absence of evidence is not evidence of absence: analysis asks coverage before calling anything unused.
"""

from __future__ import annotations

from datetime import date
from typing import Any

COLLECTION = "coverage"


def coverage_id(source: str, account: str, region: str) -> str:
    return f"{source}/{account}/{region}"


def merge_days(
    existing: dict[str, Any] | None, source: str, account: str, region: str, days: set[str]
) -> dict[str, Any]:
    all_days = sorted(set((existing or {}).get("days", [])) | days)
    return {
        "source": source,
        "account": account,
        "region": region,
        "days": all_days,
        "from": all_days[0] if all_days else None,
        "to": all_days[-1] if all_days else None,
    }


def day_of(ts: str) -> str:
    return ts[:10] if len(ts) >= 10 else date.today().isoformat()
