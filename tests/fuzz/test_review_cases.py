"""The hostile inputs review found (issue #17), each by name: refused with the file and the place, the
rest of the batch loaded, in well under a second."""

from __future__ import annotations

import gzip
import json
import time
from pathlib import Path

import pytest

from analyzer.errors import BadInput
from analyzer.graph.store import open_store

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "samples" / "acme-fin"
BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(9)
)


def _trail(tmp_path: Path, mutate) -> Path:  # type: ignore[no-untyped-def]
    src = next((SAMPLE / "cloudtrail").rglob("*.json.gz"))
    doc = json.loads(gzip.decompress(src.read_bytes()))
    doc["Records"] = doc["Records"][:5]
    mutate(doc["Records"])
    out = tmp_path / "AWSLogs" / "482510973311" / "CloudTrail" / "us-east-1" / "t.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc))
    return out


def test_cloudtrail_times_that_are_not_times_are_refused(tmp_path: Path) -> None:
    from connectors.evidence.cloudtrail import ingest_cloudtrail

    bad = _trail(tmp_path, lambda r: r[2].__setitem__("eventTime", "not a time"))
    r = ingest_cloudtrail(open_store(tmp_path / "s"), [bad])
    assert (
        r.files == 0 and "not a time: 'not a time'" in r.errors[0] and "$.Records[2].eventTime" in r.errors[0]
    )


def test_cloudtrail_role_arn_that_is_a_number(tmp_path: Path) -> None:
    from connectors.evidence.cloudtrail import ingest_cloudtrail

    def poison(records: list) -> None:
        rec = next(r for r in records if r["eventName"] == "AssumeRole")
        rec["requestParameters"]["roleArn"] = 7

    bad = _trail(tmp_path, poison)
    good = tmp_path / "good"
    good.mkdir()
    (good / "g.json").write_text(
        json.dumps({"Records": json.loads(_trail(tmp_path / "x", lambda r: None).read_text())["Records"]})
    )
    r = ingest_cloudtrail(open_store(tmp_path / "s"), [bad, good])
    assert r.files == 1 and len(r.errors) == 1 and str(bad) in r.errors[0] and "Records[" in r.errors[0]


def test_non_utf8_bytes_in_a_cloudtrail_string(tmp_path: Path) -> None:
    from connectors.evidence.cloudtrail import ingest_cloudtrail

    f = _trail(tmp_path, lambda r: r[0].__setitem__("eventName", "MARK"))
    f.write_bytes(f.read_bytes().replace(b"MARK", b"\xff\xfe"))
    r = ingest_cloudtrail(open_store(tmp_path / "s"), [f])
    assert r.errors or r.files == 1  # loaded (the bytes replaced) or refused by name: never a crash


def test_flow_log_start_out_of_range_is_skipped_by_line(tmp_path: Path) -> None:
    from connectors.evidence.flowlogs import ingest_flowlogs

    f = tmp_path / "AWSLogs" / "739406228105" / "vpcflowlogs" / "us-east-1" / "f.log"
    f.parent.mkdir(parents=True)
    f.write_text(
        "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n"
        "2 739406228105 eni-0a1 10.0.1.4 52.216.88.133 49152 443 6 10 840 99999999999999999999 1778803260 ACCEPT OK\n"
        "2 739406228105 eni-0a1 10.0.1.4 52.216.88.133 49152 443 6 10 840 1778803200 1778803260 ACCEPT OK\n"
    )
    r = ingest_flowlogs(open_store(tmp_path / "s"), [f])
    assert r.records == 1 and any(":2: start" in s and "is not a time" in s for s in r.skipped_lines)


def test_backstage_annotations_that_are_a_list(tmp_path: Path) -> None:
    from connectors.cmdb.backstage import ingest_backstage

    f = tmp_path / "catalog-info.yaml"
    f.write_text(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: ledger\n  annotations: [x]\nspec: {owner: me}\n"
    )
    with pytest.raises(BadInput) as exc:
        ingest_backstage(open_store(tmp_path / "s"), [f], seen="2026-05-15T06:00:00Z")
    assert str(f) in str(exc.value)


@pytest.mark.parametrize("where", ["policy", "proposal title", "opaque delta", "backstage"])
def test_an_alias_bomb_is_refused_in_well_under_a_second(tmp_path: Path, where: str) -> None:
    from analyzer.governance.tier_policy import parse_policy
    from connectors.cmdb.backstage import ingest_backstage
    from connectors.proposals import import_proposals

    assert len(BOMB) < 1600
    t = time.monotonic()
    if where == "policy":
        with pytest.raises(BadInput, match="alias"):
            parse_policy(BOMB, "tier-policy.yaml")
    elif where == "backstage":
        f = tmp_path / "c.yaml"
        f.write_text(BOMB)
        with pytest.raises(BadInput, match="alias"):
            ingest_backstage(open_store(tmp_path / "s"), [f], seen="2026-05-15T06:00:00Z")
    else:
        field = "title: *j" if where == "proposal title" else "title: t"
        delta = "delta: {steps: *j}" if where == "opaque delta" else "delta: {}"
        f = tmp_path / "p.yaml"
        f.write_text(
            BOMB
            + f"blastwall_proposals: 1\nproposals:\n  - id: x\n    {field}\n    change: {{kind: opaque.runbook, target: t, {delta}}}\n"
        )
        r = import_proposals(open_store(tmp_path / "s"), [f])
        assert not r.imported and "alias" in r.errors[0]
    assert time.monotonic() - t < 0.5


@pytest.mark.parametrize("what", ["proposal yaml", "policy yaml", "backstage"])
def test_non_utf8_yaml_is_refused_with_the_byte(tmp_path: Path, what: str) -> None:
    from analyzer.governance.tier_policy import parse_policy
    from connectors.cmdb.backstage import ingest_backstage
    from connectors.proposals import import_proposals

    data = b"title: caf\xe9\n"  # Latin-1, not UTF-8
    f = tmp_path / "x.yaml"
    f.write_bytes(data)
    if what == "policy yaml":
        with pytest.raises(BadInput, match="not UTF-8 text"):
            parse_policy(data, str(f))
    elif what == "backstage":
        with pytest.raises(BadInput, match="not UTF-8 text"):
            ingest_backstage(open_store(tmp_path / "s"), [f], seen="2026-05-15T06:00:00Z")
    else:
        r = import_proposals(open_store(tmp_path / "s"), [f])
        assert "not UTF-8 text (byte 10" in r.errors[0]


def test_a_long_title_is_refused_quickly(tmp_path: Path) -> None:
    from connectors.proposals import import_proposals

    f = tmp_path / "p.yaml"
    f.write_text(
        "blastwall_proposals: 1\nproposals:\n  - id: x\n    title: "
        + "A" * 100_000
        + "\n    change: {kind: opaque.runbook, target: t, delta: {}}\n"
    )
    t = time.monotonic()
    r = import_proposals(open_store(tmp_path / "s"), [f])
    assert not r.imported and "longer than" in r.errors[0] and time.monotonic() - t < 1
