"""The tier policy: ordered rules over a proposal's impact that decide auto / approval / cab / blocked.

The policy is YAML owned by a named human role and issued under a stated authority. It is validated
against a strict JSON Schema: a misspelt field is refused with its line. The first matching rule
decides; unknowns and opaque changes never reach ``auto`` whatever a rule says, and the report says so.
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from analyzer.criticality import criticality_rank
from analyzer.errors import BadInput
from analyzer.inputs import decode_utf8, load_yaml

TIERS = ("auto", "approval", "cab", "blocked")

_WHEN = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "change_kinds": {"type": "array", "items": {"type": "string"}},
        "fidelity": {"type": "array", "items": {"enum": ["exact", "inferred", "opaque"]}},
        "severed_min": {"type": "integer", "minimum": 0},
        "severed_observed_min": {"type": "integer", "minimum": 0},
        "undocumented_min": {"type": "integer", "minimum": 0},
        "unknowns_min": {"type": "integer", "minimum": 0},
        "impacted_criticality_at_least": {"enum": ["low", "medium", "high", "critical"]},
        "observed_impact_criticality_at_least": {"enum": ["low", "medium", "high", "critical"]},
        "exposure_added_min": {"type": "integer", "minimum": 0},
        "coverage_days_below": {"type": "integer", "minimum": 1},
    },
}
SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["schema_version", "policy_id", "version", "authority", "owner_role", "rules"],
    "properties": {
        "schema_version": {"const": 1},
        "policy_id": {"type": "string"},
        "version": {"type": "string"},
        "authority": {"type": "string", "minLength": 1},
        "owner_role": {"type": "string", "minLength": 1},
        "owner": {"type": "string"},
        "default_approver_role": {"type": "string"},
        "effective": {"type": "string"},
        "evidence_window_days": {"type": "integer", "minimum": 1},
        "rules": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["id", "when", "tier"],
                "properties": {
                    "id": {"type": "string"},
                    "description": {"type": "string"},
                    "when": _WHEN,
                    "tier": {"enum": list(TIERS)},
                    "approver_role": {"type": ["string", "null"]},
                },
            },
        },
    },
}


@dataclass(frozen=True)
class TierDecision:
    tier: str
    rule: str
    approver_role: str | None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class TierPolicy:
    doc: dict[str, Any]
    source: str

    @property
    def window_days(self) -> int:
        return int(self.doc.get("evidence_window_days", 90))

    def header(self) -> dict[str, Any]:
        return {k: self.doc.get(k) for k in ("policy_id", "version", "authority", "owner_role", "owner")} | {
            "source": self.source
        }

    def decide(self, facts: dict[str, Any]) -> TierDecision:
        """First matching rule decides. ``facts`` keys: change_kind, fidelity, severed, severed_observed,
        undocumented, unknowns, max_criticality, max_criticality_observed (over services reached by membership or
        observed use and data, not by documented relations alone), exposure_added, coverage_days."""
        for rule in self.doc["rules"]:
            if _matches(rule["when"], facts):
                tier, notes = rule["tier"], []
                if tier == "auto" and facts["unknowns"] > 0:
                    tier = "approval"
                    notes.append("unknowns never run automatically (built-in): raised from auto to approval")
                if tier == "auto" and facts["fidelity"] == "opaque":
                    tier = "approval"
                    notes.append("an opaque change never runs automatically (built-in): raised to approval")
                approver = rule.get("approver_role") if tier == rule["tier"] else "cloud-security-lead"
                return TierDecision(tier, rule["id"], approver, tuple(notes))
        return TierDecision(
            "approval",
            "builtin:no-rule-matched",
            "cloud-security-lead",
            ("no rule of the policy matched; a human decides",),
        )


def _matches(when: dict[str, Any], f: dict[str, Any]) -> bool:
    checks = [
        ("change_kinds", lambda v: f["change_kind"] in v),
        ("fidelity", lambda v: f["fidelity"] in v),
        ("severed_min", lambda v: f["severed"] >= v),
        ("severed_observed_min", lambda v: f["severed_observed"] >= v),
        ("undocumented_min", lambda v: f["undocumented"] >= v),
        ("unknowns_min", lambda v: f["unknowns"] >= v),
        (
            "impacted_criticality_at_least",
            lambda v: criticality_rank(f["max_criticality"]) >= criticality_rank(v),
        ),
        (
            "observed_impact_criticality_at_least",
            lambda v: (
                criticality_rank(f.get("max_criticality_observed", f["max_criticality"]))
                >= criticality_rank(v)
            ),
        ),
        ("exposure_added_min", lambda v: f.get("exposure_added", 0) >= v),
        ("coverage_days_below", lambda v: f.get("coverage_days", 0) < v),
    ]
    return all(check(when[key]) for key, check in checks if key in when)


def _line_of(text: str, path: list[Any]) -> int | None:
    """The 1-based line of the YAML node at ``path`` (keys and indices)."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return None
    line = node.start_mark.line + 1 if node else None
    for part in path:
        if isinstance(node, yaml.MappingNode):
            found = next((v for k, v in node.value if k.value == part), None)
            if found is None:
                return line
            key_node = next(k for k, v in node.value if k.value == part)
            line, node = key_node.start_mark.line + 1, found
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def parse_policy(text: str | bytes, source: str) -> TierPolicy:
    """Validate a policy (YAML text or bytes): bounded YAML, then the strict schema, errors with lines.
    A text validated before in this process is not parsed again (the gate reads the store's policy on
    every question); each caller gets its own copy of the document."""
    if isinstance(text, bytes):
        text = decode_utf8(text, source)
    return TierPolicy(copy.deepcopy(_validated(text, source)), source)


@functools.lru_cache(maxsize=16)
def _validated(text: str, source: str) -> dict[str, Any]:
    doc = load_yaml(text, source)
    validator = jsonschema.Draft202012Validator(SCHEMA)
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    if errors:
        err = errors[0]
        path = list(err.absolute_path)
        if err.validator == "additionalProperties":
            extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
            path = path + extra[:1]
            message = f"unknown field {extra[0]!r}; allowed: {', '.join(sorted(err.schema['properties']))}"
        else:
            message = err.message
        dotted = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)
        raise BadInput(message, file=source, line=_line_of(text, path), path=dotted)
    assert isinstance(doc, dict)  # the schema's top level is an object
    return doc


def load_policy(path: Path | None) -> TierPolicy:
    if path is None:
        text = resources.files("analyzer.governance").joinpath("default-tier-policy.yaml").read_text()
        return parse_policy(text, "builtin:default-tier-policy.yaml")
    return parse_policy(Path(path).read_bytes(), str(path))
