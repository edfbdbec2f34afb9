"""Who can do what to which resource, from the snapshot: ``can`` (one request, explained), ``who_can``
(every known principal against one action and resource, in one vectorized batch) and ``facts`` (the
``CAN_ASSUME`` and ``CAN_ACCESS`` facts Blastwall keeps: observed requests, assume-role edges, and access
to resources marked sensitive), each allowed / denied / conditional with the deciding statements."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from analyzer.iam.authorize import Subject, Target, authorize
from analyzer.iam.batch import authorize_many
from analyzer.iam.evaluate import Decision, PolicySet
from analyzer.iam.policy import parse_lenient
from analyzer.scoring.assume import candidates
from analyzer.scoring.context import ANONYMOUS, SERVICE_PREFIX, Context, account_of

SENSITIVE_TAGS = ("data-classification", "data_classification", "classification", "sensitivity")
SENSITIVE_VALUES = frozenset({"confidential", "restricted", "secret", "sensitive", "pii", "pci", "phi"})
"""A resource is sensitive when a classification tag, or its CI's classification, says one of these."""

ACCESS_ACTIONS = {
    "s3": ("s3:GetObject", "s3:PutObject"),
    "kms": ("kms:Decrypt", "kms:GenerateDataKey"),
    "sqs": ("sqs:SendMessage", "sqs:ReceiveMessage"),
    "sns": ("sns:Publish",),
    "lambda": ("lambda:InvokeFunction",),
    "dynamodb": ("dynamodb:GetItem", "dynamodb:PutItem"),
    "secretsmanager": ("secretsmanager:GetSecretValue",),
}
"""The data-plane actions whose access Blastwall decides for sensitive resources."""


@dataclass(frozen=True)
class Fact:
    kind: str  # CAN_ASSUME | CAN_ACCESS
    principal: str
    action: str
    resource: str
    decision: Decision
    why: str  # observed | trust-policy | sensitive

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "principal": self.principal,
            "action": self.action,
            "resource": self.resource,
            "decision": self.decision.state,
            "statements": list(self.decision.statements),
            "missing_context": list(self.decision.missing_context),
            "reason": self.decision.reason,
            "computed_for": self.why,
        }


def decision_dict(d: Decision, **extra: Any) -> dict[str, Any]:
    return {
        **extra,
        "decision": d.state,
        "statements": list(d.statements),
        "missing_context": list(d.missing_context),
        "reason": d.reason,
    }


def resolve_principal(ctx: Context, text: str) -> str:
    """A principal ARN from an ARN, a role or user name, or an account id (its root); ``*`` is an
    anonymous (unauthenticated) caller."""
    if text.startswith("arn:") or text.endswith(".amazonaws.com"):
        return text
    if text == "*":
        return ANONYMOUS
    if text.isdigit() and len(text) == 12:
        return f"arn:aws:iam::{text}:root"
    hits = [a for a in ctx.principals if a.rsplit("/", 1)[-1] == text]
    if len(hits) == 1:
        return hits[0]
    from analyzer.errors import BadInput

    if not hits:
        raise BadInput(f"no role or user named {text!r} in the snapshot (give its ARN)", path="PRINCIPAL")
    raise BadInput(f"{text!r} names several principals: {', '.join(sorted(hits))}", path="PRINCIPAL")


def resolve_resource(ctx: Context, text: str) -> str:
    """A resource ARN from an ARN, or a bucket, key, queue, topic, function or role name; ``*`` for
    actions that take no resource (``s3:ListAllMyBuckets``, ``ec2:Describe*``)."""
    if text.startswith("arn:") or text == "*":
        return text
    for n in ctx.snap.nodes:
        if n.props and (n.props.get("name") == text or n.id.rsplit("/", 1)[-1] == text):
            return n.id
    from analyzer.errors import BadInput

    raise BadInput(f"no resource named {text!r} in the snapshot (give its ARN)", path="RESOURCE")


def can(
    ctx: Context,
    principal: str,
    action: str,
    resource: str,
    extra: dict[str, Any] | None = None,
    *,
    session_policy: Any = None,
    session_name: str | None = None,
    source_vpce: str | None = None,
) -> Decision:
    """AWS's decision for one request, with the statements that decided it.

    ``session_policy`` (a policy document) and ``session_name`` describe the role session making the
    request; ``source_vpce`` the VPC endpoint it goes through (its policy from the snapshot)."""
    return authorize(
        request_subject(ctx, principal, session_policy, session_name, source_vpce),
        action,
        ctx.target(resource),
        extra,
    )


def request_subject(
    ctx: Context,
    principal: str,
    session_policy: Any = None,
    session_name: str | None = None,
    source_vpce: str | None = None,
) -> Subject:
    """The caller as one request sees it: a role session (its name, its session policy), through a VPC
    endpoint or not."""
    from analyzer.errors import BadInput

    subject = ctx.subject(principal)
    c = subject.caller
    if (session_policy is not None or session_name) and c.kind != "role":
        raise BadInput(
            f"a session policy or session name needs a role session; {principal} is a {c.kind} "
            "(IAM User Guide, 'Session policies': they are passed to AssumeRole* for a role session, or to "
            "GetFederationToken for a federated user session, not to the principal itself)",
            path="--session-policy",
        )
    changes: dict[str, Any] = {}
    if session_name:
        changes["caller"] = replace(c, session=session_name)
    if session_policy is not None:
        parsed = parse_lenient(session_policy, where="--session-policy")
        changes["session_policy"] = PolicySet.of("session-policy", parsed.statements, parsed.unreadable)
    if source_vpce:
        changes["endpoint"] = ctx.endpoint(source_vpce)
    return replace(subject, **changes) if changes else subject


def statement_texts(ctx: Context, principal: str, resource: str, labels: tuple[str, ...]) -> dict[str, Any]:
    """The policy text of each deciding statement (``label:sid``), for ``--explain``."""
    subject, target = ctx.subject(principal), ctx.target(resource)
    sets = [subject.identity, subject.boundary, target.policy, *(ps for _, ps in subject.scp_levels)]
    found: dict[str, Any] = {}
    for ps in sets:
        if ps is None:
            continue
        for label, st in ps.items:
            tag = f"{label}:{st.label}"
            if tag in labels:
                found[tag] = st.raw
    return found


def _named_outsiders(ctx: Context, target: Target) -> dict[str, str]:
    """Principals a resource policy names that the snapshot does not hold (other accounts' roots,
    services, federated providers, anonymous callers for ``*``), with their principal type: they can be
    allowed too."""
    out: dict[str, str] = {}
    if target.policy is None:
        return out
    for _, st in target.policy.items:
        for ptype, values in st.principals.items():
            for v in values:
                if v == "*":  # every principal of every account, and anonymous callers
                    if ptype == "AWS":
                        out[ANONYMOUS] = "AWS"
                    continue
                if ptype == "AWS":
                    acct = v if v.isdigit() else account_of(v)
                    if v not in ctx.principals and acct:
                        out[v if not v.isdigit() else f"arn:aws:iam::{v}:root"] = ptype
                elif ptype in ("Service", "Federated"):
                    out[v] = ptype
    return out


def _subject_for(ctx: Context, arn: str, ptype: str = "AWS") -> Subject:
    if ptype == "Federated":
        from analyzer.iam.evaluate import Caller

        return Subject(Caller(arn, account_of(arn) or None, "federated"), None)
    return ctx.subject(arn)


def who_can(
    ctx: Context,
    action: str,
    resource: str,
    extra: dict[str, Any] | None = None,
    include_denied: bool = False,
) -> list[dict[str, Any]]:
    """Every principal in the snapshot (and every outsider the resource policy names) against one action
    on one resource, decided in one batch; allowed first, then conditional."""
    target = ctx.target(resource)
    outsiders = _named_outsiders(ctx, target)
    arns = list(ctx.principals) + [a for a in outsiders if a not in ctx.principals]
    subjects = [_subject_for(ctx, a, outsiders.get(a, "AWS")) for a in arns]
    n = len(subjects)
    out = authorize_many(
        subjects, [target], [action], np.arange(n), np.zeros(n, np.int64), np.zeros(n, np.int64), extra
    )
    rows = []
    for i in np.argsort(-out.state, kind="stable"):
        if out.state[i] == 0 and not include_denied:
            continue
        rows.append(decision_dict(out.decision(int(i)), principal=arns[int(i)]))
    return rows


def who_can_access(ctx: Context, resource: str, kind: str | None = None) -> list[dict[str, Any]]:
    """For the explorer: every principal that can (or conditionally can) use a resource through its
    service's data actions (an S3 bucket's objects, a key, a queue, a topic, a function)."""
    if not resource.startswith("arn:"):
        return []
    service = resource.split(":")[2]
    out = []
    for action in ACCESS_ACTIONS.get(service, ()):
        target = (
            f"{resource}/*"
            if service == "s3" and action.endswith("Object") and kind == "S3Bucket"
            else resource
        )
        for row in who_can(ctx, action, target):
            out.append(
                {
                    "principal": row["principal"],
                    "action": action,
                    "decision": row["decision"],
                    "depends_on": ", ".join(row["missing_context"]),
                    "statements": ", ".join(row["statements"]),
                }
            )
    return out


def is_sensitive(ctx: Context, node_id: str) -> bool:
    node = ctx.snap.node(node_id)
    tags = {k.lower(): str(v).lower() for k, v in ((node.props.get("tags") if node else None) or {}).items()}
    if any(tags.get(t) in SENSITIVE_VALUES for t in SENSITIVE_TAGS):
        return True
    for ci in ctx.ci_of.get(node_id, []):
        props = ctx.ci(ci)
        for key in ("data_classification", "u_data_classification", "classification"):
            if str(props.get(key, "")).lower() in SENSITIVE_VALUES:
                return True
    return False


def facts(ctx: Context, kinds: tuple[str, ...] = ("CAN_ASSUME", "CAN_ACCESS")) -> list[Fact]:
    """The IAM facts Blastwall keeps, decided in one batch:

    * ``CAN_ASSUME`` for every principal a role's trust policy names (an account root names all of the
      account's principals) and every principal observed assuming it;
    * ``CAN_ACCESS`` for every observed call (CloudTrail: principal, action, resource);
    * ``CAN_ACCESS`` of every principal to every sensitive resource, for that service's data actions.
    """
    from analyzer.scoring.policy_change import request_resource  # it imports this module

    rows: list[tuple[str, str, str, str, str]] = []  # kind, principal, action, resource, why
    federated: set[str] = set()
    if "CAN_ASSUME" in kinds:
        observed: dict[str, set[str]] = {}
        for e in ctx.snap.edge_records("OBSERVED_ASSUME"):
            observed.setdefault(e.dst, set()).add(e.src)
        for role in ctx.snap.of_kind("IamRole"):
            doc = role.props.get("trust_policy")
            if doc is None:
                continue
            seen = observed.get(role.id, set())
            for p in candidates(ctx, role.id, [doc], seen):
                rows.append(
                    ("CAN_ASSUME", p, "sts:AssumeRole", role.id, "observed" if p in seen else "trust-policy")
                )
            statements = parse_lenient(doc).statements
            services = {o.removeprefix(SERVICE_PREFIX) for o in seen if o.startswith(SERVICE_PREFIX)}
            for st in statements:
                services.update(st.principals.get("Service", ()))
            for svc in sorted(services):
                why = "observed" if SERVICE_PREFIX + svc in seen else "trust-policy"
                rows.append(("CAN_ASSUME", svc, "sts:AssumeRole", role.id, why))
            for st in statements:
                for fed in st.principals.get("Federated", ()):
                    federated.add(fed)
                    action = (
                        "sts:AssumeRoleWithSAML"
                        if ":saml-provider/" in fed
                        else "sts:AssumeRoleWithWebIdentity"
                    )
                    rows.append(("CAN_ASSUME", fed, action, role.id, "trust-policy"))
    if "CAN_ACCESS" in kinds:
        done: set[tuple[str, str, str]] = set()
        for e in ctx.snap.edge_records("OBSERVED_CALL"):
            action = str(e.props.get("action") or e.key or "")
            if not action or ":" not in action or not e.dst.startswith("arn:"):
                continue
            resource = request_resource(e.dst, action)
            key = (e.src, action, resource)
            if key not in done:
                done.add(key)
                rows.append(("CAN_ACCESS", e.src, action, resource, "observed"))
        sensitive = [
            n.id for n in ctx.snap.nodes if n.props and n.id.startswith("arn:") and is_sensitive(ctx, n.id)
        ]
        for res in sensitive:
            service = res.split(":")[2]
            for action in ACCESS_ACTIONS.get(service, ()):
                resource = f"{res}/*" if service == "s3" and action.endswith("Object") else res
                for p in ctx.principals:
                    if (p, action, resource) not in done:
                        done.add((p, action, resource))
                        rows.append(("CAN_ACCESS", p, action, resource, "sensitive"))
    if not rows:
        return []
    subj_index: dict[str, int] = {}
    tgt_index: dict[str, int] = {}
    act_index: dict[str, int] = {}
    rs = np.array([subj_index.setdefault(r[1], len(subj_index)) for r in rows])
    ra = np.array([act_index.setdefault(r[2], len(act_index)) for r in rows])
    rt = np.array([tgt_index.setdefault(r[3], len(tgt_index)) for r in rows])
    subjects = [_subject_for(ctx, a, "Federated" if a in federated else "AWS") for a in subj_index]
    targets = [ctx.target(t) for t in tgt_index]
    out = authorize_many(subjects, targets, list(act_index), rs, ra, rt)
    return [Fact(r[0], r[1], r[2], r[3], out.decision(i), r[4]) for i, r in enumerate(rows)]


def facts_summary(items: list[Fact]) -> dict[str, Any]:
    counts: dict[str, dict[str, int]] = {}
    for f in items:
        counts.setdefault(f.kind, {"allowed": 0, "conditional": 0, "denied": 0})[f.decision.state] += 1
    return {"count": len(items), "by_kind": counts}


def to_json(items: list[Fact]) -> str:
    return json.dumps({**facts_summary(items), "facts": [f.as_dict() for f in items]}, indent=2)
