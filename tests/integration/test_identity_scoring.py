"""IAM identity change kinds scored on the sample organization: detaching the inline policy that lets the
legacy ETL assume the data-lake reader is the fraud story again; a boundary Blastwall cannot read makes
the role's observed access "may be severed", never safe; a put policy's new reach on sensitive resources
is exposure added. Each rollback is the opposite change and is verified."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import SAMPLE_AS_OF, blastwall_cmd

ETL = "arn:aws:iam::739406228105:role/legacy-etl-role"
SCORING = "arn:aws:iam::615294837560:role/fraud-scoring-engine"
QUEUE = "arn:aws:sqs:us-east-1:615294837560:fraud-alerts"


def run(store: Path, *args: str) -> subprocess.CompletedProcess[str]:
    out = subprocess.run([*blastwall_cmd(), "--store", str(store), *args], capture_output=True, text=True)
    if out.returncode not in (0, 3):
        raise AssertionError(f"{args}: exit {out.returncode}\n{out.stderr}")
    return out


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory, sample_dir: Path) -> dict[str, dict]:
    tmp = tmp_path_factory.mktemp("idscore")
    s = tmp / "store"
    run(s, "ingest", "aws-snapshot", str(sample_dir / "aws"), "--collected-at", SAMPLE_AS_OF)
    run(s, "ingest", "cloudtrail", str(sample_dir / "cloudtrail"))
    run(s, "ingest", "cmdb", "servicenow", str(sample_dir / "servicenow"))
    run(s, "policy", "load", str(sample_dir / "policy" / "tier-policy.yaml"))
    doc = {
        "blastwall_proposals": 1,
        "proposals": [
            {
                "id": "DETACH",
                "title": "t",
                "severity": "high",
                "change": {
                    "kind": "iam.detach_policy",
                    "target": ETL,
                    "delta": {"inline_name": "assume-datalake-reader"},
                },
            },
            {
                "id": "BOUNDARY",
                "title": "t",
                "severity": "medium",
                "change": {
                    "kind": "iam.set_permissions_boundary",
                    "target": ETL,
                    "delta": {"boundary_arn": "arn:aws:iam::739406228105:policy/not-collected"},
                },
            },
            {
                "id": "PUT",
                "title": "t",
                "severity": "low",
                "change": {
                    "kind": "iam.attach_or_put_policy",
                    "target": SCORING,
                    "delta": {
                        "inline_name": "drain-alerts",
                        "document": {
                            "Version": "2012-10-17",
                            "Statement": [
                                {"Effect": "Allow", "Action": "sqs:ReceiveMessage", "Resource": QUEUE}
                            ],
                        },
                    },
                },
            },
        ],
    }
    (tmp / "p.yaml").write_text(yaml.safe_dump(doc))
    run(s, "propose", str(tmp / "p.yaml"))
    res = json.loads(run(s, "score", "--as-of", SAMPLE_AS_OF, "--format", "json").stdout)["results"]
    return {r["source"]["finding_id"]: r for r in res if r["source"]["format"] == "blastwall"}


def test_detaching_the_inline_policy_is_the_fraud_story(results: dict[str, dict]) -> None:
    r = results["DETACH"]
    assert [(s["provider"], s["access"], s["observed"]) for s in r["severed"]] == [
        ("arn:aws:iam::482510973311:role/datalake-reader", "sts:AssumeRole", True)
    ]
    assert r["severed"][0]["events"] == 3996 and r["tier"] == "cab"
    assert any(i["name"] == "Fraud Detection" for i in r["impacted_services"])
    rb = r["rollback"]
    assert rb["verified"] is True and rb["change"]["kind"] == "iam.attach_or_put_policy"
    assert (
        rb["change"]["delta"]["inline_name"] == "assume-datalake-reader"
        and rb["change"]["delta"]["document"]["Statement"]
    )


def test_an_unreadable_boundary_is_unknown_not_safe(results: dict[str, dict]) -> None:
    r = results["BOUNDARY"]
    assert r["severed"] == []
    assert any(
        u["reason"] == "access_may_be_severed" and "datalake-reader" in u["detail"] for u in r["unknowns"]
    )
    assert r["tier"] != "auto" and r["rollback"]["change"]["delta"] == {"boundary_arn": None}


def test_new_reach_on_a_sensitive_queue_is_exposure_added(results: dict[str, dict]) -> None:
    r = results["PUT"]
    assert [(x["resource"], x["access"], x["after"]) for x in r["exposure_added"]] == [
        (QUEUE, "sqs:ReceiveMessage", "allowed")
    ]
    assert r["severed"] == [] and r["rollback"]["verified"] is True
