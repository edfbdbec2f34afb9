"""Blast radius of a network change (``sg.revoke_rules``, ``sg.authorize_rules``,
``eni.replace_security_groups``): the observed flows it severs, the flows and internet exposure it opens,
the flows it cannot cut because the configuration already denies them (stale evidence), and its
rollback verified by simulation. Only flows with an endpoint the change touches are re-decided."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from analyzer.changes import ChangeKind, get_kind
from analyzer.errors import BadInput
from analyzer.network.documents import LISTS, NetworkDocuments
from analyzer.network.load import model_from_documents
from analyzer.network.model import NetModel, from_api
from analyzer.network.service import ObservedFlow, _decide_all, exposure, observed, reach, resolve_endpoint
from analyzer.network.vector import Compiled
from analyzer.scoring.context import Context
from analyzer.scoring.outcome import Outcome, config_digest, in_window, severed_entry
from analyzer.timeutil import iso

NetworkOutcome = Outcome


def _op(kind: ChangeKind) -> str:
    if kind.target_kind == "SecurityGroup":
        return "ec2-DescribeSecurityGroups"
    return "ec2-DescribeNetworkInterfaces"


def _locate(docs: Mapping[str, dict[str, Any]], kind: ChangeKind, target: str) -> tuple[str, int] | None:
    """(document key, index) of the target group or interface in the raw responses."""
    tid = target.rsplit("/", 1)[-1]
    op = _op(kind)
    if isinstance(docs, NetworkDocuments):
        return docs.locate(op, tid)
    list_key, id_key = LISTS[op]
    for key, data in docs.items():
        for i, item in enumerate((data.get(op) or {}).get(list_key, [])):
            if item.get(id_key) == tid:
                return key, i
    return None


def _item(docs: Mapping[str, dict[str, Any]], kind: ChangeKind, where: tuple[str, int]) -> dict[str, Any]:
    op = _op(kind)
    if isinstance(docs, NetworkDocuments):
        return docs.item(op, where)
    return dict(docs[where[0]][op][LISTS[op][0]][where[1]])


@dataclass(frozen=True)
class _Prepared:
    """What every network change of one snapshot shares: the model, its compiled arrays, the observed flows
    and which flows each ENI takes part in (built once, through the snapshot's memo)."""

    model: NetModel
    compiled: Compiled
    flows: list[ObservedFlow]
    edges: list[Any]
    by_eni: dict[str, list[int]]
    members: dict[str, set[str]]


def _prepare(ctx: Context) -> _Prepared:
    def build() -> _Prepared:
        m = model_from_documents(ctx.network_docs)
        flows: list[ObservedFlow] = []
        edges: list[Any] = []
        by_eni: dict[str, list[int]] = {}
        for e in ctx.snap.edge_records("OBSERVED_FLOW"):
            got = observed([e])
            if not got:
                continue
            f = got[0]
            i = len(flows)
            flows.append(f)
            edges.append(e)
            for text in {f.src, f.dst}:
                try:
                    eni = resolve_endpoint(m, text).eni
                except BadInput:
                    continue
                if eni is not None:
                    by_eni.setdefault(eni.id, []).append(i)
        members: dict[str, set[str]] = {}
        for eni in m.enis.values():
            for g in eni.groups:
                members.setdefault(g, set()).add(eni.id)
        return _Prepared(m, Compiled(m), flows, edges, by_eni, members)

    return ctx.snap.memo(("network-change-prepared", id(ctx.network_docs)), build)  # type: ignore[return-value]


def _patched(m: NetModel, kind: ChangeKind, account: str, item: dict[str, Any]) -> NetModel:
    """``m`` with one group or interface replaced by ``item`` (the rest shared, not copied)."""
    if kind.target_kind == "SecurityGroup":
        part = from_api([(account, {"ec2-DescribeSecurityGroups": {"SecurityGroups": [item]}})])
        return replace(m, groups={**m.groups, **part.groups}, problems=list(m.problems))
    part = from_api([(account, {"ec2-DescribeNetworkInterfaces": {"NetworkInterfaces": [item]}})])
    return replace(m, enis={**m.enis, **part.enis}, problems=list(m.problems))


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
        return out.target_missing(f"{change.get('target')} is not in the snapshot's VPC configuration")
    out.account = where[0].split("/", 1)[0]
    before_item = _item(docs, kind, where)
    after_item = kind.apply(before_item, change["delta"])
    out.applied = after_item == before_item
    prep = _prepare(ctx)
    before_m = prep.model
    after_m = _patched(before_m, kind, out.account, after_item)
    tid = (change.get("target") or "").rsplit("/", 1)[-1]
    # only the flows with an endpoint the change touches are re-decided
    touched_enis = {tid} if kind.target_kind == "NetworkInterface" else prep.members.get(tid, set())
    picked = sorted({i for e in touched_enis for i in prep.by_eni.get(e, ())})
    flows = [prep.flows[i] for i in picked]
    keep = [prep.edges[i] for i in picked]
    before = _decide_all(before_m, flows, prep.compiled)
    sg = kind.target_kind == "SecurityGroup"
    after = _decide_all(after_m, flows, prep.compiled.with_group_rules(after_m, {tid}) if sg else None)
    lo, hi = iso(start), iso(as_of)
    for f, e, b, a in zip(flows, keep, before, after, strict=True):
        observed = in_window(e, lo, hi)
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
    exposed = touched_enis
    before_exp = {key(x) for x in exposure(before_m, exposed) if x["decision"] != "denied"}
    out.exposure = [
        {
            "principal": x["source"],
            "resource": x["eni"],
            "access": f"{x['protocol']}/{x['ports']}",
            "after": x["decision"],
            "statements": [x["rule"]],
        }
        for x in exposure(after_m, exposed)
        if x["decision"] != "denied" and key(x) not in before_exp
    ]
    # rollback: apply the inverse to the changed item; every re-decided flow and the exposure must match
    inverse = kind.invert(before_item, change["delta"])
    inverse_kind = get_kind(kind.inverse_kind or kind.name)
    assert inverse_kind.apply is not None
    restored_m = _patched(before_m, kind, out.account, inverse_kind.apply(after_item, inverse))
    restored = _decide_all(
        restored_m, flows, prep.compiled.with_group_rules(restored_m, {tid}) if sg else None
    )
    same_exposure = {key(x) for x in exposure(restored_m, exposed) if x["decision"] != "denied"} == before_exp
    mismatch = [
        f"{f.src} -> {f.dst} {f.protocol}/{f.port}"
        for f, b, r in zip(flows, before, restored, strict=True)
        if b != r
    ]
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
