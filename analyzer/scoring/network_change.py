"""Blast radius of a network change (``sg.revoke_rules``, ``sg.authorize_rules``,
``eni.replace_security_groups``): the observed flows it severs, the flows and internet exposure it opens,
the flows it cannot cut because the configuration already denies them (stale evidence), and its
rollback verified by simulation. Only flows with an endpoint the change touches are re-decided."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import numpy as np

from analyzer.changes import ChangeKind, get_kind
from analyzer.errors import BadInput
from analyzer.graph.snapshot import Snapshot
from analyzer.network.documents import LISTS, NetworkDocuments
from analyzer.network.load import model_from_documents
from analyzer.network.model import NetModel, from_api
from analyzer.network.service import _decide_all, exposure, reach, resolve_endpoint
from analyzer.network.service import observed as flows_of_edges
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
    eni_code: dict[str, int]
    offsets: np.ndarray  # flows of ENI code c: rows[offsets[c]:offsets[c + 1]] (positions of OBSERVED_FLOW)
    rows: np.ndarray
    members: dict[str, set[str]]

    def flows_of(self, enis: set[str]) -> np.ndarray:
        """Positions of the observed flows with an endpoint on one of ``enis``, in stored order."""
        codes = [self.eni_code[e] for e in enis if e in self.eni_code]
        if not codes:
            return np.empty(0, np.int64)
        return np.unique(np.concatenate([self.rows[self.offsets[c] : self.offsets[c + 1]] for c in codes]))


def _flow_index(snap: Snapshot, m: NetModel) -> tuple[dict[str, int], np.ndarray, np.ndarray]:
    """Which observed flows each ENI takes part in, as CSR arrays: each distinct flow endpoint is resolved
    once (an ENI's ARN, or an address that one of the model's ENIs holds), not once per flow."""
    arr = snap.edges.get("OBSERVED_FLOW")
    if arr is None or not len(arr.src):
        return {}, np.zeros(1, np.int64), np.empty(0, np.int64)
    ends = np.unique(np.concatenate([arr.src, arr.dst]))
    eni_of = np.full(snap.n, -1, np.int64)
    eni_code: dict[str, int] = {}
    for node in ends.tolist():
        text = snap.ids[node].rsplit("/", 1)[-1].removeprefix("urn:ip:")
        try:
            eni = resolve_endpoint(m, text).eni
        except BadInput:
            continue
        if eni is not None:
            eni_of[node] = eni_code.setdefault(eni.id, len(eni_code))
    positions = np.arange(len(arr.src), dtype=np.int64)
    enis = np.concatenate([eni_of[arr.src], eni_of[arr.dst]])
    rows = np.concatenate([positions, positions])
    keep = enis >= 0
    enis, rows = enis[keep], rows[keep]
    order = np.lexsort((rows, enis))
    offsets = np.zeros(len(eni_code) + 1, np.int64)
    np.cumsum(np.bincount(enis, minlength=len(eni_code)), out=offsets[1:])
    return eni_code, offsets, rows[order]


def _prepare(ctx: Context) -> _Prepared:
    def build() -> _Prepared:
        m = model_from_documents(ctx.network_docs)
        eni_code, offsets, rows = _flow_index(ctx.snap, m)
        members: dict[str, set[str]] = {}
        for eni in m.enis.values():
            for g in eni.groups:
                members.setdefault(g, set()).add(eni.id)
        return _Prepared(m, Compiled(m), eni_code, offsets, rows, members)

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
    picked = prep.flows_of(touched_enis)
    records = ctx.snap.edges["OBSERVED_FLOW"].records.at(picked) if len(picked) else []
    # a flow whose port is not a number (none in VPC flow logs v2 for TCP/UDP) is not re-decided
    pairs = [(f, e) for e in records for f in flows_of_edges([e])]
    flows = [f for f, _ in pairs]
    keep = [e for _, e in pairs]
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
