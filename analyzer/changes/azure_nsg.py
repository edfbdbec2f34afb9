"""``azure.nsg_rules``: revoke or add security rules of an Azure network security group (what a Defender
for Cloud "restrict management ports" fix or an Azure Policy remediation does).

The target is the NSG's ARM id; the delta ``{"revoke": [rule names]}`` and/or ``{"authorize": [rules]}``
with each rule as ``az network nsg rule list`` prints it (``name``, ``priority``, ``direction``, ``access``,
``protocol``, address prefixes and port ranges). ``apply`` takes and returns ``{"rules": [...]}`` in that
shape; the rollback authorizes what was revoked and revokes what was added.
"""

from __future__ import annotations

import copy
from typing import Any

from analyzer.changes import ChangeKind, register

_RULE: dict[str, Any] = {
    "type": "object",
    "required": ["name", "priority", "direction", "access"],
    "properties": {
        "name": {"type": "string"},
        "priority": {"type": "integer", "minimum": 100, "maximum": 4096},
        "direction": {"enum": ["Inbound", "Outbound"]},
        "access": {"enum": ["Allow", "Deny"]},
    },
}
SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "properties": {
        "revoke": {"type": "array", "items": {"type": "string"}},
        "authorize": {"type": "array", "items": _RULE},
    },
}


def apply(state: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    """
    >>> apply({"rules": [{"name": "a"}, {"name": "b"}]}, {"revoke": ["a"]})
    {'rules': [{'name': 'b'}]}
    """
    gone = set(delta.get("revoke") or [])
    added = copy.deepcopy(delta.get("authorize") or [])
    names = {r["name"] for r in added}
    kept = [r for r in state.get("rules") or [] if r.get("name") not in gone and r.get("name") not in names]
    return {"rules": kept + added}


def invert(before: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    by_name = {r.get("name"): r for r in before.get("rules") or []}
    out: dict[str, Any] = {}
    restore = [copy.deepcopy(by_name[n]) for n in delta.get("revoke") or [] if n in by_name]
    replaced = [
        copy.deepcopy(by_name[r["name"]]) for r in delta.get("authorize") or [] if r["name"] in by_name
    ]
    new = [r["name"] for r in delta.get("authorize") or [] if r["name"] not in by_name]
    if restore or replaced:
        out["authorize"] = restore + replaced
    if new:
        out["revoke"] = new
    return out


NSG_RULES = register(
    ChangeKind(
        name="azure.nsg_rules",
        summary="Revoke or add security rules of an Azure network security group.",
        delta_schema=SCHEMA,
        example={"revoke": ["allow-https-vnet"]},
        apply=apply,
        invert=invert,
        target_kind="AzureNsg",
    )
)
