"""Blast radius of a network change (``sg.revoke_rules``, ``sg.authorize_rules``,
``eni.replace_security_groups``): the observed flows it severs, the flows and internet exposure it opens,
the flows it cannot cut because the configuration already denies them (stale evidence), and its
rollback verified by simulation. Only flows with an endpoint the change touches are re-decided."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from itertools import chain
from typing import Any

import numpy as np

from analyzer.changes import ChangeKind, get_kind
from analyzer.errors import BadInput
from analyzer.graph.snapshot import Snapshot
from analyzer.network.addr import parse_net, protocol_number
from analyzer.network.decide import Endpoint
from analyzer.network.decide import decide as decide_flow
from analyzer.network.documents import LISTS, NetworkDocuments
from analyzer.network.load import model_from_documents
from analyzer.network.model import NetModel, from_api
from analyzer.network.service import _decide_all, exposure, resolve_endpoint
from analyzer.network.service import observed as flows_of_edges
from analyzer.network.vector import Compiled, Flows, decide_many
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
    """What every network change of one snapshot shares (built once, through the snapshot's memo): the
    model and its compiled arrays; which observed flows each ENI takes part in (CSR: the flows of ENI code
    ``c`` are ``rows[offsets[c]:offsets[c + 1]]``, positions in the snapshot's ``OBSERVED_FLOW`` edges);
    how each flow end resolves in the model and what each distinct protocol/port means, so a flow is
    decided from arrays without being made into an object; and the flows' decisions under the unchanged
    model, filled in as proposals ask for them."""

    model: NetModel
    compiled: Compiled
    eni_code: dict[str, int]
    offsets: np.ndarray
    rows: np.ndarray
    members: dict[str, set[str]]
    end_kind: np.ndarray  # per node: 0 does not resolve (unknown), 1 an IPv4 address, 2 anything else
    end_eni: np.ndarray  # per node: index in compiled.eni_ids, or -1
    end_ip: np.ndarray  # per node: the IPv4 address as an integer
    props_index: np.ndarray  # per flow: index into the four arrays below
    has_port: np.ndarray  # a numeric port (else the flow is not re-decided: none in flow logs v2)
    proto_ok: np.ndarray
    proto: np.ndarray
    port: np.ndarray
    before: np.ndarray  # per flow: the decision under the unchanged model, -1 until asked
    on_node: dict[tuple[str, int], Any]  # (account, IPv4 address) -> the interface holding it, for pods
    pod_host: np.ndarray  # per node: for a pod end, a code of the host it runs on (else -1)

    def persisted_columns(self) -> list[list[Any]]:
        """The model's addresses, rules and interfaces (most of the context's objects): written as column
        tables when the context is persisted, addresses first as the other two hold them."""
        enis = list(self.model.enis.values())
        rules = [r for rs in self.model.groups.values() for r in rs]
        nets = [n for e in enis for n in chain(e.ips, e.public_ips)]
        nets += [r.net for r in rules if r.net is not None]
        return [nets, rules, enis]

    def reach(self, snap: Snapshot, m: NetModel, src: str, dst: str, protocol: str, port: int) -> Any:
        """``analyzer.network.service.reach`` between two flow ends (node ids), a pod resolved the way
        ``build`` resolves it (its address on its node's interface, as ``m`` has that interface)."""

        def end(node_id: str) -> Endpoint:
            if not node_id.startswith("k8s://"):
                return resolve_endpoint(
                    m, node_id if node_id.startswith("urn:ip:") else node_id.rsplit("/", 1)[-1]
                )
            at = _pod_endpoint(snap, node_id, self.on_node)
            return Endpoint(at.net, m.enis.get(at.eni.id, at.eni) if at.eni is not None else None)

        return decide_flow(m, end(src), end(dst), protocol_number(protocol), port)

    def flows_of(self, enis: set[str]) -> np.ndarray:
        """Positions of the observed flows (with a numeric port) that have an endpoint on one of
        ``enis``, in stored order."""
        codes = [self.eni_code[e] for e in enis if e in self.eni_code]
        if not codes:
            return np.empty(0, np.int64)
        pos = np.unique(np.concatenate([self.rows[self.offsets[c] : self.offsets[c + 1]] for c in codes]))
        return pos[self.has_port[self.props_index[pos]]]

    def decide(self, snap: Snapshot, m: NetModel, cm: Compiled, pos: np.ndarray) -> np.ndarray:
        """Tri-state (0 denied, 1 unknown, 2 allowed) of the flows at ``pos`` under ``m`` (compiled as
        ``cm``), equal to ``_decide_all`` on those flows: IPv4 flows in one vectorized pass, flows with an
        end that does not resolve unknown, anything else (IPv6, a range) one by one."""
        if not len(pos) or "OBSERVED_FLOW" not in snap.edges:  # no flow evidence at all: nothing to decide
            return np.ones(len(pos), np.int8)
        arr = snap.edges["OBSERVED_FLOW"]
        s, d, li = arr.src[pos], arr.dst[pos], self.props_index[pos]
        ks, kd = self.end_kind[s], self.end_kind[d]
        out = np.ones(len(pos), np.int8)
        known = (ks > 0) & (kd > 0) & self.proto_ok[li]
        vec = known & (ks == 1) & (kd == 1)
        if vec.any():
            out[vec] = decide_many(
                cm,
                Flows(
                    self.end_eni[s[vec]],
                    self.end_eni[d[vec]],
                    self.end_ip[s[vec]],
                    self.end_ip[d[vec]],
                    self.proto[li[vec]],
                    self.port[li[vec]],
                ),
            )
        rest = np.flatnonzero(known & ~vec)
        if len(rest):
            out[rest] = _decide_all(m, flows_of_edges(arr.records.at(pos[rest])), cm)
        # two pods of one host talk through the host's own routes (VPC CNI): no interface, security group,
        # ACL or route table is on the path, so the VPC allows it whatever the model says (NetworkPolicy
        # is what decides it, k8s.network_policy)
        hs, hd = self.pod_host[s], self.pod_host[d]
        out[(hs >= 0) & (hs == hd)] = 2
        return out

    def decided_before(self, snap: Snapshot, pos: np.ndarray) -> np.ndarray:
        todo = pos[self.before[pos] < 0]
        if len(todo):
            self.before[todo] = self.decide(snap, self.model, self.compiled, todo)
        return self.before[pos]


def prepared(ctx: Context) -> _Prepared:
    def build() -> _Prepared:
        m = model_from_documents(ctx.network_docs)
        cm = Compiled(m)
        snap = ctx.snap
        end_kind = np.full(snap.n, -1, np.int8)
        end_eni = np.full(snap.n, -1, np.int64)
        end_ip = np.zeros(snap.n, np.int64)
        eni_of = np.full(snap.n, -1, np.int64)  # per node: the code of the model ENI it stands for
        eni_code: dict[str, int] = {}
        pod_host = np.full(snap.n, -1, np.int64)
        host_code: dict[str, int] = {}
        arr = snap.edges.get("OBSERVED_FLOW")
        src = arr.src if arr is not None else np.empty(0, np.int64)
        dst = arr.dst if arr is not None else np.empty(0, np.int64)
        # each distinct flow end resolved once (an ENI's ARN, or an address one of the model's ENIs holds)
        on_node: dict[tuple[str, int], Any] = {}  # (account, address) -> the interface holding it
        for node in np.unique(np.concatenate([src, dst])).tolist():
            text = snap.ids[node]  # an address stays one: attribution decided at ingest
            try:
                if text.startswith("k8s://"):
                    if not on_node:
                        on_node = {
                            (e.account, ip.lo): e for e in m.enis.values() for ip in e.ips if ip.version == 4
                        }
                    end = _pod_endpoint(snap, text, on_node)
                else:
                    end = resolve_endpoint(m, text if text.startswith("urn:ip:") else text.rsplit("/", 1)[-1])
            except BadInput:
                end_kind[node] = 0
                continue
            if end.eni is not None:
                eni_of[node] = eni_code.setdefault(end.eni.id, len(eni_code))
                if text.startswith(
                    "k8s://"
                ):  # an instance's interfaces share its routes; a branch is its own
                    host = (
                        end.eni.attached_to
                        if end.eni.kind != "branch" and end.eni.attached_to
                        else end.eni.id
                    )
                    pod_host[node] = host_code.setdefault(host, len(host_code))
            if end.net.version == 4 and end.net.size == 1:
                end_kind[node] = 1
                end_eni[node] = cm.eni_index[end.eni.id] if end.eni else -1
                end_ip[node] = end.net.lo
            else:
                end_kind[node] = 2
        # which flows each ENI takes part in
        positions = np.arange(len(src), dtype=np.int64)
        enis = np.concatenate([eni_of[src], eni_of[dst]])
        rows = np.concatenate([positions, positions])
        keep = enis >= 0
        enis, rows = enis[keep], rows[keep]
        order = np.lexsort((rows, enis))
        offsets = np.zeros(len(eni_code) + 1, np.int64)
        np.cumsum(np.bincount(enis, minlength=len(eni_code)), out=offsets[1:])
        # each distinct protocol/port once
        props_index, props = arr.records.codes("props") if arr is not None else (np.empty(0, np.int64), [])
        ports = [str(p.get("port", "")) for p in props]
        protos = [_protocol(p.get("protocol", "tcp")) for p in props]
        members: dict[str, set[str]] = {}
        for eni in m.enis.values():
            for g in eni.groups:
                members.setdefault(g, set()).add(eni.id)
        return _Prepared(
            m,
            cm,
            eni_code,
            offsets,
            rows[order],
            members,
            end_kind,
            end_eni,
            end_ip,
            props_index,
            np.array([x.isdigit() for x in ports], bool),
            np.array([x is not None for x in protos], bool),
            np.array([x if x is not None else 0 for x in protos], np.int64),
            np.array([int(x) if x.isdigit() else 0 for x in ports], np.int64),
            np.full(len(src), -1, np.int8),
            on_node,
            pod_host,
        )

    return ctx.memo(("network-change-prepared",), build)  # type: ignore[return-value]


def _pod_endpoint(snap: Snapshot, node_id: str, on_node: dict[tuple[str, int], Any]) -> Endpoint:
    """A pod flow end as the VPC network sees it: the pod's address on the interface of its account that
    holds it (the VPC CNI gives pods secondary addresses of their node's interface, or a branch interface
    of their own with security groups for pods), so the interface's security groups and subnet decide it
    together with the cluster's NetworkPolicies. A host-network pod, or an address no interface of the
    account holds, does not resolve: unknown."""
    n = snap.node(node_id)
    props = (n.props if n is not None else None) or {}
    ips = [str(ip) for ip in props.get("pod_ips") or [] if ":" not in str(ip)]
    if n is None or props.get("host_network") or not ips:
        raise BadInput(f"{node_id}: no pod address the VPC network routes")
    net = parse_net(ips[0])
    eni = on_node.get((n.account or "", net.lo))
    if eni is None:
        raise BadInput(f"{node_id}: no interface of account {n.account} holds {ips[0]}")
    return Endpoint(net, eni)


def _protocol(value: Any) -> int | None:
    try:
        return protocol_number(str(value))
    except ValueError:
        return None


def _patched(m: NetModel, kind: ChangeKind, account: str, item: dict[str, Any]) -> NetModel:
    """``m`` with one group or interface replaced by ``item`` (the rest shared, not copied)."""
    if kind.target_kind == "SecurityGroup":
        part = from_api([(account, {"ec2-DescribeSecurityGroups": {"SecurityGroups": [item]}})])
        return replace(m, groups={**m.groups, **part.groups}, problems=list(m.problems))
    part = from_api([(account, {"ec2-DescribeNetworkInterfaces": {"NetworkInterfaces": [item]}})])
    return replace(m, enis={**m.enis, **part.enis}, problems=list(m.problems))


ALREADY_DENIED_LISTED = 200
"""Flows already denied before the change listed (and explained) per result; the rest are counted."""


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
    prep = prepared(ctx)
    before_m = prep.model
    after_m = _patched(before_m, kind, out.account, after_item)
    tid = (change.get("target") or "").rsplit("/", 1)[-1]
    # only the flows with an endpoint the change touches are re-decided
    touched_enis = {tid} if kind.target_kind == "NetworkInterface" else prep.members.get(tid, set())
    picked = prep.flows_of(touched_enis)
    sg = kind.target_kind == "SecurityGroup"
    snap = ctx.snap

    def decide(m: NetModel) -> np.ndarray:
        # an interface's change keeps its addresses (it replaces its groups), so the flow ends resolve as
        # in the unchanged model; its rule tables are compiled anew
        cm = prep.compiled.with_group_rules(m, {tid}) if sg else Compiled(m)
        return prep.decide(snap, m, cm, picked)

    before = prep.decided_before(snap, picked)
    after = decide(after_m)
    # flows the configuration already refuses are listed (each explained) up to a cap, most events first,
    # and the rest counted: a hub group's interfaces have thousands of them
    denied = np.flatnonzero(before == 0)
    if len(denied) > ALREADY_DENIED_LISTED:
        events = snap.edges["OBSERVED_FLOW"].count[picked[denied]]
        out.already_denied_unlisted = len(denied) - ALREADY_DENIED_LISTED
        denied = np.sort(denied[np.lexsort((denied, -events))[:ALREADY_DENIED_LISTED]])
    # only the flows whose decision says something are made into objects
    telling = ((before == 2) & (after < 2)) | ((before == 1) & (after == 0))
    telling[denied] = True
    records = snap.edges["OBSERVED_FLOW"].records.at(picked[telling]) if telling.any() else []
    flows = [f for e in records for f in flows_of_edges([e])]
    lo, hi = iso(start), iso(as_of)
    for f, e, b, a in zip(flows, records, before[telling].tolist(), after[telling].tolist(), strict=True):
        observed = in_window(e, lo, hi)
        if b == 0:
            d = prep.reach(snap, before_m, e.src, e.dst, f.protocol, f.port)
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
            before_d = prep.reach(snap, before_m, e.src, e.dst, f.protocol, f.port)
            after_d = prep.reach(snap, after_m, e.src, e.dst, f.protocol, f.port)
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
            d = prep.reach(snap, after_m, e.src, e.dst, f.protocol, f.port)
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
    restored_item = inverse_kind.apply(after_item, inverse)
    if restored_item == before_item:  # the same configuration decides every flow and exposure the same
        restored, same_exposure = before, True
    else:
        restored_m = _patched(before_m, kind, out.account, restored_item)
        restored = decide(restored_m)
        same_exposure = {
            key(x) for x in exposure(restored_m, exposed) if x["decision"] != "denied"
        } == before_exp
    differ = np.flatnonzero(before != restored)
    mismatch = (
        [
            f"{f.src} -> {f.dst} {f.protocol}/{f.port}"
            for f in flows_of_edges(snap.edges["OBSERVED_FLOW"].records.at(picked[differ[:5]]))
        ]
        if len(differ)
        else []
    )
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
