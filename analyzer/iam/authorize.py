"""The whole AWS decision for one request: SCPs, RCPs, identity policies, permissions boundary, session
policy, VPC endpoint policy, resource policy, same-account and cross-account rules (IAM User Guide,
"Policy evaluation logic", "Cross-account policy evaluation logic"; AWS KMS Developer Guide, "Key
policies").

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
* A session policy limits the identity side and grants to the role ARN; a grant to the session ARN or by
  ``*`` is limited by neither boundary nor session policy. A VPC endpoint policy and every RCP level must
  allow too.
* Anything that depends on context Blastwall cannot know is ``conditional``, with the keys named; a
  policy that was not collected or could not be read is never treated as allowing or as absent.

Not modelled (and so never claimed): S3 ACLs and object ownership, KMS grants, session tags
(docs/iam.md lists them with the reasons).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

from analyzer.iam.applicability import applies, rcp_applies, service_rule
from analyzer.iam.conditions import ABSENT, ContextValue, OutsideOf, RequestContext
from analyzer.iam.evaluate import Assessment, Caller, Decision, F, PolicySet, T, U, assess

TargetKind = Literal["trust", "kms", "policy", "none"]
"""trust: a role's trust policy (required); kms: a key policy (required); policy: an optional resource
policy (S3, Lambda, SQS, SNS …); none: a resource type without resource policies."""


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
    session_policy: PolicySet | None = None
    """A session policy passed when the role session was created (its permissions are the intersection;
    IAM User Guide, "Session policies")."""
    endpoint: Endpoint | None = None
    """The VPC endpoint the request goes through, if any (its policy must allow the request too)."""
    service_linked: bool = False
    """A service-linked role: RCPs do not restrict what it does (Organizations User Guide, "RCPs")."""


@dataclass(frozen=True)
class Endpoint:
    """A VPC endpoint on the request's path: ``policy`` None means its default policy (full access);
    ``policy_known`` False means the policy was not collected."""

    vpce_id: str
    policy: PolicySet | None = None
    policy_known: bool = True


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
    role_path: str | None = None
    """For a role: its IAM path (``/aws-service-role/`` marks a service-linked role)."""
    rcp_levels: tuple[tuple[str, PolicySet], ...] = ()
    """Resource control policies on the resource account's path (root, OUs, account): empty when the
    resource is in the management account, its service is not one RCPs cover, or none were collected."""


def effective_target(target: Target, action: str) -> Target:
    """``target`` as ``action`` sees it: a role's trust policy applies only to the assume family
    (``applicability.applies``); for anything else on a role there is no resource policy. RCPs restrict
    only the services that support them (``applicability.rcp_applies``)."""
    kind = applies(target.kind, action)
    drop_rcps = bool(target.rcp_levels) and not rcp_applies(action)
    if kind == target.kind and not drop_rcps:
        return target
    if kind == target.kind:
        return replace(target, rcp_levels=())
    return replace(
        target, kind=kind, policy=None, policy_known=True, rcp_levels=() if drop_rcps else target.rcp_levels
    )


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
    elif c.kind == "anonymous":
        for key in (
            "aws:principalarn",
            "aws:principalaccount",
            "aws:principalorgid",
            "aws:username",
            "aws:principaltype",
        ):
            ctx[key] = ABSENT
        ctx["aws:principalisawsservice"] = ("false",)
        closed.append("aws:principaltag/")
    elif c.kind == "service":
        ctx["aws:principalisawsservice"] = ("true",)
        ctx["aws:principalservicename"] = (c.arn,)
        for key in ("aws:principalarn", "aws:principalaccount", "aws:principalorgid", "aws:username"):
            ctx[key] = ABSENT
        closed.append("aws:principaltag/")
    if subject.endpoint is not None:
        ctx["aws:sourcevpce"] = (subject.endpoint.vpce_id,)
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
    session_direct: Any = F,
) -> Any:
    """AWS's decision from each policy type's (allow, deny, allow_direct) columns; works on scalars or
    NumPy arrays. Every ``*_allow/deny/direct`` is tri-state (F < U < T). ``session_direct``: a grant no
    boundary limits (``evaluate.grants_unlimited``). Returns the final tri-state."""
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
    rdir = np.maximum(rdir, session_direct)
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
    session: tuple[int, int, int] | None = None,
    session_direct: int = F,
    endpoint: tuple[int, int, int] | None = None,
    rcps: list[tuple[int, int, int]] | None = None,
) -> int:
    """``combine`` for one request, in plain integers (NumPy on scalars cost 10 us a decision; a trust
    change on a shared role decides a hundred thousand). Equal to ``combine`` on every input ``combine``
    takes (test); it also takes what only single requests carry: a session policy, a grant to the role
    session itself (``session_direct``, limited by neither boundary nor session policy), the VPC endpoint
    policy on the request's path and the resource's RCPs."""
    ia, idn, _ = identity
    ra, rdn, rdir = resource
    notdeny = min(T - idn, T - rdn)
    id_ok = ia
    limit = T  # what limits a resource-policy grant to the role ARN: the boundary and the session policy
    if boundary is not None:
        ba, bdn, _ = boundary
        notdeny = min(notdeny, T - bdn)
        id_ok = min(ia, ba)
        limit = min(limit, ba)
    if session is not None:
        sa, sdn, _ = session
        notdeny = min(notdeny, T - sdn)
        id_ok = min(id_ok, sa)
        limit = min(limit, sa)
    if caller_is_role:
        rdir = min(rdir, limit)
    rdir = max(rdir, session_direct)
    guard = T  # what must allow besides: every SCP level, the endpoint policy, every RCP level
    for sa_, sdn_, _ in scps:
        notdeny = min(notdeny, T - sdn_)
        guard = min(guard, sa_)
    if endpoint is not None:
        ea, edn, _ = endpoint
        notdeny = min(notdeny, T - edn)
        guard = min(guard, ea)
    for ra_, rdn_, _ in rcps or ():
        notdeny = min(notdeny, T - rdn_)
        guard = min(guard, ra_)
    if same_account:
        grant = max(rdir, min(ra, id_ok)) if required else max(id_ok, rdir)
    else:
        grant = min(ra, id_ok)
    return min(notdeny, guard, grant)


def _cols(a: Assessment) -> tuple[int, int, int]:
    return a.allow, a.deny, a.allow_direct


@dataclass(frozen=True)
class Parts:
    identity: Assessment
    boundary: Assessment | None
    scps: list[tuple[str, Assessment]] = field(default_factory=list)
    resource: Assessment = NOTHING
    session: Assessment | None = None
    endpoint: Assessment | None = None
    rcps: list[tuple[str, Assessment]] = field(default_factory=list)


def flags(subject: Subject, target: Target) -> tuple[bool, bool, bool]:
    """(same account, trust/key policy required, caller is a role) as ``combine`` takes them; service,
    federated and anonymous callers are decided by the resource policy alone."""
    outside_iam = subject.caller.kind in ("service", "federated", "anonymous")
    same = (
        outside_iam
        or target.arn == "*"  # no resource: the request is in the caller's own account
        or (subject.caller.account is not None and subject.caller.account == target.account)
    )
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
    caller = replace(c, has_boundary=subject.boundary is not None) if subject.boundary is not None else c
    if target.kind == "none":
        resource = NOTHING
    elif not target.policy_known:
        resource = _unknown(f"resource policy of {target.arn} (not collected)")
    elif target.policy is None:
        resource = NOTHING
    else:
        resource = assess(target.policy, action, target.arn, ctx, caller=caller)
    session = None
    if subject.session_policy is not None:
        session = assess(subject.session_policy, action, target.arn, ctx)
    endpoint = None
    if subject.endpoint is not None:
        e = subject.endpoint
        if not e.policy_known:
            endpoint = Assessment(U, U, F, missing=(f"policy of VPC endpoint {e.vpce_id} (not collected)",))
        elif e.policy is None:
            endpoint = Assessment(T, F, F)  # the default endpoint policy allows everything
        else:
            endpoint = assess(e.policy, action, target.arn, ctx, caller=caller)
    rcps: list[tuple[str, Assessment]] = []
    if not subject.service_linked:
        for node, level in target.rcp_levels:
            if not level.items and not level.unreadable:
                # RCPFullAWSAccess is attached to every root, OU and account while RCPs are enabled
                rcps.append(
                    (node, Assessment(U, F, F, missing=(f"RCPs attached to {node} (none in the snapshot)",)))
                )
            else:
                rcps.append((node, assess(level, action, target.arn, ctx, caller=caller)))
    return Parts(identity, boundary, scps, resource, session, endpoint, rcps)


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
    rule = service_rule(action, target.arn, target.role_path)
    if rule is not None:
        return Decision(rule.state, (), reason=rule.reason)
    target = effective_target(target, action)
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
        session=_cols(parts.session) if parts.session else None,
        session_direct=parts.resource.allow_session,
        endpoint=_cols(parts.endpoint) if parts.endpoint else None,
        rcps=[_cols(a) for _, a in parts.rcps],
    )
    return explain(parts, final, same=same, required=required, target=target)


def explain(parts: Parts, final: int, *, same: bool, required: bool, target: Target) -> Decision:
    """The Decision with the statements that decided it and, when it is not allowed, why."""
    named = [("identity policies", parts.identity), ("resource policy", parts.resource)]
    if parts.boundary is not None:
        named.append(("permissions boundary", parts.boundary))
    if parts.session is not None:
        named.append(("session policy", parts.session))
    if parts.endpoint is not None:
        named.append(("VPC endpoint policy", parts.endpoint))
    named += [(f"SCPs at {node}", a) for node, a in parts.scps]
    named += [(f"RCPs at {node}", a) for node, a in parts.rcps]
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
    for node, a in parts.rcps:
        if a.allow == F:
            return Decision("denied", (), reason=f"no RCP attached to {node} allows it")
    if parts.endpoint is not None and parts.endpoint.allow == F:
        return Decision("denied", (), reason="the VPC endpoint policy does not allow it")
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
    if parts.session is not None and parts.session.allow == F and parts.identity.allow != F:
        return Decision("denied", (), reason="the session policy does not allow it")
    if required:
        return Decision(
            "denied",
            parts.resource.allow_statements,
            reason=f"the {kind} delegates to the account and no identity policy allows it",
        )
    return Decision("denied", (), reason="no identity or resource policy allows it (implicit deny)")
