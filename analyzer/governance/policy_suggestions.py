"""From a review's patterns to concrete edits of the tier policy, each with its evidence (issue #27).

Two findings become **policy edits** (a complete tier policy file the owner can read, diff and load with
``blastwall policy load FILE --adopts ID --as WHO``; never applied here):

* a rule whose tier let changes run without a human (``auto``) where some broke use that was
  *predicted* (the scoring saw the observed use and the rule did not ask about it): a rule inserted before
  it sends changes of that kind that cut observed use to approval (``severed_observed_min: 1``);
* the same where the breakage was *not predicted* (the evidence did not show the use): a rule inserted
  before it sends that kind to approval while the evidence covers fewer days than the broken changes'
  (``coverage_days_below``), or always when their evidence covered the whole window.

Two more are **findings without a patch**, because the tier policy is not what failed: changes that ran
without asking the gate (the tool that ran them must ask it), and risk acceptances that covered changes
which broke something (an acceptance is the owner's signed record: narrow or let it expire).

A suggestion's id is a digest of its edit, so the same pattern in next week's review is the same
suggestion, and adopting it is recorded once in the ledger with who adopted it.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable
from typing import Any

import yaml

from analyzer.governance import signing
from analyzer.governance.tier_policy import TierPolicy, parse_policy


def _broke(item: dict[str, Any]) -> bool:
    return bool(item["predicted_and_observed"] or item["unpredicted_breakage"])


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _evidence(items: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "proposal_id": i["proposal_id"],
            "executed_at": i["executed_at"],
            "target": i["change"]["target"],
            "predicted_and_observed": [
                f"{b['consumer']} -> {b['provider']}" for b in i["predicted_and_observed"]
            ],
            "unpredicted": [f"{b['consumer']} -> {b['provider']}" for b in i["unpredicted_breakage"]],
        }
        for i in items
    ]


def _rule_text(rule: dict[str, Any], indent: str) -> str:
    """One rule as the policy file writes it: a block list item at ``indent``."""
    body = yaml.safe_dump([rule], sort_keys=False, default_flow_style=False, width=110)
    return "".join(indent + line + "\n" for line in body.splitlines())


def _with_rule(text: str, before: str, rule: dict[str, Any], version: str) -> str | None:
    """The policy text with ``rule`` inserted before the rule ``before`` and its version changed, the
    owner's comments kept; None where the file's layout is not the block list this can edit."""
    lines = text.splitlines(keepends=True)
    at = next(
        (
            n
            for n, line in enumerate(lines)
            if re.fullmatch(rf"(\s*)- id: ['\"]?{re.escape(before)}['\"]?\s*", line.rstrip("\n"))
        ),
        None,
    )
    if at is None:
        return None
    indent = lines[at][: len(lines[at]) - len(lines[at].lstrip())]
    lines.insert(at, _rule_text(rule, indent))
    out = "".join(lines)
    out, n = re.subn(r"(?m)^version:.*$", f"version: {json.dumps(version)}", out, count=1)
    return out if n else None


def _edit(
    policy: TierPolicy,
    text: str,
    before: str,
    rule: dict[str, Any],
    title: str,
    why: str,
    items: list[dict[str, Any]],
) -> dict[str, Any] | None:
    sid = "ps-" + signing.sha256({"before": before, "rule": rule})[7:19]
    version = f"{policy.doc['version']}+{sid}"
    new = _with_rule(text, before, rule, version)
    if new is None:  # the file is not in block style: the whole document, without its comments
        doc = dict(policy.doc)
        at = [r["id"] for r in doc["rules"]].index(before)
        doc["rules"] = [*doc["rules"][:at], rule, *doc["rules"][at:]]
        doc["version"] = version
        new = yaml.safe_dump(doc, sort_keys=False, width=110)
    parse_policy(new, f"suggestion {sid}")  # what is offered always loads
    header = (
        f"# Suggested by blastwall review ({sid}): {title}\n"
        f"# Why: {why}\n"
        "# Evidence: "
        + "; ".join(f"{e['proposal_id']} ran {e['executed_at']}" for e in _evidence(items))
        + "\n"
        f"# Adopt (as the policy's owner, {policy.doc['owner_role']}): blastwall policy load <this file> "
        f"--adopts {sid} --as <you>\n"
        "# Adopting a new policy ends the risk acceptances made under the old one (each names its policy).\n"
    )
    return {
        "suggestion_id": sid,
        "kind": "policy_edit",
        "title": title,
        "why": why,
        "rule": before,
        "edit": {"insert_before": before, "rule": rule},
        "evidence": _evidence(items),
        "policy_version": version,
        "policy_yaml": header + new,
        "patch": "".join(
            difflib.unified_diff(
                text.splitlines(keepends=True),
                new.splitlines(keepends=True),
                "tier-policy.yaml (current)",
                f"tier-policy.yaml ({sid})",
            )
        ),
    }


def suggest(report: dict[str, Any], policy: TierPolicy, text: str | None = None) -> list[dict[str, Any]]:
    """The review's suggestions: policy edits first, then findings for the process and for acceptances.
    ``text`` is the policy file as loaded (comments and layout are kept in the edit)."""
    text = text if text is not None else yaml.safe_dump(policy.doc, sort_keys=False, width=110)
    items = report["executions"]
    rules = {r["id"]: r for r in policy.doc["rules"]}
    out: list[dict[str, Any]] = []
    auto_runs: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for i in items:
        if i["tier_then"] == "auto" and i["prediction_before"] is not None and i["tier_rule"] in rules:
            auto_runs.setdefault((i["tier_rule"], i["change_kind"]), []).append(i)
    for (rule_id, kind), runs in sorted(auto_runs.items()):
        broke = [i for i in runs if _broke(i)]
        if not broke or rules[rule_id]["tier"] != "auto":
            continue
        seen = [i for i in broke if i["predicted_and_observed"]]
        blind = [i for i in broke if not i["predicted_and_observed"]]
        lead = f"rule {rule_id} let {len(runs)} {kind} change(s) run without a human"
        if seen:
            rule = {
                "id": f"{rule_id}-observed-use",
                "description": f"Added after review: {kind} changes that cut observed use need an approval.",
                "when": {"change_kinds": [kind], "severed_observed_min": 1},
                "tier": "approval",
                "approver_role": policy.doc.get("default_approver_role") or "service-owner",
            }
            edit = _edit(
                policy,
                text,
                rule_id,
                rule,
                f"{lead}; {len(seen)} broke observed use that the scoring had predicted: send such "
                "changes to approval (severed_observed_min: 1)",
                "the rule does not ask whether observed use is cut; the scoring said it was, and it broke",
                seen,
            )
            if edit:
                out.append(edit)
        if blind:
            days = [int(c) for c in (i.get("coverage_days") for i in blind) if isinstance(c, int | float)]
            when: dict[str, Any] = {"change_kinds": [kind]}
            why = "the evidence did not show the use that broke"
            if days and max(days) < policy.window_days:
                when["coverage_days_below"] = max(days) + 1
                why += f" (it covered {max(days)} day(s) of the {policy.window_days}-day window)"
            rule = {
                "id": f"{rule_id}-{_slug(kind)}-unseen-use",
                "description": f"Added after review: {kind} changes broke use the evidence did not show.",
                "when": when,
                "tier": "approval",
                "approver_role": policy.doc.get("default_approver_role") or "cloud-security-lead",
            }
            edit = _edit(
                policy,
                text,
                rule_id,
                rule,
                f"{lead}; {len(blind)} broke use nobody predicted: a human decides "
                + ("while the evidence is this thin" if "coverage_days_below" in when else "on such changes"),
                why,
                blind,
            )
            if edit:
                out.append(edit)
    bypass: dict[str, list[dict[str, Any]]] = {}
    for i in items:
        if not i["gate_passed_before_execution"]:
            bypass.setdefault(i["reported_by"], []).append(i)
    for tool, runs in sorted(bypass.items()):
        would = sorted({str((i.get("would_have_said") or {}).get("tier") or i["tier_then"]) for i in runs})
        broke = [i for i in runs if _broke(i)]
        out.append(
            {
                "suggestion_id": "pf-" + signing.sha256({"bypass": tool})[7:19],
                "kind": "process",
                "title": f"{tool} ran {len(runs)} change(s) without asking the gate ({len(broke)} broke "
                f"something); the policy would have required {', '.join(would)}: put `blastwall gate` (or "
                "serve's /v1/gate) in front of it, or take away its write access",
                "why": "the tier policy cannot stop a change that never asks",
                "evidence": _evidence(runs),
            }
        )
    covered: dict[str, list[dict[str, Any]]] = {}
    for i in items:
        if i.get("risk_acceptance") and _broke(i):
            covered.setdefault(i["risk_acceptance"], []).append(i)
    for aid, runs in sorted(covered.items()):
        out.append(
            {
                "suggestion_id": "pa-" + signing.sha256({"acceptance": aid})[7:19],
                "kind": "acceptance",
                "title": f"risk acceptance {aid} covered {len(runs)} change(s) that broke something: narrow "
                "its scope or let it expire",
                "why": "an acceptance is the owner's signed word that such changes may run unattended",
                "evidence": _evidence(runs),
            }
        )
    return out
