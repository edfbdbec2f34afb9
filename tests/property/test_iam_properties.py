"""Properties of the evaluator on random policies and requests (hypothesis):

* the vectorized evaluator agrees with the plain per-request one, row by row, including the statements
  and the unknown keys it reports;
* adding a Deny statement never adds access; removing an Allow statement never adds access.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analyzer.iam.authorize import Subject, Target, authorize
from analyzer.iam.conditions import ABSENT, RequestContext
from analyzer.iam.evaluate import Caller, PolicySet, assess
from analyzer.iam.policy import parse_lenient
from analyzer.iam.vector import Requests, evaluate_many, merged

ACTIONS = [
    "s3:GetObject",
    "s3:PutObject",
    "S3:ListBucket",
    "kms:Decrypt",
    "sts:AssumeRole",
    "ec2:RunInstances",
]
ACTION_PATTERNS = ["*", "s3:*", "s3:Get*", "s3:?etObject", "kms:Decrypt", "sts:AssumeRole", "ec2:*", "iam:*"]
RESOURCES = [
    "arn:aws:s3:::data",
    "arn:aws:s3:::data/ana/k",
    "arn:aws:s3:::Data/x",
    "arn:aws:kms:us-east-1:111111111111:key/k1",
    "arn:aws:iam::111111111111:role/etl",
]
RESOURCE_PATTERNS = [
    "*",
    "arn:aws:s3:::data",
    "arn:aws:s3:::data/*",
    "arn:aws:s3:::data/${aws:username}/*",
    "arn:aws:kms:*:111111111111:key/*",
    "arn:aws:iam::*:role/e?l",
    "arn:aws:s3:::${aws:PrincipalTag/team}/*",
]
CALLERS = [
    Caller("arn:aws:iam::111111111111:role/etl", "111111111111", "role"),
    Caller("arn:aws:iam::222222222222:role/reader", "222222222222", "role"),
    Caller("arn:aws:iam::111111111111:user/ana", "111111111111", "user"),
    Caller("lambda.amazonaws.com", None, "service"),
]
PRINCIPALS = [
    "*",
    {"AWS": "111111111111"},
    {"AWS": "arn:aws:iam::222222222222:root"},
    {"AWS": "arn:aws:iam::111111111111:role/etl"},
    {"AWS": "arn:aws:sts::111111111111:assumed-role/etl/s1"},
    {"Service": "lambda.amazonaws.com"},
]
CONDITIONS = [
    {"StringEquals": {"aws:PrincipalOrgID": "o-1"}},
    {"StringNotEquals": {"aws:PrincipalAccount": ["111111111111"]}},
    {"StringLike": {"aws:PrincipalTag/team": "data*"}},
    {"Bool": {"aws:SecureTransport": "true"}},
    {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
    {"StringEqualsIfExists": {"aws:SourceVpc": "vpc-1"}},
    {"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]}},
    {"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": "o-1/r-1/ou-*"}},
    {"Null": {"aws:ResourceTag/env": "false"}},
    {"StringEquals": {"aws:ResourceTag/env": "prod"}},
    {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/e*"}},
    {"NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}},
    {"StringEquals": {"s3:prefix": "${aws:username}/"}},
]
PCTXS: list[dict[str, Any]] = [
    RequestContext(
        {"aws:principalorgid": ("o-1",), "aws:principaltag/team": ("data-eng",), "aws:username": ("ana",)},
        closed=("aws:principaltag/",),
    ),
    RequestContext(
        {"aws:principalorgid": ("o-2",), "aws:sourceip": ("10.1.2.3",)}, closed=("aws:principaltag/",)
    ),
    RequestContext({"aws:securetransport": ("false",), "aws:sourcevpc": ABSENT, "aws:tagkeys": ABSENT}),
    RequestContext({"aws:principalaccount": ("111111111111",), "aws:principalorgpaths": ("o-1/r-1/ou-2/",)}),
    RequestContext({}),
]
RCTXS: list[dict[str, Any]] = [
    RequestContext({"aws:resourcetag/env": ("prod",)}, closed=("aws:resourcetag/",)),
    RequestContext({}, closed=("aws:resourcetag/",)),
    RequestContext({}),
]


def statement(with_principal: bool) -> st.SearchStrategy[dict[str, Any]]:
    base: dict[str, Any] = {
        "Effect": st.sampled_from(["Allow", "Deny"]),
        "Action": st.lists(st.sampled_from(ACTION_PATTERNS), min_size=1, max_size=3),
        "Resource": st.lists(st.sampled_from(RESOURCE_PATTERNS), min_size=1, max_size=2),
    }
    optional: dict[str, Any] = {"Condition": st.sampled_from(CONDITIONS)}
    if with_principal:
        base["Principal"] = st.sampled_from(PRINCIPALS)
    return st.fixed_dictionaries(base, optional=optional)


def policy(with_principal: bool = False) -> st.SearchStrategy[PolicySet]:
    return st.lists(statement(with_principal), max_size=5).map(
        lambda sts: PolicySet.of("p", parse_lenient({"Version": "2012-10-17", "Statement": sts}).statements)
    )


requests = st.lists(
    st.tuples(
        st.integers(0, len(ACTIONS) - 1),
        st.integers(0, len(RESOURCES) - 1),
        st.integers(0, len(PCTXS) - 1),
        st.integers(0, len(RCTXS) - 1),
        st.integers(0, len(CALLERS) - 1),
    ),
    min_size=1,
    max_size=40,
)

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(policy(with_principal=True), requests, st.booleans())
def test_vectorized_agrees_with_per_request(
    policies: PolicySet, rows: list[tuple[int, ...]], principal: bool
) -> None:
    req = Requests(
        ACTIONS,
        np.array([r[0] for r in rows]),
        RESOURCES,
        np.array([r[1] for r in rows]),
        PCTXS,
        np.array([r[2] for r in rows]),
        RCTXS,
        np.array([r[3] for r in rows]),
        CALLERS,
        np.array([r[4] for r in rows]),
    )
    out = evaluate_many(policies, req, with_principal=principal)
    for i, (a, r, p, rc, c) in enumerate(rows):
        ctx = merged(PCTXS[p], RCTXS[rc])
        expected = assess(policies, ACTIONS[a], RESOURCES[r], ctx, CALLERS[c] if principal else None)
        assert out.assessment(i) == expected


def _decide(identity: PolicySet, resource: PolicySet, caller: Caller, action: str, res: str) -> int:
    subject = Subject(caller, identity, tags={"team": "data-eng"}, org_id="o-1")
    kind = "trust" if ":role/" in res else "kms" if ":kms:" in res else "policy"
    target = Target(res, res.split(":")[4] or "111111111111", kind, resource)
    d = authorize(subject, action, target)
    return {"denied": 0, "conditional": 1, "allowed": 2}[d.state]


@SETTINGS
@given(
    policy(),
    policy(with_principal=True),
    statement(False),
    st.integers(0, 5),
    st.integers(0, 4),
    st.integers(0, 2),
)
def test_adding_a_deny_never_adds_access(
    identity: PolicySet, resource: PolicySet, extra: dict[str, Any], a: int, r: int, c: int
) -> None:
    extra = {**extra, "Effect": "Deny"}
    more = identity + PolicySet.of("extra", parse_lenient({"Statement": [extra]}).statements)
    before = _decide(identity, resource, CALLERS[c], ACTIONS[a], RESOURCES[r])
    after = _decide(more, resource, CALLERS[c], ACTIONS[a], RESOURCES[r])
    assert after <= before


@SETTINGS
@given(
    policy(), policy(with_principal=True), st.integers(0, 5), st.integers(0, 4), st.integers(0, 2), st.data()
)
def test_removing_an_allow_never_adds_access(
    identity: PolicySet, resource: PolicySet, a: int, r: int, c: int, data: st.DataObject
) -> None:
    for which in ("identity", "resource"):
        ps = identity if which == "identity" else resource
        allows = [i for i, (_, s) in enumerate(ps.items) if s.effect == "Allow"]
        if not allows:
            continue
        drop = data.draw(st.sampled_from(allows))
        fewer = PolicySet(tuple(x for i, x in enumerate(ps.items) if i != drop))
        before = _decide(identity, resource, CALLERS[c], ACTIONS[a], RESOURCES[r])
        after = (
            _decide(fewer, resource, CALLERS[c], ACTIONS[a], RESOURCES[r])
            if which == "identity"
            else _decide(identity, fewer, CALLERS[c], ACTIONS[a], RESOURCES[r])
        )
        assert after <= before


@st.composite
def subjects(draw: st.DrawFn) -> list[Subject]:
    out = []
    for c in CALLERS:
        levels = tuple((f"ou{i}", draw(policy())) for i in range(draw(st.integers(0, 2))))
        identity = draw(st.one_of(st.none(), policy())) if c.kind != "service" else PolicySet()
        boundary = draw(st.one_of(st.none(), policy()))
        out.append(
            Subject(
                c,
                identity,
                boundary,
                scp_levels=levels,
                scp_exempt=draw(st.booleans()),
                tags={"team": "data-eng"},
                username="ana" if c.kind == "user" else None,
                org_id="o-1",
            )
        )
    return out


@st.composite
def targets(draw: st.DrawFn) -> list[Target]:
    out = []
    for r in RESOURCES:
        kind = "trust" if ":role/" in r else "kms" if ":kms:" in r else "policy"
        account = r.split(":")[4] or draw(st.sampled_from(["111111111111", "222222222222"]))
        out.append(
            Target(
                r,
                account,
                kind,
                draw(st.one_of(st.none(), policy(with_principal=True))),
                policy_known=draw(st.booleans()),
                tags=draw(st.sampled_from([None, {"env": "prod"}, {}])),
            )
        )
    return out


@SETTINGS
@given(
    subjects(),
    targets(),
    st.lists(st.tuples(st.integers(0, 3), st.integers(0, 5), st.integers(0, 4)), min_size=1, max_size=30),
)
def test_batch_agrees_with_per_request(
    subs: list[Subject], tgts: list[Target], rows: list[tuple[int, int, int]]
) -> None:
    from analyzer.iam.batch import authorize_many

    out = authorize_many(
        subs,
        tgts,
        ACTIONS,
        np.array([r[0] for r in rows]),
        np.array([r[1] for r in rows]),
        np.array([r[2] for r in rows]),
    )
    for i, (s, a, t) in enumerate(rows):
        expected = authorize(subs[s], ACTIONS[a], tgts[t])
        assert out.decision(i) == expected
        assert out.states()[i] == expected.state


# -- the indexed Principal lookup equals matching value by value ---------------------------------------
_PRINCIPAL_POOL = [
    "*",
    "111111111111",
    "222222222222",
    "arn:aws:iam::111111111111:root",
    "arn:aws:iam::222222222222:root",
    "arn:aws:iam::111111111111:role/etl",
    "arn:aws:iam::222222222222:role/etl",
    "arn:aws:iam::111111111111:user/ana",
    "arn:aws:iam::111111111111:role/et*",
    "arn:aws:sts::111111111111:assumed-role/etl/session-1",
    "arn:aws:sts::222222222222:assumed-role/reader/s",
    "ec2.amazonaws.com",
]
_CALLERS = [
    ("arn:aws:iam::111111111111:role/etl", "111111111111", "role"),
    ("arn:aws:iam::222222222222:role/reader", "222222222222", "role"),
    ("arn:aws:iam::111111111111:user/ana", "111111111111", "user"),
    ("arn:aws:iam::111111111111:root", "111111111111", "root"),
    ("arn:aws:iam::333333333333:role/etl", "333333333333", "role"),
    ("ec2.amazonaws.com", None, "service"),
]


@settings(max_examples=300, deadline=None)
@given(
    aws=st.lists(st.sampled_from(_PRINCIPAL_POOL), min_size=0, max_size=12),
    service=st.lists(st.sampled_from(["ec2.amazonaws.com", "lambda.amazonaws.com"]), max_size=2),
    who=st.sampled_from(_CALLERS),
)
def test_indexed_principal_match_equals_value_by_value(
    aws: list[str], service: list[str], who: tuple
) -> None:
    from analyzer.iam.evaluate import principal_match, principal_value_match

    caller = Caller(who[0], who[1], who[2])
    principals = {"AWS": tuple(aws), "Service": tuple(service)}
    best, direct = 0, False
    for ptype, values in principals.items():
        for v in values:
            m, d = principal_value_match(ptype, v, caller)
            if m > best or (m == best and d and not direct):
                best, direct = m, d
    assert principal_match(principals, caller) == (best, direct)


_tri = st.integers(0, 2)
_cols = st.tuples(_tri, _tri, _tri)


@settings(max_examples=3000, deadline=None)
@given(
    identity=_cols,
    boundary=st.none() | _cols,
    scps=st.lists(_cols, max_size=3),
    resource=_cols,
    same=st.booleans(),
    role=st.booleans(),
    required=st.booleans(),
)
def test_combine_one_equals_the_array_combination(
    identity: Any, boundary: Any, scps: Any, resource: Any, same: bool, role: bool, required: bool
) -> None:
    """The per-request combination in plain integers is the array one on a single row."""
    from analyzer.iam.authorize import combine, combine_one

    args = dict(identity=identity, boundary=boundary, scps=scps, resource=resource)
    flags = dict(same_account=same, caller_is_role=role, required=required)
    arrays = {
        k: None
        if v is None
        else [tuple(np.array([x]) for x in c) for c in v]
        if k == "scps"
        else tuple(np.array([x]) for x in v)
        for k, v in args.items()
    }
    want = int(combine(**arrays, **{k: np.array([v]) for k, v in flags.items()})[0])  # type: ignore[arg-type]
    assert combine_one(**args, **flags) == want  # type: ignore[arg-type]
