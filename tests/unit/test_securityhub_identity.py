"""One Security Hub finding is one proposal whether it arrives in ASFF (``Id``) or in OCSF
(``finding_info.uid``): the OCSF fixture's EC2.13 finding and the same finding in ASFF, imported
together, make one proposal and one duplicate."""

from __future__ import annotations

import json
from pathlib import Path

from analyzer.graph.store import open_store
from connectors.proposals import import_proposals

DATA = Path(__file__).parent.parent / "data" / "proposals"


def test_the_same_finding_in_asff_and_ocsf_is_one_proposal(tmp_path: Path) -> None:
    ocsf = json.loads((DATA / "securityhub-ocsf.json").read_text())
    f = ocsf["detail"]["findings"][0]
    res = f["resources"][0]
    asff = {
        "SchemaVersion": "2018-10-08",
        "Id": f["finding_info"]["uid"],
        "ProductArn": "arn:aws:securityhub:us-east-1::product/aws/securityhub",
        "GeneratorId": "security-control/EC2.13",
        "AwsAccountId": f["cloud"]["account"]["uid"],
        "Types": ["Software and Configuration Checks/Industry and Regulatory Standards"],
        "CreatedAt": "2026-05-15T05:00:00Z",
        "UpdatedAt": "2026-05-15T05:00:00Z",
        "Severity": {"Label": "HIGH"},
        "Title": f["finding_info"]["title"],
        "Description": f["finding_info"]["desc"],
        "Resources": [{"Type": res["type"], "Id": res["uid"], "Partition": "aws", "Region": "us-east-1"}],
        "Compliance": {"Status": "FAILED", "SecurityControlId": "EC2.13"},
        "RecordState": "ACTIVE",
        "Workflow": {"Status": "NEW"},
    }
    (tmp_path / "asff.json").write_text(json.dumps({"Findings": [asff]}))
    store = open_store(tmp_path / "store")
    report = import_proposals(store, [DATA / "securityhub-ocsf.json", tmp_path / "asff.json"])
    assert report.errors == [] and len(report.imported) == 1 and report.skipped == {"duplicate": 1}
    (p,) = store.get_documents("proposals").values()
    assert p["change"]["target"] == res["uid"] and p["change"]["kind"] == "sg.revoke_rules"
