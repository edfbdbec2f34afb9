"""iam.revoke_credentials on the sample organization: revoking the data-lake reader's sessions is a
transient cut its observed callers recover from (unknown, never auto, no rollback); access keys do not
apply to a role."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import yaml

from tests.conftest import SAMPLE_AS_OF, blastwall_cmd

READER = "arn:aws:iam::482510973311:role/datalake-reader"


def run(store: Path, *args: str) -> subprocess.CompletedProcess[str]:
    out = subprocess.run([*blastwall_cmd(), "--store", str(store), *args], capture_output=True, text=True)
    if out.returncode not in (0, 3):
        raise AssertionError(f"{args}: exit {out.returncode}\n{out.stderr}")
    return out


def test_revoking_sessions_and_keys(tmp_path: Path, sample_dir: Path) -> None:
    s = tmp_path / "store"
    run(s, "ingest", "aws-snapshot", str(sample_dir / "aws"), "--collected-at", SAMPLE_AS_OF)
    run(s, "ingest", "cloudtrail", str(sample_dir / "cloudtrail"))
    (tmp_path / "p.yaml").write_text(
        yaml.safe_dump(
            {
                "blastwall_proposals": 1,
                "proposals": [
                    {
                        "id": "SESSIONS",
                        "title": "t",
                        "change": {
                            "kind": "iam.revoke_credentials",
                            "target": READER,
                            "delta": {"credential": "role_sessions"},
                        },
                    },
                    {
                        "id": "KEYS",
                        "title": "t",
                        "change": {
                            "kind": "iam.revoke_credentials",
                            "target": READER,
                            "delta": {"credential": "access_keys", "action": "deactivate"},
                        },
                    },
                ],
            }
        )
    )
    run(s, "propose", str(tmp_path / "p.yaml"))
    res = {
        r["source"]["finding_id"]: r
        for r in json.loads(run(s, "score", "--as-of", SAMPLE_AS_OF, "--format", "json").stdout)["results"]
        if r["source"]["format"] == "blastwall"
    }
    sessions = res["SESSIONS"]
    assert sessions["severed"] == [] and sessions["tier"] != "auto"
    assert any(
        u["reason"] == "transient_or_unseen" and "observed caller(s) recover" in u["detail"]
        for u in sessions["unknowns"]
    )
    assert sessions["rollback"]["verified"] is False
    assert res["KEYS"]["status"] == "target_missing"
