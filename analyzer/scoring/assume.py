"""Who can assume a role: the role's trust policy is required, and (unless it names the caller itself in
the same account) the caller's identity policies must allow too, within its permissions boundary and its
organization's SCPs. Cross-account always needs both sides. The rules live in ``analyzer.iam.authorize``."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import numpy as np

from analyzer.graph.ids import WEB_IDENTITY_PREFIX
from analyzer.iam.authorize import Parts, Target, assess_parts, authorize, decide_from_parts, request_context
from analyzer.iam.batch import authorize_many
from analyzer.iam.evaluate import Decision, PolicySet, assess
from analyzer.iam.policy import parse_document, parse_lenient
from analyzer.scoring.context import SERVICE_PREFIX, Context, account_of

ACTION = "sts:AssumeRole"


def trust_statements(role_arn: str, doc: Any) -> PolicySet:
    """A trust policy as statements; raises BadInput when it cannot be read at all."""
    return PolicySet.of(f"{role_arn}#trust", parse_document(doc, where=f"{role_arn} trust policy"))


def principals_by_account(ctx: Context) -> dict[str, list[str]]:
    """The principals of each account (built once per snapshot)."""

    def build() -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for arn, p in ctx.principals.items():
            out.setdefault(p.account, []).append(arn)
        return out

    return ctx.memo(("principals-by-account",), build)  # type: ignore[return-value]


def candidates(ctx: Context, role_arn: str, docs: list[Any], observed: set[str]) -> list[str]:
    """Principals whose access a change to this trust policy can touch: those the documents name (an
    account root names every principal of that account) and those observed assuming the role. Service
    principals are judged with the workloads they run (``analyzer.scoring.service_trust``)."""
    out: dict[str, None] = {}
    by_account = principals_by_account(ctx)
    for doc in docs:
        for st in parse_lenient(doc).statements:
            for value in st.principals.get("AWS", ()) + st.not_principals.get("AWS", ()):
                if value == "*" or st.not_principals:
                    out.update(dict.fromkeys(ctx.principals))
                    continue
                acct = value if value.isdigit() else account_of(value)
                if value.isdigit() or value.endswith(":root"):
                    members = by_account.get(acct)
                    if members:
                        out.update(dict.fromkeys(members))
                    else:
                        out[f"arn:aws:iam::{acct}:root"] = None
                else:
                    out[value] = None
    out.update(  # services and web identities: judged with their workloads (service_trust, web_identity_trust)
        dict.fromkeys(o for o in observed if not o.startswith((SERVICE_PREFIX, WEB_IDENTITY_PREFIX)))
    )
    return [c for c in out if c != role_arn]


def _shape(st: Any) -> str:
    """A statement without its Principal values: two statements of one shape differ only in whom they
    name."""
    return json.dumps(
        [
            st.effect,
            st.actions,
            st.not_actions,
            st.resources,
            st.not_resources,
            st.conditions,
            sorted(st.principals),
            st.not_principals,
        ],
        sort_keys=True,
    )


def changed_principals(before: Any, after: Any) -> tuple[set[str], bool]:
    """The ``AWS`` principal values whose statements differ between two trust policies, and whether the
    difference can concern anyone (``*``, NotPrincipal, a statement whose shape changed with a Service or
    Federated principal in it). A principal none of these values names gets the same answer from both
    documents: statements the two share match it alike, and the others do not name it."""
    groups: dict[str, tuple[list[Any], list[Any]]] = {}
    for side, doc in enumerate((before, after)):
        for st in parse_lenient(doc).statements:
            groups.setdefault(_shape(st), ([], []))[side].append(st)
    values: set[str] = set()
    for b, a in groups.values():
        # statements of one shape are alternatives: a principal is matched by them exactly when one of
        # their values names it, so only the values in one union and not the other can change an answer
        if any(st.not_principals or set(st.principals) - {"AWS"} for st in b + a):
            if sorted(repr(st.principals) + repr(st.not_principals) for st in b) != sorted(
                repr(st.principals) + repr(st.not_principals) for st in a
            ):
                return set(), True
            continue
        union_b = {v for st in b for v in st.principals.get("AWS", ())}
        union_a = {v for st in a for v in st.principals.get("AWS", ())}
        values |= union_b ^ union_a
    return values, "*" in values


def touched_candidates(
    ctx: Context, role_arn: str, before: Any, others: list[Any], observed: set[str]
) -> list[str]:
    """The principals whose answer from the trust policy can differ between ``before`` and any of
    ``others``: those named by a differing principal value (an account names all its principals), or
    everyone the documents can concern when the difference is not confined to named principals."""
    values: set[str] = set()
    for other in others:
        got, everyone = changed_principals(before, other)
        if everyone:
            return candidates(ctx, role_arn, [before, *others], observed)
        values |= got
    if not values:
        return []
    doc = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": sorted(values)}, "Action": ACTION}]}
    return candidates(ctx, role_arn, [doc], set())


def decide_assume(ctx: Context, principal_arn: str, role_arn: str, trust: PolicySet) -> Decision:
    """Whether ``principal_arn`` may call sts:AssumeRole on ``role_arn`` given the trust policy ``trust``
    (passed in so a proposed trust policy can be judged before it exists)."""
    base = ctx.target(role_arn)
    target = Target(role_arn, account_of(role_arn), "trust", trust, True, base.tags, base.org_id)
    return authorize(ctx.subject(principal_arn), ACTION, target)


TRUST_ARRAYS_FROM = 50
"""From this many candidate callers a trust change decides them in arrays (``trust_states``): at L one
array evaluation of a few hundred callers costs about a third less than evaluating them one by one, with
the same results (tests/integration/test_synth_batch.py)."""

STATE_NAMES = ("denied", "conditional", "allowed")


def trust_states(ctx: Context, role_arn: str, principals: list[str], trusts: list[PolicySet]) -> np.ndarray:
    """``decide_assume``'s state for every principal under every trust policy, shape (principals, trusts):
    0 denied, 1 conditional, 2 allowed. One batch evaluation: principals whose policies consist of the
    same statements are evaluated together, each SCP chain once, each trust policy once against all."""
    base = ctx.target(role_arn)
    targets = [
        Target(role_arn, account_of(role_arn), "trust", t, True, base.tags, base.org_id) for t in trusts
    ]
    subjects = [ctx.subject(p) for p in principals]
    n, k = len(subjects), len(targets)
    rows_subject = np.repeat(np.arange(n, dtype=np.int64), k)
    rows_target = np.tile(np.arange(k, dtype=np.int64), n)
    out = authorize_many(
        subjects,
        targets,
        [ACTION],
        rows_subject,
        np.zeros(n * k, np.int64),
        rows_target,
        group_by_statements=True,
    )
    return out.state.reshape(n, k)


class TrustVariants:
    """One caller assuming one role under several trust policies (before, after, restored), sharing all
    that does not depend on the trust policy: the request context, and (on first need) the identity,
    boundary and SCP assessments. ``sides[i]`` is the trust policy's own answer, the cheap check; where two
    sides are equal so are the decisions. ``decision(i)`` equals ``decide_assume`` under ``trusts[i]``."""

    def __init__(self, ctx: Context, principal_arn: str, role_arn: str, trusts: list[PolicySet]) -> None:
        base = ctx.target(role_arn)
        self._subject = ctx.subject(principal_arn)
        self._targets = [
            Target(role_arn, account_of(role_arn), "trust", t, True, base.tags, base.org_id) for t in trusts
        ]
        self._rctx = request_context(self._subject, self._targets[0])  # the policy is not part of it
        caller = self._subject.caller
        self._trust = [assess(t, ACTION, role_arn, self._rctx, caller=caller) for t in trusts]
        self.sides = [(a.allow, a.deny, a.allow_direct) for a in self._trust]
        self._rest: Parts | None = None
        self._decisions: dict[int, Decision] = {}

    def decision(self, i: int) -> Decision:
        if i not in self._decisions:
            if self._rest is None:  # no trust policy: the resource part is assessed as nothing here
                bare = replace(self._targets[0], policy=None)
                self._rest = assess_parts(self._subject, ACTION, bare, self._rctx)
            rest = self._rest
            parts = Parts(rest.identity, rest.boundary, rest.scps, self._trust[i])
            self._decisions[i] = decide_from_parts(self._subject, self._targets[i], parts)
        return self._decisions[i]
