"""Which ENI held an IP address when: a history kept across snapshots (never cleaned up), so a flow is
attributed to the interface that had the address at the flow's own time, not to whoever has it now."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from analyzer.graph.schema import NodeRow

COLLECTION = "ip_history"


def merge_history(
    existing: dict[str, dict[str, Any]], enis: Iterable[NodeRow], seen: str
) -> dict[str, dict[str, Any]]:
    """The history documents to write for the IPs these ENIs hold at ``seen`` (widened, never narrowed)."""
    out: dict[str, dict[str, Any]] = {}
    for n in enis:
        ips = n.props.get("private_ips")
        for ip in ips if isinstance(ips, list) else []:
            doc = out.get(ip) or {
                "ip": ip,
                "holders": [dict(h) for h in existing.get(ip, {}).get("holders", [])],
            }
            holder = next((h for h in doc["holders"] if h["eni"] == n.id), None)
            if holder is None:
                doc["holders"].append({"eni": n.id, "first_seen": seen, "last_seen": seen})
            else:
                holder["first_seen"] = min(holder["first_seen"], seen)
                holder["last_seen"] = max(holder["last_seen"], seen)
            doc["holders"].sort(key=lambda h: h["first_seen"])
            out[ip] = doc
    return out


class AddressResolver:
    """``resolver(ip, when)`` -> the ENI that held ``ip`` at ``when`` (ISO 8601), or None.

    Between two snapshots that saw different holders, the one seen last before ``when`` is taken; before
    the first sighting, the first holder; with no history, the current holder.

    >>> r = AddressResolver({"10.0.0.5": {"holders": [
    ...     {"eni": "eni-a", "first_seen": "2026-05-01T00:00:00Z", "last_seen": "2026-05-03T00:00:00Z"},
    ...     {"eni": "eni-b", "first_seen": "2026-05-10T00:00:00Z", "last_seen": "2026-05-12T00:00:00Z"}]}}, {})
    >>> r("10.0.0.5", "2026-05-02T00:00:00Z"), r("10.0.0.5", "2026-05-11T00:00:00Z"), r("10.0.0.5", None)
    ('eni-a', 'eni-b', 'eni-b')
    """

    def __init__(self, history: dict[str, dict[str, Any]], current: dict[str, str]) -> None:
        self.history = {ip: doc.get("holders", []) for ip, doc in history.items()}
        self.current = current

    def __call__(self, ip: str, when: str | None) -> str | None:
        holders = self.history.get(ip)
        if not holders or when is None:
            return self.current.get(ip) or (holders[-1]["eni"] if holders else None)
        best = holders[0]
        for h in holders:
            if h["first_seen"] <= when:
                best = h
            if h["first_seen"] <= when <= h["last_seen"]:
                return str(h["eni"])
        return str(best["eni"])
