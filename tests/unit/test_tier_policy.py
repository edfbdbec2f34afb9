from pathlib import Path

import pytest

from analyzer.errors import BadInput
from analyzer.governance.tier_policy import load_policy, parse_policy

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "samples" / "acme-fin" / "policy" / "tier-policy.yaml"
FACTS = {
    "change_kind": "iam.update_trust_policy",
    "fidelity": "inferred",
    "severed": 0,
    "severed_observed": 0,
    "undocumented": 0,
    "unknowns": 0,
    "max_criticality": "none",
}


def test_typo_in_a_field_name_is_refused_with_its_line() -> None:
    text = SAMPLE.read_text().replace(
        "severed_observed_min: 1\n    tier: approval", "severed_observd_min: 1\n    tier: approval"
    )
    with pytest.raises(BadInput) as exc:
        parse_policy(text, "p.yaml")
    line = next(i for i, s in enumerate(text.splitlines(), 1) if "severed_observd_min" in s)
    assert f"p.yaml:{line}" in str(exc.value) and "severed_observd_min" in str(exc.value)


def test_first_matching_rule_decides() -> None:
    p = load_policy(SAMPLE)
    d = p.decide(FACTS | {"severed_observed": 1, "undocumented": 1, "max_criticality": "critical"})
    assert (d.tier, d.rule, d.approver_role) == (
        "cab",
        "critical-undocumented-dependency",
        "change-advisory-board",
    )
    assert p.decide(FACTS | {"severed_observed": 1, "max_criticality": "low"}).tier == "approval"
    assert p.decide(FACTS).tier == "auto"


def test_unknowns_and_opaque_never_auto_even_if_a_rule_says_so() -> None:
    text = SAMPLE.read_text()
    p = parse_policy(
        text[: text.index("  - id: critical")] + "  - id: always\n    when: {}\n    tier: auto\n", "x"
    )
    d = p.decide(FACTS | {"unknowns": 1})
    assert d.tier == "approval" and d.notes
    assert p.decide(FACTS | {"fidelity": "opaque"}).tier == "approval"
    assert p.decide(FACTS).tier == "auto"


def test_a_rule_can_count_only_services_reached_by_observed_use() -> None:
    """``observed_impact_criticality_at_least`` looks at services reached by membership or observed use and
    data (``max_criticality_observed``), not at those only a CMDB relation reaches."""
    p = parse_policy(
        "schema_version: 1\npolicy_id: t\nversion: '1'\nauthority: test\nowner_role: ciso\nrules:\n"
        "  - id: observed-critical\n    when: {observed_impact_criticality_at_least: critical}\n"
        "    tier: cab\n    approver_role: change-advisory-board\n"
        "  - id: rest\n    when: {}\n    tier: approval\n",
        "t.yaml",
    )
    documented_only = FACTS | {"max_criticality": "critical", "max_criticality_observed": "high"}
    assert p.decide(documented_only).rule == "rest"
    assert p.decide(documented_only | {"max_criticality_observed": "critical"}).rule == "observed-critical"
