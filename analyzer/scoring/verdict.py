"""The verdict in one sentence: what the change cuts, whose use, whether anyone documented it, which named
services at which criticality depend on it, and who must authorize it. The CLI table, the JSON
(``summary``) and the app open with the same sentence."""

from __future__ import annotations

from typing import Any

VERBS = {
    "iam.update_trust_policy": "Changing who may assume {t}",
    "iam.detach_policy": "Removing a policy from {t}",
    "iam.attach_or_put_policy": "Granting {t} a policy",
    "iam.replace_policy": "Replacing a policy of {t}",
    "iam.set_permissions_boundary": "Setting the permissions boundary of {t}",
    "iam.update_managed_policy": "A new version of {t}",
    "iam.revoke_credentials": "Revoking the credentials of {t}",
    "resource_policy.remove_statements": "Changing the resource policy of {t}",
    "sg.revoke_rules": "Revoking rules of {t}",
    "sg.authorize_rules": "Opening rules of {t}",
    "sg.replace_rules": "Replacing rules of {t}",
    "eni.replace_security_groups": "Replacing the security groups of {t}",
    "setting.harden": "Hardening {t}",
    "public_access.block": "Blocking public access to {t}",
    "compute.stop_or_terminate": "Stopping {t}",
    "resource.delete": "Deleting {t}",
    "opaque.runbook": "Running {r} on {t}",
}

TIERS = {
    "auto": "it may run automatically",
    "approval": "{role} must approve it",
    "cab": "the change advisory board ({role}) must approve it",
    "blocked": "it is blocked",
}


def _name(arn: str | None) -> str:
    """The readable end of an id: a role's name, a group's id, a bucket's name."""
    text = str(arn or "?")
    if text.startswith("urn:ip:"):
        return text.removeprefix("urn:ip:")
    return text.rsplit("/", 1)[-1].rsplit(":", 1)[-1] if "/" in text or text.startswith("arn:") else text


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


REACHED = {
    "membership": "its own resource",
    "observed": "observed chain",
    "documented": "chain through the CMDB",
}
SHOWN_HOPS = 6


def chain_phrase(chain: list[dict[str, Any]], reached: str | None) -> str:
    """How an impacted service is reached, in words: the strongest chain's hops (the middle elided past
    ``SHOWN_HOPS``).

    >>> chain_phrase([{"from": "etl", "to": "data of out", "relation": "writes"},
    ...     {"from": "data of out", "to": "features", "relation": "reads"},
    ...     {"from": "features", "to": "Feature Pipeline", "relation": "member"},
    ...     {"from": "Feature Pipeline", "to": "Fraud Detection", "relation": "documented"}], "documented")
    'chain through the CMDB: etl writes out, read by features, part of Feature Pipeline, which Fraud Detection depends on'
    """
    if not chain:
        return ""
    words = {
        "uses": "used by {to}",
        "reads": "read by {to}",
        "runs_as": "run by {to}",
        "attached": "on {to}",
        "member": "part of {to}",
        "observed_ci": "used by {to}",
        "documented": "which {to} depends on",
    }
    segs = [str(chain[0].get("from"))]
    for hop in chain:
        rel, to = hop.get("relation"), str(hop.get("to"))
        if rel in ("writes", "writes_as", "db_client"):
            what = to.removeprefix("data of ")
            verb = "connects to the database" if rel == "db_client" else "writes"
            lead = " " if len(segs) == 1 else ", which "
            segs[-1] += f"{lead}{verb} {what}" + (f" as {hop['as']}" if hop.get("as") else "")
        else:
            segs.append(words.get(str(rel), "then {to}").format(to=to))
    if len(segs) > SHOWN_HOPS:
        segs = [*segs[:3], "…", *segs[-2:]]
    return f"{REACHED.get(str(reached), 'chain')}: " + ", ".join(segs)


def verdict(r: dict[str, Any]) -> str:
    """One sentence for a scored result.

    >>> verdict({"status": "scored", "change": {"kind": "iam.update_trust_policy",
    ...     "target": "arn:aws:iam::1:role/datalake-reader"}, "severed": [{"consumer":
    ...     "arn:aws:iam::2:role/legacy-etl-role", "observed": True, "events": 4032, "documented": False}],
    ...     "severed_unlisted": 0, "impacted_services": [{"name": "Fraud Detection", "criticality": "critical"}],
    ...     "unknowns": [], "tier": "cab", "approver_role": "change-advisory-board"})
    "Changing who may assume datalake-reader cuts legacy-etl-role's observed, undocumented use (4,032 events); Fraud Detection (critical) depends on it; the change advisory board (change-advisory-board) must approve it."
    """
    change = r.get("change") or {}
    kind = str(change.get("kind") or "")
    delta = change.get("delta") or {}
    subject = VERBS.get(kind, kind + " on {t}").format(
        t=_name(change.get("target")), r=delta.get("runbook") or "a runbook"
    )
    status = r.get("status")
    tier = TIERS.get(str(r.get("tier")), str(r.get("tier"))).format(role=r.get("approver_role") or "a human")
    if status == "already_applied":
        return f"{subject}: already in place, nothing changes."
    if status in ("target_missing", "error"):
        why = next((u.get("detail") for u in r.get("unknowns") or []), "") or str(status)
        return f"{subject}: not scored ({why}); {tier}."
    severed = r.get("severed") or []
    observed = [s for s in severed if s.get("observed")]
    parts: list[str] = []
    if observed:
        consumers: dict[str, int] = {}
        for s in observed:
            consumers[_name(s.get("consumer"))] = consumers.get(_name(s.get("consumer")), 0) + int(
                s.get("events") or 0
            )
        top = sorted(consumers.items(), key=lambda kv: -kv[1])
        undocumented = sum(1 for s in observed if not s.get("documented"))
        how = "observed, undocumented" if undocumented == len(observed) else "observed"
        whose = (
            f"{top[0][0]}'s"
            if len(top) == 1
            else f"{top[0][0]}'s and {_count(len(top) - 1, 'other consumer')}'"
        )
        events = sum(consumers.values())
        parts.append(f"{subject} cuts {whose} {how} use ({_count(events, 'event')})")
        if 0 < undocumented < len(observed):
            parts[-1] += f", {undocumented} of them undocumented"
    elif severed or r.get("severed_unlisted"):
        n = len(severed) + int(r.get("severed_unlisted") or 0)
        parts.append(f"{subject} cuts {_count(n, 'access', 'accesses')} nobody was seen using")
    elif r.get("exposure_added"):
        parts.append(f"{subject} opens {_count(len(r['exposure_added']), 'new path')} to what it protects")
    else:
        parts.append(f"{subject} cuts nothing observed")
    services = r.get("impacted_services") or []
    if services:
        first = services[0]
        more = f" and {_count(len(services) - 1, 'more service')}" if len(services) > 1 else ""
        verb = "depend" if more else "depends"
        how = chain_phrase(first.get("chain") or [], first.get("reached"))
        parts.append(
            f"{first.get('name')} ({first.get('criticality') or 'criticality unknown'}){more} {verb} on it"
            + (f" ({how})" if how else "")
        )
    unknowns = [u for u in r.get("unknowns") or [] if u.get("reason") != "no_evidence_coverage"]
    if any(u.get("reason") == "no_evidence_coverage" for u in r.get("unknowns") or []):
        parts.append("its account has no evidence in the window, so unseen use is unknown")
    elif unknowns:
        parts.append(_count(len(unknowns), "unknown") + (" remains" if len(unknowns) == 1 else " remain"))
    ran = (r.get("source") or {}).get("executed")
    if isinstance(ran, dict):  # a tool's record of what it already did: not a request any more
        parts.append(
            f"it already ran ({ran.get('by') or 'a remediation tool'}, {ran.get('at') or 'time unrecorded'}) "
            f"without a gate pass; the policy says {tier}"
        )
    else:
        parts.append(tier)
    return "; ".join(parts) + "."
