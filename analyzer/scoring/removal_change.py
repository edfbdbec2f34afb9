"""Blast radius of taking a resource away (``compute.stop_or_terminate``, ``resource.delete``): every
observed dependency on it is severed: calls to it (and to its objects), role assumptions of it, flows to
its network interfaces, and, for an instance, what it did through its interfaces and its role. A
deletion or termination has no rollback: it is said, and the tier rises."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np

from analyzer.changes import get_kind
from analyzer.scoring.context import Context, account_of
from analyzer.scoring.outcome import Outcome, config_digest, in_window, severed_entry
from analyzer.timeutil import iso

RemovalOutcome = Outcome


def removal_change(
    ctx: Context, proposal: dict[str, Any], start: datetime, as_of: datetime
) -> RemovalOutcome:
    change = proposal["change"]
    kind = get_kind(change["kind"])
    assert kind.apply is not None and kind.invert is not None
    out = RemovalOutcome()
    target = change.get("target") or ""
    node = ctx.snap.node(target) or next(
        (n for n in ctx.snap.nodes if n.props and n.id.endswith("/" + target)), None
    )
    if node is None or not node.props:
        return out.target_missing(f"{target} is not in the snapshot")
    out.account = node.account or account_of(node.id)
    state = {"state": str(node.props.get("state") or "present")}
    after = kind.apply(state, change["delta"])
    out.applied = after["state"] in ("stopped", "terminated", "deleted") and state["state"] == after["state"]
    # what stands for the resource in the evidence: itself, and an instance's interfaces
    ids = {node.id} | {e.src for e in ctx.snap.edges_into("ATTACHED_TO", node.id)}
    lo, hi = iso(start), iso(as_of)
    is_instance = node.kind == "Ec2Instance"
    for kind_name in ("OBSERVED_CALL", "OBSERVED_ASSUME", "OBSERVED_FLOW"):
        if kind_name not in ctx.snap.edges:
            continue
        # into the resource (or below it: a bucket's objects); a stopped instance also stops what it was
        # doing: its interfaces' outbound flows
        parts = [ctx.snap.positions_under(kind_name, i) for i in sorted(ids)]
        if is_instance and kind_name == "OBSERVED_FLOW":
            parts += [ctx.snap.positions(kind_name, src=i) for i in sorted(ids)]
        for e in ctx.snap.edges[kind_name].records.at(np.unique(np.concatenate(parts))):
            observed = in_window(e, lo, hi)
            access = (
                str(e.props.get("action"))
                if kind_name == "OBSERVED_CALL"
                else "sts:AssumeRole"
                if kind_name == "OBSERVED_ASSUME"
                else f"{e.props.get('protocol')}/{e.props.get('port')}"
            )
            out.severed.append(
                severed_entry(
                    ctx,
                    e.src,
                    e.dst,
                    access,
                    edge=e,
                    observed=observed,
                    reason=f"{node.id} is {after['state']}",
                )
            )
    out.severed.sort(key=lambda s: (not s["observed"], -s["events"], s["consumer"]))
    if is_instance:
        profile = ctx.snap.node(str(node.props.get("instance_profile") or ""))
        roles = (profile.props.get("roles") or []) if profile is not None and profile.props else []
        for role in roles:
            out.unknowns.append(
                {
                    "reason": "shared_role_use",
                    "detail": f"calls made as {role} may come from {node.id}: CloudTrail does not tell which "
                    "instance made them",
                }
            )
    try:
        inverse = kind.invert(state, change["delta"])
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
        "change": {"kind": kind.name, "target": node.id, "delta": inverse},
        "verified": restored == state,
        "detail": "apply then invert restores the state"
        if restored == state
        else "the state is not restored",
        "before_digest": config_digest(state),
        "after_digest": config_digest(after),
    }
    return out
