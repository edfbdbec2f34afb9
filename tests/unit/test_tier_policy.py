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
