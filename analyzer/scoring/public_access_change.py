"""Blast radius of ``public_access.block`` on a bucket or on a whole account (S3 Control): what S3 enforces
is the more restrictive of the account's and the bucket's settings, flag by flag (Amazon S3 User Guide,
"Blocking public access to your Amazon S3 storage"). With ``RestrictPublicBuckets`` in effect and a public
bucket policy, every observed caller outside the bucket owner's account (and every anonymous one) loses
access; principals of the owner's account keep theirs. ``IgnorePublicAcls`` makes cross-account access that
only an ACL could grant unknown (ACLs are not collected). An account-level change is judged on every bucket
of the account the snapshot holds."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from analyzer.changes import get_kind
from analyzer.changes.public_access import FLAGS, is_public_statement
from analyzer.iam.authorize import authorize
from analyzer.scoring.context import Context, account_of
from analyzer.scoring.outcome import Outcome, config_digest, in_window, severed_entry
from analyzer.scoring.policy_change import request_resource
from analyzer.timeutil import iso

PublicOutcome = Outcome


def effective(account_cfg: dict[str, Any] | None, bucket_cfg: dict[str, Any] | None) -> dict[str, bool]:
    """The settings S3 enforces on a bucket: a flag on at either level is on.

    >>> effective({"RestrictPublicBuckets": True}, {"BlockPublicAcls": True})["RestrictPublicBuckets"]
    True
    """
    return {f: bool((account_cfg or {}).get(f)) or bool((bucket_cfg or {}).get(f)) for f in FLAGS}


def _bucket(
    ctx: Context,
    out: PublicOutcome,
    node: Any,
    before_cfg: dict[str, bool],
    after_cfg: dict[str, bool],
    lo: str,
    hi: str,
) -> None:
    arn, owner = node.id, node.account or ""
    target = ctx.target(arn)
    public = target.policy is not None and any(is_public_statement(st) for _, st in target.policy.items)
    for e in ctx.snap.edges_under("OBSERVED_CALL", arn):
        if account_of(e.src) == owner:
            continue  # the owner's account keeps its access
        action = str(e.props.get("action") or "")
        before = authorize(ctx.subject(e.src), action, ctx.target(request_resource(e.dst, action)))
        if before.state == "denied":
            if after_cfg.get("IgnorePublicAcls") and not before_cfg.get("IgnorePublicAcls"):
                out.unknowns.append(
                    {
                        "reason": "acl_not_collected",
                        "detail": f"{e.src} ({action}) may rely on a bucket ACL of {arn}, which is not collected",
                    }
                )
            continue
        if (
            not public
            or not after_cfg.get("RestrictPublicBuckets")
            or before_cfg.get("RestrictPublicBuckets")
        ):
            continue
        out.severed.append(
            severed_entry(
                ctx,
                e.src,
                arn,
                action,
                edge=e,
                observed=in_window(e, lo, hi),
                before={
                    "decision": before.state,
                    "statements": list(before.statements),
                    "missing_context": list(before.missing_context),
                },
                reason="RestrictPublicBuckets: the bucket policy is public, so only the owner's account and AWS services keep access",
            )
        )


def public_access_change(
    ctx: Context, proposal: dict[str, Any], start: datetime, as_of: datetime
) -> PublicOutcome:
    change = proposal["change"]
    kind = get_kind(change["kind"])
    assert kind.apply is not None and kind.invert is not None
    out = PublicOutcome()
    arn = change.get("target") or ""
    node = ctx.snap.node(arn)
    if node is None or node.kind not in ("S3Bucket", "Account"):
        return out.target_missing(f"{arn} is neither a bucket nor an account of the snapshot")
    lo, hi = iso(start), iso(as_of)
    if node.kind == "Account":
        account = str((node.props or {}).get("account_id") or account_of(arn))
    else:
        if not node.props:
            return out.target_missing(f"{arn} is not a bucket of the snapshot")
        account = node.account or ""
    out.account = account
    settings = ctx.snap.node(f"urn:aws:s3-account-settings:{account}")
    account_cfg = ((settings.props if settings is not None else None) or {}).get("public_access_block")
    before_cfg = account_cfg if node.kind == "Account" else node.props.get("public_access_block")
    after_cfg = kind.apply(before_cfg, change["delta"])
    out.applied = before_cfg is not None and kind.apply(before_cfg, {}) == after_cfg
    if before_cfg is None:
        where = "the account's" if node.kind == "Account" else f"{arn}'s"
        out.unknowns.append(
            {
                "reason": "setting_not_collected",
                "detail": f"{where} current Block Public Access settings were not collected",
            }
        )
    if node.kind == "Account":
        buckets = [b for b in ctx.snap.of_kind("S3Bucket") if b.props and b.account == account]
        for b in buckets:
            own = b.props.get("public_access_block")
            _bucket(ctx, out, b, effective(before_cfg, own), effective(after_cfg, own), lo, hi)
    else:
        if account_cfg is None:
            out.unknowns.append(
                {
                    "reason": "setting_not_collected",
                    "detail": f"the Block Public Access settings of account {account} were not collected",
                }
            )
        _bucket(ctx, out, node, effective(account_cfg, before_cfg), effective(account_cfg, after_cfg), lo, hi)
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
