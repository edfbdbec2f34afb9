"""Reading only what grants (roles, acceptances, decisions) skips the signatures of the system's own
records, which grant nothing — a ledger in use is mostly gate answers — and nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest

from analyzer.governance import identities, signing
from analyzer.governance.decisions import accept_risk
from analyzer.governance.ledger import Ledger, replay
from analyzer.governance.tier_policy import load_policy
from tests.forgery import forge_record


@pytest.fixture
def ledger(tmp_path: Path) -> tuple[Ledger, Path]:
    keys = tmp_path / "keys"
    led = Ledger(tmp_path / "ledger.jsonl")
    identities.init_org(led, organization="T", admin="ana", key_dir=keys)
    policy = load_policy(None)
    identities.grant(led, "ana", policy.doc["owner_role"], admin="ana", key_dir=keys)
    accept_risk(
        led,
        who="ana",
        policy=policy,
        kinds=["iam.update_trust_policy"],
        max_risk=30,
        max_criticality="low",
        expires="2099-01-01T00:00:00Z",
        statement="unused trust",
        key_dir=keys,
    )
    for i in range(3):
        led.append_system("gate", {"proposal_id": f"bw-{i}", "allowed": False})
    return led, keys


def test_grants_only_reads_the_same_acceptances_as_a_full_replay(ledger: tuple[Ledger, Path]) -> None:
    led, _ = ledger
    full, quick = replay(led.path.read_bytes()), replay(led.path.read_bytes(), grants_only=True)
    assert full.first_bad is None and quick.first_bad is None
    assert quick.authority.acceptances == full.authority.acceptances and len(full.authority.acceptances) == 1


def test_a_badly_signed_grant_is_refused_even_reading_grants_only(ledger: tuple[Ledger, Path]) -> None:
    led, _ = ledger
    forge_record(
        led.path,
        "risk_acceptance",
        "ana",
        {
            "acceptance_id": "ra-forged",
            "accepted_by": "ana",
            "role": "CISO",
            "scope": {"change_kinds": ["resource.delete"]},
            "expires": "2099-01-01T00:00:00Z",
        },
        signing.new_key(),  # not ana's
    )
    quick = replay(led.path.read_bytes(), grants_only=True)
    assert quick.first_bad is not None and "ra-forged" not in quick.authority.acceptances


def test_a_badly_signed_gate_answer_is_skipped_only_when_reading_grants(ledger: tuple[Ledger, Path]) -> None:
    led, _ = ledger
    forge_record(
        led.path, "gate", "blastwall-recorder", {"proposal_id": "bw-9", "allowed": True}, signing.new_key()
    )
    assert replay(led.path.read_bytes()).first_bad is not None  # the gate's full reading refuses it
    quick = replay(led.path.read_bytes(), grants_only=True)
    assert quick.first_bad is None and len(quick.authority.acceptances) == 1
