"""What the pages read: saved results from the store the app was created for (opened per request)."""

from __future__ import annotations

from typing import Any

import flask

from analyzer import api
from analyzer.graph.store import open_store

CONFIG_KEY = "BLASTWALL_STORE"


def results() -> list[dict[str, Any]]:
    store = open_store(flask.current_app.config[CONFIG_KEY])
    try:
        return api.saved_results(store)
    finally:
        store.close()


def result(proposal_id: str) -> dict[str, Any] | None:
    return next((r for r in results() if r["proposal_id"] == proposal_id), None)


def queue_rows(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Table rows for the queue: one per scored proposal."""
    rows = []
    for r in items:
        top = r["impacted_services"][0] if r["impacted_services"] else None
        rows.append(
            {
                "proposal": f"[{r['proposal_id']}](/proposal/{r['proposal_id']})",
                "source": r["source"].get("product") or r["source"]["format"],
                "change": r["change"]["kind"],
                "target": r["change"]["target"],
                "tier": r["tier"],
                "risk": r["risk_score"],
                "severed_observed": sum(1 for s in r["severed"] if s["observed"]),
                "undocumented": r["undocumented_dependencies"],
                "top_impact": f"{top['name']} ({top['criticality']})" if top else "",
                "unknowns": len(r["unknowns"]),
            }
        )
    return rows
