"""The review teaches the policy (issue #27): a seeded pattern (a rule that let trust changes run
unattended, and one that broke the use it cut) becomes a suggested policy edit with its evidence; only
the policy's owner can adopt it, the ledger records who did, and the adopted policy sends the change that
broke things to a human. Through the real CLI on the sample organization."""

from __future__ import annotations

import gzip
import json
from datetime import timedelta
from pathlib import Path

import pytest

from analyzer.governance.ledger import Ledger, verify
from analyzer.timeutil import iso, now

STORY = "bw-87109988a633"
READER = "arn:aws:iam::482510973311:role/datalake-reader"
pytestmark = pytest.mark.integration

LAX_RULE = """  - id: auto-trust-cleanup
    description: Trust clean-ups run unattended (the CSPM's default).
    when:
      change_kinds: [iam.update_trust_policy]
    tier: auto
"""


def _lax_policy(sample_dir: Path, out: Path) -> Path:
    text = (sample_dir / "policy" / "tier-policy.yaml").read_text()
    out.write_text(text.replace("rules:\n", "rules:\n" + LAX_RULE, 1))
    return out


def _denied(when: str) -> dict:
    return {
        "eventVersion": "1.08",
        "userIdentity": {
            "type": "AssumedRole",
            "accountId": "739406228105",
            "arn": "arn:aws:sts::739406228105:assumed-role/legacy-etl-role/i-0",
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "arn": "arn:aws:iam::739406228105:role/legacy-etl-role",
                    "accountId": "739406228105",
                    "userName": "legacy-etl-role",
                }
            },
        },
        "eventTime": when,
        "eventSource": "sts.amazonaws.com",
        "eventName": "AssumeRole",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "3.91.22.140",
        "errorCode": "AccessDenied",
        "errorMessage": f"User is not authorized to perform: sts:AssumeRole on resource: {READER}",
        "requestParameters": {"roleArn": READER, "roleSessionName": "legacy-etl"},
        "responseElements": None,
        "eventID": "e-" + when,
        "eventType": "AwsApiCall",
        "recipientAccountId": "482510973311",
    }


def test_a_rule_that_let_breakage_run_gets_an_edit_that_sends_it_to_a_human(
    demo_org: dict, sample_dir: Path, tmp_path: Path
) -> None:
    bw = demo_org["bw"]
    # the sample's week: the CSPM's run diverged (no gate pass, unpredicted breakage): a scheduled job's exit 5
    week = bw("review", "--since", "7d", "--until", "2026-05-15T06:00:00Z", "--check", check=False)
    assert week.returncode == 5 and "WITHOUT A GATE PASS; nobody asked Blastwall before it ran" in week.stdout
    replayed = json.loads(
        bw("review", "--since", "7d", "--until", "2026-05-15T06:00:00Z", "--format", "json").stdout
    )
    [run] = replayed["executions"]
    assert run["prediction_before"] is None and run["would_have_said"]["tier"] == "cab"
    assert run["changed_again"][0]["at"] == "2026-05-12T12:13:52Z"  # the on-call engineer's restore
    trust = replayed["patterns"]["change_kind"]["iam.update_trust_policy"]
    # 09:14:29 to 12:13:52: the trust stood changed 2 h 59 min 23 s
    assert trust["median_time_to_restore_s"] == 10763 and trust["without_prediction"] == 1
    quiet = bw("review", "--since", "1d", "--until", "2026-05-10T00:00:00Z", "--check", check=False)
    assert quiet.returncode == 0 and quiet.stdout.count("0 execution(s)") == 1
    bw("policy", "load", str(_lax_policy(sample_dir, tmp_path / "lax.yaml")), "--as", "dana")
    bw(
        "accept-risk", "--as", "dana", "--kind", "iam.update_trust_policy", "--max-risk", "100",
        "--max-criticality", "critical", "--expires", "2099-01-01T00:00:00Z",
        "--statement", "trust clean-ups may run unattended",
    )  # fmt: skip
    scored = json.loads(bw("score", STORY, "--as-of", "2026-05-15T06:00:00Z", "--format", "json").stdout)
    assert (
        scored["results"][0]["tier"] == "auto" and scored["results"][0]["tier_rule"] == "auto-trust-cleanup"
    )
    assert bw("gate", STORY).returncode == 0  # auto under the acceptance: it may run, and it does
    bw("record-execution", STORY, "--outcome", "applied", "--by", "cspm")
    # the ETL is refused after the run (its evidence ingested as CloudTrail delivers it)
    trail = tmp_path / "AWSLogs" / "482510973311" / "CloudTrail" / "us-east-1" / "after.json.gz"
    trail.parent.mkdir(parents=True)
    after = [_denied(iso(now() + timedelta(minutes=m))) for m in (5, 10, 15)]
    trail.write_bytes(gzip.compress(json.dumps({"Records": after}).encode()))
    bw("ingest", "cloudtrail", str(trail))

    until = iso(now() + timedelta(hours=1))
    sdir = tmp_path / "suggestions"
    report = json.loads(
        bw("review", "--since", "1d", "--until", until, "--format", "json", "--suggest-dir", str(sdir)).stdout
    )
    [item] = [i for i in report["executions"] if i["proposal_id"] == STORY]
    assert item["prediction_before"] == "score" and item["tier_then"] == "auto"
    assert [b["consumer"] for b in item["predicted_and_observed"]] == [
        "arn:aws:iam::739406228105:role/legacy-etl-role"
    ]
    edits = [s for s in report["suggestions"] if s["kind"] == "policy_edit"]
    [edit] = edits
    assert edit["edit"] == {
        "insert_before": "auto-trust-cleanup",
        "rule": {
            "id": "auto-trust-cleanup-observed-use",
            "description": "Added after review: iam.update_trust_policy changes that cut observed use need an "
            "approval.",
            "when": {"change_kinds": ["iam.update_trust_policy"], "severed_observed_min": 1},
            "tier": "approval",
            "approver_role": "service-owner",
        },
    }
    assert [e["proposal_id"] for e in edit["evidence"]] == [STORY]
    assert "+  - id: auto-trust-cleanup-observed-use" in edit["patch"]
    # the acceptance that covered it is named too, without a patch (it is the owner's signed record)
    assert any(
        s["kind"] == "acceptance" and STORY in json.dumps(s["evidence"]) for s in report["suggestions"]
    )
    sid = edit["suggestion_id"]
    file = sdir / f"{sid}.yaml"
    text = file.read_text()
    assert text.startswith(f"# Suggested by blastwall review ({sid})")
    assert "# Owned by the CISO" in text  # the owner's comments are kept

    # nothing was applied: the lax rule still decides
    again = json.loads(bw("score", STORY, "--as-of", "2026-05-15T06:00:00Z", "--format", "json").stdout)
    assert again["results"][0]["tier"] == "auto"
    # only the policy's owner adopts it; a refusal writes nothing and loads nothing
    before = len(Ledger(demo_org["ledger"]).records())
    refused = bw("policy", "load", str(file), "--adopts", sid, "--as", "priya", check=False)
    assert refused.returncode == 1 and "CISO" in refused.stderr
    assert len(Ledger(demo_org["ledger"]).records()) == before
    bw("policy", "load", str(file), "--adopts", sid, "--as", "dana", "--statement", "weekly review")
    adoptions = [r for r in Ledger(demo_org["ledger"]).records() if r["type"] == "policy_adoption"]
    # the sample's policy (put in force by the demo), the lax one, and the suggested edit
    assert [a["body"]["suggestion_id"] for a in adoptions] == [None, None, sid]
    adoption = adoptions[-1]
    assert adoption["actor"] == "dana" and adoption["body"]["suggestion_id"] == sid
    assert (
        adoption["body"]["role"] == "CISO"
        and adoption["body"]["previous"]["digest"] != adoption["body"]["policy"]["digest"]
    )
    assert adoption["body"]["previous"]["version"] == "2026.05"  # the lax policy it replaces
    assert verify(demo_org["ledger"], demo_org["root"]).ok

    # the proposal that broke things now needs a human
    now_scored = json.loads(bw("score", STORY, "--as-of", "2026-05-15T06:00:00Z", "--format", "json").stdout)
    r = now_scored["results"][0]
    assert (r["tier"], r["tier_rule"]) == ("approval", "auto-trust-cleanup-observed-use")
    assert now_scored["policy"]["version"] == edit["policy_version"]
