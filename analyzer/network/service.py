"""What the CLI, the app and notebooks ask of the network model: one flow (``reach``), the observed flows
with their current decision (``observed_flows``: stale evidence is "already denied", never severed), the
internet exposure (``exposure``), and the same before and after a change (``whatif``)."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from analyzer.errors import BadInput
from analyzer.network.addr import NAMES, is_private, parse_net, protocol_number
from analyzer.network.decide import Endpoint, FlowDecision, decide
from analyzer.network.load import model_from_documents
from analyzer.network.model import NetModel
from analyzer.network.vector import Compiled, Flows, decide_many

STATE = ["denied", "unknown", "allowed"]


def resolve_endpoint(m: NetModel, text: str) -> Endpoint:
    """An ENI id or ARN, an instance id (its primary ENI), an address or a CIDR. ``urn:ip:ADDRESS`` is an
    address the evidence did not tie to an interface (flow attribution left it so): it stays an address,
    never looked up by value (private ranges repeat across VPCs and accounts)."""
    if text.startswith("urn:ip:"):
        try:
            return Endpoint(parse_net(text.removeprefix("urn:ip:")), None)
        except ValueError as exc:
            raise BadInput(f"{text!r} is not an address", path="ENDPOINT") from exc
    t = text.strip().rsplit("/", 1)[-1] if text.startswith("arn:") else text.strip()
    if t in m.enis:
        e = m.enis[t]
        return Endpoint(e.ips[0] if e.ips else parse_net("0.0.0.0/32"), e)
    if t.startswith("i-"):
        enis = m.instance_enis.get(t)
        if not enis:
            raise BadInput(f"no network interface of instance {t} in the snapshot", path="ENDPOINT")
        e = m.enis[enis[0]]
        return Endpoint(e.ips[0], e)
    try:
        net = parse_net(t)
    except ValueError as exc:
        raise BadInput(
            f"{text!r} is not an ENI id, an instance id, an address or a CIDR", path="ENDPOINT"
        ) from exc
    eni = m.eni_by_ip(net)
    return Endpoint(net, eni)


def reach(m: NetModel, src: str, dst: str, protocol: str, port: int) -> FlowDecision:
    return decide(m, resolve_endpoint(m, src), resolve_endpoint(m, dst), protocol_number(protocol), port)


@dataclass
class ObservedFlow:
    src: str
    dst: str
    protocol: str
    port: int
    count: int
    last_seen: str | None


def observed(edges: list[Any]) -> list[ObservedFlow]:
    """OBSERVED_FLOW edges (VPC flow logs) as flows between ENI ids and addresses."""
    out = []
    for e in edges:
        port = str(e.props.get("port", ""))
        if not port.isdigit():
            continue
        out.append(
            ObservedFlow(
                e.src if e.src.startswith("urn:ip:") else e.src.rsplit("/", 1)[-1],
                e.dst if e.dst.startswith("urn:ip:") else e.dst.rsplit("/", 1)[-1],
                str(e.props.get("protocol", "tcp")),
                int(port),
                int(e.count or 0),
                e.last_seen,
            )
        )
    return out


def _shown(f: ObservedFlow) -> dict[str, Any]:
    """A flow as printed: addresses without the ``urn:ip:`` mark."""
    return {**f.__dict__, "src": f.src.removeprefix("urn:ip:"), "dst": f.dst.removeprefix("urn:ip:")}


def _decide_all(m: NetModel, flows: list[ObservedFlow], cm: Compiled | None = None) -> list[int]:
    """Tri-state per flow: IPv4 flows in one vectorized pass, anything else one by one."""
    cm = cm or Compiled(m)
    v4, rows = [], []
    out = [1] * len(flows)
    for i, f in enumerate(flows):
        try:
            s, d = resolve_endpoint(m, f.src), resolve_endpoint(m, f.dst)
            proto = protocol_number(f.protocol)
        except (BadInput, ValueError):
            continue
        if s.net.version == 4 and d.net.version == 4 and s.net.size == 1 and d.net.size == 1:
            v4.append(i)
            rows.append((s, d, proto, f.port))
        else:
            out[i] = ["denied", "unknown", "allowed"].index(decide(m, s, d, proto, f.port).decision)
    if rows:
        fl = Flows(
            np.array([cm.eni_index[s.eni.id] if s.eni else -1 for s, _, _, _ in rows], np.int64),
            np.array([cm.eni_index[d.eni.id] if d.eni else -1 for _, d, _, _ in rows], np.int64),
            np.array([s.net.lo for s, _, _, _ in rows], np.int64),
            np.array([d.net.lo for _, d, _, _ in rows], np.int64),
            np.array([p for _, _, p, _ in rows], np.int64),
            np.array([port for _, _, _, port in rows], np.int64),
        )
        got = decide_many(cm, fl)
        for j, i in enumerate(v4):
            out[i] = int(got[j])
    return out


def observed_flows(m: NetModel, flows: list[ObservedFlow]) -> list[dict[str, Any]]:
    """Each observed flow with what the current configuration says: allowed, already denied (stale
    evidence: the configuration refuses it today, so no change can sever it) or unknown."""
    states = _decide_all(m, flows)
    rows = []
    for f, st in zip(flows, states, strict=True):
        row = {**_shown(f), "current": {0: "already denied", 1: "unknown", 2: "allowed"}[st]}
        if st != 2:
            d = reach(m, f.src, f.dst, f.protocol, f.port)
            row["why"] = d.blocked_by or d.unknown
        rows.append(row)
    return rows


# -- changes ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Revoke:
    """``sg-ID:ingress|egress:PROTO:PORT[-PORT]:PEER`` (PEER: a CIDR, a group id or a prefix list id)."""

    group: str
    direction: str
    protocol: str
    lo: int
    hi: int
    peer: str

    @classmethod
    def parse(cls, text: str) -> Revoke:
        parts = text.split(":", 4)
        if len(parts) != 5 or parts[1] not in ("ingress", "egress"):
            raise BadInput(
                f"--revoke expects sg-ID:ingress|egress:PROTO:PORT[-PORT]:PEER, got {text!r}", path="--revoke"
            )
        g, d, proto, ports, peer = parts
        if ports in ("all", "-1", ""):
            lo = hi = -1
        else:
            a, _, b = ports.partition("-")
            lo, hi = int(a), int(b or a)
        return cls(g, d, proto, lo, hi, peer)

    def matches(self, perm: dict[str, Any]) -> bool:
        if str(perm.get("IpProtocol")) not in (self.protocol, str(protocol_number(self.protocol))):
            return False
        lo, hi = perm.get("FromPort", -1), perm.get("ToPort", -1)
        return (lo, hi) == (self.lo, self.hi) or (self.lo == -1 and lo in (None, -1))

    def apply(self, docs: dict[str, dict[str, Any]]) -> int:
        """Remove the rule's peer from matching permissions; how many entries were removed."""
        removed = 0
        for data in docs.values():
            for g in (data.get("ec2-DescribeSecurityGroups") or {}).get("SecurityGroups", []):
                if g["GroupId"] != self.group:
                    continue
                for perm in (
                    g.get("IpPermissions" if self.direction == "ingress" else "IpPermissionsEgress") or []
                ):
                    if not self.matches(perm):
                        continue
                    for field, key in _PEER_KEYS.items():
                        before = perm.get(field) or []
                        after = [x for x in before if x.get(key) != self.peer]
                        removed += len(before) - len(after)
                        perm[field] = after
        return removed

    def touches(self, eni: Any) -> bool:
        return self.group in eni.groups


_PEER_KEYS = {
    "IpRanges": "CidrIp",
    "Ipv6Ranges": "CidrIpv6",
    "UserIdGroupPairs": "GroupId",
    "PrefixListIds": "PrefixListId",
}


@dataclass(frozen=True)
class Authorize(Revoke):
    """The same syntax as ``Revoke``; adds the rule (a loosening change)."""

    @classmethod
    def parse(cls, text: str) -> Authorize:
        r = Revoke.parse(text.replace("--authorize", "--revoke"))
        return cls(r.group, r.direction, r.protocol, r.lo, r.hi, r.peer)

    def apply(self, docs: dict[str, dict[str, Any]]) -> int:
        peer: dict[str, Any]
        if self.peer.startswith("sg-"):
            field, peer = "UserIdGroupPairs", {"GroupId": self.peer}
        elif self.peer.startswith("pl-"):
            field, peer = "PrefixListIds", {"PrefixListId": self.peer}
        elif ":" in self.peer:
            field, peer = "Ipv6Ranges", {"CidrIpv6": self.peer}
        else:
            field, peer = "IpRanges", {"CidrIp": self.peer}
        added = 0
        for data in docs.values():
            for g in (data.get("ec2-DescribeSecurityGroups") or {}).get("SecurityGroups", []):
                if g["GroupId"] == self.group:
                    perm: dict[str, Any] = {"IpProtocol": self.protocol, field: [peer]}
                    if self.lo != -1:
                        perm.update(FromPort=self.lo, ToPort=self.hi)
                    g.setdefault(
                        "IpPermissions" if self.direction == "ingress" else "IpPermissionsEgress", []
                    ).append(perm)
                    added += 1
        return added


@dataclass(frozen=True)
class Quarantine:
    """``ENI=sg-a[,sg-b]``: replace an ENI's security groups (an isolation runbook)."""

    eni: str
    groups: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> Quarantine:
        eni, sep, groups = text.partition("=")
        if not sep or not eni.startswith("eni-") or not groups:
            raise BadInput(f"--quarantine expects eni-ID=sg-ID[,sg-ID], got {text!r}", path="--quarantine")
        return cls(eni, tuple(g for g in groups.split(",") if g))

    def apply(self, docs: dict[str, dict[str, Any]]) -> int:
        n = 0
        for data in docs.values():
            for e in (data.get("ec2-DescribeNetworkInterfaces") or {}).get("NetworkInterfaces", []):
                if e["NetworkInterfaceId"] == self.eni:
                    e["Groups"] = [{"GroupId": g} for g in self.groups]
                    n += 1
        return n

    def touches(self, eni: Any) -> bool:
        return bool(eni.id == self.eni)


def apply_changes(
    docs: dict[str, dict[str, Any]], changes: list[Any]
) -> tuple[dict[str, dict[str, Any]], int]:
    """The raw responses with the changes applied, and how many entries they changed."""
    out = copy.deepcopy(docs)
    return out, sum(c.apply(out) for c in changes)


def apply_revokes(
    docs: dict[str, dict[str, Any]], revokes: list[Revoke]
) -> tuple[dict[str, dict[str, Any]], int]:
    return apply_changes(docs, list(revokes))


def whatif(docs: dict[str, dict[str, Any]], flows: list[ObservedFlow], changes: list[Any]) -> dict[str, Any]:
    """Observed flows before and after changes (revoke, authorize, quarantine): only flows with an
    endpoint the changes touch are re-decided. Severed = allowed before and denied after; opened = the
    reverse; stale flows stay "already denied" unless a change opens them."""
    before_m = model_from_documents(docs)
    after_docs, changed = apply_changes(docs, changes)
    if changed == 0:
        raise BadInput(
            "no rule or interface matches the change given (nothing would change)", path="--revoke"
        )
    after_m = model_from_documents(after_docs)
    touched = [
        i
        for i, f in enumerate(flows)
        if any(
            (e := _eni_of(before_m, x)) is not None and any(c.touches(e) for c in changes)
            for x in (f.src, f.dst)
        )
    ]
    touched_set = set(touched)
    before = _decide_all(before_m, flows)
    after = list(before)
    if touched:
        sub = [flows[i] for i in touched]
        for i, st in zip(touched, _decide_all(after_m, sub), strict=True):
            after[i] = st
    rows = []
    for i, f in enumerate(flows):
        b, a = before[i], after[i]
        status = {
            (2, 0): "severed",
            (2, 1): "may be severed",
            (0, 2): "opened",
            (0, 1): "may open",
            (1, 2): "opened",
            (1, 0): "severed if it was allowed",
        }.get((b, a), "already denied" if b == 0 else "unchanged")
        row = {
            **_shown(f),
            "before": STATE[b],
            "after": STATE[a],
            "status": status,
            "re_decided": i in touched_set,
        }
        if status in ("severed", "may be severed", "severed if it was allowed"):
            d = reach(after_m, f.src, f.dst, f.protocol, f.port)
            row["why"] = d.blocked_by or d.unknown
        rows.append(row)
    return {"changed_entries": changed, "revoked_entries": changed, "re_decided": len(touched), "flows": rows}


def _eni_of(m: NetModel, text: str) -> Any:
    try:
        return resolve_endpoint(m, text).eni
    except BadInput:
        return None


def exposure(m: NetModel, enis: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """What the internet can reach: for every ENI with a public (or IPv6) address (or only ``enis``), every
    ingress rule open to a public range, decided end to end (ACLs, routes) from that range."""
    out = []
    for e in m.enis.values() if enis is None else [m.enis[i] for i in enis if i in m.enis]:
        if not e.public_ips and not any(ip.version == 6 for ip in e.ips):
            continue
        for g in e.groups:
            for r in m.groups.get(g, []):
                if r.direction != "ingress" or r.net is None or is_private(r.net):
                    continue
                proto = r.proto if r.proto != -1 else 6
                port = r.lo if r.lo != -1 else 0
                d = decide(m, Endpoint(r.net), Endpoint(e.ips[0], e), proto, port)
                out.append(
                    {
                        "eni": e.id,
                        "public": [str(p) for p in e.public_ips],
                        "attached_to": e.attached_to,
                        "protocol": NAMES.get(r.proto, str(r.proto)),
                        "ports": "all" if r.lo == -1 else f"{r.lo}" if r.lo == r.hi else f"{r.lo}-{r.hi}",
                        "source": str(r.net),
                        "rule": r.rule_id,
                        "decision": d.decision,
                        "detail": d.blocked_by or d.unknown or d.allowed_by,
                    }
                )
    return out


def who_can_reach(m: NetModel, target: str, limit: int = 200) -> list[dict[str, Any]]:
    """Who can reach an ENI (or an instance's first ENI): every ingress rule of its groups, its peer
    expanded (a group to its member ENIs, a prefix list to its ranges) and each decided end to end."""
    dst = resolve_endpoint(m, target)
    if dst.eni is None:
        raise BadInput(f"{target} is not an ENI or instance of the snapshot", path="TARGET")
    out: list[dict[str, Any]] = []
    for g in dst.eni.groups:
        for r in m.groups.get(g, []):
            if r.direction != "ingress":
                continue
            proto = r.proto if r.proto != -1 else 6
            port = r.lo if r.lo != -1 else 0
            sources: list[Endpoint] = []
            if r.net is not None:
                sources = [Endpoint(r.net)]
            elif r.ref is not None:
                sources = [
                    Endpoint(e.ips[0], e)
                    for e in m.enis.values()
                    if r.ref in e.groups and e.ips and e.id != dst.eni.id
                ]
            elif r.prefix_list is not None:
                sources = [Endpoint(n) for n in m.prefix_lists.get(r.prefix_list, [])]
            for src in sources:
                d = decide(m, src, dst, proto, port)
                out.append(
                    {
                        "source": src.label,
                        "protocol": NAMES.get(r.proto, str(r.proto)),
                        "ports": "all" if r.lo == -1 else f"{r.lo}" if r.lo == r.hi else f"{r.lo}-{r.hi}",
                        "rule": r.rule_id,
                        "decision": d.decision,
                        "detail": "; ".join(d.blocked_by or d.unknown),
                    }
                )
                if len(out) >= limit:
                    return out
    return out
