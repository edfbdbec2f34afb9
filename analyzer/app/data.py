"""What the pages read, computed on the server from the store the app was created for.

The queue is built once per store generation (a write makes a new one) and then sorted, filtered and
paged on the server, so 10,000 proposals cost the browser one page at a time.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from typing import Any

import flask
import numpy as np

from analyzer import api
from analyzer.app import grid
from analyzer.graph.store import open_store
from analyzer.scoring.verdict import verdict

CONFIG_KEY = "BLASTWALL_STORE"
TRUST_ROOT_KEY = "BLASTWALL_TRUST_ROOT"
APP_KEYS_KEY = "BLASTWALL_APP_KEYS"
_CACHE: dict[str, tuple[Any, list[dict[str, Any]]]] = {}
_STATE: dict[str, tuple[Any, Any]] = {}
_LOCK = threading.Lock()
_BUILDING_QUEUE = threading.Lock()  # held while the queue's rows are built
_BUILDING_UNDOCUMENTED = threading.Lock()  # held while the undocumented list is built
_UNDOCUMENTED: dict[tuple[str, int], dict[str, Any]] = {}
UNDOCUMENTED_KEPT = 200
"""Undocumented dependencies the app keeps as rows (the most critical first); it counts all of them."""
_ORDERED: dict[tuple[Any, ...], list[dict[str, Any]]] = {}  # a grid request's matching rows, in its order


def store_uri() -> str:
    return str(flask.current_app.config[CONFIG_KEY])


def result(proposal_id: str) -> dict[str, Any] | None:
    store = open_store(store_uri())
    try:
        return store.get_document(api.RESULTS, proposal_id)
    finally:
        store.close()


def queue_rows(
    items: Iterable[dict[str, Any]], decisions: dict[str, dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """Table rows for the queue: one per scored proposal."""
    decisions = decisions or {}
    rows = []
    for r in items:
        top = r["impacted_services"][0] if r["impacted_services"] else None
        more = len(r["impacted_services"]) - 1
        d = decisions.get(r["proposal_id"])
        rows.append(
            {
                "proposal": f"[{r['proposal_id']}](/proposal/{r['proposal_id']})",
                "source": r["source"].get("product") or r["source"]["format"],
                "severity": r["source"].get("severity") or "",
                "change": r["change"]["kind"],
                "target": r["change"]["target"],
                "tier": r["tier"],
                "risk": r["risk_score"],
                "priority": r.get("priority", 0),
                "severed_observed": sum(1 for s in r["severed"] if s["observed"]),
                "undocumented": r["undocumented_dependencies"],
                "top_impact": f"{top['name']} ({top['criticality']})" + (f" +{more}" if more > 0 else "")
                if top
                else "",
                "impact": top["criticality"] if top else "none",
                "verdict": r.get("summary") or verdict(r),
                "title": r["source"].get("title") or "",
                "unknowns": len(r["unknowns"]),
                "status": d["decision"] if d else "open",
            }
        )
    return rows


def queue() -> list[dict[str, Any]]:
    """Every queue row, built once per store generation."""
    uri = store_uri()
    store = open_store(uri)
    try:
        gen = (store.generation(), _ledger_stamp())
        with _LOCK:
            cached = _CACHE.get(uri)
        if cached and cached[0] == gen:
            return cached[1]
        with _BUILDING_QUEUE:  # one build at a time: a second caller waits for it instead of building twice
            with _LOCK:
                cached = _CACHE.get(uri)
            if cached and cached[0] == gen:
                return cached[1]
            # one result decoded at a time: at L the decoded results are gigabytes, their rows megabytes
            texts = store.get_document_texts(api.RESULTS)
            rows = queue_rows((json.loads(t) for t in texts.values()), ledger_state().decisions)
            del texts
            with _LOCK:
                _CACHE[uri] = (gen, rows)
    finally:
        store.close()
    return rows


SEARCHED = ("proposal", "target", "change", "tier", "top_impact", "verdict", "source", "title")
DEFAULT_ORDER = ({"colId": "priority", "sort": "desc"}, {"colId": "risk", "sort": "desc"})


def _found(row: dict[str, Any], words: list[str]) -> bool:
    text = " ".join(str(row.get(k) or "") for k in SEARCHED).lower()
    return all(w in text for w in words)


def chosen_rows(
    rows: list[dict[str, Any]],
    request: dict[str, Any],
    columns: list[str],
    search: str | None = None,
    tiers: list[str] | None = None,
    worst: list[str] | None = None,
) -> list[dict[str, Any]]:
    """The rows a grid request selects, in its order: the column filters (``grid.filtered``), the
    search's words (all, any case, in a row's id, target, change, tier, verdict or impacted service), the
    tier and worst-impact sets (None: any), sorted by the request's sort model or priority then risk.

    >>> rows = [{"tier": "cab", "risk": 70, "impact": "critical"}, {"tier": "approval", "risk": 19,
    ...     "impact": "none"}, {"tier": "approval", "risk": 40, "impact": "high"}]
    >>> req = {"filterModel": {"risk": {"filterType": "number", "type": "greaterThan", "filter": 20}},
    ...        "sortModel": [{"colId": "risk", "sort": "asc"}]}
    >>> [r["risk"] for r in chosen_rows(rows, req, ["tier", "risk"])]
    [40, 70]
    >>> [r["risk"] for r in chosen_rows(rows, {}, ["tier", "risk"], tiers=["approval"], worst=["none"])]
    [19]
    """
    out = grid.filtered(rows, request.get("filterModel"), columns)
    words = (search or "").lower().split()
    if words:
        out = [r for r in out if _found(r, words)]
    if tiers is not None:
        allowed = set(tiers)
        out = [r for r in out if r.get("tier") in allowed]
    if worst is not None:
        allowed = set(worst)
        out = [r for r in out if r.get("impact") in allowed]
    return grid.ordered(
        out, request.get("sortModel"), DEFAULT_ORDER, [*columns, *(d["colId"] for d in DEFAULT_ORDER)]
    )


def queue_block(
    request: dict[str, Any],
    columns: list[str],
    search: str | None = None,
    tiers: list[str] | None = None,
    worst: list[str] | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """(the block of queue rows the grid asks for, how many rows match). The matching, ordered rows are
    kept for the last few distinct requests, so scrolling through them asks for blocks, not sorts."""
    rows = queue()
    uri = store_uri()
    with _LOCK:
        generation = _CACHE[uri][0] if uri in _CACHE else None
    key = (
        uri,
        generation,
        json.dumps(request.get("filterModel") or {}, sort_keys=True),
        json.dumps(request.get("sortModel") or []),
        search or "",
        tuple(tiers) if tiers is not None else None,
        tuple(worst) if worst is not None else None,
    )
    with _LOCK:
        ordered = _ORDERED.get(key)
    if ordered is None:
        ordered = chosen_rows(rows, request, columns, search, tiers, worst)
        with _LOCK:
            _ORDERED[key] = ordered
            while len(_ORDERED) > 8:
                _ORDERED.pop(next(iter(_ORDERED)))
    return grid.block(ordered, request), len(ordered)


def _ledger() -> Any:
    from analyzer.governance import anchors
    from analyzer.governance.ledger import Ledger, ledger_path_for

    return Ledger(ledger_path_for(store_uri()), witnesses=anchors.configured())


def trust_root() -> Any:
    return flask.current_app.config.get(TRUST_ROOT_KEY)


def _ledger_stamp() -> tuple[int, int, int]:
    ledger = _ledger()
    try:
        st, hd = ledger.path.stat(), ledger.head_file.stat()
    except OSError:
        return (0, 0, 0)
    return (st.st_size, st.st_mtime_ns, hd.st_mtime_ns)


def ledger_state() -> Any:
    """Decisions and roles as the ledger says them (verified against the trust root when the app has
    one); read again whenever the ledger file changes."""
    from analyzer.governance.authority import Authority
    from analyzer.governance.ledger import replay, verify

    ledger, stamp = _ledger(), _ledger_stamp()
    with _LOCK:
        cached = _STATE.get(str(ledger.path))
        if cached and cached[0] == stamp:
            return cached[1]
    if not ledger.exists():
        state = Authority()
    elif trust_root() is not None:
        rep = verify(ledger.path, trust_root(), ledger.witnesses)
        state = rep.authority if rep.ok and rep.authority is not None else Authority()
    else:
        r = replay(ledger.path.read_bytes())
        state = r.authority if r.first_bad is None else Authority()
    with _LOCK:
        _STATE[str(ledger.path)] = (stamp, state)
    return state


def roles_of(name: str) -> list[str]:
    return list(ledger_state().roles_of(name))


def audit() -> tuple[list[dict[str, Any]], dict[str, Any]]:
    from analyzer.governance.review import audit_rows

    return audit_rows(_ledger(), trust_root())


def audit_export(fmt: str) -> str:
    from analyzer.governance.review import export

    return export(_ledger(), fmt, trust_root())


def review(since: str) -> dict[str, Any]:
    from analyzer.governance.review import parse_since
    from analyzer.governance.review import review as run_review
    from analyzer.timeutil import now

    store = open_store(store_uri())
    try:
        # the period ends at the newest scoring's time (so the sample's week shows), else now
        end = api.last_scoring_time(store) or now()
        policy = api.current_policy(store)
        return run_review(
            store,
            _ledger(),
            policy,
            parse_since(since, end),
            end,
            trust_root(),
            rescore=api.retro_scorer(store, policy),
        )
    finally:
        store.close()


def evidence_of(r: dict[str, Any]) -> dict[str, Any]:
    """The freshness of a stored result's evidence window, for the accounts it is about."""
    store = open_store(store_uri())
    try:
        return api.result_freshness(store, r)
    finally:
        store.close()


def undocumented() -> dict[str, Any]:
    """As of the newest scoring's time (so the sample's story shows), else now: ``dependencies`` and the
    ``freshness`` of the window they were found in."""

    uri = store_uri()
    store = open_store(uri)
    try:
        key = (uri, store.generation())
        with _LOCK:
            cached = _UNDOCUMENTED.get(key)
        if cached is not None:
            return cached
        with _BUILDING_UNDOCUMENTED:  # computed once per store generation, by one caller; others wait
            with _LOCK:
                cached = _UNDOCUMENTED.get(key)
            if cached is not None:
                return cached
            rep = api.undocumented(store, as_of=api.last_scoring_time(store), limit=UNDOCUMENTED_KEPT)
            found = {
                "dependencies": tuple(rep["dependencies"]),
                "count": rep["count"],
                "freshness": rep["freshness"],
            }
            with _LOCK:
                _UNDOCUMENTED.clear()
                _UNDOCUMENTED[key] = found
    finally:
        store.close()
    return found


def explore(query: str) -> dict[str, Any] | None:
    """The node best matching ``query`` (exact id, id suffix, or a name), its neighbours, its CIs, who can
    assume it when it is a role, and who can use it when it is a resource with data actions."""
    from analyzer.scoring.access import who_can, who_can_access
    from analyzer.scoring.web_identity_trust import who_can_assume as web_identity_who_can

    store = open_store(store_uri())
    try:
        ctx = api.analysis_context(store)
    finally:
        store.close()
    snap = ctx.snap
    q = query.strip()
    node = snap.node(q)
    if node is None:
        low = q.lower()
        matches = [
            n
            for n in snap.nodes
            if n.id.lower().endswith(low)
            or low
            in (
                str(n.props.get("name", "")).lower(),
                str((n.props.get("tags") or {}).get("Name", "")).lower(),
            )
        ]
        node = matches[0] if matches else None
    if node is None:
        return None
    neighbours = []
    for kind, arr in snap.edges.items():
        rows = np.union1d(snap.positions(kind, src=node.id), snap.positions(kind, dst=node.id))
        for e in arr.records.at(rows):
            if e.src == node.id:
                neighbours.append(
                    {
                        "direction": "out",
                        "kind": kind,
                        "node": e.dst,
                        "count": e.count,
                        "last_seen": e.last_seen,
                    }
                )
            elif e.dst == node.id:
                neighbours.append(
                    {
                        "direction": "in",
                        "kind": kind,
                        "node": e.src,
                        "count": e.count,
                        "last_seen": e.last_seen,
                    }
                )
    out: dict[str, Any] = {
        "id": node.id,
        "kind": node.kind,
        "cis": ctx.ci_names(ctx.ci_of.get(node.id, [])),
        "neighbours": neighbours[:500],
        "can_assume": None,
    }
    out["access"] = who_can_access(ctx, node.id, node.kind)
    out["reach"] = None
    if node.kind in ("NetworkInterface", "Ec2Instance"):
        from analyzer.errors import BadInput
        from analyzer.network.service import who_can_reach

        store = open_store(store_uri())
        try:
            model = api.network_model(store)
        finally:
            store.close()
        try:
            out["reach"] = who_can_reach(model, node.id.rsplit("/", 1)[-1])
        except BadInput:
            out["reach"] = []
    if node.kind == "IamRole" and node.props.get("trust_policy") is not None:
        out["can_assume"] = [
            {"principal": r["principal"], "decision": r["decision"], "statements": ", ".join(r["statements"])}
            for r in who_can(ctx, "sts:AssumeRole", node.id)
        ] + [  # the pods' service accounts (IRSA) and other web identities, with their token's sub and aud
            {"principal": r["principal"], "decision": r["decision"], "statements": ", ".join(r["statements"])}
            for r in web_identity_who_can(ctx, node.id)
        ]
    return out


def decision(proposal_id: str) -> dict[str, Any] | None:
    d: dict[str, Any] | None = ledger_state().decisions.get(proposal_id)
    return d


def decide(proposal_id: str, approve: bool, comment: str) -> str:
    """Record the signed-in user's decision; the message to show (never an exception in the page)."""
    from analyzer.app.auth import current_user
    from analyzer.errors import BlastwallError
    from analyzer.governance.decisions import decide_in_app

    user = current_user()
    if user is None:
        return "Sign in to decide: without a signed-in user the app is read-only."
    store = open_store(store_uri())
    try:
        d = decide_in_app(
            store,
            _ledger(),
            proposal_id,
            user=user.name,
            authenticated_by=user.authenticated_by,
            approve=approve,
            comment=comment,
            policy=api.current_policy(store),
            app_key_dir=flask.current_app.config.get(APP_KEYS_KEY),
        )
    except BlastwallError as exc:
        return f"Refused: {exc}"
    finally:
        store.close()
    return f"{d['decision'].capitalize()} by {user.name} at {d['decided_at']}; recorded in the ledger."
