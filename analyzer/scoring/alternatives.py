"""Safer alternatives to a proposal that would cut observed use: the same intent, narrowed to keep what
was seen in use, scored the same way (``rescore``). Each is declared per change kind by its provider
(``analyzer.providers``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from analyzer.changes import get_kind
from analyzer.governance.tier_policy import TierPolicy
from analyzer.scoring.context import Context, account_of

Rescore = Callable[[dict[str, Any], Context, TierPolicy, datetime], dict[str, Any]]
"""Score a proposal as ``blast.score_proposal`` does, without looking for an alternative to it."""


def _scored_alternative(
    proposal: dict[str, Any],
    ctx: Context,
    policy: TierPolicy,
    as_of: datetime,
    delta: dict[str, Any],
    description: str,
    rescore: Rescore,
    kind: str | None = None,
) -> dict[str, Any]:
    """The proposal with its change replaced by ``delta`` (and ``kind``, if another), scored the same way,
    as the ``safer_alternative`` section of a result."""
    change = {**proposal["change"], "delta": delta, "fidelity": "exact", "lookup": "safer-alternative"}
    if kind is not None:
        change["kind"] = kind
    alt = {**proposal, "proposal_id": proposal["proposal_id"] + "-alt", "change": change}
    r = rescore(alt, ctx, policy, as_of)
    return {
        "description": description,
        "delta": delta,
        "tier": r["tier"],
        "tier_rule": r["tier_rule"],
        "risk_score": r["risk_score"],
        "severed": r["severed"],
        "severed_observed": sum(1 for x in r["severed"] if x["observed"]),
        "impacted_services": [
            {k: x[k] for k in ("name", "criticality", "documented", "reached")}
            for x in r["impacted_services"]
        ],
        "approver_role": r["approver_role"],
        "tier_notes": r["tier_notes"],
        "change": r["change"],
        "unknowns": r["unknowns"],
        "rollback_verified": r["rollback"].get("verified"),
    }


def trust_alternative(
    proposal: dict[str, Any],
    ctx: Context,
    policy: TierPolicy,
    as_of: datetime,
    severed: list[dict[str, Any]],
    rescore: Rescore,
) -> dict[str, Any] | None:
    """Where removing an account's trust would cut observed use: keep trusting exactly the principals seen
    using it, drop the rest of that account, and score that change the same way."""
    role = ctx.snap.node(str(proposal["change"].get("target") or ""))
    if role is None or role.kind != "IamRole":
        return None
    before_doc = role.props["trust_policy"]
    delta = proposal["change"].get("delta") or {}
    accounts = set(delta.get("remove_principals_of_account") or [])
    keep = sorted(
        {
            s["consumer"]
            for s in severed
            if s["observed"] and account_of(s["consumer"]) in accounts and s["consumer"] in ctx.principals
        }
    )
    if not keep:
        return None
    kind = get_kind("iam.update_trust_policy")
    assert kind.apply is not None
    doc = kind.apply(before_doc, delta)
    doc["Statement"].append(
        {
            "Sid": "ObservedPrincipalsOnly",
            "Effect": "Allow",
            "Principal": {"AWS": keep[0] if len(keep) == 1 else keep},
            "Action": "sts:AssumeRole",
        }
    )
    return _scored_alternative(
        proposal,
        ctx,
        policy,
        as_of,
        {"new_document": doc},
        f"trust only the principals seen using the role ({', '.join(keep)}) instead of their "
        f"whole account{'s' if len(accounts) > 1 else ''}; the trust stays cross-account, so an external-access "
        "finding narrows but does not close until that use moves",
        rescore,
    )


def public_access_alternative(
    proposal: dict[str, Any],
    ctx: Context,
    policy: TierPolicy,
    as_of: datetime,
    severed: list[dict[str, Any]],
    rescore: Rescore,
) -> dict[str, Any] | None:
    """Where blocking public access would cut observed callers: keep their access path by naming them in
    the bucket policy instead of ``*`` (so it is no longer public), and score that change the same way."""
    import copy
    import json

    from analyzer.changes.public_access import is_public_statement
    from analyzer.iam.policy import parse_lenient

    bucket = proposal["change"]["target"]
    node = ctx.snap.node(bucket)
    doc = (node.props.get("policy") if node is not None else None) or None
    if doc is None:
        return None
    doc = json.loads(doc) if isinstance(doc, str) else copy.deepcopy(doc)
    raw = doc.get("Statement", [])
    raw = [raw] if isinstance(raw, dict) else raw
    observed = sorted({s["consumer"] for s in severed if s["observed"]})
    parsed = {st.index: st for st in parse_lenient(doc).statements}
    new_statements = []
    for i, st in enumerate(raw):
        if i in parsed and is_public_statement(parsed[i]):
            st = {**st, "Principal": {"AWS": observed[0] if len(observed) == 1 else observed}}
            st.pop("NotPrincipal", None)
        new_statements.append(st)
    new_doc = {**doc, "Statement": new_statements}
    return _scored_alternative(
        proposal,
        ctx,
        policy,
        as_of,
        {"new_document": new_doc},
        f"name the callers seen using the bucket ({', '.join(observed)}) in its policy instead of "
        "everyone, so the policy is no longer public; then block public access",
        rescore,
        kind="resource_policy.remove_statements",
    )


def _peer_addresses(ctx: Context, peer: str) -> list[str]:
    """The addresses a flow peer is known by: an address, an interface's private addresses (an east-west
    peer, another interface of the organization), or a pod's."""
    if peer.startswith("urn:ip:"):
        return [peer.removeprefix("urn:ip:")]
    node = ctx.snap.node(peer)
    if node is not None and node.kind == "NetworkInterface":
        return [str(ip) for ip in node.props.get("private_ips") or []]
    if node is not None and node.kind == "Pod" and not node.props.get("host_network"):
        return [str(ip) for ip in node.props.get("pod_ips") or []]  # the VPC CNI's address of the pod
    return []


def network_alternative(
    proposal: dict[str, Any],
    ctx: Context,
    policy: TierPolicy,
    as_of: datetime,
    severed: list[dict[str, Any]],
    rescore: Rescore,
) -> dict[str, Any] | None:
    """Where revoking a broad rule would cut observed flows: revoke it, but allow exactly the observed
    peers (one /32 or /128 per address, on the protocol and port they used), and score that the same way."""
    delta = proposal["change"].get("delta") or {}
    keep: dict[str, dict[tuple[str, int], set[str]]] = {"ingress": {}, "egress": {}}
    for s in severed:
        if not s["observed"]:
            continue
        proto, _, port = s["access"].partition("/")
        # the group's side is the destination for ingress rules and the source for egress rules
        for side, peer in (("ingress", s["consumer"]), ("egress", s["provider"])):
            if not delta.get(side):
                continue
            for ip in _peer_addresses(ctx, peer):
                keep[side].setdefault((proto, int(port)), set()).add(ip)
    authorize: dict[str, list[dict[str, Any]]] = {}
    for side, by_port in keep.items():
        for (proto, port), peers in sorted(by_port.items()):
            v4 = sorted(p for p in peers if ":" not in p)
            v6 = sorted(p for p in peers if ":" in p)
            perm: dict[str, Any] = {"IpProtocol": proto, "FromPort": port, "ToPort": port}
            if v4:
                perm["IpRanges"] = [{"CidrIp": f"{p}/32", "Description": "observed in flow logs"} for p in v4]
            if v6:
                perm["Ipv6Ranges"] = [
                    {"CidrIpv6": f"{p}/128", "Description": "observed in flow logs"} for p in v6
                ]
            authorize.setdefault(side, []).append(perm)
    if not authorize:
        return None
    new_delta = {"revoke": delta, "authorize": authorize}
    observed_peers = sorted({p for by in keep.values() for ps in by.values() for p in ps})
    shown = ", ".join(observed_peers[:5]) + (" …" if len(observed_peers) > 5 else "")
    return _scored_alternative(
        proposal,
        ctx,
        policy,
        as_of,
        new_delta,
        f"revoke the rule but allow exactly the peers observed using it ({shown}) on the "
        "protocol and port they used",
        rescore,
        kind="sg.replace_rules",
    )
