"""IAM Access Analyzer as its API returns it (get-finding-v2, get-finding-recommendation; fixtures in
tests/data/proposals/ against the sample organization): the external-access finding on the data-lake
reader is the fraud story; the one on the legacy ETL bucket severs the fraud pipeline's reads; the
least-privilege recommendation becomes an exact iam.replace_policy; an unused role is opaque."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import SAMPLE_AS_OF, blastwall_cmd

DATA = Path(__file__).parent.parent / "data" / "proposals"


def run(store: Path, *args: str) -> subprocess.CompletedProcess[str]:
    out = subprocess.run([*blastwall_cmd(), "--store", str(store), *args], capture_output=True, text=True)
    if out.returncode not in (0, 3):
        raise AssertionError(f"{args}: exit {out.returncode}\n{out.stderr}")
    return out


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory, sample_dir: Path) -> dict[str, dict]:
    s = tmp_path_factory.mktemp("aa") / "store"
    run(s, "ingest", "aws-snapshot", str(sample_dir / "aws"), "--collected-at", SAMPLE_AS_OF)
    run(s, "ingest", "cloudtrail", str(sample_dir / "cloudtrail"))
    run(s, "ingest", "cmdb", "servicenow", str(sample_dir / "servicenow"))
    run(s, "policy", "load", str(sample_dir / "policy" / "tier-policy.yaml"))
    out = run(
        s,
        "propose",
        *(
            str(DATA / f)
            for f in (
                "access-analyzer-role.json",
                "access-analyzer-findings.json",
                "access-analyzer-recommendation.json",
            )
        ),
    )
    assert out.stdout.count("imported bw-") == 4
    res = json.loads(run(s, "score", "--as-of", SAMPLE_AS_OF, "--format", "json").stdout)["results"]
    return {r["change"]["target"]: r for r in res if r["source"]["format"].startswith("access-analyzer")}


def test_external_access_on_the_role_is_the_fraud_story(results: dict[str, dict]) -> None:
    r = results["arn:aws:iam::482510973311:role/datalake-reader"]
    assert r["change"]["kind"] == "iam.update_trust_policy" and r["change"]["delta"] == {
        "remove_principals_of_account": ["739406228105"]
    }
    assert r["tier"] == "cab" and any(
        s["consumer"].endswith("legacy-etl-role") and s["observed"] for s in r["severed"]
    )


def test_external_access_on_the_bucket_severs_the_pipeline(results: dict[str, dict]) -> None:
    r = results["arn:aws:s3:::acme-legacy-etl-output"]
    assert r["change"]["kind"] == "resource_policy.remove_statements"
    assert [s["consumer"] for s in r["severed"] if s["observed"]] == [
        "arn:aws:iam::615294837560:role/fraud-feature-pipeline"
    ]
    assert r["rollback"]["verified"] is True


def test_recommendation_is_an_exact_replacement(results: dict[str, dict]) -> None:
    r = results["arn:aws:iam::482510973311:role/vendor-support-access"]
    assert r["change"]["kind"] == "iam.replace_policy" and r["change"]["fidelity"] == "exact"
    assert r["change"]["delta"]["detach"] == {"policy_arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}
    assert r["rollback"]["change"]["kind"] == "iam.replace_policy" and r["rollback"]["verified"] is True


def test_unused_role_is_opaque(results: dict[str, dict]) -> None:
    r = results["arn:aws:iam::210987654321:role/old-vendor-audit"]
    assert r["change"]["kind"] == "opaque.runbook" and r["tier"] != "auto"
