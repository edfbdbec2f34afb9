"""One policy set against one request, with three outcomes (IAM User Guide, "Policy evaluation logic").

This is the plain per-request evaluator: the reference the vectorized one (``analyzer.iam.vector``) is
checked against, and what ``blastwall can --explain`` uses to show its work.

Outcomes are tri-state values encoded as small integers so NumPy can combine them: ``F`` (no), ``U``
(depends on context Blastwall cannot know) and ``T`` (yes). With F < U < T, "and" is ``min``, "or" is
``max`` and "not" is ``T - x``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from analyzer.iam.conditions import ContextValue, Unresolved, condition_holds, has_variables, substitute
from analyzer.iam.match import action_matches, wildcard_match
from analyzer.iam.policy import Statement, Unreadable

State = Literal["allowed", "denied", "conditional"]
F, U, T = 0, 1, 2
CallerKind = Literal["role", "user", "root", "service", "federated", "anonymous"]


@dataclass(frozen=True)
class Caller:
    """Who makes the request: an IAM role (its sessions), a user, an account root, a service principal
    (``arn`` is e.g. ``ec2.amazonaws.com``), a federated provider, or anonymous (unauthenticated)."""

    arn: str
    account: str | None
    kind: CallerKind = "role"
    session: str | None = None
    """For a role: the session name, when known (then its session ARN can be matched)."""
    has_boundary: bool = False
    """The IAM principal has a permissions boundary (a resource policy's Deny with NotPrincipal always
    denies it: IAM User Guide, "Permissions boundaries for IAM entities")."""

    @property
    def session_arn(self) -> str | None:
        if self.kind != "role" or not self.session or not self.account:
            return None
        return f"arn:aws:sts::{self.account}:assumed-role/{self.arn.rsplit('/', 1)[-1]}/{self.session}"


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
    """Statements from one or more documents, each labelled with where it came from, plus the statements
    that could not be read (they put every decision they could touch in doubt)."""

    items: tuple[tuple[str, Statement], ...] = field(default_factory=tuple)
    unreadable: tuple[Unreadable, ...] = ()

    @classmethod
    def of(
        cls, label: str, statements: list[Statement], unreadable: list[Unreadable] | None = None
    ) -> PolicySet:
        return cls(tuple((label, s) for s in statements), tuple(unreadable or ()))

    def __add__(self, other: PolicySet) -> PolicySet:
        return PolicySet(self.items + other.items, self.unreadable + other.unreadable)

    def relevant_unreadable(self, action: str) -> list[Unreadable]:
        out = []
        for u in self.unreadable:
            if u.actions is not None and not action_matches(u.actions, action):
                continue
            if u.not_actions is not None and action_matches(u.not_actions, action):
                continue
            out.append(u)
        return out


@dataclass(frozen=True)
class Assessment:
    """What one policy set says about one request."""

    allow: int
    """Is there an Allow statement matching the request: T, U (only conditionally) or F."""
    deny: int
    """Is there a Deny statement matching it."""
    allow_direct: int
    """Allow by a statement whose Principal names the caller itself (its ARN, or ``*``), not its account."""
    allow_statements: tuple[str, ...] = ()
    maybe_statements: tuple[str, ...] = ()
    deny_statement: str | None = None
    missing: tuple[str, ...] = ()
    allow_session: int = F
    """Allow by a statement granting to the caller unlimited by boundary or session policy: naming its
    role *session* ARN, or ``*`` (``grants_unlimited``)."""

    def decision(self, what: str = "policy") -> Decision:
        eff = min(self.allow, T - self.deny)
        if self.deny == T:
            return Decision("denied", (self.deny_statement or "",), reason="explicit deny")
        if eff == T:
            return Decision("allowed", self.allow_statements)
        if eff == U:
            return Decision(
                "conditional",
                self.allow_statements + self.maybe_statements,
                self.missing,
                reason="depends on request context",
            )
        return Decision("denied", (), reason=f"no statement in the {what} allows it (implicit deny)")


# -- principals -----------------------------------------------------------------------------------------
def principal_value_match(ptype: str, value: str, caller: Caller) -> tuple[int, bool]:
    """One value of a Principal element against the caller: (tri-state match, names the caller itself).

    AWS: ``*`` is everyone; an account id or ``arn:aws:iam::ACCOUNT:root`` is every principal of that
    account (the account then decides through its own identity policies); a role or user ARN is that
    principal; wildcards inside a principal ARN are not supported and never match; a role session ARN
    depends on the session name, which Blastwall does not know for a role.
    """
    if ptype == "AWS":
        if value == "*":
            return T, True
        if caller.kind in ("service", "federated", "anonymous"):
            return F, False
        if value.isdigit() and len(value) == 12:
            return (T, caller.kind == "root") if value == caller.account else (F, False)
        if value.startswith("arn:") and value.endswith(":root") and value.split(":")[4:5] == [caller.account]:
            return T, caller.kind == "root"
        if value == caller.arn:
            return T, True
        if caller.session_arn is not None and ":assumed-role/" in value:
            return (T, True) if value == caller.session_arn else (F, False)
        if ":assumed-role/" in value and caller.kind == "role":
            # arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION names one session of ROLE
            parts = value.split(":", 5)
            if len(parts) == 6 and parts[4] == caller.account:
                role_name = parts[5].split("/")[1] if parts[5].count("/") >= 2 else ""
                if caller.arn.rsplit("/", 1)[-1] == role_name:
                    return U, True
        return F, False
    if ptype == "Service":
        return (T, True) if caller.kind == "service" and caller.arn == value else (F, False)
    if ptype == "Federated":
        return (T, True) if caller.kind == "federated" and caller.arn == value else (F, False)
    return F, False  # CanonicalUser: Blastwall does not map canonical ids


_AwsIndex = tuple[frozenset[str], frozenset[str], bool, tuple[str, ...]]
_BY_LIST: dict[int, tuple[tuple[str, ...], _AwsIndex]] = {}


def _aws_index(values: tuple[str, ...]) -> _AwsIndex:
    """``_split_aws`` of the list, remembered by the list object itself: a parsed statement keeps its
    principal tuple for life, and hashing a list of thousands of ARNs on every request cost more than
    the lookup it serves (the tuple is kept with its entry, so an id is never reused while cached)."""
    hit = _BY_LIST.get(id(values))
    if hit is not None and hit[0] is values:
        return hit[1]
    if len(_BY_LIST) >= 8192:
        _BY_LIST.clear()
    index = _split_aws(values)
    _BY_LIST[id(values)] = (values, index)
    return index


def _split_aws(values: tuple[str, ...]) -> _AwsIndex:
    """An ``AWS`` principal list split for lookup: exact principal ARNs, whole accounts (an id or its
    root ARN), whether ``*`` is there, and the rest (session ARNs and anything else), matched one by one."""
    exact, accounts, rest = set(), set(), []
    for v in values:
        if v.isdigit() and len(v) == 12:
            accounts.add(v)
        elif v.startswith("arn:") and v.endswith(":root") and v.count(":") == 5:
            accounts.add(v.split(":")[4])
        elif v.startswith("arn:") and ":assumed-role/" not in v and "*" not in v and "?" not in v:
            exact.add(v)
        elif v != "*":
            rest.append(v)
    return frozenset(exact), frozenset(accounts), "*" in values, tuple(rest)


def principal_match(principals: dict[str, tuple[str, ...]], caller: Caller) -> tuple[int, bool]:
    """The best match of any value of a Principal element (a value naming the caller itself breaks ties).
    Long ``AWS`` lists (trust policies of shared roles name hundreds of principals) are looked up in
    sets; the result is the one of ``principal_value_match`` over every value."""
    best, direct = F, False
    for ptype, values in principals.items():
        if ptype == "AWS" and len(values) > 4:
            exact, accounts, star, rest = _aws_index(values)
            if star:
                return T, True
            if caller.kind in ("service", "federated", "anonymous"):
                continue
            if caller.arn in exact:
                return T, True
            if caller.account in accounts:
                if caller.kind == "root":
                    return T, True
                if best < T:
                    best, direct = T, False
                continue
            values = rest
        for v in values:
            m, d = principal_value_match(ptype, v, caller)
            if m > best or (m == best and d and not direct):
                best, direct = m, d
    return best, direct


def statement_principal(st: Statement, caller: Caller) -> tuple[int, bool]:
    """Does a resource-policy statement apply to the caller (Principal / NotPrincipal)."""
    if st.principals:
        return principal_match(st.principals, caller)
    if st.not_principals:
        if st.effect == "Deny" and caller.has_boundary:
            return T, False  # a Deny with NotPrincipal always denies a principal that has a boundary
        return T - spared_by(st.not_principals, caller), False
    return F, False  # a resource policy statement without a principal applies to nobody


def spared_by(not_principals: dict[str, tuple[str, ...]], caller: Caller) -> int:
    """Whether a NotPrincipal list spares the caller ("AWS JSON policy elements: NotPrincipal"). The
    caller's own principal must be named — the user, or for a role the session that makes the request —
    or it is not spared; AWS "might" also check the account and, for a session, the role, so a list that
    names the principal without them spares it only conditionally, as does a role named without its
    session when the session name is not known."""
    if caller.kind in ("service", "federated"):
        names = not_principals.get("Service" if caller.kind == "service" else "Federated", ())
        return T if caller.arn in names else F
    aws = not_principals.get("AWS", ())
    if "*" in aws:
        return T
    if caller.kind == "anonymous" or not caller.account:
        return F
    account_named = caller.account in aws or f"arn:aws:iam::{caller.account}:root" in aws
    if caller.kind == "root":
        return T if account_named else F
    if caller.kind == "user":
        return F if caller.arn not in aws else T if account_named else U
    role_named = caller.arn in aws
    if caller.session_arn is not None:
        if caller.session_arn not in aws:
            return F
        return T if account_named and role_named else U
    prefix = f"arn:aws:sts::{caller.account}:assumed-role/{caller.arn.rsplit('/', 1)[-1]}/"
    return U if role_named or any(v.startswith(prefix) for v in aws) else F


def grants_unlimited(st: Statement, caller: Caller) -> bool:
    """Whether an Allow's Principal grants to the caller in a way no boundary or session policy limits:
    by naming its role *session* ARN, or by ``*`` (IAM User Guide, "Policy evaluation logic": grants to a
    session; "AWS JSON policy elements: Principal": a wildcard principal, e.g. with ``aws:PrincipalArn``)."""
    aws = st.principals.get("AWS", ())
    return "*" in aws or (caller.session_arn is not None and caller.session_arn in aws)


# -- resources ------------------------------------------------------------------------------------------
def resource_tri(
    patterns: tuple[str, ...], resource: str, context: dict[str, ContextValue]
) -> tuple[int, tuple[str, ...]]:
    """Whether any pattern matches, with policy variables resolved from the context."""
    unknown: list[str] = []
    for p in patterns:
        if has_variables(p):
            try:
                p = substitute(p, context, for_pattern=True)
            except Unresolved as exc:
                if not exc.absent:
                    unknown.append(exc.key)
                continue  # a variable known to be absent makes the pattern match nothing
        if wildcard_match(p, resource):
            return T, ()
    return (U, tuple(unknown)) if unknown else (F, ())


def statement_match(
    st: Statement,
    action: str,
    resource: str,
    context: dict[str, ContextValue],
    caller: Caller | None,
) -> tuple[int, bool, tuple[str, ...]]:
    """(tri-state match, names the caller directly, unknown keys) for one statement and one request."""
    if st.actions and not action_matches(st.actions, action):
        return F, False, ()
    if st.not_actions and action_matches(st.not_actions, action):
        return F, False, ()
    if not st.actions and not st.not_actions:
        return F, False, ()
    missing: list[str] = []
    m = T
    if st.resources:
        r, keys = resource_tri(st.resources, resource, context)
        m, missing = min(m, r), missing + list(keys)
    elif st.not_resources:
        r, keys = resource_tri(st.not_resources, resource, context)
        m, missing = min(m, T - r), missing + list(keys)
    elif caller is None:
        return F, False, ()  # identity-based statements need a Resource
    if m == F:
        return F, False, ()
    direct = False
    if caller is not None:
        pm, direct = statement_principal(st, caller)
        m = min(m, pm)
        if m == F:
            return F, False, ()
    held, keys = condition_holds(st.conditions, context)
    if held is False:
        return F, False, ()
    if held is None:
        m = min(m, U)
        missing += list(keys)
    return m, direct, tuple(missing)


def assess(
    policies: PolicySet,
    action: str,
    resource: str,
    context: dict[str, ContextValue],
    caller: Caller | None = None,
) -> Assessment:
    """Evaluate a policy set for one request. Pass ``caller`` for a resource-based policy (its statements
    need a matching Principal); leave it out for identity policies, SCPs and boundaries."""
    allow = deny = direct = session = F
    allow_st: list[str] = []
    maybe: list[str] = []
    deny_st: str | None = None
    missing: list[str] = []
    for label, st in policies.items:
        m, d, keys = statement_match(st, action, resource, context, caller)
        if m == F:
            continue
        tag = f"{label}:{st.label}"
        if st.effect == "Deny":
            if m == T and deny != T:
                deny_st = tag
            deny = max(deny, m)
            if m == U:
                maybe.append(tag)
                missing += keys
        else:
            allow = max(allow, m)
            if d:
                direct = max(direct, m)
                if caller is not None and grants_unlimited(st, caller):
                    session = max(session, m)
            if m == T:
                allow_st.append(tag)
            else:
                maybe.append(tag)
                missing += keys
    for u in policies.relevant_unreadable(action):
        allow, deny = max(allow, U), max(deny, U)
        missing.append(f"unreadable policy statement at {u.where} ({u.message})")
    return Assessment(
        allow, deny, direct, tuple(allow_st), tuple(maybe), deny_st, tuple(dict.fromkeys(missing)), session
    )


def evaluate(
    policies: PolicySet,
    action: str,
    resource: str,
    context: dict[str, ContextValue],
    *,
    caller: Caller | None = None,
    what: str = "policy",
) -> Decision:
    """Evaluate one policy set (identity, resource/trust, SCP or boundary) for one request.

    >>> from analyzer.iam.policy import parse_document
    >>> ps = PolicySet.of("p", parse_document({"Statement": [
    ...     {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
    ...     {"Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "*"}]}))
    >>> evaluate(ps, "s3:GetObject", "arn:aws:s3:::b/k", {}).state
    'allowed'
    >>> evaluate(ps, "s3:deletebucket", "arn:aws:s3:::b", {}).statements
    ('p:#1',)
    """
    return assess(policies, action, resource, context, caller).decision(what)


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
