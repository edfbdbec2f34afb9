"""`blastwall can`, `who-can` and `facts` on the sample organization, as a user runs them."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import SAMPLE_AS_OF, blastwall_cmd

DATA, LEGACY, FRAUD = "482510973311", "739406228105", "615294837560"
KEY = f"arn:aws:kms:us-east-1:{DATA}:key/5b1e7c2a-9d4f-4e8b-a3c6-2f7d9e1b4a80"
QUEUE = f"arn:aws:sqs:us-east-1:{FRAUD}:fraud-alerts"


def run(store: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    out = subprocess.run([*blastwall_cmd(), "--store", str(store), *args], capture_output=True, text=True)
    if check and out.returncode != 0:
        raise AssertionError(f"{args}: exit {out.returncode}\n{out.stderr}")
    return out


def js(store: Path, *args: str) -> dict:
    return json.loads(run(store, *args, "--format", "json").stdout)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, sample_dir: Path) -> Path:
    s = tmp_path_factory.mktemp("iam") / "store"
    run(s, "ingest", "aws-snapshot", str(sample_dir / "aws"), "--collected-at", SAMPLE_AS_OF)
    run(s, "ingest", "cloudtrail", str(sample_dir / "cloudtrail"))
    run(s, "ingest", "cmdb", "servicenow", str(sample_dir / "servicenow"))
    return s


def test_can_json_shape_and_the_story_grant(store: Path) -> None:
    d = js(store, "can", "legacy-etl-role", "sts:AssumeRole", "datalake-reader")
    assert {"decision", "statements", "missing_context"} <= d.keys()
    assert d["decision"] == "allowed"
    # cross-account: both the caller's identity policy and the trust policy's account grant decide it
    assert f"arn:aws:iam::{DATA}:role/datalake-reader#trust:LegacyBatchAccount" in d["statements"]
    assert any(s.startswith(f"arn:aws:iam::{LEGACY}:role/legacy-etl-role#inline:") for s in d["statements"])


def test_can_explain_prints_the_deciding_statement_text(store: Path) -> None:
    out = run(store, "can", "legacy-etl-role", "sts:AssumeRole", "datalake-reader", "--explain").stdout
    assert out.startswith("ALLOWED") and '"Sid": "LegacyBatchAccount"' in out


def test_context_decides_a_conditional(store: Path) -> None:
    obj = "arn:aws:s3:::acme-datalake-curated/part-0001.parquet"
    base = js(store, "can", "datalake-reader", "s3:GetObject", obj)
    assert base["decision"] == "conditional" and base["missing_context"] == ["aws:SecureTransport"]
    tls = js(store, "can", "datalake-reader", "s3:GetObject", obj, "--context", "aws:SecureTransport=true")
    plain = js(store, "can", "datalake-reader", "s3:GetObject", obj, "--context", "aws:SecureTransport=false")
    assert tls["decision"] == "allowed" and plain["decision"] == "denied"
    assert plain["statements"] == ["arn:aws:s3:::acme-datalake-curated#policy:DenyInsecureTransport"]


def test_who_can_assume_the_story_role(store: Path) -> None:
    d = js(store, "who-can", "sts:AssumeRole", "datalake-reader")
    states = {p["principal"]: p["decision"] for p in d["principals"]}
    assert states[f"arn:aws:iam::{LEGACY}:role/legacy-etl-role"] == "allowed"
    assert states[f"arn:aws:iam::{FRAUD}:role/fraud-feature-pipeline"] == "allowed"
    # a principal whose identity policy does not allow it is not listed
    assert f"arn:aws:iam::{FRAUD}:role/fraud-scoring-engine" not in states
    everyone = js(store, "who-can", "sts:AssumeRole", "datalake-reader", "--all")
    assert everyone["count"] > d["count"]


def test_key_policy_decides_kms(store: Path) -> None:
    d = js(store, "who-can", "kms:Decrypt", KEY)
    states = {p["principal"]: p for p in d["principals"]}
    reader = states[f"arn:aws:iam::{DATA}:role/datalake-reader"]
    assert reader["decision"] == "allowed" and f"{KEY}#key-policy:CuratedZoneReaders" in reader["statements"]
    # a role of another account is not in the key policy: denied, so not listed
    assert f"arn:aws:iam::{LEGACY}:role/legacy-etl-role" not in states


def test_queue_and_function_policies(store: Path) -> None:
    assert js(store, "can", "fraud-scoring-engine", "sqs:SendMessage", QUEUE)["decision"] == "allowed"
    assert js(store, "can", "legacy-etl-role", "sqs:SendMessage", QUEUE)["decision"] == "denied"
    fn = "fraud-alert-dispatch"
    d = js(store, "can", "sqs.amazonaws.com", "lambda:InvokeFunction", fn)
    assert d["decision"] == "conditional" and d["missing_context"] == ["AWS:SourceArn"]
    d = js(
        store, "can", "sqs.amazonaws.com", "lambda:InvokeFunction", fn, "--context", f"aws:SourceArn={QUEUE}"
    )
    assert d["decision"] == "allowed"


def test_facts_cover_observed_trust_and_sensitive(store: Path) -> None:
    d = js(store, "facts")
    facts = d["facts"]
    story = [
        f
        for f in facts
        if f["kind"] == "CAN_ASSUME"
        and f["principal"].endswith("legacy-etl-role")
        and f["resource"].endswith("datalake-reader")
    ]
    assert story and story[0]["decision"] == "allowed" and story[0]["computed_for"] == "observed"
    sensitive = {
        (f["principal"], f["action"], f["resource"]) for f in facts if f["computed_for"] == "sensitive"
    }
    assert (f"arn:aws:iam::{DATA}:role/datalake-reader", "kms:Decrypt", KEY) in sensitive
    decided = {f["decision"] for f in facts}
    assert decided == {"allowed", "denied", "conditional"}
    assert d["by_kind"]["CAN_ASSUME"]["allowed"] >= 3


def test_unknown_principal_is_bad_input(store: Path) -> None:
    out = run(store, "can", "no-such-role", "s3:GetObject", "acme-datalake-curated", check=False)
    assert out.returncode == 2 and "no role or user named 'no-such-role'" in out.stderr
    out = run(store, "can", "datalake-reader", "s3:GetObject", "x", "--context", "novalue", check=False)
    assert out.returncode == 2 and "KEY=VALUE" in out.stderr


def test_the_faults_issue_18_reported(store: Path, tmp_path: Path) -> None:
    """The requests issue #18 found answered wrongly, as a user asks them."""
    # a role's trust policy does not decide iam:PassRole (it was: "denied, the trust policy does not allow it")
    d = js(store, "can", "legacy-ops-automation", "iam:PassRole", "legacy-etl-role")
    assert d["decision"] == "allowed" and not any("#trust" in st for st in d["statements"])
    assert f"arn:aws:iam::{LEGACY}:role/legacy-ops-automation#inline:ops-admin:#0" in d["statements"]
    rows = js(store, "who-can", "iam:PassRole", "legacy-etl-role")["principals"]
    assert [r["principal"] for r in rows] == [f"arn:aws:iam::{LEGACY}:role/legacy-ops-automation"]
    # an IAM user has no resource policy (it was: "conditional: resource policy ... not collected")
    assert js(store, "can", "legacy-ops-automation", "iam:GetUser", "etl-operator")["decision"] == "allowed"
    # '*' resources (it was refused)
    assert js(store, "can", "legacy-ops-automation", "s3:ListAllMyBuckets", "*")["decision"] == "allowed"
    assert js(store, "can", "etl-operator", "s3:ListAllMyBuckets", "*")["decision"] == "denied"
    g = js(store, "can", "etl-operator", "sts:GetCallerIdentity", "*")
    assert g["decision"] == "allowed" and "needs no permission" in g["reason"]
    # anonymous callers: the curated bucket's only '*' statement is a Deny, so nobody anonymous reads it
    a = js(
        store, "can", "--anonymous", "s3:GetObject", "arn:aws:s3:::acme-datalake-curated/part-0001.parquet"
    )
    assert a["principal"] == "anonymous" and a["decision"] == "denied"
    listed = js(store, "who-can", "s3:GetObject", "arn:aws:s3:::acme-datalake-curated/p", "--all")[
        "principals"
    ]
    assert "anonymous" in [r["principal"] for r in listed]
    # a session policy narrows the role session
    sp = tmp_path / "session.json"
    sp.write_text(
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"}],
            }
        )
    )
    obj = "arn:aws:s3:::acme-datalake-curated/part-0001.parquet"
    s = js(store, "can", "datalake-reader", "s3:GetObject", obj, "--session-policy", str(sp))
    assert s["decision"] == "denied" and s["reason"] == "the session policy does not allow it"
    # a user cannot carry a session policy; a shell-expanded '*' is named
    bad = run(store, "can", "etl-operator", "s3:GetObject", obj, "--session-policy", str(sp), check=False)
    assert bad.returncode == 2 and "needs a role session" in bad.stderr
    many = run(store, "can", "etl-operator", "s3:ListAllMyBuckets", "README.md", "docs", check=False)
    assert many.returncode == 2 and "quote" in many.stderr
