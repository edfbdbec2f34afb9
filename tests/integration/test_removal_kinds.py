"""Taking a resource away (sample organization): stopping the legacy ETL host cuts its observed flows and
says its role's calls may be its own; deleting the ETL output bucket severs the fraud pipeline's reads and
cannot be rolled back, which the result says and the tier reflects."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import SAMPLE_AS_OF, blastwall_cmd


def run(store: Path, *args: str) -> subprocess.CompletedProcess[str]:
    out = subprocess.run([*blastwall_cmd(), "--store", str(store), *args], capture_output=True, text=True)
    if out.returncode not in (0, 3):
        raise AssertionError(f"{args}: exit {out.returncode}\n{out.stderr}")
    return out


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory, sample_dir: Path) -> dict[str, dict]:
    tmp = tmp_path_factory.mktemp("removal")
    s = tmp / "store"
    for what, path in (("aws-snapshot", "aws"), ("cloudtrail", "cloudtrail"), ("flowlogs", "flowlogs")):
        run(
            s,
            "ingest",
            what,
            str(sample_dir / path),
            *(["--collected-at", SAMPLE_AS_OF] if what == "aws-snapshot" else []),
        )
    run(s, "ingest", "cmdb", "servicenow", str(sample_dir / "servicenow"))
    run(s, "policy", "load", str(sample_dir / "policy" / "tier-policy.yaml"))
    inst = json.loads((sample_dir / "aws/739406228105/us-east-1/ec2-DescribeInstances.json").read_text())
    iid = inst["Reservations"][0]["Instances"][0]["InstanceId"]
    doc = {
        "blastwall_proposals": 1,
        "proposals": [
            {
                "id": "STOP",
                "title": "t",
                "change": {"kind": "compute.stop_or_terminate", "target": iid, "delta": {"action": "stop"}},
            },
            {
                "id": "DELETE",
                "title": "t",
                "change": {
                    "kind": "resource.delete",
                    "target": "arn:aws:s3:::acme-legacy-etl-output",
                    "delta": {},
                },
            },
        ],
    }
    (tmp / "p.yaml").write_text(yaml.safe_dump(doc))
    run(s, "propose", str(tmp / "p.yaml"))
    res = json.loads(run(s, "score", "--as-of", SAMPLE_AS_OF, "--format", "json").stdout)["results"]
    return {r["source"]["finding_id"]: r for r in res if r["source"]["format"] == "blastwall"}


def test_stopping_the_etl_host_cuts_its_flows(results: dict[str, dict]) -> None:
    r = results["STOP"]
    providers = {s["provider"] for s in r["severed"] if s["observed"]}
    assert {"urn:ip:3.5.29.104", "urn:ip:52.216.88.133"} <= providers
    assert any(u["reason"] == "shared_role_use" for u in r["unknowns"])
    assert r["rollback"]["verified"] is True and r["rollback"]["change"]["delta"] == {"action": "start"}


def test_deleting_the_bucket_severs_its_readers_and_has_no_rollback(results: dict[str, dict]) -> None:
    r = results["DELETE"]
    assert "arn:aws:iam::615294837560:role/fraud-feature-pipeline" in {
        s["consumer"] for s in r["severed"] if s["observed"]
    }
    assert r["rollback"]["verified"] is False and "cannot be restored" in r["rollback"]["detail"]
    assert any(u["reason"] == "rollback_unverified" for u in r["unknowns"]) and r["tier"] != "auto"
