"""The post-action review in sentences: what the terminal (``review``, the demo) prints.

>>> line = breakage_line({"consumer": "arn:aws:iam::1:role/etl", "provider": "arn:aws:iam::2:role/reader",
...     "refusals": 36, "first_seen": "2026-05-12T09:19:07Z", "last_seen": "2026-05-12T12:09:07Z"})
>>> line
'etl -> reader: refused 36 time(s), 2026-05-12T09:19:07Z .. 2026-05-12T12:09:07Z'
>>> duration(10_500)
'2 h 55 min'
"""

from __future__ import annotations

from typing import Any


def short(node: str) -> str:
    """An ARN or id's last segment: what a person calls it."""
    return node.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1] or node


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h {minutes % 60} min"
    return f"{minutes // (24 * 60)} d {minutes // 60 % 24} h"


def ratio(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.0%}"


def breakage_line(b: dict[str, Any]) -> str:
    return (
        f"{short(b['consumer'])} -> {short(b['provider'])}: refused {b['refusals']} time(s), "
        f"{b.get('first_seen') or '?'} .. {b.get('last_seen') or '?'}"
        + ("; refused before the run too" if b.get("refused_before_the_run") else "")
    )


def execution_lines(i: dict[str, Any]) -> list[str]:
    change = i["change"]
    who = i["reported_by"] + (f" ({i['detail']})" if i.get("detail") else "")
    asked = {
        "decision": f"decided beforehand: {(i['decided'] or {}).get('decision')} by {(i['decided'] or {}).get('by')}",
        "score": "scored beforehand",
        None: "nobody asked Blastwall before it ran",
    }[i["prediction_before"]]
    out = [
        f"{i['proposal_id']}  {change['kind']} on {short(change['target'])}: {i['outcome']} "
        f"{i['executed_at']} by {who}",
        f"  {'after a gate pass' if i['gate_passed_before_execution'] else 'WITHOUT A GATE PASS'}; {asked}",
    ]
    for b in i["predicted_and_observed"]:
        out.append("  broke, as predicted: " + breakage_line(b))
    for b in i["unpredicted_breakage"]:
        out.append("  broke, NOT PREDICTED: " + breakage_line(b))
    if i["predicted_not_observed"]:
        out.append(f"  predicted, not seen refused: {len(i['predicted_not_observed'])}")
    if i["refused_until"]:
        out.append(f"  refused until {duration(i['breakage_lasted_s'])} after the run")
    for n, c in enumerate(i["changed_again"][:3]):
        after = f", {duration(i['time_to_restore_s'])} after the run" if n == 0 else ""
        out.append(f"  changed again {c['at']} by {short(str(c['by']))} ({c['action']}){after}")
    if i["reached_services"]:
        out.append(
            "  what broke reaches: "
            + ", ".join(f"{s['name']} [{s['criticality']}]" for s in i["reached_services"])
        )
    said = i.get("would_have_said")
    if said and said.get("status") == "already_applied":
        out.append(
            "  what Blastwall would have said is UNKNOWN: the configuration it holds was collected after the "
            "run and still has the change (no earlier configuration is kept)"
        )
    elif said:
        predicted = said["would_have_predicted"]
        out.append(
            f"  Blastwall, asked as of the run, would have said: tier {str(said['tier']).upper()} by rule "
            f"{said['tier_rule']} (risk {said['risk_score']}), approver role {said['approver_role'] or 'none'}"
            + (
                f"; it would have predicted {', '.join(short(c) + ' -> ' + short(p) for c, p in predicted)}"
                if predicted
                else ""
            )
        )
        if said.get("summary"):
            out.append(f"    \u201c{said['summary']}\u201d")
    return out


def review_lines(report: dict[str, Any]) -> list[str]:
    s = report["summary"]
    out = [
        f"{s['executions']} execution(s) {report['since']} .. {report['until']}: "
        f"{s['without_gate_pass']} without a gate pass, {s.get('without_prediction', 0)} nobody asked "
        f"Blastwall about, {s['with_unpredicted_breakage']} with unpredicted breakage, "
        f"{s['diverging_from_current_policy']} diverging from the current policy"
    ]
    for kind, g in sorted(report["patterns"]["change_kind"].items()):
        out.append(
            f"  {kind}: {g['executions']} run(s), {g['without_gate_pass']} without a gate pass, "
            f"{g['broke_something']} broke something; prediction precision {ratio(g['precision'])}, "
            f"recall {ratio(g['recall'])}"
        )
    for i in report["executions"]:
        out += ["  " + line for line in execution_lines(i)]
    for sug in report.get("suggestions") or []:
        what = {"policy_edit": "policy edit", "process": "process", "acceptance": "risk acceptance"}
        out.append(
            f"  suggested ({what.get(sug['kind'], sug['kind'])}, {sug['suggestion_id']}): {sug['title']}"
        )
    return out
