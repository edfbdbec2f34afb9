"""Anchoring the ledger's head in S3 with Object Lock, through boto3 against a moto server over HTTP:
the object gets a compliance-mode retention, cannot be deleted while it holds, and `audit verify --anchor
s3://…` catches a ledger cut back behind the anchored head."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from analyzer.governance import signing
from analyzer.governance.authority import RECORDER_NAME
from tests.conftest import blastwall_cmd
from tests.forgery import lines, resign_head, truncate_to

pytestmark = pytest.mark.integration
STORY = "bw-87109988a633"
BUCKET = "acme-ledger-witness"


def test_decisions_anchor_themselves_in_an_object_lock_bucket(moto_server: str, tmp_path: Path) -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET, ObjectLockEnabledForBucket=True)
    s3.put_object_lock_configuration(
        Bucket=BUCKET,
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 30}},
        },
    )
    store = tmp_path / "store"
    env = os.environ | {
        "BLASTWALL_KEYS": str(store / "demo-keys"),
        "BLASTWALL_TRUST_ROOT": str(store / "trust-root.json"),
    }

    def bw(*args: str, anchor: bool = True) -> subprocess.CompletedProcess[str]:
        e = env | ({"BLASTWALL_ANCHOR": f"s3://{BUCKET}/blastwall"} if anchor else {})
        return subprocess.run(
            [*blastwall_cmd(), "--store", str(store), *args],
            capture_output=True,
            text=True,
            env=e,
            timeout=300,
        )

    assert bw("demo", "--no-app", anchor=False).returncode == 0
    ledger = store / "ledger.jsonl"
    before = len(lines(ledger))
    out = bw("reject", STORY, "--as", "priya", "--comment", "feeds fraud detection")
    assert out.returncode == 0, out.stderr
    objects = s3.list_objects_v2(Bucket=BUCKET, Prefix="blastwall/")["Contents"]
    assert len(objects) == 1
    key = objects[0]["Key"]
    head = s3.head_object(Bucket=BUCKET, Key=key)  # (moto answers GetObjectRetention with a 500; HEAD has it)
    assert head["ObjectLockMode"] == "COMPLIANCE" and head["ObjectLockRetainUntilDate"] > datetime.now(UTC)
    version = head["VersionId"]
    with pytest.raises(ClientError):  # compliance mode: nobody deletes it before the date
        s3.delete_object(Bucket=BUCKET, Key=key, VersionId=version)

    assert bw("audit", "verify").returncode == 0
    # a store writer rolls the rejection back and re-signs the head with the recorder's key
    truncate_to(ledger, before)
    resign_head(ledger, signing.load_private_key(RECORDER_NAME, store / "recorder"), RECORDER_NAME)
    assert bw("audit", "verify", anchor=False).returncode == 0  # invisible without the witness
    out = bw("audit", "verify")
    assert out.returncode == 1 and "rolled back" in out.stdout and f"s3://{BUCKET}/blastwall/" in out.stdout
    assert bw("gate", STORY).returncode == 3


def test_an_anchor_without_object_lock_is_still_written_and_read(moto_server: str, tmp_path: Path) -> None:
    boto3.client("s3").create_bucket(Bucket="plain-witness")
    store = tmp_path / "store"
    env = os.environ | {
        "BLASTWALL_KEYS": str(store / "demo-keys"),
        "BLASTWALL_TRUST_ROOT": str(store / "trust-root.json"),
    }
    run = [*blastwall_cmd(), "--store", str(store)]
    assert subprocess.run([*run, "demo", "--no-app"], env=env, capture_output=True).returncode == 0
    out = subprocess.run(
        [*run, "audit", "anchor", "--to", "s3://plain-witness/x"], env=env, capture_output=True, text=True
    )
    assert out.returncode == 0 and "anchored head" in out.stdout, out.stderr
    out = subprocess.run(
        [*run, "audit", "verify", "--anchor", "s3://plain-witness/x", "--format", "json"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0 and '"anchors_checked": 1' in out.stdout
