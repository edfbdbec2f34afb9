"""`blastwall reach`, `flows` and `exposure` on the sample organization, as a user runs them."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import SAMPLE_AS_OF, blastwall_cmd

LEGACY = "739406228105"
LATEST = ("--as-of", "latest")  # the sample's evidence ends 2026-05-14


def run(store: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    out = subprocess.run([*blastwall_cmd(), "--store", str(store), *args], capture_output=True, text=True)
    if check and out.returncode != 0:
        raise AssertionError(f"{args}: exit {out.returncode}\n{out.stderr}")
    return out


def js(store: Path, *args: str) -> dict:
    return json.loads(run(store, *args, "--format", "json").stdout)


def legacy(sample_dir: Path, op: str) -> dict:
    return json.loads((sample_dir / "aws" / LEGACY / "us-east-1" / f"ec2-{op}.json").read_text())


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, sample_dir: Path) -> Path:
    s = tmp_path_factory.mktemp("net") / "store"
    run(s, "ingest", "aws-snapshot", str(sample_dir / "aws"), "--collected-at", SAMPLE_AS_OF)
    run(s, "ingest", "flowlogs", str(sample_dir / "flowlogs"))
    return s


def test_reach_names_both_redundant_rules_and_the_nat_path(store: Path, sample_dir: Path) -> None:
    instance = legacy(sample_dir, "DescribeInstances")["Reservations"][0]["Instances"][0]["InstanceId"]
    sg = legacy(sample_dir, "DescribeSecurityGroups")["SecurityGroups"][0]["GroupId"]
    d = js(store, "reach", instance, "52.216.88.133", "--port", "443")
    assert {"decision", "allowed_by", "blocked_by"} <= d.keys() and d["decision"] == "allowed"
    assert (
        f"{sg} egress all 0.0.0.0/0" in d["allowed_by"]
        and f"{sg} egress tcp:443 52.216.0.0/15" in d["allowed_by"]
    )
    assert any("-> nat-" in a for a in d["allowed_by"]) and any("-> igw-" in a for a in d["allowed_by"])
    # nobody on the internet can start a flow to it: no public address, a NAT gateway only
    d = js(store, "reach", "198.51.100.7", instance, "--port", "443")
    assert d["decision"] == "denied" and d["blocked_by"]


def test_stale_flow_is_already_denied_never_severed(store: Path, sample_dir: Path) -> None:
    flows = js(store, "flows", *LATEST)["flows"]
    sftp = [f for f in flows if f["dst"] == "203.0.113.80"]
    assert len(sftp) == 1 and sftp[0]["current"] == "already denied"
    assert any("rule 50 (deny)" in w for w in sftp[0]["why"])
    sg = legacy(sample_dir, "DescribeSecurityGroups")["SecurityGroups"][0]["GroupId"]
    result = js(store, "flows", *LATEST, "--revoke", f"{sg}:egress:-1:all:0.0.0.0/0")
    by_dst = {f["dst"]: f for f in result["flows"]}
    assert by_dst["203.0.113.80"]["status"] == "already denied"


def test_flows_say_their_window_first_and_list_only_what_it_holds(store: Path) -> None:
    stale = run(store, "flows")  # anchored at now: the sample's flow logs end months before
    lines = stale.stdout.splitlines()
    assert lines[0].startswith("EVIDENCE: no evidence in the window") and LEGACY in lines[0]
    assert "days old" in lines[0] and lines[1].startswith("evidence ") and len(lines) == 2
    js_stale = run(store, "flows", "--format", "json")
    assert js_stale.stderr.startswith("EVIDENCE: ") and json.loads(js_stale.stdout)["count"] == 0
    fresh = js(store, "flows", *LATEST)
    assert fresh["count"] == 4 and fresh["freshness"]["stale"] == []
    assert [a["account"] for a in fresh["freshness"]["accounts"]] == [LEGACY]  # flow logs only
    table = run(store, "flows", *LATEST).stdout.splitlines()
    assert table[0].startswith("evidence 2026-02-14 to 2026-05-15") and f"{LEGACY} 14" in table[0]
    # a window that ends before the flows began holds none of them
    early = js(store, "flows", "--as-of", "2026-04-01T00:00:00Z")
    assert early["count"] == 0 and early["freshness"]["stale"] == [LEGACY]


def test_redundant_rules_survive_revoking_either_alone(store: Path, sample_dir: Path) -> None:
    sg = legacy(sample_dir, "DescribeSecurityGroups")["SecurityGroups"][0]["GroupId"]
    wide = js(store, "flows", *LATEST, "--revoke", f"{sg}:egress:-1:all:0.0.0.0/0")
    status = {f["dst"]: f["status"] for f in wide["flows"]}
    # 52.216.88.133 and 52.217.44.20 are also allowed by the narrower 443 rule; 3.5.29.104 is not
    assert status["52.216.88.133"] == status["52.217.44.20"] == "unchanged"
    assert status["3.5.29.104"] == "severed" and wide["re_decided"] == 4
    narrow = js(store, "flows", *LATEST, "--revoke", f"{sg}:egress:tcp:443:52.216.0.0/15")
    assert {f["status"] for f in narrow["flows"]} == {"unchanged", "already denied"}
    both = js(
        store,
        "flows",
        *LATEST,
        "--revoke",
        f"{sg}:egress:-1:all:0.0.0.0/0",
        "--revoke",
        f"{sg}:egress:tcp:443:52.216.0.0/15",
    )
    assert {f["dst"] for f in both["flows"] if f["status"] == "severed"} == {
        "3.5.29.104",
        "52.216.88.133",
        "52.217.44.20",
    }


def test_exposure_and_bad_input(store: Path) -> None:
    assert js(store, "exposure")["exposure"] == []  # the sample has no internet-facing ENI
    out = run(store, "exposure", "--revoke", "sg-nope:ingress:tcp:22:0.0.0.0/0", check=False)
    assert out.returncode == 2 and "nothing would change" in out.stderr
    out = run(store, "reach", "not-an-endpoint", "10.0.0.1", "--port", "22", check=False)
    assert out.returncode == 2 and "not an ENI id" in out.stderr


def test_invalid_rule_is_reported_with_the_group_and_makes_decisions_unknown(
    tmp_path: Path, sample_dir: Path
) -> None:
    snap = tmp_path / "aws"
    shutil.copytree(sample_dir / "aws", snap)
    path = snap / LEGACY / "us-east-1" / "ec2-DescribeSecurityGroups.json"
    data = json.loads(path.read_text())
    group = data["SecurityGroups"][0]
    group["IpPermissionsEgress"] = [
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "52.216.0.0/33"}]}
    ]
    path.write_text(json.dumps(data))
    store = tmp_path / "store"
    out = run(store, "ingest", "aws-snapshot", str(snap))
    assert f"{group['GroupId']} egress[0]: invalid CIDR '52.216.0.0/33'" in out.stderr
    eni = legacy(sample_dir, "DescribeNetworkInterfaces")["NetworkInterfaces"][0]["NetworkInterfaceId"]
    d = js(store, "reach", eni, "52.216.88.133", "--port", "443")
    assert d["decision"] == "unknown" and any("invalid CIDR" in u for u in d["unknown"])
    # the unreadable rule was for 443 only: port 80 is decided (nothing else allows it)
    assert js(store, "reach", eni, "52.216.88.133", "--port", "80")["decision"] == "denied"


def test_quarantine_and_loosening_what_ifs(store: Path, sample_dir: Path) -> None:
    eni = legacy(sample_dir, "DescribeNetworkInterfaces")["NetworkInterfaces"][0]["NetworkInterfaceId"]
    sg = legacy(sample_dir, "DescribeSecurityGroups")["SecurityGroups"][0]["GroupId"]
    # isolating the ETL host into a group the snapshot does not hold: every S3 flow *may* be severed
    # (unknown, the group's rules are not known), the stale one stays stale
    q = js(store, "flows", *LATEST, "--quarantine", f"{eni}=sg-0000000000quarantine")
    status = {f["dst"]: f["status"] for f in q["flows"]}
    assert status == {
        "203.0.113.80": "already denied",
        "3.5.29.104": "may be severed",
        "52.216.88.133": "may be severed",
        "52.217.44.20": "may be severed",
    }
    why = next(f["why"] for f in q["flows"] if f["dst"] == "3.5.29.104")
    assert any("sg-0000000000quarantine" in w and "not in the snapshot" in w for w in why)
    # into the workload group of another account's VPC? no: into its own group minus its egress rules
    both = js(
        store,
        "flows",
        *LATEST,
        "--quarantine",
        f"{eni}={sg}",
        "--revoke",
        f"{sg}:egress:-1:all:0.0.0.0/0",
        "--revoke",
        f"{sg}:egress:tcp:443:52.216.0.0/15",
    )
    assert {f["status"] for f in both["flows"]} == {"already denied", "severed"}
    # opening SSH to the world on the ETL host: the host has no public address, so nothing is exposed
    e = js(store, "exposure", "--authorize", f"{sg}:ingress:tcp:22:0.0.0.0/0")
    assert e["opened"] == [] and e["after"] == []  # no public address, so not internet-facing
