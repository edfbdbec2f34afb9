"""What a trust-policy change does to the workloads an AWS service runs as the role.

An EC2 instance gets its credentials by ``ec2.amazonaws.com`` assuming the role of its instance profile;
a Lambda function by ``lambda.amazonaws.com`` assuming its execution role; an ECS task by
``ecs-tasks.amazonaws.com`` assuming its task role; the pods of a Kubernetes service account with an EKS
Pod Identity association by ``pods.eks.amazonaws.com`` assuming the associated role. Dropping the service principal from the trust policy,
or conditioning it (``aws:SourceAccount`` / ``aws:SourceArn``, the confused-deputy fix), changes whether
the service may still assume the role, and so whether those workloads keep their credentials.

The service's request is decided like any other (``analyzer.iam.authorize``, caller kind ``service``).
Which context keys a service sends when it assumes a role for a workload is not in the snapshot: a
condition on them leaves the decision conditional, and a change that makes an allowed assumption
conditional is reported as an unknown ("may be severed"), never as safe.

Workloads come from the snapshot (instances through their instance profile, functions through their
execution role) and from CloudTrail (``AssumeRole`` with ``userIdentity.type`` ``AWSService``: the
service is observed using the role, whichever of its workloads it was for).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from analyzer.iam.authorize import Target, authorize
from analyzer.iam.evaluate import Decision, PolicySet
from analyzer.scoring.context import SERVICE_PREFIX, Context, account_of
from analyzer.scoring.outcome import in_window, severed_entry

ACTION = "sts:AssumeRole"
POD_IDENTITY = "pods.eks.amazonaws.com"
"""The service principal EKS Pod Identity assumes a role as, for the pods of an associated service
account (Amazon EKS User Guide, "Learn how EKS Pod Identity grants pods access to AWS services")."""


@dataclass
class ServiceTrustOutcome:
    severed: list[dict[str, Any]] = field(default_factory=list)
    exposure: list[dict[str, Any]] = field(default_factory=list)
    unknowns: list[dict[str, str]] = field(default_factory=list)
    mismatch: list[str] = field(default_factory=list)


def workloads_by_service(ctx: Context, role: str) -> dict[str, list[str]]:
    """The workloads of the snapshot that run as ``role``, by the service principal that assumes it for
    them: EC2 instances whose instance profile holds the role, Lambda functions whose execution role it
    is. (Built for every role at once, once per snapshot.)"""
    return all_workloads(ctx).get(role, {})


def all_workloads(ctx: Context) -> dict[str, dict[str, list[str]]]:
    def build() -> dict[str, dict[str, list[str]]]:
        out: dict[str, dict[str, set[str]]] = {}
        roles_of = {p.id: p.props.get("roles") or [] for p in ctx.snap.of_kind("InstanceProfile")}
        for n in ctx.snap.of_kind("Ec2Instance"):
            if n.props.get("state") == "terminated":
                continue
            for role in roles_of.get(str(n.props.get("instance_profile") or ""), []):
                out.setdefault(role, {}).setdefault("ec2.amazonaws.com", set()).add(n.id)
        for e in ctx.snap.edge_records("RUNS_AS"):
            src = ctx.snap.node(e.src)
            if src is not None and src.kind == "LambdaFunction":
                out.setdefault(e.dst, {}).setdefault("lambda.amazonaws.com", set()).add(e.src)
            elif src is not None and src.kind == "ServiceAccount" and e.props.get("method") == "pod-identity":
                runs = out.setdefault(e.dst, {}).setdefault(POD_IDENTITY, set())
                runs.update(_users_of_service_account(ctx, e.src))
        return {r: {svc: sorted(ws) for svc, ws in by.items()} for r, by in out.items()}

    return ctx.snap.memo(("workloads-by-role",), build)  # type: ignore[return-value]


def _users_of_service_account(ctx: Context, sa: str) -> set[str]:
    """The workloads that run as a service account (a pod no workload owns counts as its own)."""
    snap = ctx.snap
    users = set()
    for e in snap.edges_into("USES_SERVICE_ACCOUNT", sa):
        n = snap.node(e.src)
        if (n is not None and n.kind == "KubernetesWorkload") or (
            n is not None and n.kind == "Pod" and not snap.edges_from("PART_OF", e.src)
        ):
            users.add(e.src)
    return users or {sa}


def service_principals(trusts: list[PolicySet]) -> set[str]:
    """Every service principal the trust policies name."""
    return {svc for ps in trusts for _, st in ps.items for svc in st.principals.get("Service", ())}


def _decide(
    ctx: Context,
    service: str,
    role: str,
    trust: PolicySet,
    extra: dict[str, str | list[str]] | None = None,
    tagged: bool = False,
) -> Decision:
    base = ctx.target(role)
    target = Target(role, account_of(role), "trust", trust, True, base.tags, base.org_id)
    got = authorize(ctx.subject(service), ACTION, target, extra)
    if tagged:  # the session is tagged too: sts:TagSession must be allowed as well
        got = _worse(got, authorize(ctx.subject(service), "sts:TagSession", target, extra))
    return got


UNTAGGED: dict[str, str | list[str]] = {
    **{
        f"aws:RequestTag/{k}": ""
        for k in (
            "eks-cluster-arn",
            "eks-cluster-name",
            "kubernetes-namespace",
            "kubernetes-service-account",
            "kubernetes-pod-name",
            "kubernetes-pod-uid",
        )
    },
    "aws:TagKeys": "",
}
"""The request of an association with ``disableSessionTags``: no session tag (each key known absent, so a
trust condition on one fails as AWS decides a missing key), and no ``sts:TagSession`` (STS asks for it only
when tags are passed)."""


def session_tags(sa: str) -> dict[str, str | list[str]]:
    """The session tags EKS Pod Identity sets when it assumes a role for a service account's pods, as the
    request tags a trust policy conditions on (Amazon EKS User Guide, "Create IAM role with trust policy
    required by EKS Pod Identity": ``aws:RequestTag/kubernetes-namespace`` and the like): the cluster's
    ARN and name, the namespace and the service account; the pod's name and uid vary by pod and stay
    unknown (all six are in ``aws:TagKeys``)."""
    parts = sa.removeprefix("k8s://").split("/")  # account/region/cluster/namespaces/ns/serviceaccounts/name
    if len(parts) < 7:
        return {}
    account, region, cluster, _, ns, _, name = parts[:7]
    tags = {
        "eks-cluster-arn": f"arn:aws:eks:{region}:{account}:cluster/{cluster}",
        "eks-cluster-name": cluster,
        "kubernetes-namespace": ns,
        "kubernetes-service-account": name,
    }
    keys = sorted([*tags, "kubernetes-pod-name", "kubernetes-pod-uid"])
    return {f"aws:RequestTag/{k}": v for k, v in tags.items()} | {"aws:TagKeys": keys}


def _worse(a: Decision, b: Decision) -> Decision:
    """Of two decisions a request needs both of, the one that stops it first (denied, then conditional)."""
    rank = {"denied": 0, "conditional": 1, "allowed": 2}
    return a if rank.get(a.state, 0) <= rank.get(b.state, 0) else b


def _pod_identity_groups(ctx: Context, role: str) -> dict[str, tuple[list[str], bool]]:
    """Each service account a Pod Identity association gives ``role``: the workloads that run as it, and
    whether EKS tags their sessions (unless the association disables it)."""
    return {
        e.src: (sorted(_users_of_service_account(ctx, e.src)), e.props.get("session_tags") is not False)
        for e in ctx.snap.edges_into("RUNS_AS", role)
        if e.props.get("method") == "pod-identity"
    }


def service_trust_change(
    ctx: Context, role: str, trusts: list[PolicySet], lo: str, hi: str
) -> ServiceTrustOutcome:
    """The workloads a trust change severs (or may sever) through their service, the services it newly
    lets in, and the services whose answer the rollback (``trusts[2]``, if given) does not restore.
    ``trusts``: before, after[, restored]."""
    out = ServiceTrustOutcome()
    observed = {
        e.src.removeprefix(SERVICE_PREFIX): e
        for e in ctx.snap.edges_into("OBSERVED_ASSUME", role)
        if e.src.startswith(SERVICE_PREFIX)
    }
    workloads = workloads_by_service(ctx, role)
    services = sorted(service_principals(trusts) | set(observed) | set(workloads))
    # EKS Pod Identity is decided per service account: the session tags it sets name the account's
    # namespace and name, so a trust condition on them is decided, not left conditional
    groups: list[tuple[str, dict[str, str | list[str]] | None, list[str], bool]] = []
    for svc in services:
        by_sa = _pod_identity_groups(ctx, role) if svc == POD_IDENTITY else {}
        if by_sa:
            groups += [
                (svc, session_tags(sa) if tagged else UNTAGGED, users, tagged)
                for sa, (users, tagged) in sorted(by_sa.items())
            ]
        else:
            groups.append((svc, None, workloads.get(svc, []), False))
    for svc, extra, users, tagged in groups:
        d = [_decide(ctx, svc, role, t, extra, tagged) for t in trusts]
        before, after = d[0], d[1]
        if len(d) > 2 and d[2].state != before.state:
            out.mismatch.append(svc)
        if before.state == after.state:
            continue
        edge = observed.get(svc)
        seen = edge is not None and in_window(edge, lo, hi)
        if after.state == "denied":
            for w in users or [svc]:
                entry = severed_entry(
                    ctx,
                    w,
                    role,
                    f"{ACTION} by {svc}",
                    edge=edge,
                    observed=seen,
                    before={
                        "decision": before.state,
                        "statements": list(before.statements),
                        "missing_context": list(before.missing_context),
                    },
                    reason=f"{svc} may no longer assume the role: {after.reason}",
                )
                entry["via_service"] = svc
                if seen and len(users) > 1:
                    entry["events_note"] = (
                        f"{svc} assumed the role {entry['events']} times for its {len(users)} workloads "
                        "together; CloudTrail does not attribute them here"
                    )
                out.severed.append(entry)
            if not users:
                out.unknowns.append(
                    {
                        "reason": "workloads_not_collected",
                        "detail": f"{svc} assumes {role}"
                        + (f" ({edge.count} times in CloudTrail)" if seen and edge is not None else "")
                        + "; which of its workloads run as the role is not in the snapshot",
                    }
                )
        elif after.state == "conditional" and before.state == "allowed":
            keys = ", ".join(after.missing_context) or "request context"
            names = ", ".join(users[:5]) + (" …" if len(users) > 5 else "") if users else "its workloads"
            out.unknowns.append(
                {
                    "reason": "access_may_be_severed",
                    "detail": f"{svc} would assume {role} for {names} only if {keys} held; whether "
                    f"{svc} sends {keys} when it assumes the role is not in the snapshot"
                    + (" (observed assuming it in CloudTrail)" if seen else ""),
                }
            )
        elif before.state == "denied":
            out.exposure.append(
                {
                    "principal": svc,
                    "resource": role,
                    "access": ACTION,
                    "after": after.state,
                    "statements": list(after.statements),
                }
            )
    return out
