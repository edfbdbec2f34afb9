"""Blastwall for analysts: results, neighbourhoods and blast radii as pandas DataFrames and networkx
graphs, so investigations use the tools people already know.

Example (the notebooks in ``notebooks/`` run this kind of code under test)::

    from analyzer.investigate import Workspace
    ws = Workspace.demo("/tmp/bw-notebook")
    ws.severed(ws.result(ws.results()[0]["proposal_id"]))
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from analyzer import api
from analyzer.graph.store import GraphStore, open_store
from analyzer.scoring.verdict import chain_phrase
from analyzer.timeutil import parse_time


def _pandas() -> Any:
    try:
        import pandas as pd
    except ImportError as exc:  # pragma: no cover
        raise ImportError("investigations need pandas: pip install 'blastwall[notebook]'") from exc
    return pd


def _networkx() -> Any:
    try:
        import networkx as nx
    except ImportError as exc:  # pragma: no cover
        raise ImportError("investigations need networkx: pip install 'blastwall[notebook]'") from exc
    return nx


@dataclass
class Workspace:
    store: GraphStore

    @classmethod
    def open(cls, store: str | None = None) -> Workspace:
        return cls(open_store(store))

    @classmethod
    def from_env(cls) -> Workspace:
        """Your store (``$BLASTWALL_STORE``); without it, the acme-fin demo loaded into a temporary directory
        (say so: an investigation of the sample is not one of your estate)."""
        import os
        import tempfile

        uri = os.environ.get("BLASTWALL_STORE")
        if uri:
            return cls.open(uri)
        print("BLASTWALL_STORE is not set: investigating the acme-fin sample (loaded into a temporary store)")
        return cls.demo(tempfile.mkdtemp(prefix="bw-demo-"))

    @classmethod
    def demo(cls, store: str) -> Workspace:
        """The acme-fin sample loaded and scored into ``store`` (a path for an embedded store)."""
        from analyzer.demo import run_demo

        s, _ = run_demo(store)
        return cls(s)

    # -- results ---------------------------------------------------------------------------------------
    def score(self, ids: list[str] | None = None, as_of: str | datetime | None = None) -> dict[str, Any]:
        return api.score(self.store, ids, as_of=parse_time(as_of) if as_of else None)

    def results(self) -> list[dict[str, Any]]:
        return api.saved_results(self.store)

    def result(self, proposal_id: str) -> dict[str, Any]:
        for r in self.results():
            if r["proposal_id"] == proposal_id:
                return r
        raise KeyError(f"no scored proposal {proposal_id}")

    def queue(self) -> Any:
        """One row per scored proposal: the columns a triage needs."""
        pd = _pandas()
        rows = [
            {
                "proposal_id": r["proposal_id"],
                "title": r["source"].get("title"),
                "severity": r["source"].get("severity"),
                "change_kind": r["change"]["kind"],
                "target": r["change"]["target"],
                "tier": r["tier"],
                "tier_rule": r["tier_rule"],
                "risk_score": r["risk_score"],
                "priority": r.get("priority"),
                "severed": len(r["severed"]) + r.get("severed_unlisted", 0),
                "severed_observed": sum(s["observed"] for s in r["severed"]),
                "undocumented": r["undocumented_dependencies"],
                "unknowns": len(r["unknowns"]),
                "worst_impact": r["impacted_services"][0]["criticality"] if r["impacted_services"] else None,
            }
            for r in self.results()
        ]
        return pd.DataFrame(rows)

    def severed(self, result: dict[str, Any]) -> Any:
        pd = _pandas()
        cols = [
            "consumer",
            "provider",
            "access",
            "observed",
            "events",
            "first_seen",
            "last_seen",
            "documented",
            "documentation",
        ]
        return pd.DataFrame([{c: s.get(c) for c in cols} for s in result["severed"]], columns=cols)

    def impacted(self, result: dict[str, Any]) -> Any:
        pd = _pandas()
        cols = ["name", "kind", "criticality", "reached", "hops", "evidence_events", "chain", "documented"]
        cols += ["path", "id"]
        rows = [
            {c: s.get(c) for c in cols} | {"chain": chain_phrase(s.get("chain") or [], s.get("reached"))}
            for s in result["impacted_services"]
        ]
        return pd.DataFrame(rows, columns=cols)

    def undocumented(self, as_of: str | datetime | None = "latest", window_days: int | None = None) -> Any:
        """The undocumented observed dependencies (``as_of``: a time, ``latest`` — the end of the newest
        evidence, the default — or None for now). Its ``attrs["freshness"]`` says how fresh the evidence is."""
        pd = _pandas()
        at, anchored = (as_of, "given") if isinstance(as_of, datetime) else api.anchor(self.store, as_of)
        rep = api.undocumented(self.store, as_of=at, window_days=window_days, anchored=anchored)
        frame = pd.DataFrame(rep["dependencies"])
        frame.attrs["freshness"] = rep["freshness"]
        return frame

    # -- the graph -------------------------------------------------------------------------------------
    def nodes(self, kind: str | None = None) -> Any:
        pd = _pandas()
        g = self.store.read_graph()
        return pd.DataFrame(
            [
                {
                    "id": n.id,
                    "kind": n.kind,
                    "account": n.account,
                    "source": n.source,
                    "name": n.props.get("name"),
                    "first_seen": n.first_seen,
                    "last_seen": n.last_seen,
                }
                for n in g.nodes
                if kind is None or n.kind == kind
            ]
        )

    def edges(self, kind: str | None = None) -> Any:
        pd = _pandas()
        g = self.store.read_graph()
        return pd.DataFrame(
            [
                {
                    "src": e.src,
                    "kind": e.kind,
                    "dst": e.dst,
                    "key": e.key,
                    "count": e.count,
                    "first_seen": e.first_seen,
                    "last_seen": e.last_seen,
                    "source": e.source,
                }
                for e in g.edges
                if kind is None or e.kind == kind
            ]
        )

    def graph(self) -> Any:
        """The whole store as a networkx MultiDiGraph (node and edge attributes included)."""
        nx = _networkx()
        g = self.store.read_graph()
        G = nx.MultiDiGraph()
        for n in g.nodes:
            G.add_node(
                n.id,
                **{
                    k: v
                    for k, v in n.props.items()
                    if isinstance(v, str | int | float | bool) and k not in ("kind", "account")
                },
                kind=n.kind,
                account=n.account,
            )
        for e in g.edges:
            G.add_edge(
                e.src,
                e.dst,
                key=f"{e.kind}|{e.key}",
                kind=e.kind,
                count=e.count,
                first_seen=e.first_seen,
                last_seen=e.last_seen,
            )
        return G

    def neighbourhood(self, node_id: str, hops: int = 1) -> Any:
        """Everything within ``hops`` of ``node_id``, either direction."""
        nx = _networkx()
        G = self.graph()
        if node_id not in G:
            raise KeyError(f"{node_id} is not in the store")
        near = nx.ego_graph(G.to_undirected(as_view=True), node_id, radius=hops)
        return G.subgraph(near.nodes).copy()

    def blast_radius(self, result: dict[str, Any]) -> Any:
        """A DiGraph of the change: the target, each severed consumer, and each impacted CI along its chain
        (an edge from each dependant to what it depends on, ``kind`` the hop's relation)."""
        nx = _networkx()
        G = nx.DiGraph()
        target = result["change"]["target"]
        G.add_node(target, role="target")
        for s in result["severed"]:
            G.add_node(s["consumer"], role="consumer")
            G.add_edge(
                s["consumer"],
                s["provider"],
                kind="severed",
                observed=s["observed"],
                documented=s["documented"],
                events=s["events"],
            )
        for svc in result["impacted_services"]:
            G.add_node(
                svc["name"], role="impacted", criticality=svc["criticality"], documented=svc["documented"]
            )
            path = svc.get("path") or []
            hops = svc.get("chain") or [
                {"from": b, "to": a, "relation": "depends on"}
                for a, b in zip(path[1:], path[:-1], strict=False)
            ]
            for hop in hops:  # each dependant -> what it depends on, with how (uses, reads, member …)
                G.add_edge(hop["to"], hop["from"], kind=hop["relation"], events=hop.get("events", 0))
            if path:
                first = next(
                    (s["consumer"] for s in result["severed"] if s["consumer"].endswith(path[0])), None
                )
                if first:
                    G.add_edge(path[0], first, kind="is")
        return G
