"""Who can assume a role: trust policy AND (unless same-account and named exactly) the caller's identity
policies, within its permissions boundary and its organization's SCPs. Cross-account always needs both."""

from __future__ import annotations

from typing import Any

from analyzer.errors import BadInput
from analyzer.iam.evaluate import Decision, PolicySet, combine_all, evaluate, names_principal_exactly
from analyzer.iam.policy import parse_document
from analyzer.scoring.context import Context, account_of

ACTION = "sts:AssumeRole"


def trust_statements(role_arn: str, doc: Any) -> PolicySet:
    return PolicySet.of(f"{role_arn}#trust", parse_document(doc, where=f"{role_arn} trust policy"))


def candidates(ctx: Context, role_arn: str, docs: list[Any], observed: set[str]) -> list[str]:
    """Principals whose access a change to this trust policy can touch: those the documents name (an
    account root names every principal of that account) and those observed assuming the role."""
    out: dict[str, None] = {}
    by_account: dict[str, list[str]] = {}
    for arn, p in ctx.principals.items():
        by_account.setdefault(p.account, []).append(arn)
    for doc in docs:
        try:
            statements = parse_document(doc)
        except BadInput:
            continue
        for st in statements:
            for value in st.principals.get("AWS", ()):
                if value == "*":
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
    out.update(dict.fromkeys(observed))
    return [c for c in out if c != role_arn]


def decide_assume(ctx: Context, principal_arn: str, role_arn: str, trust: PolicySet) -> Decision:
    pa = account_of(principal_arn)
    ra = account_of(role_arn)
    cond_ctx = {"aws:principalaccount": pa, "aws:principalarn": principal_arn, "aws:resourceaccount": ra}
    if pa in ctx.account_org:
        cond_ctx["aws:principalorgid"] = ctx.account_org[pa]
    trust_d = evaluate(
        trust,
        ACTION,
        role_arn,
        cond_ctx,
        principal_arn=principal_arn,
        principal_account=pa,
        check_principal=True,
    )
    if trust_d.state == "denied":
        return Decision("denied", trust_d.statements, reason=f"trust policy: {trust_d.reason}")
    principal = ctx.principals.get(principal_arn)
    if principal is None:
        unknown = Decision(
            "conditional",
            (),
            (f"identity policies of {principal_arn} (not in the snapshot)",),
            "the caller's own policies are not in the snapshot",
        )
        return combine_all(trust_d, unknown)
    identity = evaluate(principal.identity, ACTION, role_arn, cond_ctx)
    if principal.malformed and identity.state != "allowed":
        identity = Decision(
            "conditional",
            identity.statements,
            tuple(f"policy {m} (missing or malformed)" for m in principal.malformed),
            "some of the caller's policies could not be read",
        )
    parts = [trust_d]
    explicit = any(
        names_principal_exactly(st.principals, principal_arn) for _, st in trust.items if st.effect == "Allow"
    )
    if pa == ra and explicit:
        # same account, principal named in the trust policy: the trust policy suffices unless denied
        if identity.state == "denied" and identity.reason == "explicit deny":
            return identity
    else:
        parts.append(identity)
    if principal.boundary is not None and not (pa == ra and explicit):
        parts.append(evaluate(principal.boundary, ACTION, role_arn, cond_ctx))
    for node_id, level in ctx.scp_levels.get(pa, []):
        if not level.items:  # AWS always attaches at least one SCP: none here means it was not collected
            parts.append(
                Decision(
                    "conditional",
                    (),
                    (f"SCPs attached to {node_id} (none in the snapshot)",),
                    "the organization's SCPs were not all collected",
                )
            )
        else:
            parts.append(evaluate(level, ACTION, role_arn, cond_ctx))
    return combine_all(*parts)
