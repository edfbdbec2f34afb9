"""Impacted services and CIs of a proposal: what its severed, observed dependencies reach over the
propagation graph (``analyzer.scoring.propagation``), each explained by its shortest chain and how strongly
it is reached.

``reached`` is one of (strongest first):

- ``membership``: a resource of the CI is itself a consumer the change cuts off;
- ``observed``: a chain of observed use and data (calls, reads, writes, flows, CI-to-CI use seen in the
  evidence) reaches it;
- ``documented``: only a chain through a dependency the CMDB documents reaches it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from typing import Any

import numpy as np

from analyzer.core import reach
from analyzer.criticality import criticality_rank
from analyzer.scoring.context import Context, account_of
from analyzer.scoring.propagation import PropagationGraphs

REACH_ORDER = ("membership", "observed", "documented")
EVIDENCE_RELATIONS = ("uses", "reads", "writes", "writes_as", "db_client", "observed_ci")
CI_KINDS = ("BusinessService", "ConfigurationItem")
DETAILED = 25
"""Impacted entries whose chain names the observed actions and ports of each hop (the rest name the
relation and event count)."""


def _name(ctx: Context, g: PropagationGraphs, node: int) -> str:
    n = ctx.snap.nodes[g.base(node)]
    name = str(n.props.get("name") or (n.id.rsplit("/", 1)[-1] if n.id.startswith("arn:") else n.id))
    return f"data of {name}" if g.is_data(node) else name


def _evidence(ctx: Context, consumer: int, provider: int) -> str:
    """What the consumer was seen doing to the provider: actions and ports with their counts."""
    snap = ctx.snap
    cid, pid = snap.ids[consumer], snap.ids[provider]
    seen: dict[str, int] = {}
    for kind in ("OBSERVED_ASSUME", "OBSERVED_CALL", "OBSERVED_FLOW"):
        for e in snap.edges_from(kind, cid):
            if e.dst != pid:
                continue
            if kind == "OBSERVED_ASSUME":
                what = "sts:AssumeRole"
            elif kind == "OBSERVED_CALL":
                what = str(e.props.get("action"))
            else:
                what = f"{e.props.get('protocol')}/{e.props.get('port')}"
            seen[what] = seen.get(what, 0) + int(e.count or 0)
    return ", ".join(f"{k} x{v:,}" for k, v in sorted(seen.items(), key=lambda kv: -kv[1])[:4])


def _chain(ctx: Context, g: PropagationGraphs, path: list[int], detailed: bool) -> list[dict[str, Any]]:
    hops = []
    for a, b in pairwise(path):
        relation, events, via = g.hop(a, b)
        hop: dict[str, Any] = {
            "from": _name(ctx, g, a),
            "to": _name(ctx, g, b),
            "relation": relation,
            "events": events,
        }
        if via is not None:
            hop["as"] = str(ctx.snap.nodes[via].props.get("name") or ctx.snap.ids[via])
        if detailed and relation in ("uses", "reads"):
            hop["evidence"] = _evidence(ctx, g.base(b), g.base(a))
        elif detailed and relation in ("writes", "db_client"):
            hop["evidence"] = _evidence(ctx, a, g.base(b))
        elif detailed and relation == "writes_as" and via is not None:
            hop["evidence"] = f"{_evidence(ctx, a, via)}; as it: {_evidence(ctx, via, g.base(b))}"
        hops.append(hop)
    return hops


@dataclass(frozen=True)
class Impact:
    """What a walk found: the impacted services and CIs, and the writes through a shared role the walk
    could not follow (``(writer, role, store)`` names: who else depends on them cannot be told)."""

    services: list[dict[str, Any]]
    shared_writes: list[tuple[str, str, str]]


def impacted(
    ctx: Context, g: PropagationGraphs, seeds: Sequence[int], documented_seeds: Sequence[int]
) -> list[dict[str, Any]]:
    """Every business service and CI the loss of ``seeds`` (snapshot node indexes of cut-off consumers)
    reaches: most critical first, business services before CIs, then the most strongly reached and the
    shortest chain."""
    return walk(ctx, g, seeds, documented_seeds).services


def walk(ctx: Context, g: PropagationGraphs, seeds: Sequence[int], documented_seeds: Sequence[int]) -> Impact:
    """``impacted``, with the shared-role writes on the way."""
    if not seeds:
        return Impact([], [])
    # resource hops first (impact never leaves a CI for a resource), then CI to CI: observed use, then
    # documented relations; a chain is the resource walk's path, continued by the CI walks'
    res = reach(g.resource, seeds)
    ci_obs = reach(g.ci_observed, res.nodes)
    ci_all = reach(g.ci_all, ci_obs.nodes)
    doc = reach(g.documented, documented_seeds)
    snap = ctx.snap
    seed_set = set(int(s) for s in seeds)

    def chain_to(i: int) -> list[int]:
        tail = ci_all.path_to(i)
        middle = ci_obs.path_to(tail[0])
        return res.path_to(middle[0]) + middle[1:] + tail[1:]

    out: list[dict[str, Any]] = []
    for i in np.sort(ci_all.nodes[ci_all.nodes < g.n]).tolist():
        node = snap.nodes[i]
        if node.kind not in CI_KINDS:
            continue
        if res.contains(i):
            direct = res.depth_of(i) == 1 and res.parent_of(i) in seed_set
            reached = "membership" if direct else "observed"
        else:
            reached = "observed" if ci_obs.contains(i) else "documented"
        path = chain_to(i)
        out.append(
            {
                "id": node.id,
                "name": node.props.get("name") or node.id,
                "class": node.props.get("class"),
                "kind": "business_service" if node.kind == "BusinessService" else "configuration_item",
                "criticality": node.props.get("criticality") or "unknown",
                "documented": doc.contains(i),
                "reached": reached,
                "hops": len(path) - 1,
                "path": [_name(ctx, g, j) for j in path],
                "_path": path,
            }
        )
    out.sort(
        key=lambda s: (
            -criticality_rank(s["criticality"]),
            s["kind"] != "business_service",
            REACH_ORDER.index(s["reached"]),
            s["hops"],
            s["name"],
        )
    )
    for k, s in enumerate(out):
        chain = _chain(ctx, g, s.pop("_path"), k < DETAILED)
        s["chain"] = chain
        volumes = [h["events"] for h in chain if h["relation"] in EVIDENCE_RELATIONS]
        s["evidence_events"] = min(volumes) if volumes else 0
    # writes through a shared role by a writer that is impacted, or whose CI is
    rows, cis = g.writer_cis[:, 0], g.writer_cis[:, 1]
    hit = res.member(g.shared_writer[:, 0])
    hit[rows[ci_all.member(cis)]] = True
    shared = [
        (_name(ctx, g, w), _name(ctx, g, r), _name(ctx, g, d))
        for w, r, d in g.shared_writer[np.flatnonzero(hit)].tolist()
    ]
    return Impact(out, shared)


def worst(services: list[dict[str, Any]], reached: tuple[str, ...] = REACH_ORDER) -> str | None:
    """The highest criticality among ``services`` reached in one of the ``reached`` ways."""
    return max(
        (s["criticality"] for s in services if s.get("reached", "observed") in reached),
        key=criticality_rank,
        default=None,
    )


def ci_accounts(ctx: Context) -> dict[str, set[str]]:
    def build() -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for resource, cis in ctx.ci_of.items():
            # the account the store holds it in (a pod, a web identity), else the one an ARN names
            node = ctx.snap.node(resource)
            account = (node.account if node is not None else None) or (
                account_of(resource) if resource.startswith("arn:") else ""
            )
            if account:
                for ci in cis:
                    out.setdefault(ci, set()).add(account)
        return out

    return ctx.memo(("ci-accounts",), build)  # type: ignore[return-value]


def evidence_sources() -> tuple[str, ...]:
    """Every provider's evidence sources (``cloudtrail``, ``flowlogs``, ``k8s-audit``, ``azure-logs``)."""
    from analyzer import providers

    return tuple(k for p in providers.providers() for k in p.evidence)


def blind_spots(
    ctx: Context, services: list[dict[str, Any]], start: datetime, end: datetime
) -> list[tuple[str, str]]:
    """(name, account) of the impacted services and CIs with resources in an account (or subscription)
    that kept no evidence of any provider's in the window: who depends on them there cannot be seen, so the
    impact may reach further than listed."""
    accounts_of = ci_accounts(ctx)
    dark: dict[str, bool] = {}
    out = []
    for s in services:
        for a in sorted(accounts_of.get(s["id"], ())):
            if a not in dark:
                dark[a] = ctx.covered_days(a, start, end, evidence_sources())[0] == 0
            if dark[a]:
                out.append((str(s["name"]), a))
    return out
