"""The check/control lookup shared by the ASFF, OCSF and Prowler importers (data/check_lookup.yaml)."""

from __future__ import annotations

import copy
import re
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml


@lru_cache(maxsize=1)
def _table() -> dict[str, dict[str, Any]]:
    text = resources.files("connectors.proposals").joinpath("data/check_lookup.yaml").read_text()
    out: dict[str, dict[str, Any]] = {}
    for entry in yaml.safe_load(text):
        for i in entry["ids"]:
            out[i] = entry
    return out


@lru_cache(maxsize=1)
def _fixers() -> frozenset[str]:
    text = resources.files("connectors.proposals").joinpath("data/prowler_fixers.txt").read_text()
    return frozenset(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def prowler_proposer(check: str | None) -> str:
    """Who proposes a Prowler finding's fix: ``prowler --fixer`` for the checks that ship a fixer, else the
    scan itself (``prowler``): a finding is not a fixer's proposal when Prowler has no fixer for it."""
    return "prowler --fixer" if check and check.removeprefix("prowler-") in _fixers() else "prowler"


def lookup(*ids: str | None) -> tuple[str, dict[str, Any], str] | None:
    """(kind, delta, matched id) for the first id the table knows."""
    table = _table()
    for i in ids:
        if i and i in table:
            return table[i]["kind"], copy.deepcopy(table[i]["delta"]), i
    return None


ACCOUNT = "${account}"


def _needs_account(value: Any) -> bool:
    if isinstance(value, str):
        return ACCOUNT in value
    if isinstance(value, dict):
        return any(_needs_account(v) for v in value.values())
    if isinstance(value, list):
        return any(_needs_account(v) for v in value)
    return False


def _filled(value: Any, account: str) -> Any:
    """The delta with ``${account}`` replaced by the finding's account."""
    if isinstance(value, str):
        return value.replace(ACCOUNT, account)
    if isinstance(value, dict):
        return {k: _filled(v, account) for k, v in value.items()}
    if isinstance(value, list):
        return [_filled(v, account) for v in value]
    return value


def lookup_for(
    check_ids: tuple[str | None, ...], account: str | None
) -> tuple[str, dict[str, Any], str] | None:
    """``lookup`` with the delta written for the finding's account (``${account}``); a delta that needs an
    account the finding does not name cannot be written exactly: None."""
    found = lookup(*check_ids)
    if found and _needs_account(found[1]):
        return (found[0], _filled(found[1], account), found[2]) if account else None
    return found


_ACCOUNT_RESOURCE = re.compile(r"^(?:arn:aws[a-z-]*:s3:[a-z0-9-]*:(\d{12}):account|AWS::::Account:(\d{12}))$")


def account_target(target: str | None) -> str | None:
    """A finding about an account names it its tool's way (Prowler ``arn:aws:s3:REGION:ID:account``,
    Security Hub ``AWS::::Account:ID``); Blastwall's account node is ``arn:aws:iam::ID:root``.

    >>> account_target("AWS::::Account:123456789012")
    'arn:aws:iam::123456789012:root'
    """
    m = _ACCOUNT_RESOURCE.match(target or "")
    return f"arn:aws:iam::{m.group(1) or m.group(2)}:root" if m else target


def change(
    check_ids: tuple[str | None, ...],
    target: str | None,
    account: str | None,
    region: str | None,
    recommendation: Any,
) -> dict[str, Any]:
    found = lookup_for(check_ids, account)
    base = {"target": account_target(target), "account": account, "region": region}
    if found:
        kind, delta, matched = found
        return {**base, "kind": kind, "delta": delta, "fidelity": "inferred", "lookup": f"check:{matched}"}
    runbook = next((c for c in check_ids if c), None)
    return {
        **base,
        "kind": "opaque.runbook",
        "delta": {"runbook": runbook, "recommendation": recommendation},
        "fidelity": "opaque",
        "lookup": None,
    }
