"""The synthetic enterprise with every account's VPC at 10.0.0.0/16 (``synth --overlapping-cidrs``): the
same private addresses exist in all six accounts. Flow records name the interface that captured them, so
the flows, and what every network proposal severs, must be exactly those of the same enterprise with
distinct ranges: no flow crosses into another account because an address repeats there."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from analyzer import api
from analyzer.demo import load_directory
from analyzer.graph.store import open_store
from analyzer.network.load import NETWORK
from analyzer.synth import generate
from analyzer.timeutil import parse_time
from connectors.proposals import import_proposals

pytestmark = pytest.mark.integration


def _load(tmp: Path, name: str, overlapping: bool) -> tuple[list[tuple[str, str, str]], dict[str, Any]]:
    out = tmp / name
    generate("S", 5, out, overlapping)
    as_of = json.loads((out / "synth.json").read_text())["as_of"]
    store = open_store(tmp / f"{name}-store")
    assert load_directory(store, out, seen=as_of) == []
    flows = sorted(
        (e.src.rsplit("/", 1)[-1], e.dst.rsplit("/", 1)[-1], str(e.props.get("port")))
        for e in store.read_graph().edges
        if e.kind == "OBSERVED_FLOW"
    )
    # revoke every group's VPC-wide rule (8443 from the VPC's own range, which differs between the two)
    proposals = []
    for text in store.get_document_texts(NETWORK).values():
        for g in json.loads(text).get("ec2-DescribeSecurityGroups", {}).get("SecurityGroups", []):
            for perm in g.get("IpPermissions", []):
                if perm.get("FromPort") == 8443:
                    proposals.append(
                        {
                            "id": f"revoke-{g['GroupId']}",
                            "title": "revoke the VPC-wide rule",
                            "change": {
                                "kind": "sg.revoke_rules",
                                "target": g["GroupId"],
                                "delta": {"ingress": [perm]},
                            },
                        }
                    )
    (tmp / f"{name}.json").write_text(json.dumps({"blastwall_proposals": 1, "proposals": proposals}))
    report = import_proposals(store, [tmp / f"{name}.json"])
    assert report.errors == [] and len(report.imported) == len(proposals) > 10
    results = api.score(store, list(report.imported), as_of=parse_time(as_of), save=False)["results"]
    severed = {
        r["change"]["target"]: sorted((s["consumer"], s["provider"], s["access"]) for s in r["severed"])
        for r in results
    }
    return flows, severed


def test_reused_ranges_change_no_flow_and_no_severed_dependency(tmp_path: Path) -> None:
    flows, severed = _load(tmp_path, "distinct", False)
    flows_o, severed_o = _load(tmp_path, "overlapping", True)
    assert json.loads((tmp_path / "overlapping" / "synth.json").read_text())["overlapping_cidrs"] is True
    on_interfaces = [f for f in flows_o if f[0].startswith("eni-") and f[1].startswith("eni-")]
    assert len(on_interfaces) > 50 and flows_o == flows
    assert any(v for v in severed.values()) and severed_o == severed
