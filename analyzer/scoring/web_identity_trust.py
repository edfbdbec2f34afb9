"""What a trust-policy change does to the workloads that assume the role with a web identity token.

IAM roles for service accounts (IRSA): a pod's service account carries the annotation
``eks.amazonaws.com/role-arn``; the pod gets a token signed by its cluster's OIDC issuer whose ``sub`` is
``system:serviceaccount:<namespace>:<name>`` and whose ``aud`` is ``sts.amazonaws.com`` (or the
``eks.amazonaws.com/audience`` annotation), and calls ``sts:AssumeRoleWithWebIdentity``. The role's trust
policy must allow the ``Federated`` principal ``arn:aws:iam::<account>:oidc-provider/<issuer>``, usually
with conditions on ``<issuer>:sub`` and ``<issuer>:aud`` (Amazon EKS User Guide, "Assign IAM roles to
Kubernetes service accounts"; IAM User Guide, "Available keys for AWS OIDC federation").

So where the service account is known, both keys are known: the request is decided, not left
conditional. A condition on any other key (``amr``, a tag) stays unknown and names itself. A web identity
seen assuming the role in CloudTrail (``WebIdentityUser``) whose service account is not in any loaded
cluster is decided with its ``sub`` (its ``aud`` unknown); what it runs is then unknown, and said so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from analyzer.graph.ids import WEB_IDENTITY_PREFIX, split_web_identity
from analyzer.iam.authorize import Subject, Target, authorize
from analyzer.iam.evaluate import Caller, Decision, PolicySet
from analyzer.scoring.context import Context, account_of
from analyzer.scoring.outcome import in_window, severed_entry

ACTION = "sts:AssumeRoleWithWebIdentity"
DEFAULT_AUDIENCE = "sts.amazonaws.com"


@dataclass(frozen=True)
class WebUser:
    """One web identity that may assume a role: its node, issuer and subject, the service account it is
    (None when only CloudTrail names it), its audience (None: unknown) and what runs as it."""

    identity: str
    issuer: str
    subject: str
    service_account: str | None
    audience: str | None
    workloads: tuple[str, ...]
    pods: tuple[str, ...]


@dataclass
class WebIdentityOutcome:
    severed: list[dict[str, Any]] = field(default_factory=list)
    exposure: list[dict[str, Any]] = field(default_factory=list)
    unknowns: list[dict[str, str]] = field(default_factory=list)
    mismatch: list[str] = field(default_factory=list)


def web_users(ctx: Context, role: str) -> list[WebUser]:
    """The web identities that may use ``role``: the service accounts whose pods get it through IRSA
    (from the loaded clusters) and those observed assuming it (CloudTrail)."""
    snap = ctx.snap
    found: dict[str, WebUser] = {}
    for e in snap.edges_into("RUNS_AS", role):
        if e.props.get("method") != "irsa":
            continue
        sa = snap.node(e.src)
        for auth in snap.edges_from("AUTHENTICATES_AS", e.src):
            parts = split_web_identity(auth.dst)
            if parts is None:
                continue
            users = [u.src for u in snap.edges_into("USES_SERVICE_ACCOUNT", e.src)]
            kinds = {u: getattr(snap.node(u), "kind", "") for u in users}
            pods = sorted(u for u in users if kinds[u] == "Pod")
            workloads = {u for u in users if kinds[u] == "KubernetesWorkload"}
            for pod in pods:  # a pod with no workload of its own is its own consumer
                owners = [p.dst for p in snap.edges_from("PART_OF", pod)]
                if not owners:
                    workloads.add(pod)
            audience = (sa.props.get("audience") if sa is not None else None) or DEFAULT_AUDIENCE
            found[auth.dst] = WebUser(
                auth.dst, *parts, e.src, str(audience), tuple(sorted(workloads)), tuple(pods)
            )
    for e in snap.edges_into("OBSERVED_ASSUME", role):
        if e.src.startswith(WEB_IDENTITY_PREFIX) and e.src not in found:
            parts = split_web_identity(e.src)
            if parts is not None:
                found[e.src] = WebUser(e.src, *parts, None, None, (), ())
    return [found[k] for k in sorted(found)]


def web_principals(trusts: list[PolicySet]) -> set[str]:
    """Every OIDC provider the trust policies name (``Federated``, not SAML)."""
    return {
        v
        for ps in trusts
        for _, st in ps.items
        for v in st.principals.get("Federated", ())
        if ":oidc-provider/" in v
    }


def decide(ctx: Context, user: WebUser, role: str, trust: PolicySet) -> Decision:
    """``sts:AssumeRoleWithWebIdentity`` by ``user`` against ``role`` under ``trust``."""
    account = account_of(role)
    provider = f"arn:aws:iam::{account}:oidc-provider/{user.issuer}"
    caller = Subject(Caller(provider, account or None, "federated"), None)
    base = ctx.target(role)
    target = Target(role, account, "trust", trust, True, base.tags, base.org_id)
    extra: dict[str, str | list[str]] = {f"{user.issuer}:sub": user.subject}
    if user.audience is not None:
        extra[f"{user.issuer}:aud"] = user.audience
    return authorize(caller, ACTION, target, extra)


def web_identity_trust_change(
    ctx: Context, role: str, trusts: list[PolicySet], lo: str, hi: str
) -> WebIdentityOutcome:
    """The workloads a trust change severs (or may sever) through their web identity, the identities it
    newly lets in, and those whose answer the rollback (``trusts[2]``, if given) does not restore.
    ``trusts``: before, after[, restored]."""
    out = WebIdentityOutcome()
    users = web_users(ctx, role)
    if not users:  # most roles: no pod and no web identity uses them
        return out
    observed = {e.src: e for e in ctx.snap.edges_into("OBSERVED_ASSUME", role)}
    for user in users:
        d = [decide(ctx, user, role, t) for t in trusts]
        before, after = d[0], d[1]
        if len(d) > 2 and d[2].state != before.state:
            out.mismatch.append(user.identity)
        if before.state == after.state:
            continue
        edge = observed.get(user.identity)
        seen = edge is not None and in_window(edge, lo, hi)
        who = user.service_account or user.identity
        if after.state == "denied":
            for w in user.workloads or (who,):
                entry = severed_entry(
                    ctx,
                    w,
                    role,
                    f"{ACTION} as {user.subject}",
                    edge=edge,
                    observed=seen,
                    before={
                        "decision": before.state,
                        "statements": list(before.statements),
                        "missing_context": list(before.missing_context),
                    },
                    reason=f"{user.subject} ({user.issuer}) may no longer assume the role: {after.reason}",
                )
                entry["via_web_identity"] = user.identity
                if user.service_account:
                    entry["via_service_account"] = user.service_account
                    entry["pods"] = [
                        p
                        for p in user.pods
                        if w == p or any(o.dst == w for o in ctx.snap.edges_from("PART_OF", p))
                    ]
                if seen and len(user.workloads) > 1:
                    entry["events_note"] = (
                        f"{user.subject} assumed the role {entry['events']} times for its "
                        f"{len(user.workloads)} workloads together; CloudTrail does not tell them apart"
                    )
                out.severed.append(entry)
            if user.service_account is None:
                out.unknowns.append(
                    {
                        "reason": "workloads_not_collected",
                        "detail": f"{user.subject} at {user.issuer} assumes {role}"
                        + (f" ({edge.count} times in CloudTrail)" if seen and edge is not None else "")
                        + "; no loaded cluster says which workloads run as it",
                    }
                )
        elif after.state == "conditional" and before.state == "allowed":
            keys = ", ".join(after.missing_context) or "request context"
            out.unknowns.append(
                {
                    "reason": "access_may_be_severed",
                    "detail": f"{who} would assume {role} only if {keys} held, which its token does not say"
                    + (" (observed assuming it in CloudTrail)" if seen else ""),
                }
            )
        elif before.state == "denied":
            out.exposure.append(
                {
                    "principal": user.identity,
                    "resource": role,
                    "access": ACTION,
                    "after": after.state,
                    "statements": list(after.statements),
                }
            )
    return out


def who_can_assume(ctx: Context, role: str) -> list[dict[str, Any]]:
    """The web identities that may assume ``role`` under its trust policy now (``sts:AssumeRoleWithWebIdentity``):
    each service account whose pods get it, and each identity seen assuming it, decided."""
    from analyzer.scoring.assume import trust_statements

    node = ctx.snap.node(role)
    doc = node.props.get("trust_policy") if node is not None and node.props else None
    if doc is None:
        return []
    trust = trust_statements(role, doc)
    rows = []
    for user in web_users(ctx, role):
        d = decide(ctx, user, role, trust)
        rows.append(
            {
                "principal": user.service_account or user.identity,
                "subject": user.subject,
                "decision": d.state,
                "statements": list(d.statements),
                "missing_context": list(d.missing_context),
            }
        )
    return rows
