"""The evaluation corpus: every case in tests/data/iam_cases.yaml (whole decisions) and
tests/data/iam_condition_cases.yaml (condition operators), each citing the AWS rule it checks."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from analyzer.iam.applicability import policy_kind
from analyzer.iam.authorize import Endpoint, Subject, Target, authorize
from analyzer.iam.conditions import ABSENT, OutsideOf, RequestContext
from analyzer.iam.evaluate import Caller, PolicySet, evaluate
from analyzer.iam.policy import parse_lenient

DATA = Path(__file__).parent.parent / "data"
CASES = yaml.safe_load((DATA / "iam_cases.yaml").read_text()) + [
    case for f in sorted((DATA / "iam").glob("*.yaml")) for case in yaml.safe_load(f.read_text())
]
CONDITION_CASES = yaml.safe_load((DATA / "iam_condition_cases.yaml").read_text())
ACCOUNT = "111111111111"


def policy(label: str, statements: list[dict[str, Any]] | None) -> PolicySet | None:
    if statements is None:
        return None
    parsed = parse_lenient({"Version": "2012-10-17", "Statement": statements}, where=label)
    return PolicySet.of(label, parsed.statements, parsed.unreadable)


def subject_of(case: dict[str, Any]) -> Subject:
    c = case.get("caller") or {}
    arn = c.get("arn", f"arn:aws:iam::{ACCOUNT}:role/app")
    kind = c.get("kind", "role")
    account = c.get("account", ACCOUNT if kind in ("role", "user", "root") else None)
    org: Any = OutsideOf(frozenset({"o-1"})) if c.get("org") == "outside" else "o-1"
    identity = policy("identity", case["identity"]) if "identity" in case else PolicySet()
    ep = case.get("endpoint")
    endpoint = (
        Endpoint(ep.get("id", "vpce-1a2b3c4d"), policy("endpoint", ep.get("policy")), ep.get("known", True))
        if ep is not None
        else None
    )
    return Subject(
        Caller(arn, account, kind, session=c.get("session")),
        identity,
        policy("boundary", case.get("boundary")),
        session_policy=policy("session", case.get("session_policy")),
        endpoint=endpoint,
        service_linked=bool(c.get("slr")),
        scp_levels=tuple(
            (f"level{i}", policy(f"scp{i}", lvl) or PolicySet())
            for i, lvl in enumerate(case.get("scps") or [])
        ),
        scp_exempt=bool(c.get("management") or c.get("slr")),
        tags={"team": "data"} if kind in ("role", "user") and c.get("org") != "outside" else {},
        username=arn.rsplit("/", 1)[-1] if kind == "user" else None,
        org_id=org if kind in ("role", "user") else None,
        org_paths=("o-1/r-1/ou-prod/",) if c.get("org") != "outside" and kind in ("role", "user") else None,
    )


def target_of(case: dict[str, Any]) -> Target:
    r = case.get("resource") or {}
    arn = r.get("arn", "arn:aws:s3:::data-111/key")
    account = r.get("account") or (arn.split(":")[4] if arn != "*" and arn.split(":")[4] else ACCOUNT)
    if arn == "*":
        account = None
    return Target(
        arn,
        account,
        r.get("kind") or policy_kind(arn),  # by default, the kind the resource type carries
        policy("resource", r.get("policy")),
        policy_known=r.get("known", True),
        tags=r.get("tags"),
        role_path=r.get("path"),
        rcp_levels=tuple(
            (f"rcp-level{i}", policy(f"rcp{i}", lvl) or PolicySet())
            for i, lvl in enumerate(case.get("rcps") or [])
        ),
    )


def test_corpus_is_large_and_cited() -> None:
    assert len(CASES) + len(CONDITION_CASES) >= 400
    assert all(c.get("cite") for c in CASES) and all(len(row) == 6 and row[5] for row in CONDITION_CASES)
    assert len({c["id"] for c in CASES}) == len(CASES)
    # every cite names its page by an abbreviation the file's header explains
    for f in [DATA / "iam_cases.yaml", *sorted((DATA / "iam").glob("*.yaml"))]:
        header = "".join(line for line in f.read_text().splitlines(keepends=True) if line.startswith("#"))
        for case in yaml.safe_load(f.read_text()):
            abbrev = re.split(r"[\s:,(]", case["cite"], maxsplit=1)[0]
            assert f"{abbrev} =" in header or f"{abbrev}=" in header, (
                f"{f.name}: {case['id']} cites {abbrev!r}"
            )


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_decision(case: dict[str, Any]) -> None:
    d = authorize(subject_of(case), case.get("action", "s3:GetObject"), target_of(case), case.get("context"))
    assert d.state == case["expect"], f"{case['cite']}: {d}"
    for key in case.get("missing", []):
        assert key in d.missing_context, d
    if "reason" in case:
        assert case["reason"] in d.reason, d


def _context(key: str, value: Any) -> RequestContext:
    if value == "UNKNOWN":
        return RequestContext()
    if isinstance(value, dict):
        key, value = value["key"], value["value"]
    v: Any = ABSENT if value == "ABSENT" else tuple(value) if isinstance(value, list) else (str(value),)
    return RequestContext({key.lower(): v})


@pytest.mark.parametrize(
    "row", CONDITION_CASES, ids=[f"{i}-{r[0]}-{str(r[3])[:20]}" for i, r in enumerate(CONDITION_CASES)]
)
def test_condition_operator(row: list[Any]) -> None:
    op, key, values, value, expected, cite = row
    ps = policy(
        "p",
        [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": {op: {key: values}}}],
    )
    assert ps is not None
    ctx = _context(key, value)
    if isinstance(value, dict) or key == "s3:prefix":  # variables resolve from the principal side
        ctx["aws:username"] = ("ana",)
        ctx["aws:principaltag/home"] = ABSENT
    d = evaluate(ps, "s3:GetObject", "arn:aws:s3:::b/k", ctx)
    want = {True: "allowed", False: "denied", "unknown": "conditional"}[expected]
    assert d.state == want, f"{cite}: {d}"
