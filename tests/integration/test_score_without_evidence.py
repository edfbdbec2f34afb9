"""The first thing a team tries — a snapshot and a security-group fix, no flow logs — is scored, with the
missing evidence as an unknown; a proposal that cannot be scored makes `score` exit 1 after the batch."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from analyzer.graph.store import open_store
from tests.conftest import SAMPLE_AS_OF, blastwall_cmd

pytestmark = pytest.mark.integration
SG = "arn:aws:ec2:us-east-1:739406228105:security-group/sg-27114a32aa14afd0c"


def run(store: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*blastwall_cmd(), "--store", str(store), *args], capture_output=True, text=True)


@pytest.fixture
def snapshot_only(tmp_path: Path, sample_dir: Path) -> Path:
    store = tmp_path / "store"
    assert (
        run(
            store, "ingest", "aws-snapshot", str(sample_dir / "aws"), "--collected-at", SAMPLE_AS_OF
        ).returncode
        == 0
    )
    proposal = tmp_path / "sg.json"
    proposal.write_text(
        json.dumps(
            {
                "blastwall_proposals": 1,
                "proposals": [
                    {
                        "id": "sg-egress",
                        "title": "revoke the wide egress",
                        "change": {
                            "kind": "sg.revoke_rules",
                            "target": SG,
                            "delta": {
                                "egress": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
                            },
                        },
                    }
                ],
            }
        )
    )
    assert run(store, "propose", str(proposal)).returncode == 0
    return store


def test_a_security_group_fix_without_flow_logs_is_scored_with_the_gap_named(snapshot_only: Path) -> None:
    out = run(snapshot_only, "score", "--as-of", SAMPLE_AS_OF, "--format", "json")
    assert out.returncode == 0, out.stderr
    (r,) = json.loads(out.stdout)["results"]
    assert r["status"] == "scored" and r["tier"] != "blocked"
    reasons = [u["reason"] for u in r["unknowns"]]
    assert "scoring_error" not in reasons and "no_evidence_coverage" in reasons
    assert "no VPC flow log evidence for account 739406228105" in " ".join(u["detail"] for u in r["unknowns"])


def test_a_proposal_that_cannot_be_scored_makes_score_exit_1(snapshot_only: Path) -> None:
    store = open_store(str(snapshot_only))
    (good,) = store.get_documents("proposals").values()
    broken = dict(good, proposal_id="broken-1")
    broken["change"] = dict(good["change"], delta={"ingress": "not a list of permissions"})
    store.put_documents(
        "proposals", {"broken-1": broken}
    )  # as a store written by an older version might hold
    out = run(snapshot_only, "score", "--as-of", SAMPLE_AS_OF, "--format", "json")
    assert out.returncode == 1
    assert "error: 1 of 2 proposal(s) could not be scored: broken-1" in out.stderr
    results = {r["proposal_id"]: r for r in json.loads(out.stdout)["results"]}
    assert results["broken-1"]["status"] == "error" and results[good["proposal_id"]]["status"] == "scored"
