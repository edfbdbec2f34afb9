"""Blast radius of ``iam.revoke_credentials``: a user's (or the account root user's) access keys -> every
call and role assumption the user was observed making is severed (CloudTrail's access key id is not kept, so all of them); a console
password -> unknown (console use is not told apart); a role's sessions -> unknown (sessions issued before
the revocation stop; callers that assume the role again recover)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from analyzer.changes import get_kind
from analyzer.scoring.context import Context, account_of
from analyzer.scoring.outcome import Outcome, config_digest, in_window, severed_entry
from analyzer.timeutil import iso

CredentialsOutcome = Outcome


def credentials_change(
    ctx: Context, proposal: dict[str, Any], start: datetime, as_of: datetime
) -> CredentialsOutcome:
    change = proposal["change"]
    kind = get_kind(change["kind"])
    assert kind.apply is not None and kind.invert is not None
    delta = change["delta"]
    out = CredentialsOutcome()
    arn = change.get("target") or ""
    node = ctx.snap.node(arn)
    if (
        node is None
        or node.kind not in ("IamUser", "IamRole", "Account")
        or not (node.props or node.kind == "Account")
    ):
        return out.target_missing(f"{arn} is not a user, role or account root of the snapshot")
    out.account = account_of(arn)
    credential = delta["credential"]
    if (credential == "role_sessions") != (node.kind == "IamRole"):
        return out.target_missing(f"{credential} does not apply to {node.kind} {arn}")
    state = {credential: "active"}
    after = kind.apply(state, delta)
    lo, hi = iso(start), iso(as_of)
    if credential == "access_keys":
        for kind_name in ("OBSERVED_CALL", "OBSERVED_ASSUME"):
            for e in ctx.snap.edges_from(kind_name, arn):
                observed = in_window(e, lo, hi)
                out.severed.append(
                    severed_entry(
                        ctx,
                        arn,
                        e.dst,
                        str(e.props.get("action") or "sts:AssumeRole"),
                        edge=e,
                        observed=observed,
                        reason=f"the access keys of {arn} are {after[credential]}",
                    )
                )
        out.unknowns.append(
            {
                "reason": "key_not_distinguished",
                "detail": "CloudTrail's access key id is not kept: "
                "every call of the user is counted as made with the keys (console sessions are not)",
            }
        )
    else:
        callers = {e.src for e in ctx.snap.edges_into("OBSERVED_ASSUME", arn)}
        what = (
            "console use is not told apart from key use"
            if credential == "console_password"
            else (
                f"sessions issued before the revocation stop; {len(callers)} observed caller(s) recover by assuming it again"
            )
        )
        out.unknowns.append({"reason": "transient_or_unseen", "detail": f"{arn}: {what}"})
    out.severed.sort(key=lambda s: (not s["observed"], -s["events"], s["provider"]))
    try:
        inverse = kind.invert(state, delta)
    except ValueError as exc:
        out.rollback = {
            "change": None,
            "verified": False,
            "detail": str(exc),
            "before_digest": config_digest(state),
            "after_digest": config_digest(after),
        }
        return out
    restored = kind.apply(after, inverse)
    out.rollback = {
        "change": {"kind": kind.name, "target": arn, "delta": inverse},
        "verified": restored == state,
        "detail": "the keys can be activated again",
        "before_digest": config_digest(state),
        "after_digest": config_digest(after),
    }
    return out
