"""A kill at each step of what writes authority leaves the ledger and the keys consistent, or repairable
by the next command, which says what it repaired (issue #17). The kill is real: a child process running
the real CLI exits (os._exit, no cleanup) at the chosen step."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from analyzer.governance.ledger import Ledger, verify
from analyzer.governance.trust_root import parse
from tests.conftest import blastwall_cmd

pytestmark = pytest.mark.integration
STORY = "bw-87109988a633"

# Runs `blastwall ARGS…` with one step replaced by an immediate exit (137, like SIGKILL)
KILLER = """
import os, sys
step, args = sys.argv[1], sys.argv[2:]
from analyzer.governance import ledger as L, signing
def die(*a, **k):
    os._exit(137)
if step == "before-ledger":          # the key file is written, nothing is appended
    L.Ledger.append_many = die
elif step == "before-head":          # the record is written and synced, the head not yet signed
    L.Ledger._sign_head = die
elif step == "mid-record":           # half of the record's line reaches the file
    real = L.Ledger._write
    def half(self, f, auth, rtype, body, actor, key):
        if rtype in ("decision", "identity", "org_root", "role_grant"):
            f.write(b'{"v":2,"seq":' + str(auth.seq + 1).encode() + b',"time":"2026')
            f.flush()
            os._exit(137)
        return real(self, f, auth, rtype, body, actor, key)
    L.Ledger._write = half
elif step == "mid-org-init":         # the second of org init's three records
    real = L.Ledger._write
    calls = []
    def second(self, *a, **k):
        calls.append(1)
        if len(calls) == 2:
            os._exit(137)
        return real(self, *a, **k)
    L.Ledger._write = second
elif step == "before-key-move":      # rotation recorded, the new key not yet in place
    from pathlib import Path
    real_rename = Path.rename
    def rename(self, target):
        if str(self).endswith(".ed25519.pem") and "retired" in str(target):
            os._exit(137)
        return real_rename(self, target)
    Path.rename = rename
from analyzer.cli import main
sys.argv = ["blastwall", *args]
main()
"""


@pytest.fixture
def org(demo_org: dict) -> dict:
    store = demo_org["store"]

    def killed(step: str, *args: str) -> int:
        return subprocess.run(
            [sys.executable, "-c", KILLER, step, "--store", str(store), *args],
            capture_output=True,
            timeout=300,
        ).returncode

    return demo_org | {"bw": lambda *a: demo_org["bw"](*a, check=False), "killed": killed}


def _verifies(org: dict) -> bool:
    return verify(org["ledger"], parse(str(org["store"] / "trust-root.json"))).ok


def test_keys_init_killed_before_the_ledger_then_run_again(org: dict) -> None:
    assert org["killed"]("before-ledger", "keys", "init", "--name", "sam") == 137
    assert (org["store"] / "demo-keys" / "sam.ed25519.pem").exists() and _verifies(org)
    out = org["bw"]("keys", "init", "--name", "sam")  # the identity is creatable: its key is reused
    assert out.returncode == 0, out.stderr
    fpr = out.stdout.split("key ")[1].split()[0]
    from analyzer.governance import signing

    key = signing.load_private_key("sam", org["store"] / "demo-keys")
    assert fpr == signing.fingerprint(signing.public_key_of(key)) and _verifies(org)


@pytest.mark.parametrize(
    "args", [("keys", "init", "--name", "sam"), ("approve", STORY, "--as", "priya", "--comment", "ok")]
)
def test_killed_before_the_head_is_signed_the_next_command_covers_it(
    org: dict, args: tuple[str, ...]
) -> None:
    assert org["killed"]("before-head", *args) == 137
    rep = verify(org["ledger"], parse(str(org["store"] / "trust-root.json")))
    assert not rep.ok and "past the signed head" in rep.problems[0]  # said, not hidden
    out = org["bw"]("audit", "checkpoint")
    assert out.returncode == 0, out.stderr
    assert _verifies(org)
    repairs = [r for r in Ledger(org["ledger"]).records() if r["type"] == "repair"]
    assert repairs and "uncovered_records" in repairs[-1]["body"]
    if args[0] == "approve":  # the decision was whole and signed: it counts
        assert org["bw"]("gate", STORY).returncode == 0


def test_approve_killed_mid_record_leaves_no_decision_and_a_recorded_repair(org: dict) -> None:
    assert org["killed"]("mid-record", "approve", STORY, "--as", "priya", "--comment", "ok") == 137
    rep = verify(org["ledger"], parse(str(org["store"] / "trust-root.json")))
    assert rep.ok and any("not a whole record" in w for w in rep.warnings)
    out = org["bw"]("gate", STORY)
    assert out.returncode == 3  # the half-written approval never counted
    repairs = [r for r in Ledger(org["ledger"]).records() if r["type"] == "repair"]
    assert repairs and repairs[0]["body"]["torn_bytes"] > 0
    assert org["bw"]("approve", STORY, "--as", "priya", "--comment", "ok").returncode == 0
    assert org["bw"]("gate", STORY).returncode == 0 and _verifies(org)


def test_org_init_killed_midway_leaves_no_ledger(tmp_path: Path) -> None:
    store = tmp_path / "s"
    env = os.environ | {"BLASTWALL_KEYS": str(tmp_path / "keys")}
    args = ["org", "init", "--organization", "Acme", "--admin", "dana", "--out", str(tmp_path / "root.json")]
    died = subprocess.run(
        [sys.executable, "-c", KILLER, "mid-org-init", "--store", str(store), *args],
        env=env,
        capture_output=True,
    )
    assert died.returncode == 137 and not (store / "ledger.jsonl").exists()
    out = subprocess.run(
        [*blastwall_cmd(), "--store", str(store), *args], env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert verify(store / "ledger.jsonl", parse(str(tmp_path / "root.json"))).ok


def test_a_rotation_killed_before_the_key_moved_is_completed_by_the_next_command(org: dict) -> None:
    assert org["killed"]("before-key-move", "keys", "rotate", "--name", "priya") == 137
    out = org["bw"]("approve", STORY, "--as", "priya", "--comment", "with the rotated key")
    assert out.returncode == 0, out.stderr
    assert "completed an interrupted key rotation for priya" in out.stderr
    assert org["bw"]("gate", STORY).returncode == 0 and _verifies(org)
    assert list((org["store"] / "demo-keys").glob("priya.ed25519.pem.retired-*"))
