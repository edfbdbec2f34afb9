"""ISO 8601 timestamps as Blastwall stores them: UTC, second precision, ``Z`` suffix, sortable as text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from analyzer.errors import BadInput


def parse_time(text: str | datetime, *, field: str = "time") -> datetime:
    """Parse an ISO 8601 timestamp (``Z`` or an offset; naive means UTC) into an aware UTC datetime.

    >>> parse_time("2026-05-14T09:00:00Z").isoformat()
    '2026-05-14T09:00:00+00:00'
    """
    if isinstance(text, datetime):
        dt = text
    else:
        try:
            dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        except ValueError as exc:
            raise BadInput(f"{field}: {text!r} is not an ISO 8601 timestamp") from exc
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def iso(dt: datetime) -> str:
    """Format as ``YYYY-MM-DDTHH:MM:SSZ``.

    >>> iso(parse_time("2026-05-14T11:00:00+02:00"))
    '2026-05-14T09:00:00Z'
    """
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def window_start(as_of: datetime, days: int) -> datetime:
    return as_of - timedelta(days=days)


def later_than(text: str, start: datetime, *, field: str = "time") -> datetime:
    """``90d`` or ``12h`` after ``start``, or an ISO 8601 time.

    >>> iso(later_than("90d", parse_time("2026-01-01T00:00:00Z")))
    '2026-04-01T00:00:00Z'
    """
    t = text.strip()
    if t[:-1].isdigit() and t[-1] in "dh":
        n = int(t[:-1])
        return start + (timedelta(days=n) if t[-1] == "d" else timedelta(hours=n))
    return parse_time(t, field=field)
