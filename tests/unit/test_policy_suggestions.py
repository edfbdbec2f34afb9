"""Suggested policy edits from review patterns: which pattern gives which edit, that the edit keeps the
owner's file and loads, and what gives none."""

from __future__ import annotations

from typing import Any

from analyzer.governance.policy_suggestions import suggest
from analyzer.governance.tier_policy import parse_policy
from tests.conftest import SAMPLE

TEXT = (SAMPLE / "policy" / "tier-policy.yaml").read_text()
POLICY = parse_policy(TEXT, "tier-policy.yaml")


def _run(pid: str, **over: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "proposal_id": pid,
        "change": {"kind": "sg.revoke_rules", "target": "sg-1"},
        "change_kind": "sg.revoke_rules",
        "executed_at": "2026-05-12T09:00:00Z",
        "reported_by": "custodian",
        "tier_then": "auto",
        "tier_rule": "no-observed-impact",
        "prediction_before": "score",
        "gate_passed_before_execution": True,
        "predicted_and_observed": [],
        "unpredicted_breakage": [],
        "coverage_days": 14,
        "risk_acceptance": "ra-1",
        "would_have_said": None,
    }
    return item | over


def _report(*items: dict[str, Any]) -> dict[str, Any]:
    return {"executions": list(items)}


def test_unseen_breakage_under_thin_evidence_asks_a_human_while_it_is_thin() -> None:
    broke = _run("bw-a", unpredicted_breakage=[{"consumer": "i-1", "provider": "sg-1"}], coverage_days=6)
    [edit, acceptance] = suggest(_report(broke, _run("bw-b")), POLICY, TEXT)
    assert edit["kind"] == "policy_edit" and edit["edit"]["insert_before"] == "no-observed-impact"
    assert edit["edit"]["rule"]["when"] == {"change_kinds": ["sg.revoke_rules"], "coverage_days_below": 7}
    assert edit["edit"]["rule"]["tier"] == "approval"
    assert (
        "let 2 sg.revoke_rules change(s) run" in edit["title"]
        and "1 broke use nobody predicted" in edit["title"]
    )
    new = parse_policy(edit["policy_yaml"], "suggested")
    assert [r["id"] for r in new.doc["rules"]][-2:] == [edit["edit"]["rule"]["id"], "no-observed-impact"]
    assert "# Owned by the CISO" in edit["policy_yaml"]  # the owner's comments kept
    facts = {"change_kind": "sg.revoke_rules", "fidelity": "exact", "severed": 0, "severed_observed": 0,
             "undocumented": 0, "unknowns": 0, "max_criticality": None, "max_criticality_observed": None,
             "exposure_added": 0, "coverage_days": 6}  # fmt: skip
    assert POLICY.decide(facts).tier == "auto" and new.decide(facts).tier == "approval"
    assert new.decide(facts | {"coverage_days": 14}).tier == "auto"  # full evidence: unchanged
    assert acceptance["kind"] == "acceptance" and "ra-1" in acceptance["title"]


def test_the_same_pattern_is_the_same_suggestion_and_clean_runs_give_none() -> None:
    broke = _run("bw-a", unpredicted_breakage=[{"consumer": "i-1", "provider": "sg-1"}], coverage_days=90)
    first = suggest(_report(broke), POLICY, TEXT)[0]
    again = suggest(_report(broke | {"proposal_id": "bw-z"}), POLICY, TEXT)[0]
    assert first["suggestion_id"] == again["suggestion_id"]
    assert first["edit"]["rule"]["when"] == {"change_kinds": ["sg.revoke_rules"]}  # whole window: always
    assert suggest(_report(_run("bw-b"), _run("bw-c")), POLICY, TEXT) == []


def test_a_run_nobody_asked_about_is_a_process_finding_not_a_policy_edit() -> None:
    cspm = _run(
        "bw-d",
        prediction_before=None,
        gate_passed_before_execution=False,
        reported_by="aws-ssm-automation:Fix",
        unpredicted_breakage=[{"consumer": "etl", "provider": "r"}],
        would_have_said={"tier": "cab"},
        risk_acceptance=None,
    )
    [finding] = suggest(_report(cspm), POLICY, TEXT)
    assert finding["kind"] == "process" and "patch" not in finding
    assert "aws-ssm-automation:Fix ran 1 change(s) without asking the gate" in finding["title"]
    assert "would have required cab" in finding["title"]
