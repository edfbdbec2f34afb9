"""S3.19 (access points should block public access) has no in-place fix: S3 does not change an access
point's Block Public Access settings after creation (Amazon S3 User Guide, "Managing public access to
access points"). The finding stays an opaque runbook, and says why instead of pretending to a delta."""

from __future__ import annotations

import json
from pathlib import Path

from analyzer.graph.store import open_store
from connectors.proposals import import_proposals


def test_s3_19_stays_opaque_with_the_reason(tmp_path: Path) -> None:
    ap = "arn:aws:s3:us-east-1:111122223333:accesspoint/reports-ap"
    finding = {
        "SchemaVersion": "2018-10-08",
        "Id": "arn:aws:securityhub:us-east-1:111122223333:security-control/S3.19/finding/5f1c",
        "ProductArn": "arn:aws:securityhub:us-east-1::product/aws/securityhub",
        "GeneratorId": "security-control/S3.19",
        "AwsAccountId": "111122223333",
        "Types": ["Software and Configuration Checks/Industry and Regulatory Standards"],
        "CreatedAt": "2026-11-20T05:00:00Z",
        "UpdatedAt": "2026-11-20T05:00:00Z",
        "Severity": {"Label": "CRITICAL"},
        "Title": "S3 access points should have block public access settings enabled",
        "Description": "S3.19",
        "Resources": [{"Type": "AwsS3AccessPoint", "Id": ap, "Partition": "aws", "Region": "us-east-1"}],
        "Compliance": {"Status": "FAILED", "SecurityControlId": "S3.19"},
        "RecordState": "ACTIVE",
        "Workflow": {"Status": "NEW"},
    }
    (tmp_path / "f.json").write_text(json.dumps({"Findings": [finding]}))
    store = open_store(tmp_path / "store")
    assert import_proposals(store, [tmp_path / "f.json"]).errors == []
    (p,) = store.get_documents("proposals").values()
    assert p["change"]["kind"] == "opaque.runbook" and p["change"]["target"] == ap
    assert "cannot change the Block Public Access settings" in p["change"]["derivation"]
