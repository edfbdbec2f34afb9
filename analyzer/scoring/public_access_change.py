"""Blast radius of ``public_access.block``: with ``RestrictPublicBuckets`` and a public bucket policy, every
observed caller outside the bucket owner's account (and every anonymous one) loses access; principals of
the owner's account keep theirs. ``IgnorePublicAcls`` makes cross-account access that only an ACL could
grant unknown (ACLs are not collected)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from analyzer.changes import get_kind
from analyzer.changes.public_access import is_public_statement
from analyzer.iam.authorize import authorize
from analyzer.scoring.context import Context, account_of
from analyzer.scoring.outcome import Outcome, config_digest, in_window, severed_entry
from analyzer.scoring.policy_change import request_resource
from analyzer.timeutil import iso

PublicOutcome = Outcome


def public_access_change(
    ctx: Context, proposal: dict[str, Any], start: datetime, as_of: datetime
) -> PublicOutcome:
    change = proposal["change"]
    kind = get_kind(change["kind"])
    assert kind.apply is not None and kind.invert is not None
    out = PublicOutcome()
    arn = change.get("target") or ""
    node = ctx.snap.node(arn)
    if node is None or not node.props or node.kind != "S3Bucket":
        return out.target_missing(f"{arn} is not a bucket of the snapshot")
    owner = node.account or ""
    out.account = owner
    before_cfg = node.props.get("public_access_block")
    after_cfg = kind.apply(before_cfg, change["delta"])
    out.applied = before_cfg is not None and kind.apply(before_cfg, {}) == after_cfg
    if before_cfg is None:
        out.unknowns.append(
            {
                "reason": "setting_not_collected",
                "detail": f"the current public access block of {arn} was not collected",
            }
        )
    target = ctx.target(arn)
    public = target.policy is not None and any(is_public_statement(st) for _, st in target.policy.items)
    lo, hi = iso(start), iso(as_of)
    for e in ctx.snap.edges_under("OBSERVED_CALL", arn):
        caller_account = account_of(e.src)
        if caller_account == owner:
            continue  # the owner's account keeps its access
        action = str(e.props.get("action") or "")
        resource = request_resource(e.dst, action)
        before = authorize(ctx.subject(e.src), action, ctx.target(resource))
        if before.state == "denied":
            if after_cfg.get("IgnorePublicAcls"):
                out.unknowns.append(
                    {
                        "reason": "acl_not_collected",
                        "detail": f"{e.src} ({action}) may rely on a bucket ACL, which is not collected",
                    }
                )
            continue
        if not (public and after_cfg.get("RestrictPublicBuckets")):
            continue
        observed = in_window(e, lo, hi)
        out.severed.append(
            severed_entry(
                ctx,
                e.src,
                arn,
                action,
                edge=e,
                observed=observed,
                before={
                    "decision": before.state,
                    "statements": list(before.statements),
                    "missing_context": list(before.missing_context),
                },
                reason="RestrictPublicBuckets: the bucket policy is public, so only the owner's account and AWS services keep access",
            )
        )
    inverse = kind.invert(before_cfg, change["delta"])
    restored = kind.apply(after_cfg, inverse)
    out.rollback = {
        "change": {"kind": kind.name, "target": arn, "delta": inverse},
        "verified": restored == kind.apply(before_cfg, {}),
        "detail": "apply then invert restores the configuration",
        "before_digest": config_digest(before_cfg),
        "after_digest": config_digest(after_cfg),
    }
    return out
