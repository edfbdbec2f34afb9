"""Rendering results for people (table) and scripts (json, csv)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from typing import Any

import msgspec

from analyzer import providers
from analyzer.scoring.verdict import chain_phrase, verdict

TIER_MARK = {"auto": "auto", "approval": "APPROVAL", "cab": "CAB", "blocked": "BLOCKED"}


def to_json(obj: Any) -> str:
    """``obj`` as indented JSON (UTF-8 text, not ``\\u`` escapes; what JSON cannot hold as its ``str``),
    encoded by msgspec: ten thousand results are 450 MB, which ``json.dumps`` takes seconds over."""
    try:
        return msgspec.json.format(_ENCODER.encode(obj), indent=2).decode()
    except (TypeError, ValueError, OverflowError):  # what msgspec refuses (an integer past 64 bits)
        return json.dumps(obj, indent=2, sort_keys=False, default=str, ensure_ascii=False)


_ENCODER = msgspec.json.Encoder(enc_hook=str)


def json_chunks(head: dict[str, Any], key: str, rows: Iterable[Any]) -> Iterator[str]:
    """``to_json({**head, key: list(rows)})``, the same text, a row at a time: a list of a million rows
    is never held (``key`` comes last).

    >>> "".join(json_chunks({"n": 2}, "rows", iter([{"a": 1}, {"a": 2}]))) == to_json({"n": 2, "rows": [{"a": 1}, {"a": 2}]})
    True
    >>> "".join(json_chunks({"n": 0}, "rows", iter([]))) == to_json({"n": 0, "rows": []})
    True
    >>> rows = [{"a": {"b": ["x\\ny", {}], "c": []}}, {"d": "  "}]
    >>> "".join(json_chunks({"n": 2}, "rows", iter(rows))) == to_json({"n": 2, "rows": rows})
    True
    """
    text = to_json({**head, key: []})
    before, after = text.rsplit("[]", 1)  # the key is last: its empty list is the last "[]"
    yield before
    first = True
    for row in rows:
        # indented a level deeper (a JSON line is never blank: ``textwrap.indent``'s per-line test is moot,
        # and over 10,000 results it took seconds)
        yield ("[\n    " if first else ",\n    ") + to_json(row).replace("\n", "\n    ")
        first = False
    yield ("[]" if first else "\n  ]") + after


def results_csv(payload: dict[str, Any]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(
        [
            "proposal_id",
            "tier",
            "tier_rule",
            "risk_score",
            "change_kind",
            "target",
            "severed",
            "severed_observed",
            "undocumented",
            "top_impacted",
            "top_criticality",
            "unknowns",
        ]
    )
    for r in payload["results"]:
        top = r["impacted_services"][0] if r["impacted_services"] else {}
        w.writerow(
            [
                r["proposal_id"],
                r["tier"],
                r["tier_rule"],
                r["risk_score"],
                r["change"]["kind"],
                r["change"]["target"],
                len(r["severed"]) + r.get("severed_unlisted", 0),
                sum(1 for s in r["severed"] if s["observed"]),
                r["undocumented_dependencies"],
                top.get("name", ""),
                top.get("criticality", ""),
                "; ".join(u["reason"] for u in r["unknowns"]),
            ]
        )
    return buf.getvalue()


def results_table(payload: dict[str, Any]) -> str:
    lines = [
        f"Scored {len(payload['results'])} proposal(s) as of {payload['as_of']} "
        f"under policy {payload['policy']['policy_id']} v{payload['policy']['version']} "
        f"(owner: {payload['policy']['owner_role']})",
        "",
    ]
    header = f"{'PROPOSAL':<16} {'TIER':<9} {'RISK':>4}  {'CHANGE':<24} TARGET"
    lines.append(header)
    lines.append("-" * len(header))
    for r in payload["results"]:
        lines.append(
            f"{r['proposal_id']:<16} {TIER_MARK[r['tier']]:<9} {r['risk_score']:>4}  "
            f"{r['change']['kind']:<24} {r['change']['target']}"
        )
    for r in payload["results"]:
        lines += [
            "",
            f"== {r['proposal_id']}  {r['source']['title']}",
            f"   {r.get('summary') or verdict(r)}",
            f"   tier {r['tier']} by rule '{r['tier_rule']}'"
            + (f", approver role: {r['approver_role']}" if r.get("approver_role") else ""),
        ]
        for note in [*(r.get("notes") or []), *r.get("tier_notes", [])]:
            lines.append(f"   note: {note}")
        if r["severed"]:
            lines.append("   severed:")
            for s in r["severed"]:
                obs = (
                    f"observed {s['events']} times, last {s['last_seen']}"
                    if s["observed"]
                    else "not observed in the window"
                )
                doc = "documented" if s["documented"] else "UNDOCUMENTED"
                lines.append(f"     {s['consumer']} -> {s['provider']} ({s['access']}): {obs}; {doc}")
            if r.get("severed_unlisted"):
                lines.append(
                    f"     … and {r['severed_unlisted']} more not observed in the window "
                    "(counted, not listed; `blastwall who-can` lists them)"
                )
        else:
            lines.append("   severed: nothing")
        for x in r.get("exposure_added") or []:
            lines.append(
                f"   exposure added: {x['principal']} -> {x['resource']} ({x['access']}): {x['after']}"
            )
        for a in r.get("already_denied") or []:
            lines.append(
                f"   already denied (stale evidence, not severed): {a['consumer']} -> {a['provider']} "
                f"({a['access']}): {'; '.join(a['why'])}"
            )
        if r.get("already_denied_unlisted"):
            lines.append(
                f"   … and {r['already_denied_unlisted']} more flows already denied (counted, not listed)"
            )
        if r["impacted_services"]:
            lines.append("   impacted:")
            for svc in r["impacted_services"]:
                how = f" {svc['reached']}, {svc['hops']} hop(s)" if svc.get("reached") else ""
                lines.append(
                    f"     {svc['name']} [{svc['criticality']}]{how}"
                    f"{'' if svc['documented'] else ' (impact path not in the CMDB)'}"
                )
        for u in r["unknowns"]:
            lines.append(f"   unknown: {u['reason']}: {u['detail']}")
        rb = r["rollback"]
        if rb.get("change"):
            lines.append(f"   rollback: {'verified' if rb['verified'] else 'NOT verified'} ({rb['detail']})")
        alt = r.get("safer_alternative")
        if alt:
            lines.append(f"   safer alternative: {alt['description']}")
            lines.append(
                f"     -> tier {alt['tier']}, risk {alt['risk_score']}, severs {len(alt['severed'])} "
                f"({alt['severed_observed']} observed), impacts {len(alt['impacted_services'])}"
            )
    for p in payload.get("problems", []):
        lines.append(f"warning: {p}")
    return "\n".join(lines)


def explain_text(r: dict[str, Any]) -> str:
    """One scored proposal in full: why each dependency is cut, how each impact is reached, why the tier."""
    lines = [
        f"{r['proposal_id']}: {r['source'].get('title')}",
        f"  source: {r['source']['format']} {r['source'].get('product') or ''} finding {r['source']['finding_id']}",
        f"  change: {r['change']['kind']} on {r['change']['target']} ({r['change']['fidelity']}"
        + (f", from lookup {r['change']['lookup']}" if r["change"].get("lookup") else "")
        + ")",
        f"  delta: {json.dumps(r['change'].get('delta'), sort_keys=True)}",
        *([f"  why this delta: {r['change']['derivation']}"] if r["change"].get("derivation") else []),
        *[f"  note: {n}" for n in r.get("notes") or []],
        f"  tier: {r['tier']} by rule {r['tier_rule']} of {r['policy']['policy_id']} v{r['policy']['version']} "
        f"(authority: {r['policy']['authority']}; owner: {r['policy']['owner_role']})",
    ]
    lines += [f"    note: {n}" for n in r.get("tier_notes", [])]
    lines.append(
        f"  risk {r['risk_score']}, priority {r.get('priority')}; evidence window "
        f"{r['evidence']['window_start']} .. {r['evidence']['window_end']}, "
        f"{r['evidence']['coverage_days']} day(s) with "
        f"{providers.evidence_name(providers.default_evidence(str(r['change'].get('target') or '')))} "
        f"in account {r['evidence']['account']}"
    )
    for s in r["severed"]:
        lines.append(f"  severed: {s['consumer']} -> {s['provider']} ({s['access']})")
        lines.append(
            f"    before: {s['before']['decision']} via {', '.join(s['before']['statements']) or '-'}"
            + (
                f"; depends on {', '.join(s['before']['missing_context'])}"
                if s["before"]["missing_context"]
                else ""
            )
        )
        lines.append(f"    after: {s['after']['decision']} ({s['after']['reason']})")
        lines.append(
            f"    use: {'observed ' + str(s['events']) + ' times, ' + str(s['first_seen']) + ' .. ' + str(s['last_seen']) if s['observed'] else 'none seen in the window'}"
        )
        lines.append(f"    documentation: {s['documentation']}")
    for svc in r["impacted_services"]:
        how = chain_phrase(svc.get("chain") or [], svc.get("reached")) or " -> ".join(svc.get("path", []))
        lines.append(f"  impacted: {svc['name']} [{svc['criticality']}] ({how})")
    for u in r["unknowns"]:
        lines.append(f"  unknown: {u['reason']}: {u['detail']}")
    rb = r["rollback"]
    lines.append(
        f"  rollback: {json.dumps((rb.get('change') or {}).get('delta'), sort_keys=True)[:200]} "
        f"({'verified' if rb.get('verified') else 'not verified'})"
    )
    return "\n".join(lines)
