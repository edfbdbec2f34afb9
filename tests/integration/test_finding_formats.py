"""Every finding format Blastwall reads, from fixtures written to each tool's documented output
(tests/data/proposals/): Prowler OCSF, CSV and JSON-ASFF, a Security Hub custom-action EventBridge event
(the action names the proposer), Security Hub OCSF in a "Findings Imported V2" event. A check the lookup
knows becomes an inferred delta; the others are opaque runbooks; passed checks are skipped; a finding
whose fix is already in place says so."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import SAMPLE_AS_OF, blastwall_cmd

DATA = Path(__file__).parent.parent / "data" / "proposals"
FILES = [
    "prowler-ocsf.json",
    "prowler.csv",
    "prowler-asff.json",
    "securityhub-custom-action.json",
    "securityhub-ocsf.json",
]


def run(store: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    out = subprocess.run([*blastwall_cmd(), "--store", str(store), *args], capture_output=True, text=True)
    if check and out.returncode not in (0, 3):
        raise AssertionError(f"{args}: exit {out.returncode}\n{out.stderr}")
    return out


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, sample_dir: Path) -> Path:
    s = tmp_path_factory.mktemp("formats") / "store"
    run(s, "ingest", "aws-snapshot", str(sample_dir / "aws"), "--collected-at", SAMPLE_AS_OF)
    run(s, "ingest", "flowlogs", str(sample_dir / "flowlogs"))
    run(s, "propose", *[str(DATA / f) for f in FILES])
    return s


def proposals(store: Path) -> list[dict]:
    from analyzer.graph.store import open_store

    st = open_store(store)
    try:
        return list(st.get_documents("proposals").values())
    finally:
        st.close()


def test_each_format_is_detected_and_passed_checks_skipped(store: Path) -> None:
    by_format: dict[str, list[dict]] = {}
    for p in proposals(store):
        by_format.setdefault(p["source"]["format"], []).append(p)
    # 2 FAIL of 3 in Prowler's OCSF and CSV — the same two findings, and the ASFF's Prowler finding is
    # one of them too: one proposal each, from the first file; one each from the Security Hub files
    assert {k: len(v) for k, v in by_format.items()} == {
        "prowler-ocsf": 2,
        "asff": 1,
        "securityhub-ocsf": 1,
    }


def test_known_checks_become_inferred_deltas_others_opaque(store: Path) -> None:
    for p in proposals(store):
        c = p["change"]
        if (
            "port_22" in str(p["source"].get("generator"))
            or "EC2.13" in str(p["source"].get("generator"))
            or c.get("lookup")
        ):
            assert c["kind"] == "sg.revoke_rules" and c["fidelity"] == "inferred", p
            # derived from the snapshot: the group opens no port 22 to the internet, nothing to revoke
            assert c["delta"] == {"ingress": []} and c["target"].endswith(
                "security-group/sg-27114a32aa14afd0c"
            )
            assert "opens no port 22 to the internet: the check passes" in c["derivation"]
        else:
            assert c["kind"] == "opaque.runbook" and c["fidelity"] == "opaque", p
    kinds = sorted(p["change"]["kind"] for p in proposals(store))
    assert kinds.count("sg.revoke_rules") == 3 and kinds.count("opaque.runbook") == 1


def test_custom_action_and_prowler_name_the_proposer(store: Path) -> None:
    proposers = sorted(str(p["source"].get("proposer")) for p in proposals(store))
    assert proposers.count("SendToBlastwall") == 1  # the custom action names the proposer
    # Prowler's two findings (each in OCSF, CSV and ASFF): neither check ships a fixer in Prowler 5.46, so
    # the scan proposed them, not `prowler --fixer`
    assert proposers.count("prowler") == 2 and "prowler --fixer" not in proposers


def test_a_fix_already_in_place_is_already_applied(store: Path) -> None:
    """The static delta said "revoke 22 from anywhere"; derived from the snapshot, the fix is empty: the
    legacy workload group opens 443 to 10.40.0.0/16 only, so the check passes there."""
    res = json.loads(run(store, "score", "--as-of", SAMPLE_AS_OF, "--format", "json").stdout)["results"]
    sg = [r for r in res if r["change"]["kind"] == "sg.revoke_rules"]
    # the legacy workload group has no SSH rule open to the internet: nothing to revoke, nothing severed
    assert sg and all(r["status"] == "already_applied" and r["severed"] == [] for r in sg)
    opaque = [r for r in res if r["change"]["kind"] == "opaque.runbook"]
    assert opaque and all(r["tier"] != "auto" for r in opaque)


def test_the_same_findings_twice_make_no_duplicates(store: Path) -> None:
    before = len(proposals(store))
    out = run(store, "propose", *[str(DATA / f) for f in FILES])
    assert "imported bw-" not in out.stdout and len(proposals(store)) == before


def test_missing_field_is_named_and_the_rest_imports(tmp_path: Path) -> None:
    out = run(
        tmp_path / "s",
        "propose",
        str(DATA / "bad-ocsf-missing-uid.json"),
        str(DATA / "prowler.csv"),
        check=False,
    )
    assert (
        out.returncode == 2 and "finding_info.uid" in out.stderr and "bad-ocsf-missing-uid.json" in out.stderr
    )
    assert out.stdout.count("imported bw-") == 2 and "1 passed" in out.stdout


def test_a_real_prowler_run_in_three_formats_is_one_proposal_per_failing_finding(tmp_path: Path) -> None:
    """Prowler 5.46's own csv, json-ocsf and json-asff of one run against moto (two security groups
    passing and one failing the port-22 check, the default group passing, one service role failing the
    confused-deputy check; provenance in tests/data/proposals/README.md): two proposals, the passed
    checks skipped and counted, the other formats' copies counted as duplicates."""
    files = [str(DATA / f) for f in ("prowler-run.asff.json", "prowler-run.ocsf.json", "prowler-run.csv")]
    out = run(tmp_path / "s", "propose", *files)
    assert out.stdout.count("imported bw-") == 2
    assert (
        "13 finding(s) not proposed: 4 duplicate (the same finding in another file or format), 9 passed"
        in out.stdout
    )
    got = {p["change"]["target"]: p["change"] for p in proposals(tmp_path / "s")}
    sg = got["arn:aws:ec2:us-east-1:123456789012:security-group/sg-53b3427eadaef05ca"]
    assert sg["kind"] == "sg.revoke_rules" and sg["fidelity"] == "inferred"
    role = got["arn:aws:iam::123456789012:role/etl-role"]
    assert {p["source"]["proposer"] for p in proposals(tmp_path / "s")} == {"prowler"}
    assert role["delta"] == {"add_service_condition": {"StringEquals": {"aws:SourceAccount": "123456789012"}}}
    # each format alone gives the same two proposals (same ids)
    ids = set()
    for i, f in enumerate(files):
        one = run(tmp_path / f"one{i}", "propose", f)
        ids.add(
            frozenset(line.split()[-1] for line in one.stdout.splitlines() if line.startswith("imported"))
        )
    assert len(ids) == 1 and len(next(iter(ids))) == 2


def test_the_fix_is_derived_from_the_snapshot_the_finding_was_made_on(tmp_path: Path) -> None:
    """The same run's account, collected by Blastwall from the same moto server
    (tests/data/proposals/prowler-run-snapshot/; AWS managed policies trimmed from the GAAD): the port-22
    finding becomes the revocation of exactly the rule that fails, and it is scored, not already applied."""
    store = tmp_path / "s"
    snap = DATA / "prowler-run-snapshot"
    run(store, "ingest", "aws-snapshot", str(snap), "--collected-at", "2026-12-01T21:48:00Z")
    run(store, "propose", str(DATA / "prowler-run.ocsf.json"))
    sg = next(p for p in proposals(store) if p["change"]["kind"] == "sg.revoke_rules")["change"]
    assert sg["delta"] == {
        "ingress": [
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
        ]
    }
    assert "sg-53b3427eadaef05ca opens port 22 to the internet through tcp/22" in sg["derivation"]
    res = json.loads(run(store, "score", "--as-of", "2026-12-01T21:48:00Z", "--format", "json").stdout)[
        "results"
    ]
    (r,) = [x for x in res if x["change"]["kind"] == "sg.revoke_rules"]
    assert r["status"] == "scored" and r["change"]["derivation"] == sg["derivation"]


def test_real_prowler_findings_for_settings_public_access_and_function_policies(tmp_path: Path) -> None:
    """A second real run (tests/data/proposals/prowler-run2.ocsf.json, its account collected from the same
    moto server into prowler-run2-snapshot/): IMDSv2, TLS-only, bucket Block Public Access and a public
    function policy — each a change of the kind that fixes it, none opaque, the passes skipped."""
    store = tmp_path / "s"
    run(
        store,
        "ingest",
        "aws-snapshot",
        str(DATA / "prowler-run2-snapshot"),
        "--collected-at",
        "2026-12-01T22:10:00Z",
    )
    out = run(store, "propose", str(DATA / "prowler-run2.ocsf.json"))
    assert out.stdout.count("imported bw-") == 5 and "2 passed" in out.stdout
    got = {(p["source"]["generator"], p["change"]["target"]): p["change"] for p in proposals(store)}
    assert all(c["fidelity"] != "opaque" for c in got.values())
    fn = got[
        (
            "awslambda_function_not_publicly_accessible",
            "arn:aws:lambda:us-east-1:123456789012:function:public-fn",
        )
    ]
    assert fn["kind"] == "resource_policy.remove_statements" and fn["delta"] == {
        "statement_ids": ["AnyoneInvokes"]
    }
    imds = got[
        ("ec2_instance_imdsv2_enabled", "arn:aws:ec2:us-east-1:123456789012:instance/i-548c66a99d78aa2af")
    ]
    assert imds["kind"] == "setting.harden" and imds["delta"] == {"setting": "imdsv2_required"}
    assert got[("s3_bucket_secure_transport_policy", "arn:aws:s3:::app-uploads")]["delta"] == {
        "setting": "s3_require_tls"
    }
    assert (
        got[("s3_bucket_level_public_access_block", "arn:aws:s3:::tls-only")]["kind"] == "public_access.block"
    )
    res = json.loads(run(store, "score", "--as-of", "2026-12-01T22:10:00Z", "--format", "json").stdout)[
        "results"
    ]
    assert len(res) == 5 and not [r for r in res if r["status"] == "error"]
    lam = next(r for r in res if r["change"]["kind"] == "resource_policy.remove_statements")
    assert lam["notes"] and "ends public access" in lam["notes"][0]
