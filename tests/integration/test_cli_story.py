"""The fraud-pipeline story through the real command line, one command at a time, as a user runs it."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest

from analyzer.schemas import score_result_schema
from tests.conftest import SAMPLE_AS_OF, blastwall_cmd

LEGACY_ETL = "arn:aws:iam::739406228105:role/legacy-etl-role"
DATALAKE_READER = "arn:aws:iam::482510973311:role/datalake-reader"
FEATURE_PIPELINE = "arn:aws:iam::615294837560:role/fraud-feature-pipeline"


def run(store: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [*blastwall_cmd(), "--store", str(store), *args], capture_output=True, text=True, timeout=300
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"blastwall {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory, sample_dir: Path) -> dict:
    store = tmp_path_factory.mktemp("story") / "store"
    run(store, "ingest", "aws-snapshot", str(sample_dir / "aws"), "--collected-at", SAMPLE_AS_OF)
    run(store, "ingest", "cloudtrail", str(sample_dir / "cloudtrail"))
    run(store, "ingest", "flowlogs", str(sample_dir / "flowlogs"))
    run(store, "ingest", "cmdb", "servicenow", str(sample_dir / "servicenow"))
    run(store, "propose", str(sample_dir / "findings" / "securityhub-access-analyzer.json"))
    out = run(
        store,
        "score",
        "--as-of",
        SAMPLE_AS_OF,
        "--policy",
        str(sample_dir / "policy" / "tier-policy.yaml"),
        "--format",
        "json",
    )
    payload = json.loads(out.stdout)
    return {"store": store, "payload": payload}


def _the_trust_fix(payload: dict) -> dict:
    (result,) = [
        r
        for r in payload["results"]
        if r["change"]["target"] == DATALAKE_READER and "739406228105" in r["source"]["finding_id"]
    ]
    return result


def test_output_matches_the_shipped_schema(story: dict) -> None:
    jsonschema.validate(story["payload"], score_result_schema())
    assert story["payload"]["as_of"] == SAMPLE_AS_OF


def test_the_trust_fix_is_not_auto_and_names_why(story: dict) -> None:
    r = _the_trust_fix(story["payload"])
    assert r["tier"] == "cab"
    assert r["tier_rule"] == "critical-undocumented-dependency"
    assert r["source"]["format"] == "asff" and r["change"]["kind"] == "iam.update_trust_policy"


def test_severed_dependency_is_the_etl_role_observed_and_undocumented(story: dict) -> None:
    r = _the_trust_fix(story["payload"])
    observed = [s for s in r["severed"] if s["observed"]]
    assert [(s["consumer"], s["provider"]) for s in observed] == [(LEGACY_ETL, DATALAKE_READER)]
    (etl,) = observed
    assert etl["documented"] is False
    # every 5 minutes for 14 days, but for the 36 runs refused while the CSPM's change stood (2026-05-12)
    assert etl["events"] == 14 * 24 * 12 - 36
    assert etl["last_seen"].startswith("2026-05-14T23:55")
    assert r["undocumented_dependencies"] == 1
    # the feature pipeline is trusted by name (and its org condition holds): it keeps its access
    assert FEATURE_PIPELINE not in {s["consumer"] for s in r["severed"]}


def test_fraud_detection_is_impacted_as_critical(story: dict) -> None:
    r = _the_trust_fix(story["payload"])
    by_name = {s["name"]: s for s in r["impacted_services"]}
    assert by_name["Fraud Detection"]["criticality"] == "critical"
    assert by_name["Fraud Detection"]["documented"] is False
    assert by_name["Customer Payments"]["criticality"] == "high"
    assert "Analytics Reporting" not in by_name and "Enterprise Data Lake" not in by_name
    assert r["rollback"]["verified"] is True


def test_the_chain_to_fraud_detection_is_the_etls_writes_and_the_pipelines_reads(story: dict) -> None:
    """Nothing unrelated is impacted, and Fraud Detection is reached the way the story goes: the ETL writes
    its extract, the feature pipeline reads it and writes the features the scoring engine reads, and the
    CMDB says Fraud Detection depends on scoring. The data lake the ETL reads from is not impacted (a
    reader's loss is not its provider's)."""
    r = _the_trust_fix(story["payload"])
    by_name = {s["name"]: s for s in r["impacted_services"]}
    assert set(by_name) == {
        "Fraud Detection",
        "Fraud Scoring Engine",
        "Fraud Feature Pipeline",
        "Customer Payments",
        "Legacy Fraud ETL",
    }
    chain = by_name["Fraud Detection"]["chain"]
    assert [(h["from"], h["relation"], h["to"]) for h in chain] == [
        ("legacy-etl-role", "writes", "data of acme-legacy-etl-output"),
        ("data of acme-legacy-etl-output", "reads", "fraud-feature-pipeline"),
        ("fraud-feature-pipeline", "writes", "data of fraud-features"),
        ("data of fraud-features", "reads", "fraud-scoring-engine"),
        ("fraud-scoring-engine", "member", "Fraud Scoring Engine"),
        ("Fraud Scoring Engine", "documented", "Fraud Detection"),
    ]
    # the ETL's hourly extract: 3 of its runs were refused during the incident
    assert chain[0]["evidence"] == "s3:PutObject x333" and chain[1]["evidence"] == "s3:GetObject x1,344"
    assert chain[2]["evidence"] == "dynamodb:BatchWriteItem x1,344"
    assert by_name["Fraud Scoring Engine"]["reached"] == "observed"
    assert by_name["Fraud Feature Pipeline"]["reached"] == "observed"
    assert by_name["Legacy Fraud ETL"]["reached"] == "membership"
    assert by_name["Fraud Detection"]["reached"] == "documented"
    assert r["impacted_services"][0]["name"] == "Fraud Detection"  # critical, and the business service
    assert r["policy_facts"]["max_criticality"] == "critical"
    assert r["policy_facts"]["max_criticality_observed"] == "critical"  # the scoring engine, by observed data
    assert (
        "Fraud Detection (critical) and 4 more services depend on it (chain through the CMDB: legacy-etl-role "
        "writes acme-legacy-etl-output, read by fraud-feature-pipeline, which writes fraud-features, read by "
        "fraud-scoring-engine, part of Fraud Scoring Engine, which Fraud Detection depends on)"
        in r["summary"]
    )
    assert not r["unknowns"]


def test_a_safer_alternative_keeps_the_observed_use(story: dict) -> None:
    alt = _the_trust_fix(story["payload"])["safer_alternative"]
    assert alt["severed_observed"] == 0 and alt["impacted_services"] == []
    assert [s["consumer"] for s in alt["severed"]] == ["arn:aws:iam::739406228105:role/legacy-ops-automation"]
    assert alt["tier"] == "approval"  # nothing observed breaks, but auto needs a signed risk acceptance
    assert LEGACY_ETL in json.dumps(alt["delta"]) and alt["rollback_verified"] is True


def test_unknowns_are_reported_not_called_safe(story: dict) -> None:
    results = {r["change"]["target"]: r for r in story["payload"]["results"]}
    mgmt = results["arn:aws:iam::210987654321:role/old-vendor-audit"]
    assert mgmt["tier"] != "auto"
    assert "no_evidence_coverage" in {u["reason"] for u in mgmt["unknowns"]}
    vendor = results["arn:aws:iam::482510973311:role/vendor-support-access"]
    assert vendor["tier"] != "auto"
    assert any("sts:ExternalId" in u["detail"] for u in vendor["unknowns"])


def test_reingesting_evidence_does_not_double_count(story: dict, sample_dir: Path) -> None:
    store = story["store"]
    out = run(store, "ingest", "cloudtrail", str(sample_dir / "cloudtrail"))
    assert "already ingested" in out.stdout
    again = json.loads(
        run(
            store,
            "score",
            "--as-of",
            SAMPLE_AS_OF,
            "--format",
            "json",
            "--policy",
            str(sample_dir / "policy" / "tier-policy.yaml"),
        ).stdout
    )
    etl = next(s for s in _the_trust_fix(again)["severed"] if s["observed"])
    assert etl["events"] == 14 * 24 * 12 - 36


def test_csv_and_table_formats(story: dict) -> None:
    csv_out = run(story["store"], "score", "--as-of", SAMPLE_AS_OF, "--format", "csv").stdout
    assert csv_out.splitlines()[0].startswith("proposal_id,tier,")
    table = run(story["store"], "score", "--as-of", SAMPLE_AS_OF).stdout
    assert "UNDOCUMENTED" in table and "Fraud Detection [critical]" in table


def test_malformed_json_names_file_and_path_and_changes_nothing(tmp_path: Path, sample_dir: Path) -> None:
    store = tmp_path / "store"
    run(store, "ingest", "aws-snapshot", str(sample_dir / "aws"))
    bad = tmp_path / "AWSLogs" / "482510973311" / "CloudTrail" / "us-east-1" / "2026" / "05" / "20"
    bad.mkdir(parents=True)
    (bad / "broken.json.gz").write_bytes(
        gzip.compress(b'{"Records": [{"eventTime": "2026-05-20T00:00:00Z", "x": tru')
    )
    before = _dump(store)
    out = run(store, "ingest", "cloudtrail", str(tmp_path / "AWSLogs"), check=False)
    assert out.returncode == 2
    assert "broken.json.gz" in out.stderr and "$.Records[0].x" in out.stderr and ":1:" in out.stderr
    assert _dump(store) == before  # the store is exactly as it was, generation included


def _dump(store: Path) -> tuple:
    from analyzer.graph.store import open_store

    s = open_store(store)
    try:
        g = s.read_graph()
        return g.generation, g.nodes, g.edges, {c: s.get_documents(c) for c in ("coverage", "ingested_files")}
    finally:
        s.close()


def test_bad_file_does_not_stop_the_good_ones(tmp_path: Path, sample_dir: Path) -> None:
    store = tmp_path / "store"
    good = sample_dir / "findings" / "securityhub-access-analyzer.json"
    bad = tmp_path / "unknown.json"
    bad.write_text(json.dumps({"something": "else"}))
    out = run(store, "propose", str(bad), str(good), check=False)
    assert out.returncode == 2
    assert "unknown proposal format" in out.stderr and "asff" in out.stderr
    assert out.stdout.count("imported bw-") == 3
    again = run(store, "propose", str(good))
    assert "3 proposal(s) already imported" in again.stdout


def test_missing_asff_field_is_named(tmp_path: Path, sample_dir: Path) -> None:
    data = json.loads((sample_dir / "findings" / "securityhub-access-analyzer.json").read_text())
    del data["Findings"][1]["AwsAccountId"]
    f = tmp_path / "f.json"
    f.write_text(json.dumps(data))
    out = run(tmp_path / "store", "propose", str(f), check=False)
    assert out.returncode == 2 and "$.Findings[1].AwsAccountId" in out.stderr


def test_newer_store_is_refused(tmp_path: Path, sample_dir: Path) -> None:
    import sqlite3

    store = tmp_path / "store"
    run(store, "propose", str(sample_dir / "findings"))
    con = sqlite3.connect(store / "blastwall.sqlite")
    con.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    con.commit()
    con.close()
    out = run(store, "score", check=False)
    assert out.returncode == 1 and "schema version 2" in out.stderr


def test_demo_prints_the_story_as_json(tmp_path: Path) -> None:
    out = run(tmp_path / "demo-store", "demo", "--no-app", "--format", "json")
    payload = json.loads(out.stdout)
    jsonschema.validate(payload, score_result_schema())
    r = _the_trust_fix(payload)
    assert r["tier"] != "auto" and r["tier"] == "cab"
    # a second demo into the same store starts fresh rather than piling up
    again = json.loads(run(tmp_path / "demo-store", "demo", "--no-app", "--format", "json").stdout)
    assert len(again["results"]) == len(payload["results"])


def test_demo_refuses_a_store_with_other_data(tmp_path: Path, sample_dir: Path) -> None:
    store = tmp_path / "real"
    run(store, "propose", str(sample_dir / "findings"))
    out = run(store, "demo", "--no-app", check=False)
    assert out.returncode == 1 and "not a previous demo" in out.stderr
    assert shutil.which("true")  # the store is still there, untouched:
    assert "bw-" in run(store, "score", "--format", "csv").stdout


def test_malformed_policy_statement_is_named_skipped_and_makes_decisions_conditional(
    tmp_path: Path, sample_dir: Path
) -> None:
    # issue #3: reported with the policy and statement index, skipped; every other policy is still
    # evaluated, and the decisions that depended on the skipped statement are conditional, not allowed.
    # (With the intact sample, legacy-ops-automation may assume itself: its trust names the account and
    # its ops-admin policy allows it.)
    snap = tmp_path / "aws"
    shutil.copytree(sample_dir / "aws", snap)
    gaad = snap / "739406228105" / "global" / "iam-GetAccountAuthorizationDetails.json"
    data = json.loads(gaad.read_text())
    assert data["RoleDetailList"][1]["RoleName"] == "legacy-ops-automation"
    data["RoleDetailList"][1]["AssumeRolePolicyDocument"]["Statement"][0]["Effect"] = "Alow"
    gaad.write_text(json.dumps(data, indent=2))
    store = tmp_path / "store"
    out = run(store, "ingest", "aws-snapshot", str(snap))
    assert str(gaad) in out.stderr
    assert "$.RoleDetailList[1].AssumeRolePolicyDocument.Statement[0].Effect" in out.stderr
    loaded = {line.split()[1].rstrip(":") for line in out.stdout.splitlines()}
    assert loaded == {"210987654321", "482510973311", "615294837560", "739406228105"}
    d = json.loads(
        run(
            store,
            "can",
            "legacy-ops-automation",
            "sts:AssumeRole",
            "legacy-ops-automation",
            "--format",
            "json",
        ).stdout
    )
    assert d["decision"] == "conditional"
    assert any("Statement[0]" in k for k in d["missing_context"])
    # a decision that does not involve the broken statement is unaffected
    d = json.loads(
        run(store, "can", "legacy-etl-role", "sts:AssumeRole", "datalake-reader", "--format", "json").stdout
    )
    assert d["decision"] == "allowed"


def test_misshapen_ec2_response_skips_that_account_only(tmp_path: Path, sample_dir: Path) -> None:
    snap = tmp_path / "aws"
    shutil.copytree(sample_dir / "aws", snap)
    (snap / "615294837560" / "us-east-1" / "ec2-DescribeSubnets.json").write_text(
        '{"Subnets": [{"CidrBlock": "x"}]}'
    )
    out = run(tmp_path / "store", "ingest", "aws-snapshot", str(snap), check=False)
    assert (
        out.returncode == 2 and "615294837560" in out.stderr and "unexpected API response shape" in out.stderr
    )
    assert "Traceback" not in out.stderr
    assert out.stdout.count("account ") == 3


def test_truncated_gzip_keeps_the_records_before_the_damage(tmp_path: Path, sample_dir: Path) -> None:
    src = sorted((sample_dir / "cloudtrail").rglob("*.json.gz"))[0]
    full = json.loads(gzip.decompress(src.read_bytes()))["Records"]
    bad = tmp_path / "AWSLogs" / "482510973311" / "CloudTrail" / "us-east-1" / "cut.json.gz"
    bad.parent.mkdir(parents=True)
    data = src.read_bytes()
    bad.write_bytes(data[: len(data) // 2])
    good = tmp_path / "AWSLogs" / "482510973311" / "CloudTrail" / "us-east-1" / "other.json.gz"
    shutil.copy(sorted((sample_dir / "cloudtrail").rglob("*.json.gz"))[1], good)
    out = run(tmp_path / "store", "ingest", "cloudtrail", str(tmp_path / "AWSLogs"), check=False)
    assert out.returncode == 2
    assert "cut.json.gz" in out.stderr and "truncated gzip" in out.stderr and "kept the" in out.stderr
    kept = int(out.stderr.split("kept the ")[1].split(" ")[0])
    assert 0 < kept < len(full)
    assert out.stdout.startswith("2 file(s)")  # the damaged file's prefix and the good file both loaded


def test_explain_names_the_deciding_statements(story: dict, sample_dir: Path) -> None:
    # explain shows the last scoring; other tests in this module re-score without the sample policy
    run(
        story["store"],
        "score",
        "--as-of",
        SAMPLE_AS_OF,
        "--policy",
        str(sample_dir / "policy" / "tier-policy.yaml"),
    )
    out = run(story["store"], "explain", "bw-87109988a633").stdout
    assert "trust:LegacyBatchAccount" in out and "inline:assume-datalake-reader:AssumeDataLakeReader" in out
    assert "the CMDB does not relate Legacy Fraud ETL to Enterprise Data Lake" in out
    assert "by rule critical-undocumented-dependency" in out
    assert (
        json.loads(run(story["store"], "explain", "bw-87109988a633", "--format", "json").stdout)["tier"]
        == "cab"
    )
    missing = run(story["store"], "explain", "bw-nope", check=False)
    assert missing.returncode == 2 and "has not been scored" in missing.stderr
