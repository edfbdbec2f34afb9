"""A Cloud Custodian policy that asks Blastwall's gate before it acts, with real Custodian against a moto
server: the dry run's output is proposed and scored, a human approves one of the three changes, and the
real run (its policy's `value_from` filter reading `GET /v1/gate/custodian/{policy}` from `blastwall
serve`) acts on that one only; imported afterwards, the run is in review as executed with a gate pass."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import boto3
import pytest

from analyzer.governance import identities
from analyzer.governance.decisions import adopt_policy
from analyzer.governance.ledger import Ledger
from analyzer.governance.tier_policy import load_policy
from tests.conftest import SAMPLE, blastwall_cmd
from tests.integration.test_custodian_real import _flowlogs, legacy_slice  # noqa: F401
from tests.integration.test_serve import Server

pytestmark = pytest.mark.integration

FILTERS = """
      - type: egress
        Cidr: {value: 0.0.0.0/0}
        IpProtocol: "-1"
"""


def _policy(gate: str = "") -> str:
    return (
        "policies:\n  - name: sg-no-open-egress\n    resource: aws.security-group\n"
        "    description: Remove all-traffic egress to 0.0.0.0/0\n    filters:\n"
        + FILTERS
        + gate
        + "    actions:\n      - type: remove-permissions\n        egress: matched\n"
    )


def _run(custodian: Path, policy: Path, out: Path, home: Path, *, dryrun: bool) -> None:
    args = [str(custodian), "run", *(["--dryrun"] if dryrun else []), "--cache-period", "0", "-s", str(out)]
    run = subprocess.run(
        [*args, "--region", "us-east-1", str(policy)],
        capture_output=True,
        text=True,
        env={**os.environ, "HOME": str(home)},
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]


def _open_egress(group: str) -> bool:
    ec2 = boto3.client("ec2", region_name="us-east-1")
    (g,) = ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"]
    return any(
        p["IpProtocol"] == "-1" and {"CidrIp": "0.0.0.0/0"} in p.get("IpRanges", [])
        for p in g["IpPermissionsEgress"]
    )


def test_custodian_acts_only_on_what_the_gate_allows(
    custodian: Path,
    legacy_slice: dict[str, Any],  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store, keys = tmp_path / "store", tmp_path / "keys"
    monkeypatch.setenv("BLASTWALL_KEYS", str(keys))

    def bw(*args: str) -> subprocess.CompletedProcess[str]:
        out = subprocess.run([*blastwall_cmd(), "--store", str(store), *args], capture_output=True, text=True)
        assert out.returncode in (0, 3), (args, out.stderr[-2000:])
        return out

    bw("ingest", "aws", "--region", "us-east-1")
    bw("ingest", "flowlogs", str(_flowlogs(tmp_path / "flows", legacy_slice["account"], legacy_slice["eni"])))
    bw("policy", "load", str(SAMPLE / "policy" / "tier-policy.yaml"))
    ledger = Ledger(store / "ledger.jsonl")
    doc = identities.init_org(ledger, organization="Acme", admin="dana", key_dir=keys)
    identities.grant(ledger, "dana", "CISO", admin="dana", key_dir=keys)
    # Dana, as CISO, puts the tier policy in force (the gate answers only under it)
    adopt_policy(ledger, who="dana", policy=load_policy(SAMPLE / "policy" / "tier-policy.yaml"), key_dir=keys)
    (tmp_path / "trust-root.json").write_text(json.dumps(doc))
    monkeypatch.setenv("BLASTWALL_TRUST_ROOT", str(tmp_path / "trust-root.json"))

    # the dry run: what the policy would do, proposed and scored
    policy = tmp_path / "policy.yml"
    policy.write_text(_policy())
    _run(custodian, policy, tmp_path / "dry", tmp_path, dryrun=True)
    bw("propose", str(tmp_path / "dry"), str(policy))
    results = json.loads(bw("score", "--as-of", "2026-11-21T00:00:00Z", "--format", "json").stdout)["results"]
    by_group = {r["change"]["target"]: r for r in results}
    assert len(by_group) == 3 and by_group[legacy_slice["sg"]]["severed"]  # ours cuts observed flows
    quiet = sorted(g for g, r in by_group.items() if g != legacy_slice["sg"])  # the default groups: nothing
    assert all(by_group[g]["severed"] == [] and by_group[g]["tier"] != "auto" for g in quiet)

    # a human approves one default group's change; nobody approves the other two
    chosen = by_group[quiet[0]]
    identities.register(ledger, "sam", keys)
    identities.grant(ledger, "sam", chosen["approver_role"], admin="dana", key_dir=keys)
    bw("approve", chosen["proposal_id"], "--as", "sam", "--comment", "default group, nothing uses it")
    identities.register(ledger, "custodian-bot", keys)
    token = bw("token", "issue", "custodian-bot", "--scope", "gate", "--as", "dana").stdout.strip()

    server = Server({"store": store}, "--as-of", "2026-11-21T00:00:00Z")
    try:
        gate = (
            "      - type: value\n        key: GroupId\n        op: in\n        value_from:\n"
            f"          url: {server.url}/v1/gate/custodian/sg-no-open-egress?account={{account_id}}\n"
            "          format: json\n          expr: allowed\n"
            f"          headers:\n            authorization: 'Bearer {token}'\n"
        )
        policy.write_text(_policy(gate))
        _run(custodian, policy, tmp_path / "run", tmp_path, dryrun=False)
    finally:
        server.stop()
    acted = json.loads((tmp_path / "run" / "sg-no-open-egress" / "resources.json").read_text())
    assert [r["GroupId"] for r in acted] == [quiet[0]]
    assert not _open_egress(quiet[0])  # removed by Custodian
    assert _open_egress(quiet[1]) and _open_egress(legacy_slice["sg"])  # held by the gate
    gates = [r["body"] for r in ledger.records() if r["type"] == "gate"]
    assert {g["proposal_id"]: g["allowed"] for g in gates} == {
        r["proposal_id"]: r["proposal_id"] == chosen["proposal_id"] for r in by_group.values()
    }
    assert {g["asked_by"] for g in gates} == {"custodian-bot"}
    # the real run's output, imported: an execution reported by Custodian, after a gate pass
    bw("propose", str(tmp_path / "run"), str(policy))
    bw("score", "--as-of", "2026-11-21T00:00:00Z", "--format", "json")
    items = json.loads(bw("review", "--since", "1d", "--format", "json").stdout)["executions"]
    (item,) = [i for i in items if i["proposal_id"] == chosen["proposal_id"]]
    assert item["reported_by"] == "cloud-custodian" and item["gate_passed_before_execution"] is True
