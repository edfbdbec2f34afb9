"""Blast radius of a network change (``sg.revoke_rules``, ``sg.authorize_rules``,
``eni.replace_security_groups``): the observed flows it severs, the flows and internet exposure it opens,
the flows it cannot cut because the configuration already denies them (stale evidence), and its
rollback verified by simulation. Only flows with an endpoint the change touches are re-decided."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from analyzer.changes import ChangeKind, get_kind
from analyzer.network.load import model_from_documents
from analyzer.network.service import ObservedFlow, _decide_all, exposure, reach, resolve_endpoint
from analyzer.scoring.context import Context
from analyzer.scoring.outcome import Outcome, severed_entry
from analyzer.timeutil import iso

NetworkOutcome = Outcome


def _locate(docs: dict[str, dict[str, Any]], kind: ChangeKind, target: str) -> tuple[str, int] | None:
    """(document key, index) of the target group or interface in the raw responses."""
    tid = target.rsplit("/", 1)[-1]
    op, list_key, id_key = (
        ("ec2-DescribeSecurityGroups", "SecurityGroups", "GroupId")
        if kind.target_kind == "SecurityGroup"
        else ("ec2-DescribeNetworkInterfaces", "NetworkInterfaces", "NetworkInterfaceId")
    )
    for key, data in docs.items():
        for i, item in enumerate((data.get(op) or {}).get(list_key, [])):
            if item.get(id_key) == tid:
                return key, i
    return None


def _with(
    docs: dict[str, dict[str, Any]], kind: ChangeKind, where: tuple[str, int], item: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    out = copy.deepcopy(docs)
    op, list_key = (
        ("ec2-DescribeSecurityGroups", "SecurityGroups")
        if kind.target_kind == "SecurityGroup"
        else ("ec2-DescribeNetworkInterfaces", "NetworkInterfaces")
    )
    out[where[0]][op][list_key][where[1]] = item
    return out


def _item(docs: dict[str, dict[str, Any]], kind: ChangeKind, where: tuple[str, int]) -> dict[str, Any]:
    op, list_key = (
        ("ec2-DescribeSecurityGroups", "SecurityGroups")
        if kind.target_kind == "SecurityGroup"
        else ("ec2-DescribeNetworkInterfaces", "NetworkInterfaces")
    )
    return dict(docs[where[0]][op][list_key][where[1]])


def network_change(
    ctx: Context, proposal: dict[str, Any], start: datetime, as_of: datetime
) -> NetworkOutcome:
    change = proposal["change"]
    kind = get_kind(change["kind"])
    assert kind.apply is not None and kind.invert is not None
    out = NetworkOutcome(evidence_sources=("flowlogs",))
    docs = ctx.network_docs
    where = _locate(docs, kind, change.get("target") or "")
    if where is None:
        out.missing = True
        out.unknowns.append(
            {
                "reason": "target_missing",
                "detail": f"{change.get('target')} is not in the snapshot's VPC configuration",
            }
        )
        return out
    out.account = where[0].split("/", 1)[0]
    before_item = _item(docs, kind, where)
    after_item = kind.apply(before_item, change["delta"])
    out.applied = after_item == before_item
    after_docs = _with(docs, kind, where, after_item)
    before_m, after_m = model_from_documents(docs), model_from_documents(after_docs)
    tid = (change.get("target") or "").rsplit("/", 1)[-1]

    def touches(m: Any, text: str) -> bool:
        try:
            e = resolve_endpoint(m, text).eni
        except Exception:
            return False
        if e is None:
            return False
        return e.id == tid if kind.target_kind == "NetworkInterface" else tid in e.groups

    edges = list(ctx.snap.edge_records("OBSERVED_FLOW"))
    flows, keep = [], []
    for e in edges:
        port = str(e.props.get("port", ""))
        if not port.isdigit():
            continue
        f = ObservedFlow(
            e.src.rsplit("/", 1)[-1].removeprefix("urn:ip:"),
            e.dst.rsplit("/", 1)[-1].removeprefix("urn:ip:"),
            str(e.props.get("protocol", "tcp")),
            int(port),
            int(e.count or 0),
            e.last_seen,
        )
        if touches(before_m, f.src) or touches(before_m, f.dst):
            flows.append(f)
            keep.append(e)
    before = _decide_all(before_m, flows)
    after = _decide_all(after_m, flows)
    lo, hi = iso(start), iso(as_of)
    for f, e, b, a in zip(flows, keep, before, after, strict=True):
        observed = bool(e.last_seen and e.first_seen and e.last_seen >= lo and e.first_seen <= hi)
        if b == 0:
            d = reach(before_m, f.src, f.dst, f.protocol, f.port)
            out.already_denied.append(
                {
                    "consumer": e.src,
                    "provider": e.dst,
                    "access": f"{f.protocol}/{f.port}",
                    "events": f.count,
                    "last_seen": e.last_seen,
                    "why": d.blocked_by or d.unknown,
                }
            )
            continue
        if b == 2 and a == 0:
            before_d = reach(before_m, f.src, f.dst, f.protocol, f.port)
            after_d = reach(after_m, f.src, f.dst, f.protocol, f.port)
            out.severed.append(
                severed_entry(
                    ctx,
                    e.src,
                    e.dst,
                    f"{f.protocol}/{f.port}",
                    edge=e,
                    observed=observed,
                    before={"decision": "allowed", "statements": before_d.allowed_by, "missing_context": []},
                    events=f.count,
                    reason="; ".join(after_d.blocked_by),
                )
            )
        elif b == 2 and a == 1:
            d = reach(after_m, f.src, f.dst, f.protocol, f.port)
            out.unknowns.append(
                {
                    "reason": "flow_may_be_severed",
                    "detail": f"{e.src} -> {e.dst} {f.protocol}/{f.port}: {'; '.join(d.unknown)}",
                }
            )
        elif b == 1 and a == 0:
            out.unknowns.append(
                {
                    "reason": "flow_may_be_severed",
                    "detail": f"{e.src} -> {e.dst} {f.protocol}/{f.port} was only conditionally allowed before",
                }
            )
    # internet exposure the change adds (loosening changes)
    key = lambda x: (x["eni"], x["rule"])  # noqa: E731
    before_exp = {key(x) for x in exposure(before_m) if x["decision"] != "denied"}
    out.exposure = [
        {
            "principal": x["source"],
            "resource": x["eni"],
            "access": f"{x['protocol']}/{x['ports']}",
            "after": x["decision"],
            "statements": [x["rule"]],
        }
        for x in exposure(after_m)
        if x["decision"] != "denied" and key(x) not in before_exp
    ]
    # rollback: apply the inverse to the changed item; every re-decided flow and the exposure must match
    inverse = kind.invert(before_item, change["delta"])
    inverse_kind = get_kind(kind.inverse_kind or kind.name)
    assert inverse_kind.apply is not None
    restored_m = model_from_documents(_with(docs, kind, where, inverse_kind.apply(after_item, inverse)))
    restored = _decide_all(restored_m, flows)
    same_exposure = {key(x) for x in exposure(restored_m) if x["decision"] != "denied"} == before_exp
    mismatch = [
        f"{f.src} -> {f.dst} {f.protocol}/{f.port}"
        for f, b, r in zip(flows, before, restored, strict=True)
        if b != r
    ]
    from analyzer.scoring.blast import config_digest

    out.rollback = {
        "change": {"kind": inverse_kind.name, "target": change.get("target"), "delta": inverse},
        "verified": not mismatch and same_exposure,
        "detail": "apply then invert restores every flow decision and the exposure"
        if not mismatch and same_exposure
        else f"rollback does not restore: {', '.join(mismatch[:5]) or 'the internet exposure'}",
        "before_digest": config_digest(before_item),
        "after_digest": config_digest(after_item),
    }
    return out
