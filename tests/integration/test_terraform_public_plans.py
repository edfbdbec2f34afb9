"""Terraform plans Blastwall did not write (``tests/data/terraform-public/README.md``: from Checkov's test
suite, Terraform 0.12 to 1.9, plan formats 0.1 to 1.2): each is detected and parsed; rules updated in place
on existing groups become exact ``sg.replace_rules``; a plan that only creates resources proposes nothing
and says so in one line."""

from __future__ import annotations

import subprocess
from pathlib import Path

from analyzer.graph.store import open_store
from tests.conftest import blastwall_cmd

DATA = Path(__file__).parent.parent / "data" / "terraform-public"


def _propose(tmp_path: Path, name: str) -> tuple[subprocess.CompletedProcess[str], list[dict]]:
    store = tmp_path / name
    out = subprocess.run(
        [*blastwall_cmd(), "--store", str(store), "propose", str(DATA / name)], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    st = open_store(store)
    try:
        return out, list(st.get_documents("proposals").values())
    finally:
        st.close()


def test_rules_updated_in_place_are_exact_replacements(tmp_path: Path) -> None:
    _, proposals = _propose(tmp_path, "checkov-plan-change-keys.json")
    by_group = {p["change"]["target"]: p["change"] for p in proposals}
    assert set(by_group) == {"sg-547cc4cd5f94bb695", "sg-547cc4cd5f94bb696"}
    peer = [{"GroupId": "sg-8d21ab5963b0e7917"}]
    widened = by_group["sg-547cc4cd5f94bb695"]
    assert (widened["kind"], widened["fidelity"]) == ("sg.replace_rules", "exact")
    assert widened["delta"] == {
        "revoke": {
            "ingress": [{"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "UserIdGroupPairs": peer}]
        },
        "authorize": {
            "ingress": [{"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5433, "UserIdGroupPairs": peer}]
        },
    }
    moved = by_group["sg-547cc4cd5f94bb696"]["delta"]
    assert (
        moved["revoke"]["ingress"][0]["IpProtocol"] == "tcp"
        and moved["authorize"]["ingress"][0]["IpProtocol"] == "udp"
    )


def test_plans_that_only_create_propose_nothing_and_say_so(tmp_path: Path) -> None:
    for name, created in (("checkov-terragoat-plan.json", 55), ("checkov-for-each-plan.json", 5)):
        out, proposals = _propose(tmp_path, name)
        assert proposals == []
        assert (
            f"{created} finding(s) not proposed: {created} only created by the plan"
            in out.stdout + out.stderr
        )
