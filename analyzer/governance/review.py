"""After the fact: what the remediation tool reports it did, how that compares with what Blastwall
predicted, and auditor exports of every decision.

Review compares, for each executed change, the predicted severed dependencies with refusals seen *after*
the execution time (CloudTrail AccessDenied, flow-log REJECT). Evidence is aggregated with first/last
seen, so "after" means the refusal's last sighting is at or after the execution time.
"""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from analyzer.errors import BadInput, BlastwallError
from analyzer.governance.authority import Authority
from analyzer.governance.decisions import RESULTS
from analyzer.governance.ledger import Ledger, verify
from analyzer.governance.policy_suggestions import suggest
from analyzer.governance.review_patterns import patterns
from analyzer.governance.tier_policy import TierPolicy, parse_policy
from analyzer.governance.trust_root import TrustRoot
from analyzer.graph.current import load_snapshot
from analyzer.graph.store import GraphStore
from analyzer.scoring.freshness import freshness, result_accounts
from analyzer.timeutil import iso, now, parse_time
from connectors.evidence.coverage import COLLECTION as COVERAGE

OUTCOMES = ("applied", "failed", "rolled-back")


def parse_since(text: str, until: datetime) -> datetime:
    """``30d``, ``12h`` or an ISO 8601 time."""
    t = text.strip()
    if t[:-1].isdigit() and t[-1] in "dh":
        n = int(t[:-1])
        return until - (timedelta(days=n) if t[-1] == "d" else timedelta(hours=n))
    return parse_time(t, field="--since")


def record_execution(
    store: GraphStore,
    ledger: Ledger,
    proposal_id: str,
    *,
    outcome: str,
    at: datetime,
    reported_by: str,
    detail: str = "",
) -> dict[str, Any]:
    """What the remediation tool reports it did, recorded by the recorder (it is the tool's claim: it
    carries no authority)."""
    if outcome not in OUTCOMES:
        raise BadInput(f"--outcome must be one of {', '.join(OUTCOMES)}")
    if store.get_document(RESULTS, proposal_id) is None:
        raise BadInput(f"proposal {proposal_id} has not been scored")
    body = {
        "proposal_id": proposal_id,
        "outcome": outcome,
        "executed_at": iso(at),
        "reported_by": reported_by,
        "detail": detail,
    }
    ledger.append_system("execution", body)
    return body


def record_reported_executions(
    store: GraphStore, ledger: Ledger, results: list[dict[str, Any]]
) -> dict[str, Any]:
    """Proposals imported from a tool run that really executed (``source.executed``: Cloud Custodian
    without ``--dryrun``) are changes that already ran without a gate pass. Each is recorded once in the
    ledger as that tool's execution report (signed by the recorder, like ``record-execution``), so
    ``review`` lists it. Without a ledger or a recorder key nothing is written and ``pending`` says how
    many wait, and why."""
    from analyzer.governance.authority import RECORDER_NAME

    proposals = store.get_documents("proposals")
    reported = {
        ((r.get("body") or {}).get("proposal_id"), (r.get("body") or {}).get("detail"))
        for r in ledger.records()
        if r.get("type") == "execution"
    }
    todo: list[dict[str, Any]] = []
    for r in results:
        pid = r.get("proposal_id")
        ran = ((proposals.get(str(pid)) or {}).get("source") or {}).get("executed")
        if not ran or r.get("status") == "error":
            continue
        detail = (
            f"run {ran.get('execution_id') or '?'}: reported by the tool's own output, no gate pass asked"
        )
        if (pid, detail) in reported:
            continue
        todo.append(
            {
                "proposal_id": pid,
                "outcome": "applied",
                "executed_at": ran.get("at") or iso(now()),
                "reported_by": str(ran.get("by") or "remediation-tool"),
                "detail": detail,
            }
        )
    if not todo:
        return {"recorded": 0, "pending": 0, "why": None}
    key = ledger.recorder_key() if ledger.exists() else None
    if key is None:
        why = "no ledger with a recorder key (blastwall org init) for this store"
        return {"recorded": 0, "pending": len(todo), "why": why}
    ledger.append_many([("execution", body, RECORDER_NAME, key) for body in todo])
    return {"recorded": len(todo), "pending": 0, "why": None}


Rescore = Callable[[dict[str, Any], datetime], dict[str, Any] | None]
"""Scores a proposal as of a past time (``api.retro_scorer``): what Blastwall would have said before a
change that nobody asked it about ran."""


def _named(consumer: str, first_hop: str) -> bool:
    """Whether an impact path's first name is this consumer (paths name nodes by their short names)."""
    return consumer == first_hop or consumer.endswith(("/" + first_hop, ":" + first_hop))


def _reached(scored: dict[str, Any] | None, broken: set[str]) -> list[dict[str, Any]]:
    """The services a scoring found behind the consumers whose use broke."""
    out = []
    for s in (scored or {}).get("impacted_services") or []:
        path = s.get("path") or []
        if path and any(_named(c, str(path[0])) for c in broken):
            out.append({k: s.get(k) for k in ("name", "criticality", "reached", "hops")})
    return out


def _would_have_said(scored: dict[str, Any], at: str, unpredicted: list[tuple[str, str]]) -> dict[str, Any]:
    pairs = {(s["consumer"], s["provider"]) for s in scored.get("severed") or []}
    return {
        "as_of": at,
        "status": scored.get("status"),
        "tier": scored.get("tier"),
        "tier_rule": scored.get("tier_rule"),
        "approver_role": scored.get("approver_role"),
        "risk_score": scored.get("risk_score"),
        "summary": scored.get("summary"),
        "severed_observed": [s["consumer"] for s in scored.get("severed") or [] if s.get("observed")],
        "undocumented": scored.get("undocumented_dependencies"),
        "impacted_services": [
            {"name": s["name"], "criticality": s["criticality"]}
            for s in scored.get("impacted_services") or []
        ],
        "would_have_predicted": [list(p) for p in unpredicted if p in pairs],
        "basis": "the configuration as last collected, with the evidence seen by the run (event counts are "
        "over all the evidence held, later events included)",
    }


def _duration(start: str, end: str | None) -> float | None:
    return (parse_time(end) - parse_time(start)).total_seconds() if end else None


def review(
    store: GraphStore,
    ledger: Ledger,
    policy: TierPolicy,
    since: datetime,
    until: datetime | None = None,
    trust_root: TrustRoot | None = None,
    rescore: Rescore | None = None,
) -> dict[str, Any]:
    """Each execution the ledger records in the period, against what was predicted and decided. Decisions,
    gate passes and executions come from the ledger, as far as it verifies (its status is in the report).

    What counts as the prediction is what was on record before the change ran: the signed decision's
    change record, else a scoring anchored at or before the run. A change nobody asked Blastwall about
    (a tool's own run, scored only afterwards) had none: all its breakage is unpredicted, and with
    ``rescore`` the report says what Blastwall would have said had it been asked, as of the run."""
    until = until or now()
    snap = load_snapshot(store)
    results = store.get_documents(RESULTS)
    proposals = store.get_documents("proposals")
    status = verify(ledger.path, trust_root, ledger.witnesses) if ledger.exists() else None
    auth = status.authority if status is not None and status.authority is not None else Authority()
    gate_passes: dict[str, list[str]] = {}
    for g in auth.gates:
        if g["allowed"]:
            gate_passes.setdefault(g["proposal_id"], []).append(g["time"])
    refusals = [e for kind in ("OBSERVED_DENIED", "OBSERVED_REJECT") for e in snap.edge_records(kind)]
    changes = list(snap.edge_records("OBSERVED_CHANGE"))
    items = []
    for run in sorted(auth.executions, key=lambda r: (r["proposal_id"], r["executed_at"])):
        pid = run["proposal_id"]
        result = results.get(pid)
        if result is None:
            continue
        at = parse_time(run["executed_at"])
        if not (since <= at <= until):
            continue
        ran_at = run["executed_at"]
        decision = auth.decisions.get(pid)
        if decision and decision["decided_at"] <= ran_at:
            prediction, impact = "decision", decision["change_record"]["impact"]
        elif result.get("as_of") and result["as_of"] <= ran_at:
            prediction, impact = "score", result
        else:  # nobody asked before it ran: nothing was predicted
            prediction, impact = None, None
        predicted = {(s["consumer"], s["provider"]) for s in (impact or {}).get("severed") or []}
        target = result["change"]["target"]
        after = [e for e in refusals if e.last_seen and e.last_seen >= ran_at]
        seen = {(e.src, e.dst): e for e in after}
        confirmed = sorted(p for p in predicted if p in seen)
        unpredicted = sorted(k for k in seen if k not in predicted and target in k)
        broken = {c for c, _ in confirmed} | {c for c, _ in unpredicted}
        said = None
        if prediction is None and rescore is not None and pid in proposals:
            retro = rescore(proposals[pid], at)
            if retro is not None and retro.get("status") != "error":
                said = _would_have_said(retro, ran_at, unpredicted)
                said["reached"] = _reached(retro, broken)
        restored = sorted(
            (e for e in changes if e.dst == target and e.first_seen and e.first_seen > ran_at),
            key=lambda e: e.first_seen or "",
        )
        refused_until = max((seen[p].last_seen or "" for p in confirmed + unpredicted), default=None)
        current_tier = policy.decide(result["policy_facts"]) if result.get("policy_facts") else None
        passes_before = [t for t in gate_passes.get(pid, []) if t <= ran_at]
        items.append(
            {
                "proposal_id": pid,
                "change": result["change"],
                "change_kind": result["change"]["kind"],
                "proposer": result["source"].get("product") or result["source"].get("format"),
                "tier_rule": result.get("tier_rule"),
                "approver_role": (decision or {}).get("approver_role") or result.get("approver_role"),
                "executed_at": ran_at,
                "outcome": run["outcome"],
                "reported_by": run["reported_by"],
                "detail": run.get("detail", ""),
                "decided": {
                    "decision": decision["decision"],
                    "by": decision["approver"],
                    "at": decision["decided_at"],
                }
                if decision
                else None,
                "gate_passed_before_execution": bool(passes_before),
                "prediction_before": prediction,
                "tier_then": decision["change_record"]["tier"]
                if prediction == "decision" and decision
                else result["tier"],
                "tier_now": current_tier.tier if current_tier else None,
                "diverges_from_current_policy": bool(current_tier and current_tier.tier != result["tier"]),
                "predicted_severed": [list(p) for p in sorted(predicted)],
                "predicted_and_observed": [
                    {
                        "consumer": c,
                        "provider": p,
                        "refusals": seen[(c, p)].count,
                        "first_seen": seen[(c, p)].first_seen,
                        "last_seen": seen[(c, p)].last_seen,
                    }
                    for c, p in confirmed
                ],
                "predicted_not_observed": [list(p) for p in sorted(predicted - set(confirmed))],
                "unpredicted_breakage": [
                    {
                        "consumer": c,
                        "provider": p,
                        "kind": seen[(c, p)].kind,
                        "refusals": seen[(c, p)].count,
                        "first_seen": seen[(c, p)].first_seen,
                        "last_seen": seen[(c, p)].last_seen,
                        # refused before the run too: the change is not the only cause
                        "refused_before_the_run": bool(
                            seen[(c, p)].first_seen and seen[(c, p)].first_seen < ran_at
                        ),
                    }
                    for c, p in unpredicted
                ],
                "reached_services": _reached(impact if prediction else None, broken)
                or (said or {}).get("reached", []),
                "refused_until": refused_until,
                "breakage_lasted_s": _duration(ran_at, refused_until),
                "changed_again": [
                    {"by": e.src, "action": (e.props or {}).get("action"), "at": e.first_seen}
                    for e in restored
                ],
                "time_to_restore_s": _duration(ran_at, restored[0].first_seen) if restored else None,
                "would_have_said": said,
                "coverage_days": (result.get("policy_facts") or {}).get("coverage_days"),
                "risk_acceptance": result.get("risk_acceptance") if prediction == "score" else None,
            }
        )
    accounts = {a for i in items for a in result_accounts(results[i["proposal_id"]])}
    report = {
        "since": iso(since),
        "until": iso(until),
        # breakage not seen is not breakage absent when an executed change's accounts have no evidence
        "freshness": freshness(store.get_documents(COVERAGE), since, until, "given", accounts=accounts),
        "policy": policy.header(),
        "ledger": status.as_dict() if status is not None else None,
        "executions": items,
        "patterns": patterns(items),
        "summary": {
            "executions": len(items),
            "without_gate_pass": sum(1 for i in items if not i["gate_passed_before_execution"]),
            "without_prediction": sum(1 for i in items if i["prediction_before"] is None),
            "with_unpredicted_breakage": sum(1 for i in items if i["unpredicted_breakage"]),
            "diverging_from_current_policy": sum(1 for i in items if i["diverges_from_current_policy"]),
        },
    }
    report["suggestions"] = suggest(report, policy, _policy_text(store, policy))
    return report


def _policy_text(store: GraphStore, policy: TierPolicy) -> str | None:
    """The current policy's file as loaded (its comments and layout), if it is the policy reviewed."""
    doc = store.get_documents("policy").get("current")
    if doc and parse_policy(doc["text"], doc["source"]).doc == policy.doc:
        return str(doc["text"])
    return None


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


_STYLE = (
    "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}"
    "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;font-size:.9em}"
    "pre{white-space:pre-wrap;background:#f6f6f6;padding:.6em}.evidence{color:#9a3412;font-weight:bold}</style>"
)


REVIEW_COLUMNS = [
    "proposal",
    "change",
    "target",
    "executed",
    "outcome",
    "decision",
    "gate passed",
    "predicted & seen",
    "predicted, not seen",
    "unpredicted",
    "tier",
]


def review_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per execution, the columns the HTML report and the app show."""
    return [
        {
            "proposal": i["proposal_id"],
            "change": i["change"]["kind"],
            "target": i["change"]["target"],
            "executed": i["executed_at"],
            "outcome": i["outcome"],
            "decision": (i["decided"] or {}).get("decision", "none"),
            "gate passed": "yes" if i["gate_passed_before_execution"] else "NO",
            "predicted & seen": len(i["predicted_and_observed"]),
            "predicted, not seen": len(i["predicted_not_observed"]),
            "unpredicted": len(i["unpredicted_breakage"]),
            "tier": _tier_shown(i),
        }
        for i in report["executions"]
    ]


def _tier_shown(i: dict[str, Any]) -> str:
    """The tier a run went through; for one nobody asked about, none, and the one it would have had."""
    if i["prediction_before"] is None:
        would = (i.get("would_have_said") or {}).get("tier")
        return f"not asked (would have been {would})" if would else "not asked"
    if i["diverges_from_current_policy"]:
        return f"{i['tier_then']} -> {i['tier_now']}"
    return str(i["tier_then"])


def review_html(report: dict[str, Any], charts: bool = True) -> str:
    """The weekly report: the summary, the three charts (plotly.js inlined once: the file opens offline),
    each execution in sentences, the table, and the suggestions with their patches."""
    from analyzer.governance.review_text import execution_lines

    s = report["summary"]
    rows = [[r[c] for c in REVIEW_COLUMNS] for r in review_rows(report)]
    figures = ""
    if charts:
        from analyzer.governance.review_charts import FIGURES

        figures = "".join(
            f(report).to_html(full_html=False, include_plotlyjs=(n == 0), default_height="320px")
            for n, f in enumerate(FIGURES)
        )
    details = "".join(
        "<pre class='run'>" + html.escape("\n".join(execution_lines(i))) + "</pre>"
        for i in report["executions"]
    )
    suggestions = "".join(
        f"<h3>{html.escape(g['suggestion_id'])} ({html.escape(g['kind'])})</h3><p>{html.escape(g['title'])}</p>"
        f"<p><i>{html.escape(g['why'])}</i></p>"
        + (f"<pre>{html.escape(g['patch'])}</pre>" if g.get("patch") else "")
        for g in report.get("suggestions") or []
    )
    fresh = report.get("freshness") or {}
    stale = fresh.get("stale") or []
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>Blastwall post-action review</title>{_STYLE}"
        f"</head><body><h1>Post-action review {html.escape(report['since'])} to {html.escape(report['until'])}</h1>"
        + (
            f"<p class='evidence'>EVIDENCE: no evidence in the period for account(s) {html.escape(', '.join(stale))}: "
            "breakage there could not have been seen.</p>"
            if stale
            else ""
        )
        + f"<p>{s['executions']} execution(s); {s['without_gate_pass']} without a gate pass; "
        f"{s.get('without_prediction', 0)} nobody asked Blastwall about; "
        f"{s['with_unpredicted_breakage']} with breakage Blastwall did not predict; "
        f"{s['diverging_from_current_policy']} decided differently from what the current policy says.</p>"
        + figures
        + "<h2>Executions</h2>"
        + details
        + _table(REVIEW_COLUMNS, rows)
        + "<h2>Suggestions</h2>"
        + (
            suggestions
            or "<p>None: nothing in the period calls for a change of the policy or the process.</p>"
        )
        + "</body></html>"
    )


# -- auditor export ---------------------------------------------------------------------------------------
EXPORT_COLUMNS = [
    "ledger_seq",
    "ledger_hash",
    "proposal_id",
    "decision",
    "approver",
    "approver_roles",
    "decided_at",
    "comment",
    "requester",
    "reason",
    "change_kind",
    "target",
    "tier",
    "tier_rule",
    "policy_authority",
    "accountable_role",
    "risk_score",
    "severed",
    "impacted_services",
    "undocumented",
    "unknowns",
    "evidence_window",
    "before_digest",
    "after_digest",
    "rollback_verified",
    "gate_passes",
    "executions",
]


def audit_rows(
    ledger: Ledger, trust_root: TrustRoot | None = None
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """One change record per decision, with the gates and executions that followed; and the ledger's
    status. Only records that count are read: nothing past the first bad record becomes a change record."""
    status = verify(ledger.path, trust_root, ledger.witnesses)
    records = ledger.records()
    if status.first_bad is not None:
        records = records[: status.first_bad - 1]
    gates: dict[str, int] = {}
    runs: dict[str, list[str]] = {}
    for r in records:
        b = r["body"]
        if r["type"] == "gate" and b["allowed"]:
            gates[b["proposal_id"]] = gates.get(b["proposal_id"], 0) + 1
        elif r["type"] == "execution":
            runs.setdefault(b["proposal_id"], []).append(f"{b['outcome']}@{b['executed_at']}")
    rows = []
    for r in records:
        if r["type"] != "decision":
            continue
        d = r["body"]
        cr = d["change_record"]
        imp = cr["impact"]
        rows.append(
            {
                "ledger_seq": r["seq"],
                "ledger_hash": r["hash"],
                "proposal_id": cr["proposal_id"],
                "decision": d["decision"],
                "approver": d["approver"],
                "approver_roles": ";".join(d["approver_roles"]),
                "decided_at": d["decided_at"],
                "comment": d["comment"],
                "requester": cr["requester"],
                "reason": cr["reason"],
                "change_kind": cr["change"]["kind"],
                "target": cr["change"]["target"],
                "tier": cr["tier"],
                "tier_rule": cr["tier_rule"],
                "policy_authority": cr["policy"]["authority"],
                "accountable_role": cr["policy"]["owner_role"],
                "risk_score": cr["risk_score"],
                "severed": "; ".join(
                    f"{s['consumer']} -> {s['provider']} ({'observed' if s['observed'] else 'config'}"
                    f"{'' if s['documented'] else ', undocumented'})"
                    for s in imp["severed"]
                ),
                "impacted_services": "; ".join(
                    f"{s['name']} [{s['criticality']}]" for s in imp["impacted_services"]
                ),
                "undocumented": imp["undocumented_dependencies"],
                "unknowns": "; ".join(u["reason"] for u in imp["unknowns"]),
                "evidence_window": f"{imp['evidence']['window_start']}..{imp['evidence']['window_end']}",
                "before_digest": cr.get("before_digest"),
                "after_digest": cr.get("after_digest"),
                "rollback_verified": cr["rollback"].get("verified"),
                "gate_passes": gates.get(cr["proposal_id"], 0),
                "executions": "; ".join(runs.get(cr["proposal_id"], [])),
            }
        )
    return rows, status.as_dict() | {"ledger": str(ledger.path)}


def export(ledger: Ledger, fmt: str, trust_root: TrustRoot | None = None) -> str:
    rows, status = audit_rows(ledger, trust_root)
    if fmt == "json":
        import json

        return json.dumps({"ledger": status, "change_records": rows}, indent=2, default=str)
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=EXPORT_COLUMNS)
        w.writeheader()
        w.writerows(rows)
        return buf.getvalue()
    if fmt == "html":
        verdict = "verifies" if status["ok"] else f"DOES NOT VERIFY (first bad record {status['first_bad']})"
        return (
            f"<!doctype html><html><head><meta charset='utf-8'><title>Blastwall change records</title>{_STYLE}"
            f"</head><body><h1>Change records</h1><p>Ledger {html.escape(status['ledger'])}: "
            f"{status['records']} records, {html.escape(verdict)}.</p>"
            + _table(EXPORT_COLUMNS, [[r[c] for c in EXPORT_COLUMNS] for r in rows])
            + "</body></html>"
        )
    raise BlastwallError(f"unknown export format {fmt!r}")
