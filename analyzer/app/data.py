"""What the pages read, computed on the server from the store the app was created for.

The queue is built once per store generation (a write makes a new one) and then sorted, filtered and
paged on the server, so 10,000 proposals cost the browser one page at a time.
"""

from __future__ import annotations

import re
import threading
from typing import Any

import flask
import numpy as np

from analyzer import api
from analyzer.graph.store import open_store
from analyzer.scoring.verdict import verdict

CONFIG_KEY = "BLASTWALL_STORE"
TRUST_ROOT_KEY = "BLASTWALL_TRUST_ROOT"
APP_KEYS_KEY = "BLASTWALL_APP_KEYS"
_CACHE: dict[str, tuple[Any, list[dict[str, Any]]]] = {}
_STATE: dict[str, tuple[Any, Any]] = {}
_LOCK = threading.Lock()
_UNDOCUMENTED: dict[tuple[str, int], dict[str, Any]] = {}


def store_uri() -> str:
    return str(flask.current_app.config[CONFIG_KEY])


def result(proposal_id: str) -> dict[str, Any] | None:
    store = open_store(store_uri())
    try:
        return store.get_documents(api.RESULTS).get(proposal_id)
    finally:
        store.close()


def queue_rows(
    items: list[dict[str, Any]], decisions: dict[str, dict[str, Any]] | None = None
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
        rows = queue_rows(api.saved_results(store), ledger_state().decisions)
    finally:
        store.close()
    with _LOCK:
        _CACHE[uri] = (gen, rows)
    return rows


class FilterError(ValueError):
    """A filter expression the queue cannot apply: said, never ignored."""


_CLAUSE = re.compile(
    r"\{(?P<col>[^}]+)\}\s*(?P<neg>!\s*)?(?:"
    r"(?P<unary>is (?:blank|nil|num|str|bool|even|odd|object))"
    r"|(?P<case>[si])?(?P<op>contains|datestartswith|eq|ne|ge|le|gt|lt|>=|<=|!=|=|>|<)\s*(?P<val>.*)"
    r")"
)
_NAMES = {"eq": "=", "ne": "!=", "ge": ">=", "le": "<=", "gt": ">", "lt": "<"}


def _value(raw: str) -> str:
    raw = raw.strip()
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'`":
        return raw[1:-1]
    return raw


def parse_filter(query: str | None) -> list[Any]:
    """Dash's filter language as its DataTable writes it (``{risk} s> 50 && {tier} scontains cab``): each
    clause a column, an operator (``=`` ``!=`` ``<`` ``<=`` ``>`` ``>=`` ``contains`` ``datestartswith``,
    their word forms, an ``s`` or ``i`` prefix for case), or a unary ``is blank`` … test. Anything else
    raises ``FilterError`` naming it.

    >>> [(c["col"], c["op"], c["val"]) for c in parse_filter('{risk} s> 50 && {tier} icontains "CAB"')]
    [('risk', '>', '50'), ('tier', 'contains', 'CAB')]
    """
    out = []
    for clause in [c for c in re.split(r"\s+&&\s+", (query or "").strip()) if c.strip()]:
        m = _CLAUSE.fullmatch(clause.strip())
        if not m:
            raise FilterError(f"filter not understood: {clause.strip()!r}")
        out.append(
            {
                "col": m["col"],
                "neg": bool(m["neg"]),
                "unary": m["unary"],
                "op": _NAMES.get(m["op"] or "", m["op"]),
                "insensitive": m["case"] == "i" or (m["case"] is None and m["op"] == "contains"),
                "val": _value(m["val"] or ""),
            }
        )
    return out


def _clause_holds(row: dict[str, Any], c: dict[str, Any]) -> bool:
    value = row.get(c["col"])
    if c["unary"]:
        kind = c["unary"].removeprefix("is ")
        got = {
            "blank": value is None or value == "",
            "nil": value is None,
            "num": isinstance(value, int | float) and not isinstance(value, bool),
            "str": isinstance(value, str),
            "bool": isinstance(value, bool),
            "even": isinstance(value, int) and value % 2 == 0,
            "odd": isinstance(value, int) and value % 2 == 1,
            "object": isinstance(value, dict | list),
        }[kind]
        return got != c["neg"]
    op, raw = c["op"], c["val"]
    if op in ("contains", "datestartswith"):
        text, want = str("" if value is None else value), raw
        if c["insensitive"]:
            text, want = text.lower(), want.lower()
        got = want in text if op == "contains" else text.startswith(want)
        return got != c["neg"]
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            num: Any = float(raw)
        except ValueError:
            return c["neg"]
        left: Any = value
    else:
        left, num = str("" if value is None else value), raw
        if c["insensitive"]:
            left, num = left.lower(), num.lower()
    got = {
        "=": left == num,
        "!=": left != num,
        ">": left > num,
        "<": left < num,
        ">=": left >= num,
        "<=": left <= num,
    }[op]
    return got != c["neg"]


SEARCHED = ("proposal", "target", "change", "tier", "top_impact", "verdict", "source", "title")


def _found(row: dict[str, Any], words: list[str]) -> bool:
    text = " ".join(str(row.get(k) or "") for k in SEARCHED).lower()
    return all(w in text for w in words)


def _sort_key(column: str) -> Any:
    def key(row: dict[str, Any]) -> tuple[bool, Any]:
        return (row.get(column) is None, row.get(column))

    return key


def page(
    rows: list[dict[str, Any]],
    page_current: int,
    page_size: int,
    sort_by: list[dict[str, str]] | None,
    filter_query: str | None,
    search: str | None = None,
) -> tuple[list[dict[str, Any]], int, int]:
    """(rows of this page, number of pages, rows after filtering). Default order: priority, then risk.
    ``search``: words that must all appear (any case) in a row's id, target, change, tier, verdict or
    impacted service. A filter that cannot be applied raises ``FilterError``.

    >>> rows = [{"tier": "cab", "risk": 70}, {"tier": "approval", "risk": 19}, {"tier": "approval", "risk": 40}]
    >>> page(rows, 0, 2, [{"column_id": "risk", "direction": "asc"}], "{tier} s= approval")
    ([{'tier': 'approval', 'risk': 19}, {'tier': 'approval', 'risk': 40}], 1, 2)
    >>> page(rows, 0, 25, None, "{risk} s> 50")[2], page(rows, 0, 25, None, "{tier} scontains ca")[2]
    (1, 1)
    """
    chosen = rows
    if filter_query:
        clauses = parse_filter(filter_query)
        chosen = [r for r in rows if all(_clause_holds(r, c) for c in clauses)]
    words = (search or "").lower().split()
    if words:
        chosen = [r for r in chosen if _found(r, words)]
    default = [{"column_id": "priority", "direction": "desc"}, {"column_id": "risk", "direction": "desc"}]
    for s in reversed(sort_by or default):
        chosen = sorted(chosen, key=_sort_key(s["column_id"]), reverse=s["direction"] == "desc")
    size = max(1, int(page_size or 25))
    pages = max(1, -(-len(chosen) // size))
    start = min(max(0, int(page_current or 0)), pages - 1) * size
    return chosen[start : start + size], pages, len(chosen)


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
        end = now()
        return run_review(
            store, _ledger(), api.current_policy(store), parse_since(since, end), end, trust_root()
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
    from analyzer.timeutil import parse_time

    uri = store_uri()
    store = open_store(uri)
    try:
        key = (uri, store.generation())
        with _LOCK:
            cached = _UNDOCUMENTED.get(key)
        if cached is not None:
            return cached
        scored = api.saved_results(store)
        as_of = parse_time(scored[0]["as_of"]) if scored and scored[0].get("as_of") else None
        rep = api.undocumented(store, as_of=as_of)
        found = {"dependencies": tuple(rep["dependencies"]), "freshness": rep["freshness"]}
    finally:
        store.close()
    with _LOCK:  # computed once per store generation: at M it is a walk per consumer
        _UNDOCUMENTED.clear()
        _UNDOCUMENTED[key] = found
    return found


def explore(query: str) -> dict[str, Any] | None:
    """The node best matching ``query`` (exact id, id suffix, or a name), its neighbours, its CIs, who can
    assume it when it is a role, and who can use it when it is a resource with data actions."""
    from analyzer.scoring.access import who_can, who_can_access

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
