"""Properties of the evaluator on random policies and requests (hypothesis):

* the vectorized evaluator agrees with the plain per-request one, row by row, including the statements
  and the unknown keys it reports;
* adding a Deny statement never adds access; removing an Allow statement never adds access, in whichever
  policy type it is (identity, boundary, session, SCP, RCP, VPC endpoint, resource);
* the batch (``who-can``, facts, scoring) decides every row as the per-request ``can`` does, with
  boundaries, SCPs, RCPs, session policies, endpoints and service-linked roles.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analyzer.iam.authorize import Endpoint, Subject, Target, authorize
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
    Caller("arn:aws:iam::111111111111:role/etl", "111111111111", "role", session="s1"),
    Caller("anonymous", None, "anonymous"),
]
PRINCIPALS = [
    "*",
    {"AWS": "111111111111"},
    {"AWS": "arn:aws:iam::222222222222:root"},
    {"AWS": "arn:aws:iam::111111111111:role/etl"},
    {"AWS": "arn:aws:sts::111111111111:assumed-role/etl/s1"},
    {"Service": "lambda.amazonaws.com"},
    {"AWS": "*"},
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


def _endpoint(draw: st.DrawFn) -> Endpoint | None:
    kind = draw(st.sampled_from(["none", "none", "default", "policy", "unknown"]))
    if kind == "none":
        return None
    if kind == "unknown":
        return Endpoint("vpce-1", None, policy_known=False)
    return Endpoint("vpce-1", draw(policy(with_principal=True)) if kind == "policy" else None)


SLOTS = ("identity", "boundary", "session", "scp", "rcp", "endpoint", "resource")


def _state(subject: Subject, target: Target, action: str) -> int:
    return {"denied": 0, "conditional": 1, "allowed": 2}[authorize(subject, action, target).state]


def _get(slot: str, s: Subject, t: Target) -> PolicySet | None:
    if slot == "identity":
        return s.identity
    if slot == "boundary":
        return s.boundary
    if slot == "session":
        return s.session_policy
    if slot == "scp":
        return s.scp_levels[0][1] if s.scp_levels else None
    if slot == "rcp":
        return t.rcp_levels[0][1] if t.rcp_levels else None
    if slot == "endpoint":
        return s.endpoint.policy if s.endpoint is not None else None
    return t.policy


def _put(slot: str, s: Subject, t: Target, ps: PolicySet) -> tuple[Subject, Target]:
    if slot == "identity":
        return replace(s, identity=ps), t
    if slot == "boundary":
        return replace(s, boundary=ps), t
    if slot == "session":
        return replace(s, session_policy=ps), t
    if slot == "scp":
        return replace(s, scp_levels=(("root", ps), *s.scp_levels[1:])), t
    if slot == "rcp":
        return s, replace(t, rcp_levels=(("root", ps), *t.rcp_levels[1:]))
    if slot == "endpoint":
        return replace(s, endpoint=Endpoint("vpce-1", ps)), t
    return s, replace(t, policy=ps, policy_known=True)


@st.composite
def requests_with_every_policy(draw: st.DrawFn) -> tuple[Subject, Target, str]:
    """One caller and one resource, each policy type present or not, every one drawn at random."""
    c = draw(st.sampled_from(CALLERS))
    iam = c.kind in ("role", "user", "root")
    r = draw(st.sampled_from(RESOURCES))
    kind = "trust" if ":role/" in r else "kms" if ":kms:" in r else "policy"
    maybe = lambda p: draw(st.one_of(st.none(), p))  # noqa: E731
    subject = Subject(
        c,
        draw(policy()) if iam else PolicySet(),
        maybe(policy()) if iam else None,
        scp_levels=tuple(("root", draw(policy())) for _ in range(draw(st.integers(0, 1)))) if iam else (),
        tags={"team": "data-eng"},
        username="ana" if c.kind == "user" else None,
        org_id="o-1",
        session_policy=maybe(policy()) if c.kind == "role" else None,
        endpoint=_endpoint(draw),
    )
    target = Target(
        r,
        r.split(":")[4] or "111111111111",
        kind,
        maybe(policy(with_principal=True)),
        rcp_levels=tuple(("root", draw(policy(with_principal=True))) for _ in range(draw(st.integers(0, 1)))),
    )
    return subject, target, draw(st.sampled_from(ACTIONS))


@SETTINGS
@given(requests_with_every_policy(), st.sampled_from(SLOTS), statement(True))
def test_adding_a_deny_never_adds_access(
    request: tuple[Subject, Target, str], slot: str, extra: dict[str, Any]
) -> None:
    s, t, action = request
    with_principal = slot in ("rcp", "endpoint", "resource")
    if not with_principal:
        extra = {k: v for k, v in extra.items() if k != "Principal"}
    deny = PolicySet.of("extra", parse_lenient({"Statement": [{**extra, "Effect": "Deny"}]}).statements)
    current = _get(slot, s, t)
    if current is None:
        return  # a new policy (a boundary, an SCP level, an endpoint policy) is a different change
    s2, t2 = _put(slot, s, t, current + deny)
    assert _state(s2, t2, action) <= _state(s, t, action)


@SETTINGS
@given(requests_with_every_policy(), st.sampled_from(SLOTS), st.data())
def test_removing_an_allow_never_adds_access(
    request: tuple[Subject, Target, str], slot: str, data: st.DataObject
) -> None:
    s, t, action = request
    ps = _get(slot, s, t)
    if ps is None:
        return
    allows = [i for i, (_, x) in enumerate(ps.items) if x.effect == "Allow"]
    if not allows:
        return
    drop = data.draw(st.sampled_from(allows))
    fewer = PolicySet(tuple(x for i, x in enumerate(ps.items) if i != drop))
    if slot in ("scp", "rcp") and not fewer.items and not fewer.unreadable:
        # AWS always attaches at least one SCP (and RCP) to a level: a level left with none reads as not
        # collected, i.e. unknown, not as "denies everything" (analyzer.iam.authorize) - another change
        return
    s2, t2 = _put(slot, s, t, fewer)
    assert _state(s2, t2, action) <= _state(s, t, action)


@st.composite
def subjects(draw: st.DrawFn) -> list[Subject]:
    out = []
    for c in CALLERS:
        levels = tuple((f"ou{i}", draw(policy())) for i in range(draw(st.integers(0, 2))))
        iam = c.kind in ("role", "user", "root")
        identity = draw(st.one_of(st.none(), policy())) if iam else PolicySet()
        boundary = draw(st.one_of(st.none(), policy())) if iam else None
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
                session_policy=draw(st.one_of(st.none(), policy())) if c.kind == "role" else None,
                endpoint=_endpoint(draw),
                service_linked=c.kind == "role" and draw(st.booleans()),
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
                rcp_levels=tuple(
                    (f"rcp{i}", draw(policy(with_principal=True))) for i in range(draw(st.integers(0, 2)))
                ),
                role_path=draw(st.sampled_from([None, "/", "/aws-service-role/"]))
                if kind == "trust"
                else None,
            )
        )
    return out


@SETTINGS
@given(
    subjects(),
    targets(),
    st.lists(
        st.tuples(st.integers(0, len(CALLERS) - 1), st.integers(0, 5), st.integers(0, 4)),
        min_size=1,
        max_size=30,
    ),
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
