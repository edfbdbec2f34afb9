"""Bucket-policy changes read as what they mean: removing an Allow to "*" ends public access (anonymous
callers are cut, and the result says so); a statement granting another account is exposure added."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from analyzer.governance.tier_policy import load_policy
from analyzer.graph.schema import Batch, NodeRow
from analyzer.graph.snapshot import build_snapshot
from analyzer.scoring.blast import score_proposal
from analyzer.scoring.context import build_context
from tests.unit.test_trust_and_scoring import contents

A, OTHER = "111111111111", "999999999999"
BUCKET = "arn:aws:s3:::public-assets"
PUBLIC_READ = {
    "Sid": "PublicRead",
    "Effect": "Allow",
    "Principal": "*",
    "Action": "s3:GetObject",
    "Resource": f"{BUCKET}/*",
}


def _score(policy: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    b = Batch("t")
    b.nodes.append(
        NodeRow(BUCKET, "S3Bucket", {"name": "public-assets", "policy": policy, "policy_collected": True}, A)
    )
    ctx = build_context(build_snapshot(contents(b)), {})
    proposal = {
        "proposal_id": "p",
        "source": {"format": "test", "finding_id": "f", "title": "t"},
        "change": {
            "kind": "resource_policy.remove_statements",
            "target": BUCKET,
            "account": A,
            "delta": delta,
            "fidelity": "exact",
        },
    }
    return score_proposal(proposal, ctx, load_policy(None), datetime(2026, 5, 15, tzinfo=UTC))


def test_removing_an_allow_to_everyone_ends_public_access() -> None:
    r = _score({"Version": "2012-10-17", "Statement": [PUBLIC_READ]}, {"statement_ids": ["PublicRead"]})
    (s,) = [s for s in r["severed"] if s["consumer"] == "anonymous"]
    assert s["before"]["decision"] == "allowed" and s["access"] == "s3:GetObject"
    assert r["notes"] == [f"ends public access to {BUCKET}: anonymous callers are refused after the change"]
    assert not any("identity policies of *" in " ".join(x["before"]["missing_context"]) for x in r["severed"])


def test_granting_another_account_is_exposure_added() -> None:
    grant = {
        "Sid": "Partner",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"},
        "Action": "s3:GetObject",
        "Resource": f"{BUCKET}/*",
    }
    r = _score(
        {"Version": "2012-10-17", "Statement": []},
        {"new_document": {"Version": "2012-10-17", "Statement": [grant]}},
    )
    (e,) = r["exposure_added"]
    assert e["principal"] == f"arn:aws:iam::{OTHER}:root" and e["scope"] == "another account"
    assert (
        e["access"] == "s3:GetObject" and e["after"] == "conditional"
    )  # the other account's own policies decide
    assert r["policy_facts"]["exposure_added"] == 1


def test_making_a_bucket_public_is_public_exposure() -> None:
    r = _score(
        {"Version": "2012-10-17", "Statement": []},
        {"new_document": {"Version": "2012-10-17", "Statement": [PUBLIC_READ]}},
    )
    assert [(e["principal"], e["scope"], e["after"]) for e in r["exposure_added"]] == [
        ("anonymous", "public", "allowed")
    ]
