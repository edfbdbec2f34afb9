"""The blast-radius graph of a scored proposal, as Cytoscape elements (no Dash page machinery here)."""

from __future__ import annotations

from typing import Any

CRIT_COLOURS = {
    "critical": "#c62828",
    "high": "#ef6c00",
    "medium": "#f9a825",
    "low": "#2e7d32",
    "unknown": "#757575",
}

MAX_DRAWN = 24
"""Beyond this many severed consumers or impacted CIs, the rest are folded into one cluster node each, so
a change that touches thousands of things still draws at once and stays readable (the tables below list
them all)."""


def graph_elements(
    r: dict[str, Any], severed_shown: int = MAX_DRAWN, impacted_shown: int = MAX_DRAWN
) -> list[dict[str, Any]]:
    """Nodes and edges: the changed role, each severed consumer, and each impacted CI along its path
    (the most critical first). Beyond ``severed_shown`` / ``impacted_shown`` of a kind the rest fold into
    a cluster node (``cluster:severed`` / ``cluster:impacted``), which ``expanded`` opens a step further.

    >>> r = {"change": {"target": "t"}, "impacted_services": [], "severed": [
    ...     {"consumer": f"c{i}", "provider": "t", "documented": False, "observed": True} for i in range(30)]}
    >>> [e["data"]["label"] for e in graph_elements(r) if e.get("classes") == "cluster"]
    ['+6 more severed']
    >>> len([e for e in graph_elements(r, 48) if e.get("classes") == "consumer"])
    30
    """
    hidden_severed = max(0, len(r["severed"]) - severed_shown) + r.get("severed_unlisted", 0)
    hidden_impacted = max(0, len(r["impacted_services"]) - impacted_shown)
    r = r | {
        "severed": r["severed"][:severed_shown],
        "impacted_services": r["impacted_services"][:impacted_shown],
    }
    elements = _elements(r)
    target = r["change"]["target"]
    if hidden_severed:
        elements.append(
            {
                "data": {"id": "cluster:severed", "label": f"+{hidden_severed} more severed"},
                "classes": "cluster",
            }
        )
        elements.append({"data": {"source": "cluster:severed", "target": target}, "classes": "severed"})
    if hidden_impacted:
        elements.append(
            {
                "data": {"id": "cluster:impacted", "label": f"+{hidden_impacted} more impacted"},
                "classes": "cluster",
            }
        )
    return elements


def expanded(shown: dict[str, int], tapped: str | None) -> dict[str, int]:
    """How many of each kind to draw after a tap: a cluster node opens ``MAX_DRAWN`` more of its kind.

    >>> expanded({"severed": 24, "impacted": 24}, "cluster:severed")
    {'severed': 48, 'impacted': 24}
    >>> expanded({"severed": 24, "impacted": 24}, "arn:aws:iam::1:role/x")
    {'severed': 24, 'impacted': 24}
    """
    kind = (tapped or "").removeprefix("cluster:")
    if tapped and tapped.startswith("cluster:") and kind in shown:
        return shown | {kind: shown[kind] + MAX_DRAWN}
    return shown


def _elements(r: dict[str, Any]) -> list[dict[str, Any]]:
    nodes: dict[str, dict[str, Any]] = {}
    edges: list[dict[str, Any]] = []
    target = r["change"]["target"]
    nodes[target] = {"data": {"id": target, "label": target.rsplit("/", 1)[-1]}, "classes": "target"}
    for s in r["severed"]:
        c = s["consumer"]
        nodes.setdefault(c, {"data": {"id": c, "label": c.rsplit("/", 1)[-1] or c}, "classes": "consumer"})
        cls = (
            "severed"
            + ("" if s["documented"] else " undocumented")
            + ("" if s["observed"] else " unobserved")
        )
        edges.append({"data": {"source": c, "target": s["provider"], "label": "severed"}, "classes": cls})
    for svc in r["impacted_services"]:
        nodes[svc["id"]] = {
            "data": {
                "id": svc["id"],
                "label": f"{svc['name']} ({svc['criticality']})",
                "colour": CRIT_COLOURS.get(svc["criticality"], "#757575"),
            },
            "classes": "ci",
        }
    names = {svc["name"]: svc["id"] for svc in r["impacted_services"]}
    for svc in r["impacted_services"]:
        chain = svc.get("chain") or []
        path = svc.get("path") or []
        last = chain[-1] if chain else {}
        before = path[-2] if len(path) >= 2 else None
        if before in names:  # CI to CI: the CMDB's relation or observed use
            label = "depends on (CMDB)" if last.get("relation") == "documented" else "uses (observed)"
            edges.append(
                {"data": {"source": svc["id"], "target": names[before], "label": label}, "classes": "depends"}
            )
        elif len(path) >= 2:  # from a consumer cut off, through resources: the relations on the way
            first = next((s["consumer"] for s in r["severed"] if s["consumer"].endswith(path[0])), None)
            if first:
                hops = [h["relation"] for h in chain if h.get("relation") != "member"]
                label = "via " + ", ".join(hops) if hops else "belongs to"
                edges.append(
                    {"data": {"source": svc["id"], "target": first, "label": label}, "classes": "depends"}
                )
    return list(nodes.values()) + edges


STYLESHEET = [
    {
        "selector": "node",
        "style": {"label": "data(label)", "font-size": "10px", "background-color": "#90a4ae"},
    },
    {"selector": ".target", "style": {"shape": "round-rectangle", "background-color": "#1565c0"}},
    {"selector": ".ci", "style": {"background-color": "data(colour)"}},
    {
        "selector": ".cluster",
        "style": {"shape": "round-octagon", "background-color": "#616161", "width": 40, "height": 40},
    },
    {"selector": "edge", "style": {"curve-style": "bezier", "target-arrow-shape": "triangle", "width": 2}},
    {"selector": ".severed", "style": {"line-color": "#c62828", "target-arrow-color": "#c62828"}},
    {"selector": ".undocumented", "style": {"line-style": "dashed"}},
    {"selector": ".unobserved", "style": {"line-color": "#bdbdbd", "target-arrow-color": "#bdbdbd"}},
]
