"""Which ENI held an IP address when, in which VPC and account: a history kept across snapshots (never
cleaned up), so a flow is attributed to the interface that had the address at the flow's own time, not to
whoever has it now (``connectors.evidence.attribution`` decides with it)."""

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
                doc["holders"].append(
                    {
                        "eni": n.id,
                        "vpc": n.props.get("vpc_id"),
                        "account": n.account,
                        "first_seen": seen,
                        "last_seen": seen,
                    }
                )
            else:
                holder.setdefault("vpc", n.props.get("vpc_id"))
                holder.setdefault("account", n.account)
                holder["first_seen"] = min(holder["first_seen"], seen)
                holder["last_seen"] = max(holder["last_seen"], seen)
            doc["holders"].sort(key=lambda h: h["first_seen"])
            out[ip] = doc
    return out
