"""How fresh the evidence behind an answer is: the window, and per account the newest evidence and the days
it covers. An account whose logs hold nothing in the window is not a clean bill: its observed use cannot
be told from unseen use, so answers say so first.

Coverage documents are what the evidence loaders record per source, account and region (the days each
file covered); nothing here reads evidence itself.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any

from analyzer.timeutil import iso

_ACCOUNT_IN = re.compile(r"(?<![0-9])[0-9]{12}(?![0-9])")


def _day(text: Any) -> date | None:
    try:
        return date.fromisoformat(str(text)[:10])
    except ValueError:
        return None


def newest_evidence(coverage: dict[str, dict[str, Any]]) -> date | None:
    """The newest day any evidence covers (None: no evidence loaded).

    >>> newest_evidence({"a": {"days": ["2026-05-01", "2026-05-14"]}, "b": {"days": ["2026-04-30"]}})
    datetime.date(2026, 5, 14)
    """
    days = [d for doc in coverage.values() for d in (_day(x) for x in doc.get("days") or []) if d]
    return max(days, default=None)


def latest_anchor(coverage: dict[str, dict[str, Any]]) -> datetime | None:
    """``--as-of latest``: the end of the newest day of evidence (midnight after it, UTC)."""
    from datetime import UTC

    newest = newest_evidence(coverage)
    if newest is None:
        return None
    return datetime(newest.year, newest.month, newest.day, tzinfo=UTC) + timedelta(days=1)


def freshness(
    coverage: dict[str, dict[str, Any]],
    start: datetime,
    end: datetime,
    anchored: str = "given",
    accounts: set[str] | None = None,
) -> dict[str, Any]:
    """The window, each account's newest evidence and days covered in it, the accounts with evidence but
    none in the window (``stale``), and how the window was anchored (``given``, ``now``, ``latest``).

    With ``accounts`` (the accounts an answer is about), only those are reported, and one of them with no
    evidence loaded at all is stale too: its use is as unknown as that of an account whose logs ended.

    >>> from datetime import UTC
    >>> f = freshness({"ct": {"account": "1", "source": "cloudtrail", "days": ["2026-05-14"]}},
    ...               datetime(2026, 9, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC), "now")
    >>> f["stale"], f["age_days"], f["accounts"][0]["newest"]
    (['1'], 201, '2026-05-14')
    """
    lo, hi = start.date(), end.date()
    per: dict[str, dict[str, Any]] = {}
    for doc in coverage.values():
        account = str(doc.get("account") or "unknown")
        if accounts is not None and account not in accounts:
            continue
        days = [d for d in (_day(x) for x in doc.get("days") or []) if d]
        a = per.setdefault(
            account, {"account": account, "newest": None, "in_window": set(), "sources": set()}
        )
        a["sources"].add(str(doc.get("source")))
        if days:
            newest = max(days)
            a["newest"] = max(a["newest"], newest) if a["newest"] else newest
            a["in_window"] |= {d for d in days if lo <= d <= hi}
    for account in accounts or ():
        per.setdefault(account, {"account": account, "newest": None, "in_window": set(), "sources": set()})
    rows = []
    for account in sorted(per):
        a = per[account]
        rows.append(
            {
                "account": account,
                "newest": a["newest"].isoformat() if a["newest"] else None,
                "days_in_window": len(a["in_window"]),
                "sources": sorted(a["sources"]),
            }
        )
    overall = newest_evidence(coverage)
    return {
        "window_start": iso(start),
        "window_end": iso(end),
        "anchored": anchored,
        "newest_evidence": overall.isoformat() if overall else None,
        "age_days": (hi - overall).days if overall else None,
        "accounts": rows,
        "stale": [a["account"] for a in rows if a["days_in_window"] == 0],
    }


def headline(f: dict[str, Any]) -> str | None:
    """What an answer must say first about its evidence, or None when every account's is in the window.

    >>> headline({"newest_evidence": None, "accounts": [], "stale": [], "anchored": "now",
    ...           "window_start": "a", "window_end": "b", "age_days": None})
    'no evidence has been loaded (blastwall ingest cloudtrail / flowlogs): nothing observed can be told from nothing used'
    """
    if f["newest_evidence"] is None:
        return (
            "no evidence has been loaded (blastwall ingest cloudtrail / flowlogs): nothing observed can be "
            "told from nothing used"
        )
    parts = []
    if f["stale"]:
        shown = ", ".join(f["stale"][:8]) + (" …" if len(f["stale"]) > 8 else "")
        parts.append(
            f"no evidence in the window {f['window_start'][:10]} to {f['window_end'][:10]} for account(s) "
            f"{shown}: their use is unknown, not absent"
        )
    if f["anchored"] == "now" and (f["age_days"] or 0) > 1:
        parts.append(
            f"anchored at now: the newest evidence is from {f['newest_evidence']}, {f['age_days']} days old "
            "(pass --as-of latest to anchor at it)"
        )
    return "; ".join(parts) or None


def window_line(f: dict[str, Any]) -> str:
    """The evidence an answer stands on, in one line: the window, how it was anchored, per account the days
    it covers (the thinnest first when there are many) and the newest evidence.

    >>> window_line({"window_start": "2026-02-14T00:00:00Z", "window_end": "2026-05-15T00:00:00Z",
    ...   "anchored": "latest", "newest_evidence": "2026-05-14", "accounts": [
    ...   {"account": "1", "newest": "2026-05-14", "days_in_window": 14, "sources": ["cloudtrail"]},
    ...   {"account": "2", "newest": "2026-05-14", "days_in_window": 9, "sources": ["flowlogs"]}]})
    'evidence 2026-02-14 to 2026-05-15 (anchored at the newest evidence, 2026-05-14): 2 account(s); days covered: 2 9, 1 14'
    """
    how = {
        "latest": f"anchored at the newest evidence, {f['newest_evidence']}",
        "now": "anchored at now",
        "given": "as given",
    }.get(f["anchored"], f["anchored"])
    accounts = sorted(f["accounts"], key=lambda a: (a["days_in_window"], a["account"]))
    shown = ", ".join(f"{a['account']} {a['days_in_window']}" for a in accounts[:6])
    more = f", … {len(accounts) - 6} more" if len(accounts) > 6 else ""
    return (
        f"evidence {f['window_start'][:10]} to {f['window_end'][:10]} ({how}): {len(accounts)} account(s)"
        + (f"; days covered: {shown}{more}" if accounts else "")
    )


def result_accounts(r: dict[str, Any]) -> set[str]:
    """The accounts a scored result is about: the target's and those of every severed dependency's ends.

    >>> sorted(result_accounts({"evidence": {"account": "111122223333"}, "severed": [
    ...     {"consumer": "arn:aws:iam::444455556666:role/etl", "provider": "urn:ip:10.0.0.1"}]}))
    ['111122223333', '444455556666']
    """
    found = {str(r.get("evidence", {}).get("account") or "")}
    for s in r.get("severed") or []:
        found |= set(_ACCOUNT_IN.findall(f"{s.get('consumer', '')} {s.get('provider', '')}"))
    return {a for a in found if a}
