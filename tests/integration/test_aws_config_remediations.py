"""AWS Config remediations: describe-remediation-configurations plus the rule's non-compliant resources
(get-compliance-details-by-config-rule), given together; a documented SSM document becomes its delta, the
others opaque; Config's resource ids resolved to the snapshot's ARNs; evaluations without a configuration
in the same call are refused by name."""

from __future__ import annotations

import subprocess
from pathlib import Path

from analyzer.graph.store import open_store
from tests.conftest import SAMPLE_AS_OF, blastwall_cmd

DATA = Path(__file__).parent.parent / "data" / "proposals"


def run(store: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    out = subprocess.run([*blastwall_cmd(), "--store", str(store), *args], capture_output=True, text=True)
    if check and out.returncode != 0:
        raise AssertionError(f"{args}: exit {out.returncode}\n{out.stderr}")
    return out


def test_config_remediations_become_proposals(tmp_path: Path, sample_dir: Path) -> None:
    s = tmp_path / "store"
    run(s, "ingest", "aws-snapshot", str(sample_dir / "aws"), "--collected-at", SAMPLE_AS_OF)
    out = run(
        s,
        "propose",
        str(DATA / "config-remediation-configurations.json"),
        str(DATA / "config-noncompliant.json"),
    )
    assert out.stdout.count("imported bw-") == 2  # the compliant group is not a proposal
    st = open_store(s)
    props = {p["change"]["kind"]: p for p in st.get_documents("proposals").values()}
    st.close()
    sg = props["sg.revoke_rules"]
    assert (
        sg["change"]["fidelity"] == "inferred"
        and sg["change"]["lookup"] == "config:AWS-DisablePublicAccessForSecurityGroup"
    )
    assert [p["FromPort"] for p in sg["change"]["delta"]["ingress"]] == [22, 3389] and sg["source"][
        "automatic"
    ] is True
    bucket = props["opaque.runbook"]
    assert (
        bucket["change"]["target"] == "arn:aws:s3:::acme-legacy-etl-output"
    )  # resolved through the snapshot
    assert bucket["change"]["delta"]["runbook"] == "AWSConfigRemediation-ConfigureS3BucketPublicAccessBlock"


def test_evaluations_without_their_configuration_are_refused(tmp_path: Path) -> None:
    out = run(tmp_path / "s", "propose", str(DATA / "config-noncompliant.json"), check=False)
    assert out.returncode == 2 and "no remediation configuration given for rule(s)" in out.stderr
    assert "restricted-ssh" in out.stderr
