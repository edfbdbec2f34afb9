"""Trust changes that drop or condition a service principal, on the sample organization: the legacy ETL
instance gets its credentials by ec2.amazonaws.com assuming legacy-etl-role (CloudTrail records it every
six hours, type AWSService); removing EC2 from the trust severs the instance and what depends on it;
Prowler's confused-deputy fix (aws:SourceAccount) makes it "may be severed", never safe."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from analyzer import api
from analyzer.demo import SAMPLE_AS_OF, run_demo
from analyzer.governance.tier_policy import load_policy
from analyzer.graph.store import GraphStore
from analyzer.scoring.blast import score_proposal
from analyzer.timeutil import parse_time
from connectors.proposals import Skipped, ocsf

pytestmark = pytest.mark.integration
LEGACY = "739406228105"
ROLE = f"arn:aws:iam::{LEGACY}:role/legacy-etl-role"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> GraphStore:
    store, _ = run_demo(str(tmp_path_factory.mktemp("svc") / "store"))
    return store


def _score(store: GraphStore, delta: dict[str, Any]) -> dict[str, Any]:
    proposal = {
        "proposal_id": "p-svc",
        "source": {"format": "test", "finding_id": "f", "title": "t", "severity": "HIGH"},
        "change": {
            "kind": "iam.update_trust_policy",
            "target": ROLE,
            "account": LEGACY,
            "delta": delta,
            "fidelity": "exact",
        },
    }
    ctx = api.analysis_context(store)
    return score_proposal(proposal, ctx, load_policy(None), parse_time(SAMPLE_AS_OF))


def test_dropping_ec2_severs_the_instance_that_runs_as_the_role(demo: GraphStore) -> None:
    r = _score(demo, {"remove_service_principals": ["ec2.amazonaws.com"]})
    (s,) = [s for s in r["severed"] if s.get("via_service") == "ec2.amazonaws.com"]
    assert s["consumer"].startswith(f"arn:aws:ec2:us-east-1:{LEGACY}:instance/i-")
    assert s["observed"] and s["events"] == 14 * 4  # every six hours over the 14-day window
    assert s["consumer_cis"] == ["Legacy Fraud ETL"] and s["access"] == "sts:AssumeRole by ec2.amazonaws.com"
    assert "ec2.amazonaws.com may no longer assume the role" in s["after"]["reason"]
    # the instance's business services are impacted, like any severed dependency
    assert any(svc["name"] == "Legacy Fraud ETL" for svc in r["impacted_services"]), r["impacted_services"]
    assert r["rollback"]["verified"] is True
    assert r["tier"] != "auto"


def test_the_confused_deputy_fix_may_sever_and_says_why(demo: GraphStore) -> None:
    r = _score(demo, {"add_service_condition": {"StringEquals": {"aws:SourceAccount": LEGACY}}})
    assert not [s for s in r["severed"] if s.get("via_service")]
    (u,) = [u for u in r["unknowns"] if u["reason"] == "access_may_be_severed"]
    assert "ec2.amazonaws.com would assume" in u["detail"] and "aws:SourceAccount" in u["detail"]
    assert "observed assuming it in CloudTrail" in u["detail"]
    assert r["tier"] != "auto"


def test_a_service_nobody_runs_as_the_role_changes_nothing(demo: GraphStore) -> None:
    r = _score(demo, {"remove_service_principals": ["lambda.amazonaws.com"]})
    assert r["status"] == "already_applied" and r["severed"] == [] and r["unknowns"] == []


def test_prowler_confused_deputy_finding_becomes_the_condition() -> None:
    """Prowler 5.46's own OCSF output (prowler aws -c iam_role_cross_service_confused_deputy_prevention
    against moto: one role trusting EC2 bare, one trusting Lambda on aws:SourceAccount): the FAIL becomes
    the condition for the finding's own account; the PASS becomes nothing."""
    finding = json.loads(
        (
            Path(__file__).parent.parent / "data" / "proposals" / "prowler-confused-deputy-ocsf.json"
        ).read_text()
    )
    out = ocsf.parse(finding, "prowler-confused-deputy-ocsf.json")
    (p,) = [x for x in out if isinstance(x, dict)]
    assert [x.reason for x in out if isinstance(x, Skipped)] == ["passed"]
    change = p["change"]
    assert (
        change["kind"] == "iam.update_trust_policy"
        and change["lookup"] == "check:iam_role_cross_service_confused_deputy_prevention"
    )
    assert change["delta"] == {
        "add_service_condition": {"StringEquals": {"aws:SourceAccount": change["account"]}}
    }
