"""The whole AWS decision for one request: SCPs, identity policies, permissions boundary, resource policy,
same-account and cross-account rules (IAM User Guide, "Policy evaluation logic", "Cross-account policy
evaluation logic"; AWS KMS Developer Guide, "Key policies").

The rules, as implemented by ``combine``:

* An explicit deny in any applicable policy wins.
* Every SCP level on the caller's account path (root, OUs, account) must allow, except for principals of
  the management account and service-linked roles, which SCPs do not affect.
* Same account: the identity policies (within the permissions boundary) allow, *or* the resource policy
  allows and names the caller itself. A resource policy that names only the account delegates to the
  account's identity policies. For a role caller, a grant to the role ARN is still limited by the role's
  permissions boundary; a grant to an IAM user ARN is not.
* Role trust policies and KMS key policies are required: identity policies count only when the trust or
  key policy allows the account (or the caller).
* Cross account: the resource policy *and* the caller's identity policies (within its boundary) must both
  allow. No resource policy means no cross-account access.
* Anything that depends on context Blastwall cannot know is ``conditional``, with the keys named; a
  policy that was not collected or could not be read is never treated as allowing or as absent.

Not modelled (and so never claimed): session policies, resource control policies (RCPs), VPC endpoint
policies, S3 ACLs and object ownership.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from analyzer.iam.conditions import ABSENT, ContextValue, OutsideOf, RequestContext
from analyzer.iam.evaluate import Assessment, Caller, Decision, F, PolicySet, T, U, assess

TargetKind = Literal["trust", "kms", "policy", "none"]
"""trust: a role's trust policy (required); kms: a key policy (required); policy: an optional resource
policy (S3, Lambda, SQS, SNS …); none: a resource type without resource policies."""

# services whose resources can carry a resource-based policy (a missing one may simply not be collected)
RESOURCE_POLICY_SERVICES = frozenset(
    {"s3", "kms", "lambda", "sqs", "sns", "secretsmanager", "ecr", "glacier", "es", "logs", "iam", "sts"}
)


@dataclass(frozen=True)
class Subject:
    """A caller with what Blastwall knows of its policies and attributes."""

    caller: Caller
    identity: PolicySet | None
    """None: the caller's identity policies are not in the snapshot (unknown, not empty)."""
    boundary: PolicySet | None = None
    scp_levels: tuple[tuple[str, PolicySet], ...] = ()
    scp_exempt: bool = False
    """Management-account principals and service-linked roles are not affected by SCPs."""
    tags: dict[str, str] | None = None
    """The principal's tags; None when not known."""
    username: str | None = None
    org_id: str | ContextValue | None = None
    org_paths: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Target:
    arn: str
    account: str | None
    kind: TargetKind = "none"
    policy: PolicySet | None = None
    policy_known: bool = True
    """False when the resource type takes a policy and Blastwall did not collect it."""
    tags: dict[str, str] | None = None
    org_id: str | None = None


def _unknown(reason: str) -> Assessment:
    return Assessment(U, U, U, missing=(reason,))


NOTHING = Assessment(F, F, F)


def principal_context(subject: Subject, extra: dict[str, str | list[str]] | None = None) -> RequestContext:
    """The principal side of the request context (and the request keys given with ``extra``)."""
    c = subject.caller
    ctx = RequestContext()
    closed: list[str] = []
    if c.kind in ("role", "user", "root"):
        ctx["aws:principalarn"] = (c.arn,)
        ctx["aws:principalaccount"] = (c.account or "",)
        ctx["aws:principaltype"] = ({"role": "AssumedRole", "user": "User", "root": "Account"}[c.kind],)
        ctx["aws:principalisawsservice"] = ("false",)
        ctx["aws:principalservicename"] = ABSENT
        ctx["aws:username"] = (subject.username,) if c.kind == "user" and subject.username else ABSENT
        if subject.org_id is not None:
            ctx["aws:principalorgid"] = (
                subject.org_id if isinstance(subject.org_id, OutsideOf) else (str(subject.org_id),)
            )
        if subject.org_paths is not None:
            ctx["aws:principalorgpaths"] = subject.org_paths
        if subject.tags is not None:
            for k, v in subject.tags.items():
                ctx[f"aws:principaltag/{k.lower()}"] = (v,)
            closed.append("aws:principaltag/")
    elif c.kind == "service":
        ctx["aws:principalisawsservice"] = ("true",)
        ctx["aws:principalservicename"] = (c.arn,)
        for key in ("aws:principalarn", "aws:principalaccount", "aws:principalorgid", "aws:username"):
            ctx[key] = ABSENT
        closed.append("aws:principaltag/")
    for name, value in (extra or {}).items():
        if isinstance(value, list):
            ctx[name.lower()] = tuple(value)
        else:
            ctx[name.lower()] = ABSENT if value == "" else (value,)
    ctx.closed = tuple(closed)
    return ctx


def resource_context(target: Target) -> RequestContext:
    """The resource side of the request context: owner account, organization, tags."""
    ctx = RequestContext()
    if target.account:
        ctx["aws:resourceaccount"] = (target.account,)
    if target.org_id:
        ctx["aws:resourceorgid"] = (target.org_id,)
    if target.tags is not None:
        for k, v in target.tags.items():
            ctx[f"aws:resourcetag/{k.lower()}"] = (v,)
        ctx.closed = ("aws:resourcetag/",)
    return ctx


def request_context(
    subject: Subject, target: Target, extra: dict[str, str | list[str]] | None = None
) -> RequestContext:
    """The request context keys Blastwall knows for this request; everything else stays unknown."""
    p = principal_context(subject, extra)
    r = resource_context(target)
    ctx = RequestContext(r)
    ctx.update(p)  # request keys given by the user win
    ctx.closed = p.closed + r.closed
    return ctx


# -- the combination, on tri-state values or arrays of them ---------------------------------------------
def combine(
    *,
    identity: Any,
    boundary: Any | None,
    scps: list[Any],
    resource: Any,
    same_account: Any,
    caller_is_role: Any,
    required: Any,
) -> Any:
    """AWS's decision from each policy type's (allow, deny, allow_direct) columns; works on scalars or
    NumPy arrays. Every ``*_allow/deny/direct`` is tri-state (F < U < T). Returns the final tri-state."""
    ia, idn, _ = identity
    ra, rdn, rdir = resource
    notdeny = np.minimum(T - idn, T - rdn)
    id_ok = ia
    if boundary is not None:
        ba, bdn, _ = boundary
        notdeny = np.minimum(notdeny, T - bdn)
        id_ok = np.minimum(ia, ba)
        # a resource-policy grant to a role ARN is limited by the role's boundary; to a user ARN it is not
        rdir = np.where(caller_is_role, np.minimum(rdir, ba), rdir)
    scp_ok: Any = T
    for sa, sdn, _ in scps:
        notdeny = np.minimum(notdeny, T - sdn)
        scp_ok = np.minimum(scp_ok, sa)
    same = np.where(required, np.maximum(rdir, np.minimum(ra, id_ok)), np.maximum(id_ok, rdir))
    cross = np.minimum(ra, id_ok)
    grant = np.where(same_account, same, cross)
    return np.minimum(np.minimum(notdeny, scp_ok), grant)


def combine_one(
    *,
    identity: tuple[int, int, int],
    boundary: tuple[int, int, int] | None,
    scps: list[tuple[int, int, int]],
    resource: tuple[int, int, int],
    same_account: bool,
    caller_is_role: bool,
    required: bool,
) -> int:
    """``combine`` for one request, in plain integers (NumPy on scalars cost 10 us a decision; a trust
    change on a shared role decides a hundred thousand). Equal to ``combine`` on every input (test)."""
    ia, idn, _ = identity
    ra, rdn, rdir = resource
    notdeny = min(T - idn, T - rdn)
    id_ok = ia
    if boundary is not None:
        ba, bdn, _ = boundary
        notdeny = min(notdeny, T - bdn)
        id_ok = min(ia, ba)
        if caller_is_role:
            rdir = min(rdir, ba)
    scp_ok = T
    for sa, sdn, _ in scps:
        notdeny = min(notdeny, T - sdn)
        scp_ok = min(scp_ok, sa)
    if same_account:
        grant = max(rdir, min(ra, id_ok)) if required else max(id_ok, rdir)
    else:
        grant = min(ra, id_ok)
    return min(notdeny, scp_ok, grant)


def _cols(a: Assessment) -> tuple[int, int, int]:
    return a.allow, a.deny, a.allow_direct


@dataclass(frozen=True)
class Parts:
    identity: Assessment
    boundary: Assessment | None
    scps: list[tuple[str, Assessment]] = field(default_factory=list)
    resource: Assessment = NOTHING


def flags(subject: Subject, target: Target) -> tuple[bool, bool, bool]:
    """(same account, trust/key policy required, caller is a role) as ``combine`` takes them; service,
    federated and anonymous callers are decided by the resource policy alone."""
    outside_iam = subject.caller.kind in ("service", "federated", "anonymous")
    same = outside_iam or (subject.caller.account is not None and subject.caller.account == target.account)
    required = outside_iam or target.kind in ("trust", "kms")
    return same, required, subject.caller.kind == "role"


def assess_parts(subject: Subject, action: str, target: Target, ctx: RequestContext) -> Parts:
    c = subject.caller
    if c.kind in ("service", "federated", "anonymous"):
        identity = NOTHING  # no identity policies: the resource (or trust) policy alone decides
    elif subject.identity is None:
        identity = _unknown(f"identity policies of {c.arn} (not in the snapshot)")
    else:
        identity = assess(subject.identity, action, target.arn, ctx)
    boundary = assess(subject.boundary, action, target.arn, ctx) if subject.boundary is not None else None
    scps: list[tuple[str, Assessment]] = []
    if not subject.scp_exempt and c.kind in ("role", "user", "root"):
        for node, level in subject.scp_levels:
            if not level.items and not level.unreadable:
                # AWS always attaches at least one SCP: none here means it was not collected
                scps.append(
                    (node, Assessment(U, F, F, missing=(f"SCPs attached to {node} (none in the snapshot)",)))
                )
            else:
                scps.append((node, assess(level, action, target.arn, ctx)))
    if target.kind == "none":
        resource = NOTHING
    elif not target.policy_known:
        resource = _unknown(f"resource policy of {target.arn} (not collected)")
    elif target.policy is None:
        resource = NOTHING
    else:
        resource = assess(target.policy, action, target.arn, ctx, caller=c)
    return Parts(identity, boundary, scps, resource)


def authorize(
    subject: Subject, action: str, target: Target, extra_context: dict[str, str | list[str]] | None = None
) -> Decision:
    """AWS's decision for ``subject`` doing ``action`` on ``target``, with the statements that decided it.

    >>> from analyzer.iam.policy import parse_document
    >>> role = Caller("arn:aws:iam::111111111111:role/etl", "111111111111", "role")
    >>> admin = PolicySet.of("admin", parse_document({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    >>> bucket = Target("arn:aws:s3:::data-222", "222222222222", "policy", policy=None)
    >>> authorize(Subject(role, admin), "s3:GetObject", bucket).reason
    'cross-account access needs the resource policy to allow it, and it does not'
    """
    ctx = request_context(subject, target, extra_context)
    return decide_from_parts(subject, target, assess_parts(subject, action, target, ctx))


def decide_from_parts(subject: Subject, target: Target, parts: Parts) -> Decision:
    """The decision once each policy type is assessed (``authorize`` is this after ``assess_parts``; a
    caller judging one request under several resource policies assesses the rest once and swaps
    ``parts.resource``)."""
    same, required, is_role = flags(subject, target)
    final = combine_one(
        identity=_cols(parts.identity),
        boundary=_cols(parts.boundary) if parts.boundary else None,
        scps=[_cols(a) for _, a in parts.scps],
        resource=_cols(parts.resource),
        same_account=same,
        caller_is_role=is_role,
        required=required,
    )
    return explain(parts, final, same=same, required=required, target=target)


def explain(parts: Parts, final: int, *, same: bool, required: bool, target: Target) -> Decision:
    """The Decision with the statements that decided it and, when it is not allowed, why."""
    named = [("identity policies", parts.identity), ("resource policy", parts.resource)]
    if parts.boundary is not None:
        named.append(("permissions boundary", parts.boundary))
    named += [(f"SCPs at {node}", a) for node, a in parts.scps]
    if final == T:
        return Decision("allowed", tuple(dict.fromkeys(s for _, a in named for s in a.allow_statements)))
    if final == U:
        return Decision(
            "conditional",
            tuple(dict.fromkeys(s for _, a in named for s in a.allow_statements + a.maybe_statements)),
            tuple(dict.fromkeys(k for _, a in named for k in a.missing)),
            "depends on request context or on data Blastwall does not have",
        )
    for what, a in named:
        if a.deny == T:
            return Decision("denied", (a.deny_statement or "",), reason=f"explicit deny in the {what}")
    for node, a in parts.scps:
        if a.allow == F:
            return Decision("denied", (), reason=f"no SCP attached to {node} allows it")
    kind = {"trust": "trust policy", "kms": "key policy"}.get(target.kind, "resource policy")
    if not same:
        if parts.resource.allow == F:
            return Decision(
                "denied", (), reason=f"cross-account access needs the {kind} to allow it, and it does not"
            )
        return Decision(
            "denied",
            parts.resource.allow_statements,
            reason="cross-account access needs the caller's identity policies to allow it too, and they do not",
        )
    if required and parts.resource.allow == F:
        return Decision("denied", (), reason=f"the {kind} does not allow it")
    if parts.boundary is not None and parts.boundary.allow == F and parts.identity.allow != F:
        return Decision("denied", (), reason="the permissions boundary does not allow it")
    if required:
        return Decision(
            "denied",
            parts.resource.allow_statements,
            reason=f"the {kind} delegates to the account and no identity policy allows it",
        )
    return Decision("denied", (), reason="no identity or resource policy allows it (implicit deny)")
