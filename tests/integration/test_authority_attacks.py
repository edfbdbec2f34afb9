"""Every attack on recorded authority that review found (issue #16), each refused or detected: the gate
exits 3, `audit verify` exits 1 naming the record, or the command fails with a clear error. Each test
fails if its defence is removed (see the threat model in docs/governance.md)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from analyzer.governance import signing
from analyzer.governance.authority import RECORDER_NAME
from analyzer.governance.ledger import Ledger, verify
from tests.conftest import blastwall_cmd
from tests.forgery import forge_record, last_record, lines, resign_head, truncate_to

STORY = "bw-87109988a633"
pytestmark = pytest.mark.integration


@pytest.fixture
def org(demo_org: dict) -> dict:
    """The demo, plus Sam, who registers himself: a "viewer" with a key of his own and no role."""
    demo_org["bw"]("keys", "init", "--name", "sam")
    return demo_org | {"key": lambda name: signing.load_private_key(name, demo_org["keys"])}


def _cover(org: dict) -> None:
    """What a store writer does after forging: sign a head over it with the recorder's key beside it."""
    resign_head(
        org["ledger"], signing.load_private_key(RECORDER_NAME, org["store"] / "recorder"), RECORDER_NAME
    )


def _gate(org: dict, *extra: str) -> subprocess.CompletedProcess[str]:
    return org["bw"]("gate", STORY, *extra, check=False)


def _approval_body(org: dict, approver: str = "priya") -> dict:
    """A decision body exactly as a real approval would carry it (taken from one, in a scratch copy)."""
    import shutil

    scratch = org["store"].parent / "scratch"
    shutil.copytree(org["store"], scratch)
    subprocess.run(
        [*blastwall_cmd(), "--store", str(scratch), "approve", STORY, "--as", "priya", "--comment", "x"],
        check=True,
        capture_output=True,
    )
    body = last_record(scratch / "ledger.jsonl")["body"]
    shutil.rmtree(scratch)
    return body | {"approver": approver}


# -- roles cannot be claimed ----------------------------------------------------------------------------
def test_a_role_cannot_be_claimed_at_key_creation(org: dict) -> None:
    out = org["bw"](
        "keys", "init", "--name", "eve", "--role", "CISO", "--role", "change-advisory-board", check=False
    )
    assert out.returncode == 2 and "roles are granted, never claimed" in out.stderr
    org["bw"]("keys", "init", "--name", "eve")
    refused = org["bw"]("approve", STORY, "--as", "eve", "--comment", "mine now", check=False)
    assert refused.returncode == 1 and "eve holds no role in the ledger" in refused.stderr
    assert _gate(org).returncode == 3


def test_only_a_role_admin_chained_to_the_root_grants_roles(org: dict) -> None:
    out = org["bw"]("roles", "grant", "sam", "change-advisory-board", "--as", "priya", check=False)
    assert out.returncode == 1 and "needs 'role-admin'" in out.stderr
    # written straight into the file, signed with Sam's own key: verify names it
    forge_record(
        org["ledger"],
        "role_grant",
        "sam",
        {"name": "sam", "role": "change-advisory-board"},
        org["key"]("sam"),
    )
    _cover(org)
    rep = verify(org["ledger"], org["root"])
    assert (
        not rep.ok and rep.first_bad == last_record(org["ledger"])["seq"] and "role-admin" in rep.problems[0]
    )


# -- the store's tables carry no authority --------------------------------------------------------------
def test_store_tables_grant_nothing(org: dict) -> None:
    """What the old design read: a decision row flipped to approved, an identity row given a role."""
    from analyzer.graph.store import open_store

    store = open_store(org["store"])
    store.put_documents(
        "decisions",
        {STORY: {"decision": "approved", "approver": "priya", "approver_roles": ["change-advisory-board"]}},
    )
    store.put_documents("identities", {"sam": {"name": "sam", "roles": ["change-advisory-board", "CISO"]}})
    store.close()
    assert _gate(org).returncode == 3
    refused = org["bw"]("approve", STORY, "--as", "sam", "--comment", "x", check=False)
    assert refused.returncode == 1 and "sam holds no role in the ledger" in refused.stderr


def test_a_rejection_cannot_be_turned_into_an_approval_in_the_store(org: dict) -> None:
    org["bw"]("reject", STORY, "--as", "priya", "--comment", "feeds fraud detection")
    from analyzer.graph.store import open_store

    store = open_store(org["store"])
    store.put_documents("decisions", {STORY: {"decision": "approved", "approver": "priya"}})
    store.close()
    out = _gate(org)
    assert out.returncode == 3 and "rejected by priya" in out.stdout


# -- forged records ---------------------------------------------------------------------------------------
def test_an_unsigned_record_naming_the_approver_is_refused(org: dict) -> None:
    forge_record(org["ledger"], "decision", "priya", _approval_body(org), key=None)
    _cover(org)
    rep = verify(org["ledger"], org["root"])
    seq = last_record(org["ledger"])["seq"]
    assert not rep.ok and rep.first_bad == seq and "signature is not 'priya'" in rep.problems[0]
    out = _gate(org)
    assert out.returncode == 3 and f"record {seq}" in out.stdout
    # and it stays refused: the next append does not cover it (nothing is appended on top of it)
    refused = org["bw"]("record-execution", STORY, "--outcome", "applied", check=False)
    assert refused.returncode == 1 and f"does not verify at record {seq}" in refused.stderr


def test_an_unsigned_record_past_the_head_is_not_a_warning(org: dict) -> None:
    forge_record(org["ledger"], "decision", "priya", _approval_body(org), key=None)  # head not re-signed
    rep = verify(org["ledger"], org["root"])
    assert not rep.ok and "signature" in rep.problems[0]
    assert _gate(org).returncode == 3


def test_a_record_signed_by_another_key_in_the_approvers_name_is_refused(org: dict) -> None:
    forge_record(org["ledger"], "decision", "priya", _approval_body(org), key=org["key"]("sam"))
    _cover(org)
    rep = verify(org["ledger"], org["root"])
    assert not rep.ok and "signature is not 'priya'" in rep.problems[0]
    assert _gate(org).returncode == 3


def test_a_viewer_signing_as_themselves_for_the_approver_is_refused(org: dict) -> None:
    """Sam signs with his own (registered) key a decision naming Priya as approver."""
    forge_record(org["ledger"], "decision", "sam", _approval_body(org), key=org["key"]("sam"))
    _cover(org)
    rep = verify(org["ledger"], org["root"])
    assert not rep.ok and "only the approver" in rep.problems[0]


def test_an_inserted_unsigned_identity_record_is_refused(org: dict) -> None:
    path = org["ledger"]
    keep = lines(path)
    truncate_to(path, 4)
    mallory = signing.new_key()
    forge_record(
        path,
        "identity",
        "mallory",
        {"name": "mallory", "public_key": signing.public_key_of(mallory)},
        key=None,
    )
    path.write_bytes(path.read_bytes() + b"".join(keep[4:]))
    rep = verify(path, org["root"])
    assert not rep.ok and rep.first_bad == 5


def test_a_ledger_rebuilt_with_the_attackers_own_keys_does_not_verify(org: dict, tmp_path: Path) -> None:
    """Internally perfect — own root, own recorder, own grants, own approval, own head — but not the
    organization's: the trust root names the real root's key."""
    from analyzer.governance import identities

    org["ledger"].unlink()
    org["ledger"].with_name("ledger.jsonl.head.json").unlink()
    fake = Ledger(org["ledger"], recorder_key_dir=tmp_path / "evil-recorder")
    evil_keys = tmp_path / "evil-keys"
    identities.init_org(fake, organization="ACME Financial (sample)", admin="dana", key_dir=evil_keys)
    identities.register(fake, "priya", evil_keys)
    identities.grant(fake, "priya", "change-advisory-board", admin="dana", key_dir=evil_keys)
    assert verify(fake.path, None).ok is False  # and without a trust root nothing verifies at all
    rep = verify(fake.path, org["root"])
    assert not rep.ok and rep.first_bad == 1 and "not the trust root" in rep.problems[0]
    out = _gate(org)
    assert out.returncode == 3 and "not the trust root" in out.stdout
    assert org["bw"]("audit", "verify", check=False).returncode == 1


def test_the_tail_cut_and_the_head_resigned_with_any_key_is_caught(org: dict) -> None:
    """A rejection is the last record; the attacker cuts it and signs a head with a key of their own:
    fresh, or Sam's registered one (no recorder role)."""
    org["bw"]("reject", STORY, "--as", "priya", "--comment", "feeds fraud detection")
    records = [json.loads(x) for x in lines(org["ledger"])]
    reject_seq = next(r["seq"] for r in records if r["type"] == "decision")
    truncate_to(org["ledger"], reject_seq - 1)
    for key, actor in ((signing.new_key(), RECORDER_NAME), (org["key"]("sam"), "sam")):
        resign_head(org["ledger"], key, actor)
        rep = verify(org["ledger"], org["root"])
        assert not rep.ok and "not signed by a recorder or role-admin" in rep.problems[0], rep.problems
        assert _gate(org).returncode == 3
        refused = org["bw"]("record-execution", STORY, "--outcome", "applied", check=False)
        assert refused.returncode == 1 and "nothing was appended" in refused.stderr


def test_a_rollback_resigned_with_the_recorder_key_is_caught_by_an_anchor(org: dict, tmp_path: Path) -> None:
    """The recorder's key sits beside the ledger, so a store writer can re-sign an earlier prefix. Only a
    witness outside the store catches that: with every decision anchoring itself, the rolled-back
    ledger no longer extends the anchored head."""
    from analyzer.governance import anchors

    witness = tmp_path / "witness"
    env_anchor = {"BLASTWALL_ANCHOR": str(witness)}
    import os

    def bw_anchored(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*blastwall_cmd(), "--store", str(org["store"]), *args],
            capture_output=True,
            text=True,
            timeout=300,
            env=os.environ | env_anchor,
        )

    before = len(lines(org["ledger"]))
    assert bw_anchored("reject", STORY, "--as", "priya", "--comment", "feeds fraud detection").returncode == 0
    assert list(witness.rglob("*.json")), "the decision anchored itself"
    truncate_to(org["ledger"], before)
    _cover(org)
    assert verify(org["ledger"], org["root"]).ok  # without the witness this rollback is invisible
    rep = verify(org["ledger"], org["root"], [anchors.witness(str(witness))])
    assert not rep.ok and "rolled back" in " ".join(rep.problems)
    out = bw_anchored("gate", STORY)
    assert out.returncode == 3 and "rolled back" in out.stdout
    assert bw_anchored("audit", "verify").returncode == 1


def test_a_fork_after_the_anchor_is_caught(org: dict, tmp_path: Path) -> None:
    from analyzer.governance import anchors

    w = anchors.witness(str(tmp_path / "w"))
    org["bw"]("audit", "anchor", "--to", str(tmp_path / "w"))
    anchored = last_record(org["ledger"])["seq"]
    # rewrite history from the anchored record on with the recorder's key (a different record there)
    truncate_to(org["ledger"], anchored - 1)
    forge_record(
        org["ledger"],
        "checkpoint",
        RECORDER_NAME,
        {"note": "rewritten"},
        signing.load_private_key(RECORDER_NAME, org["store"] / "recorder"),
    )
    _cover(org)
    rep = verify(org["ledger"], org["root"], [w])
    assert not rep.ok and f"record {anchored}: differs from the head anchored" in rep.problems[0]


def test_a_stripped_final_newline_never_moves_a_covered_record_aside(org: dict) -> None:
    path = org["ledger"]
    whole = path.read_bytes()
    path.write_bytes(whole.rstrip(b"\n"))
    rep = verify(path, org["root"])
    assert rep.ok and any("final newline" in w for w in rep.warnings), rep.problems
    n = len(whole.splitlines())
    org["bw"]("record-execution", STORY, "--outcome", "applied")
    assert path.read_bytes().startswith(whole)  # restored, not moved
    assert not list(path.parent.glob("ledger.jsonl.torn-*"))
    rep = verify(path, org["root"])
    assert rep.ok and rep.records == n + 1, rep.problems


def test_damage_inside_what_the_head_covers_stops_every_append(org: dict) -> None:
    path = org["ledger"]
    data = path.read_bytes()
    path.write_bytes(data[:-1] + b"GARBAGE")  # the last covered record damaged, no newline
    out = org["bw"]("record-execution", STORY, "--outcome", "applied", check=False)
    assert out.returncode == 1 and "nothing was appended" in out.stderr
    assert path.read_bytes() == data[:-1] + b"GARBAGE" and not list(path.parent.glob("ledger.jsonl.torn-*"))


@pytest.mark.parametrize("bad", [b"\xff\xfe not utf-8\n", b"{not json\n"])
def test_records_that_are_not_utf8_json_are_named(org: dict, bad: bytes) -> None:
    path = org["ledger"]
    n = len(lines(path))
    path.write_bytes(path.read_bytes() + bad)
    rep = verify(path, org["root"])
    assert not rep.ok and rep.first_bad == n + 1 and "UTF-8 JSON" in rep.problems[0]
    out = org["bw"]("audit", "verify", "--format", "json", check=False)
    assert out.returncode == 1 and json.loads(out.stdout)["first_bad"] == n + 1


# -- revoked and rotated keys --------------------------------------------------------------------------------
def test_nothing_signed_by_a_revoked_key_counts(org: dict) -> None:
    priya_old, body = org["key"]("priya"), _approval_body(org)
    org["bw"]("keys", "revoke", "priya", "--as", "dana", "--reason", "laptop lost")
    refused = org["bw"]("approve", STORY, "--as", "priya", "--comment", "x", check=False)
    assert refused.returncode == 1 and "wrong or revoked key" in refused.stderr
    forge_record(org["ledger"], "decision", "priya", body, key=priya_old)
    _cover(org)
    rep = verify(org["ledger"], org["root"])
    assert not rep.ok and "no valid key here (the key was revoked)" in rep.problems[0]
    assert _gate(org).returncode == 3


def test_a_rotated_key_replaces_the_old_one(org: dict) -> None:
    old = org["key"]("priya")
    out = org["bw"]("keys", "rotate", "--name", "priya")
    assert out.returncode == 0 and "new key sha256:" in out.stdout
    org["bw"]("approve", STORY, "--as", "priya", "--comment", "with my new key")
    assert _gate(org).returncode == 0
    forge_record(org["ledger"], "decision", "priya", _approval_body(org) | {"comment": "old key"}, key=old)
    _cover(org)
    assert not verify(org["ledger"], org["root"]).ok


def test_a_role_revoked_cannot_decide_afterwards(org: dict) -> None:
    org["bw"]("roles", "revoke", "priya", "change-advisory-board", "--as", "dana")
    out = org["bw"]("approve", STORY, "--as", "priya", "--comment", "x", check=False)
    assert out.returncode == 1 and "priya holds no role in the ledger" in out.stderr


# -- what an approval binds to -------------------------------------------------------------------------------
def test_an_approval_does_not_survive_a_widened_delta(org: dict, tmp_path: Path) -> None:
    """Re-proposed with the same id and a wider change, not re-scored: the gate compares what would run."""
    from analyzer.graph.store import open_store

    org["bw"]("approve", STORY, "--as", "priya", "--comment", "ETL moved first")
    assert _gate(org).returncode == 0
    store = open_store(org["store"])
    p = store.get_documents("proposals")[STORY]
    wider = json.loads(json.dumps(p))
    wider["change"]["delta"] = {"remove_principals": ["*"], "statement_ids": []}
    store.put_documents("proposals", {STORY: wider})
    store.close()
    out = _gate(org, "--format", "json")
    verdict = json.loads(out.stdout)
    assert out.returncode == 3 and not verdict["allowed"]
    assert any("re-proposed" in d for d in verdict["differences"]), verdict


def test_an_approval_does_not_survive_a_policy_that_requires_another_role(org: dict, tmp_path: Path) -> None:
    org["bw"]("approve", STORY, "--as", "priya", "--comment", "ETL moved first")
    policy = yaml.safe_load(
        (Path(__file__).parents[2] / "data/samples/acme-fin/policy/tier-policy.yaml").read_text()
    )
    for rule in policy["rules"]:
        if rule.get("approver_role") == "change-advisory-board":
            rule["approver_role"] = "CISO"
    raised = tmp_path / "raised.yaml"
    raised.write_text(yaml.safe_dump(policy))
    org["bw"]("policy", "load", str(raised), "--as", "dana")  # the owner raises it: in force
    out = _gate(org, "--format", "json")
    verdict = json.loads(out.stdout)
    assert out.returncode == 3 and any("requires the role 'CISO'" in d for d in verdict["differences"]), (
        verdict
    )


def test_an_approval_does_not_survive_an_edited_result(org: dict) -> None:
    """The scored impact edited in the store (severed list emptied): the approval named other facts."""
    from analyzer.graph.store import open_store

    org["bw"]("approve", STORY, "--as", "priya", "--comment", "ok")
    store = open_store(org["store"])
    r = store.get_documents("results")[STORY]
    store.put_documents("results", {STORY: r | {"severed": []}})
    store.close()
    out = _gate(org, "--format", "json")
    assert out.returncode == 3 and any("scored impact" in d for d in json.loads(out.stdout)["differences"])


def test_only_the_policy_owners_acceptance_lets_auto_stand(org: dict) -> None:
    """Priya holds a role (CAB), so a risk acceptance she signs "as change-advisory-board" is a valid
    record; it must still not make anything auto: only the policy owner's role (CISO) accepts risk."""
    from analyzer import api
    from analyzer.governance.decisions import policy_ref, tier_now
    from analyzer.graph.store import open_store
    from analyzer.timeutil import now

    store = open_store(org["store"])
    policy = api.current_policy(store)
    result = store.get_documents("results")[STORY] | {"risk_score": 5, "impacted_services": []}
    store.close()
    result["policy_facts"] = result["policy_facts"] | {
        "severed": 0,
        "severed_observed": 0,
        "undocumented": 0,
        "unknowns": 0,
        "max_criticality": None,
    }
    forge_record(
        org["ledger"],
        "risk_acceptance",
        "priya",
        {
            "acceptance_id": "ra-forged",
            "accepted_by": "priya",
            "role": "change-advisory-board",
            "scope": {
                "change_kinds": ["iam.update_trust_policy"],
                "max_risk": 100,
                "max_criticality": "critical",
            },
            "expires": "2099-01-01T00:00:00Z",
            "statement": "auto for everything",
            "policy": policy_ref(policy),
        },
        org["key"]("priya"),
    )
    _cover(org)
    rep = verify(org["ledger"], org["root"])
    assert rep.ok and rep.authority is not None  # a record Priya may sign ...
    t = tier_now(result, policy, rep.authority.acceptances, now())
    assert (
        t["tier"] == "approval" and "not as the policy's owner 'CISO'" in t["why"]
    )  # ... that accepts nothing
    org["bw"](
        "accept-risk",
        "--as",
        "dana",
        "--kind",
        "iam.update_trust_policy",
        "--max-risk",
        "10",
        "--expires",
        "2099-01-01T00:00:00Z",
        "--statement",
        "unused external trust may go unattended",
    )
    rep = verify(org["ledger"], org["root"])
    assert rep.ok and rep.authority is not None
    assert tier_now(result, policy, rep.authority.acceptances, now())["tier"] == "auto"


def test_an_approval_does_not_survive_a_changed_requester(org: dict) -> None:
    """Approved while the finding's tool asked for it; then the proposal says Priya asked for it herself."""
    from analyzer.graph.store import open_store

    org["bw"]("approve", STORY, "--as", "priya", "--comment", "ok")
    store = open_store(org["store"])
    p = store.get_documents("proposals")[STORY]
    store.put_documents("proposals", {STORY: p | {"requester": "priya"}})
    store.close()
    out = _gate(org, "--format", "json")
    assert out.returncode == 3 and any(
        "requester is now 'priya'" in d for d in json.loads(out.stdout)["differences"]
    )


# -- the gate with nothing to stand on ----------------------------------------------------------------------
def test_the_gate_without_a_trust_root_says_no(org: dict) -> None:
    import os

    org["bw"]("approve", STORY, "--as", "priya", "--comment", "ok")
    env = {k: v for k, v in os.environ.items() if k != "BLASTWALL_TRUST_ROOT"}
    out = subprocess.run(
        [*blastwall_cmd(), "--store", str(org["store"]), "gate", STORY],
        capture_output=True,
        text=True,
        env=env,
    )
    assert out.returncode == 3 and "no trust root given" in out.stdout


def test_the_gate_answer_is_recorded_or_it_is_no(org: dict) -> None:
    """With the recorder's key gone, an approved change still gets no pass: the answer cannot be recorded."""
    org["bw"]("approve", STORY, "--as", "priya", "--comment", "ok")
    (org["store"] / "recorder" / f"{RECORDER_NAME}.ed25519.pem").unlink()
    out = _gate(org)
    assert out.returncode == 3 and "could not be recorded" in out.stdout


def test_the_store_and_ledger_are_owner_only(org: dict) -> None:
    for p in (org["store"], org["ledger"], org["store"] / "blastwall.sqlite", org["store"] / "recorder"):
        assert p.stat().st_mode & 0o077 == 0, p


# -- a policy edit is adopted by the policy's owner only -----------------------------------------------
def test_an_adoption_forged_by_a_registered_viewer_is_refused(org: dict) -> None:
    """Sam writes, with his own key, a policy adoption claiming the CISO role he does not hold (what the
    CLI refuses before writing, put straight into the file): the ledger stops verifying at it."""
    body = {
        "adoption_id": "pa-000000000001",
        "suggestion_id": "ps-0123456789ab",
        "adopted_by": "sam",
        "role": "CISO",
        "owner_role": "CISO",
        "statement": "",
        "adopted_at": "2026-05-15T06:00:00Z",
        "previous": {
            "policy_id": "acme-remediation-tiers",
            "version": "2026.05",
            "digest": "sha256:" + "0" * 64,
        },
        "policy": {"policy_id": "acme-remediation-tiers", "version": "x", "digest": "sha256:" + "1" * 64},
    }
    forge_record(org["ledger"], "policy_adoption", "sam", body, key=org["key"]("sam"))
    _cover(org)
    rep = verify(org["ledger"], org["root"])
    assert not rep.ok and "sam did not hold 'CISO'" in rep.problems[0]
    # and in Dana's name, signed by Sam: not Dana's signature
    truncate_to(org["ledger"], len(lines(org["ledger"])) - 1)
    forge_record(
        org["ledger"], "policy_adoption", "dana", body | {"adopted_by": "dana"}, key=org["key"]("sam")
    )
    _cover(org)
    rep = verify(org["ledger"], org["root"])
    assert not rep.ok and "signature is not 'dana'" in rep.problems[0]


def test_a_weaker_policy_written_into_the_store_decides_nothing(org: dict, tmp_path: Path) -> None:
    """A store writer replaces the tier policy with one that sends the story to a role an accomplice
    holds (Sam, a service owner); Sam approves under it. The gate answers only under the policy its owner
    put in force in the ledger: no."""
    org["bw"]("roles", "grant", "sam", "service-owner", "--as", "dana")
    policy = yaml.safe_load(
        (Path(__file__).parents[2] / "data/samples/acme-fin/policy/tier-policy.yaml").read_text()
    )
    for rule in policy["rules"]:
        if rule.get("tier") == "cab":
            rule["tier"], rule["approver_role"] = "approval", "service-owner"
    weaker = tmp_path / "weaker.yaml"
    weaker.write_text(yaml.safe_dump(policy))
    loaded = org["bw"]("policy", "load", str(weaker))  # no --as: written into the store only
    assert "not put in force in the ledger" in loaded.stderr
    org["bw"]("score", STORY, "--as-of", "2026-05-15T06:00:00Z")
    approved = org["bw"](
        "approve", STORY, "--as", "sam", "--comment", "fine by me"
    )  # the store's policy lets him
    assert "the gate will not let the change run" in approved.stderr
    out = _gate(org, "--format", "json")
    verdict = json.loads(out.stdout)
    assert out.returncode == 3 and "not the one in force in the ledger" in verdict["reason"], verdict
    # and Sam cannot put it in force: the policy in force is the CISO's
    refused = org["bw"]("policy", "load", str(weaker), "--as", "sam", check=False)
    assert refused.returncode == 1 and "'CISO'" in refused.stderr
