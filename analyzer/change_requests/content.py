"""What a change request says, from a scored result: pure, no I/O.

The approvers read it where they work, so it carries what they decide on: the verdict sentence, what
the change severs, which services depend on it, the rollback plan, and the binding digest — the same
digest the ledger's decision will carry, so an approval read back counts only for the analysis that was
shown (a change scored again with another impact needs a new request)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from analyzer.governance import signing

BINDING_LINE = "Blastwall binding: "
_BINDING = re.compile(r"Blastwall binding: (sha256:[0-9a-f]{64})")
MAX_ROWS = 25


@dataclass(frozen=True)
class RequestContent:
    proposal_id: str
    title: str
    description: str
    rollback: str
    justification: str
    risk: str  # high | moderate | low
    impact: str  # high | medium | low
    approver_role: str
    binding_digest: str


def binding_digest(binding: dict[str, Any]) -> str:
    return "sha256:" + signing.sha256(binding)


def bound_digest(description: str) -> str | None:
    """The binding digest a change request's description states (None: it states none)."""
    m = _BINDING.search(description or "")
    return m.group(1) if m else None


def request_content(result: dict[str, Any], binding: dict[str, Any], link: str | None) -> RequestContent:
    change = result["change"]
    pid = result["proposal_id"]
    severed = result.get("severed") or []
    services = result.get("impacted_services") or []
    lines = [result.get("summary") or "", ""]
    lines.append(f"Change: {change['kind']} on {change.get('target')} (account {change.get('account')})")
    lines.append(f"Tier: {result['tier']} (rule {result['tier_rule']}); risk {result['risk_score']}/100")
    lines.append("")
    lines.append(f"Severed dependencies ({len(severed)}):")
    for s in severed[:MAX_ROWS]:
        seen = f"observed {s.get('events', 0)} times" if s.get("observed") else "not observed"
        doc = "documented" if s.get("documented") else "UNDOCUMENTED"
        lines.append(f"  - {s['consumer']} -> {s['provider']} ({s.get('access')}): {seen}; {doc}")
    if len(severed) > MAX_ROWS:
        lines.append(f"  ... and {len(severed) - MAX_ROWS} more (see the link)")
    lines.append("")
    lines.append(f"Impacted services ({len(services)}):")
    for svc in services[:MAX_ROWS]:
        lines.append(f"  - {svc['name']} [{svc.get('criticality')}], reached {svc.get('reached')}")
    if len(services) > MAX_ROWS:
        lines.append(f"  ... and {len(services) - MAX_ROWS} more (see the link)")
    unknowns = result.get("unknowns") or []
    if unknowns:
        lines += ["", "Unknown (not evaluated, never read as safe):"]
        lines += [f"  - {u.get('reason')}: {u.get('detail')}" for u in unknowns[:MAX_ROWS]]
    if link:
        lines += ["", f"Analysis: {link}"]
    digest = binding_digest(binding)
    lines += ["", f"{BINDING_LINE}{digest} (an approval counts for this analysis only)"]
    return RequestContent(
        proposal_id=pid,
        title=f"Blastwall {pid}: {change['kind']} on {_short(change.get('target'))}"[:160],
        description="\n".join(lines),
        rollback=_rollback(result),
        justification=str((result.get("source") or {}).get("title") or "remediation of a security finding"),
        risk=_risk(result["risk_score"]),
        impact=_impact(services),
        approver_role=str(binding["required_role"]),
        binding_digest=digest,
    )


def _short(target: Any) -> str:
    text = str(target or "?")
    return text.rsplit(":", 1)[-1] if text.startswith("arn:") else text


def _rollback(result: dict[str, Any]) -> str:
    rb = result.get("rollback") or {}
    inverse = (rb.get("change") or {}).get("kind")
    verified = "verified" if rb.get("verified") is True else "NOT verified"
    head = f"Apply the recorded inverse ({inverse or 'unknown'}), restoring the state of digest {rb.get('before_digest')}."
    return f"{head} Rollback {verified}: {rb.get('detail') or 'no detail'}."


def _risk(score: int) -> str:
    return "high" if score >= 70 else "moderate" if score >= 40 else "low"


def _impact(services: list[dict[str, Any]]) -> str:
    worst = services[0].get("criticality") if services else None
    return "high" if worst in ("critical", "high") else "medium" if worst == "medium" else "low"
