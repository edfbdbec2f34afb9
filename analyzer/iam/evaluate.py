"""Policy evaluation with three outcomes: allowed, denied, or conditional (depends on request context
Blastwall cannot know). Follows AWS's documented order: an explicit deny wins; otherwise an allow is
needed; SCPs and permissions boundaries must also allow. Conditions on keys Blastwall knows (from the
snapshot or evidence) are evaluated; the rest make the decision conditional and are named.

This is the skeleton the IAM-semantics issue makes exact; what it does not evaluate yet it reports as
``conditional``, never as ``allowed``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from analyzer.iam.match import action_matches, resource_matches, wildcard_match
from analyzer.iam.policy import Statement

State = Literal["allowed", "denied", "conditional"]


@dataclass(frozen=True)
class Decision:
    state: State
    statements: tuple[str, ...] = ()
    missing_context: tuple[str, ...] = ()
    reason: str = ""

    @property
    def allowed(self) -> bool:
        return self.state == "allowed"


@dataclass(frozen=True)
class PolicySet:
    """Statements from one or more documents, each labelled with where it came from."""

    items: tuple[tuple[str, Statement], ...] = field(default_factory=tuple)

    @classmethod
    def of(cls, label: str, statements: list[Statement]) -> PolicySet:
        return cls(tuple((label, s) for s in statements))

    def __add__(self, other: PolicySet) -> PolicySet:
        return PolicySet(self.items + other.items)


_STRING_OPS = {
    "StringEquals": lambda pat, v: v == pat,
    "StringNotEquals": lambda pat, v: v != pat,
    "StringEqualsIgnoreCase": lambda pat, v: v.lower() == pat.lower(),
    "StringLike": lambda pat, v: wildcard_match(pat, v),
    "StringNotLike": lambda pat, v: not wildcard_match(pat, v),
    "ArnEquals": lambda pat, v: wildcard_match(pat, v),
    "ArnLike": lambda pat, v: wildcard_match(pat, v),
    "ArnNotEquals": lambda pat, v: not wildcard_match(pat, v),
    "ArnNotLike": lambda pat, v: not wildcard_match(pat, v),
    "Bool": lambda pat, v: v.lower() == pat.lower(),
}
_NEGATED = {"StringNotEquals", "StringNotLike", "ArnNotEquals", "ArnNotLike"}


def condition_holds(
    conditions: dict[str, dict[str, tuple[str, ...]]], context: dict[str, str]
) -> tuple[bool | None, tuple[str, ...]]:
    """True / False, or None with the context keys that were missing or operators not supported.

    >>> condition_holds({"StringEquals": {"aws:PrincipalOrgID": ("o-1",)}}, {"aws:principalorgid": "o-1"})
    (True, ())
    >>> condition_holds({"StringEquals": {"sts:ExternalId": ("x",)}}, {})
    (None, ('sts:ExternalId',))
    """
    missing: list[str] = []
    result: bool | None = True
    for op, kv in conditions.items():
        base = op.split(":", 1)[-1]
        if_exists = base.endswith("IfExists")
        base = base.removesuffix("IfExists")
        if ":" in op or base not in _STRING_OPS:
            missing.extend(kv.keys())
            result = None if result is not False else result
            continue
        test = _STRING_OPS[base]
        for key, values in kv.items():
            v = context.get(key.lower())
            if v is None:
                if if_exists:
                    continue
                missing.append(key)
                if result is not False:
                    result = None
                continue
            if base in _NEGATED:
                ok = all(test(p, v) for p in values)
            else:
                ok = any(test(p, v) for p in values)
            if not ok:
                result = False
    return result, tuple(missing) if result is None else ()


def _principal_matches(
    principals: dict[str, tuple[str, ...]], principal_arn: str, account: str
) -> bool | None:
    for ptype, values in principals.items():
        if ptype != "AWS":
            continue
        for v in values:
            if v == "*":
                return True
            if v == account or v == f"arn:aws:iam::{account}:root":
                return True
            if v == principal_arn:
                return True
            if ("*" in v or "?" in v) and wildcard_match(v, principal_arn):
                return True
    return False


def names_principal_exactly(principals: dict[str, tuple[str, ...]], principal_arn: str) -> bool:
    return principal_arn in principals.get("AWS", ())


def evaluate(
    policies: PolicySet,
    action: str,
    resource: str,
    context: dict[str, str],
    *,
    principal_arn: str | None = None,
    principal_account: str | None = None,
    check_principal: bool = False,
) -> Decision:
    """Evaluate one policy set (identity, resource/trust, SCP or boundary) for one request."""
    allow: list[str] = []
    maybe_allow: list[str] = []
    maybe_deny: list[str] = []
    missing: list[str] = []
    for label, st in policies.items:
        if st.actions and not action_matches(st.actions, action):
            continue
        if st.not_actions and action_matches(st.not_actions, action):
            continue
        if st.resources and not resource_matches(st.resources, resource):
            continue
        if st.not_resources and resource_matches(st.not_resources, resource):
            continue
        if check_principal:
            assert principal_arn is not None and principal_account is not None
            if st.principals and not _principal_matches(st.principals, principal_arn, principal_account):
                continue
            if st.not_principals and _principal_matches(st.not_principals, principal_arn, principal_account):
                continue
            if not st.principals and not st.not_principals:
                continue
        holds, keys = condition_holds(st.conditions, context)
        tag = f"{label}:{st.label}"
        if holds is False:
            continue
        if st.effect == "Deny":
            if holds:
                return Decision("denied", (tag,), reason="explicit deny")
            maybe_deny.append(tag)
            missing.extend(keys)
        elif holds:
            allow.append(tag)
        else:
            maybe_allow.append(tag)
            missing.extend(keys)
    if allow and not maybe_deny:
        return Decision("allowed", tuple(allow))
    if allow or maybe_allow:
        return Decision(
            "conditional",
            tuple(allow + maybe_allow + maybe_deny),
            tuple(dict.fromkeys(missing)),
            reason="depends on request context",
        )
    return Decision("denied", (), reason="no statement allows it (implicit deny)")


def combine_all(*decisions: Decision) -> Decision:
    """Every decision must allow (AND): denied wins, then conditional."""
    for d in decisions:
        if d.state == "denied":
            return d
    statements = tuple(s for d in decisions for s in d.statements)
    missing = tuple(dict.fromkeys(k for d in decisions for k in d.missing_context))
    if any(d.state == "conditional" for d in decisions):
        reasons = "; ".join(d.reason for d in decisions if d.state == "conditional" and d.reason)
        return Decision("conditional", statements, missing, reasons)
    return Decision("allowed", statements)
