"""Which interface each end of a VPC flow record is: by identity first, by address only within reach.

A flow record is captured on the interface it names (``interface-id``, in the account ``account-id``): that
end is that interface. The other end is an address; it is an interface only if an interface that can be
reached from the capturing one held that address at the flow's time — in the same VPC first, then in a
VPC peered with it (active peering connections of the snapshot) or one its transit gateway routes it to
(the route table its attachment is associated with). Private ranges are reused across VPCs and accounts,
so an address alone proves nothing: held in several reachable VPCs, held by two interfaces in one VPC at
a time the history cannot tell apart, held only where no known route leads, or behind a transit gateway
whose route tables were not collected — the end stays an address and the case is counted, never
guessed.

A record that names no interface known to the snapshot is resolved within its ``vpc-id`` when the format
carries it, else within its ``account-id``, and only when every holder of the address there is in one VPC.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from analyzer.network.transit import TransitRoutes

REASONS = {
    "interface": "the capturing interface (interface-id)",
    "same_vpc": "a peer interface in the capturing interface's VPC",
    "peered_vpc": "a peer interface in a peered VPC",
    "transit_vpc": "a peer interface in a VPC the transit gateway routes to",
    "address_only": "by address within one VPC of the record's account (no known interface-id)",
    "ambiguous": "address held by interfaces in several reachable VPCs: left as an address",
    "reassigned": "address held by several interfaces of one VPC around that time: left as an address",
    "out_of_reach": "address held only in VPCs with no known route from the capturing one: left as an address",
    "transit_routes_unknown": "address held in a VPC on the same transit gateway, whose route table was not "
    "collected: left as an address",
    "interface_unknown": "interface-id not in the snapshot (its account or region not collected)",
    "interface_mismatch": "the capturing interface held neither address at that time",
    "pod": "an end at a pod's address on an interface of its cluster's account: the pod (VPC CNI)",
    "pod_not_running": "an end at a pod's address before that pod started or after it finished: whatever held "
    "the address then is not in the export, so the end stays its node's interface",
    "pod_ambiguous": "an end at an address several pods of the account held at that time (or, with no time, "
    "ever): left as the node's interface",
}


@dataclass(frozen=True)
class PodTenure:
    """One pod's hold of one address: from ``started`` (empty: not known, taken as always) to ``finished``
    (empty: still running at the export)."""

    pod: str
    account: str | None
    started: str = ""
    finished: str = ""

    def holds(self, when: str) -> bool:
        return (not self.started or self.started <= when) and (not self.finished or when <= self.finished)


@dataclass(frozen=True)
class Interface:
    node: str
    vpc: str | None
    account: str | None
    ips: frozenset[str]


@dataclass
class FlowAttribution:
    """``ends(record, src, dst, when)`` -> the node ids of both ends; ``counts`` says how each was decided."""

    history: dict[str, list[dict[str, Any]]]
    interfaces: dict[str, Interface]
    """By ENI id (``eni-…``, what flow logs name)."""
    peers: dict[str, frozenset[str]]
    """VPC id -> the VPCs it has an active peering connection with."""
    transit: TransitRoutes = field(default_factory=TransitRoutes)
    """VPC id -> the VPCs its transit gateway routes to (and those it may: route table not collected)."""
    counts: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)
    pods: dict[str, list[PodTenure]] = field(default_factory=dict)
    """A pod's address (the VPC CNI gives pods VPC addresses) -> the pods that held it and when: an end
    resolved to an interface of a pod's account at that address, while the pod held it, is the pod."""

    def __post_init__(self) -> None:
        self._by_node = {i.node: i for i in self.interfaces.values()}
        self._grouped: dict[str, dict[str | None, list[dict[str, Any]]]] = {}  # address -> holders by VPC
        self._only: dict[tuple[str, str | None], str] = {}  # (address, VPC) -> its one holder ever
        self._scopes: dict[str, tuple[frozenset[str], frozenset[str]]] = {}  # VPC -> (peered, routed)
        # answers that do not depend on the record's time, kept as records ask them again:
        self._settled: dict[tuple[str, str], tuple[str, str]] = {}  # (address, VPC) -> (holder, tally)
        self._holders: dict[str, frozenset[Any]] = {}  # address -> the interfaces its history names
        for i in self.interfaces.values():  # an address held now, never snapshotted with history
            for ip in i.ips:
                holders = self.history.setdefault(ip, [])
                if not any(h.get("eni") == i.node for h in holders):
                    holders.append({"eni": i.node, "vpc": i.vpc, "account": i.account})

    @classmethod
    def build(
        cls,
        history: dict[str, dict[str, Any]],
        enis: Iterable[Any],
        peerings: Iterable[tuple[str, str]],
        transit: TransitRoutes | None = None,
        pods: Iterable[Any] = (),
    ) -> FlowAttribution:
        interfaces = {}
        for n in enis:
            props = n.props or {}
            eni_id = props.get("eni_id") or n.id.rsplit("/", 1)[-1]
            interfaces[str(eni_id)] = Interface(
                n.id, props.get("vpc_id"), n.account, frozenset(props.get("private_ips") or [])
            )
        peers: dict[str, set[str]] = {}
        for a, b in peerings:
            peers.setdefault(a, set()).add(b)
            peers.setdefault(b, set()).add(a)
        by_ip: dict[str, list[PodTenure]] = {}
        for pod in pods:  # host-network pods have their node's address: not told apart
            props = pod.props or {}
            if props.get("host_network"):
                continue
            for ip in props.get("pod_ips") or []:
                by_ip.setdefault(str(ip), []).append(
                    PodTenure(
                        pod.id, pod.account, str(props.get("started") or ""), str(props.get("finished") or "")
                    )
                )
        return cls(
            {ip: [dict(h) for h in doc.get("holders", [])] for ip, doc in history.items()},
            interfaces,
            {v: frozenset(p) for v, p in peers.items()},
            transit or TransitRoutes(),
            pods=by_ip,
        )

    def _note(self, reason: str, detail: str) -> None:
        self.counts[reason] += 1
        shown = self.examples.setdefault(reason, [])
        if len(shown) < 5:
            shown.append(detail)

    def _vpc_of(self, holder: dict[str, Any]) -> str | None:
        node = self._by_node.get(str(holder.get("eni")))
        return holder.get("vpc") or (node.vpc if node else None)

    def _account_of(self, holder: dict[str, Any]) -> str | None:
        node = self._by_node.get(str(holder.get("eni")))
        return holder.get("account") or (node.account if node else None)

    def _holds(self, iface: Interface, ip: str) -> bool:
        if ip in iface.ips:
            return True
        holders = self._holders.get(ip)
        if holders is None:
            holders = self._holders[ip] = frozenset(h.get("eni") for h in self.history.get(ip, ()))
        return iface.node in holders

    @staticmethod
    def _at(holders: list[dict[str, Any]], when: str | None) -> str | None:
        """The one holder of an address within one VPC at ``when``; None when the history cannot tell."""
        enis = {str(h["eni"]) for h in holders}
        if len(enis) == 1:
            return enis.pop()
        if when is None:
            return None
        inside = {str(h["eni"]) for h in holders if h.get("first_seen", "") <= when <= h.get("last_seen", "")}
        return inside.pop() if len(inside) == 1 else None

    def _peer(self, ip: str, when: str | None, vpc: str | None, account: str | None, record: str) -> str:
        if vpc is not None:
            settled = self._settled.get((ip, vpc))
            if settled is not None:  # the address's one holder ever in the one VPC in reach: as below
                self.counts[settled[1]] += 1
                return settled[0]
        address = f"urn:ip:{ip}"
        by_vpc = self._grouped.get(ip)
        if by_vpc is None:
            holders = self.history.get(ip)
            if not holders:
                return address
            by_vpc = {}
            for h in holders:
                by_vpc.setdefault(self._vpc_of(h), []).append(h)
            self._grouped[ip] = by_vpc
            for v, hs in by_vpc.items():
                enis = {str(h["eni"]) for h in hs}
                if len(enis) == 1:
                    self._only[ip, v] = enis.pop()
        if vpc is not None:
            scopes = self._scopes.get(vpc)
            if scopes is None:
                peered = self.peers.get(vpc, frozenset())
                scopes = self._scopes[vpc] = (peered, peered | self.transit.routed.get(vpc, frozenset()))
            peered, routed = scopes
            for scope in ({vpc}, routed):  # its own VPC first, then everything a route leads to
                reachable = [v for v in by_vpc if v in scope]
                if len(reachable) > 1:
                    self._note("ambiguous", f"{record}: {ip} in {', '.join(sorted(map(str, reachable)))}")
                    return address
                if reachable:
                    only = self._only.get((ip, reachable[0]))
                    eni = only or self._at(by_vpc[reachable[0]], when)
                    if eni is None:
                        self._note("reassigned", f"{record}: {ip} in {reachable[0]} at {when}")
                        return address
                    where = reachable[0]
                    tally = "same_vpc" if where == vpc else "peered_vpc" if where in peered else "transit_vpc"
                    self.counts[tally] += 1
                    if only:
                        self._settled[ip, vpc] = (only, tally)
                    return eni
            maybe = [v for v in by_vpc if v in self.transit.unrouted.get(vpc, frozenset())]
            if maybe:
                self._note(
                    "transit_routes_unknown", f"{record}: {ip} in {', '.join(sorted(map(str, maybe)))}"
                )
                return address
            self._note("out_of_reach", f"{record}: {ip} (held in {', '.join(sorted(map(str, by_vpc)))})")
            return address
        mine = [
            v
            for v, hs in by_vpc.items()
            if account is None or any(self._account_of(h) == account for h in hs)
        ]
        if len(mine) != 1:
            if len(mine) > 1:
                self._note("ambiguous", f"{record}: {ip} in {', '.join(sorted(map(str, mine)))}")
            return address
        eni = self._at(
            [h for h in by_vpc[mine[0]] if account is None or self._account_of(h) == account], when
        )
        if eni is None:
            self._note("reassigned", f"{record}: {ip} in {mine[0]} at {when}")
            return address
        self.counts["address_only"] += 1
        return eni

    def ends(self, rec: dict[str, str], src: str, dst: str, when: str | None, record: str) -> tuple[str, str]:
        """The nodes of a record's two ends (``src``/``dst`` as the caller orders them)."""
        eni_id = rec.get("interface-id")
        cap = self.interfaces.get(eni_id) if eni_id and eni_id != "-" else None
        if eni_id and eni_id != "-" and cap is None:
            self._note("interface_unknown", f"{record}: {eni_id} (account {rec.get('account-id')})")
        vpc = cap.vpc if cap else (rec.get("vpc-id") if rec.get("vpc-id") not in (None, "-") else None)
        account = (
            cap.account
            if cap
            else (rec.get("account-id") if rec.get("account-id") not in (None, "-", "unknown") else None)
        )
        a = b = None
        if cap is not None:
            if self._holds(cap, src):
                a = cap.node
            elif self._holds(cap, dst):
                b = cap.node
            elif rec.get("flow-direction") in ("ingress", "egress"):
                a, b = (None, cap.node) if rec["flow-direction"] == "ingress" else (cap.node, None)
            else:
                self._note("interface_mismatch", f"{record}: {eni_id} held neither {src} nor {dst}")
            if a is not None or b is not None:
                self.counts["interface"] += 1
        a = a or self._peer(src, when, vpc, account, record)
        b = b or self._peer(dst, when, vpc, account, record)
        if self.pods:
            a, b = self._pod(src, a, when, record), self._pod(dst, b, when, record)
        return a, b

    def _pod(self, ip: str, end: str, when: str | None, record: str) -> str:
        """The pod holding ``ip`` at ``when`` when ``end`` is an interface of the pod's account (its
        node's), else ``end``: the address's history decides between a finished pod and its successor."""
        tenures = self.pods.get(ip)
        if not tenures or end.startswith("urn:ip:"):
            return end
        node = self._by_node.get(end)
        if node is None:
            return end
        mine = [t for t in tenures if t.account == node.account]
        if not mine:
            return end
        holding = {t.pod for t in mine if when is None or t.holds(when)}
        if len(holding) == 1:
            self.counts["pod"] += 1
            return holding.pop()
        if holding:
            self._note("pod_ambiguous", f"{record}: {ip} at {when or 'an unknown time'}: {len(holding)} pods")
        else:
            self._note(
                "pod_not_running", f"{record}: {ip} at {when}: held by {mine[0].pod.rsplit('/', 1)[-1]}"
            )
        return end

    def fresh_tallies(self) -> tuple[Counter[str], dict[str, list[str]]]:
        """Start counting anew; returns the tallies so far (give them back with ``restore_tallies``)."""
        saved = (self.counts, self.examples)
        self.counts, self.examples = Counter(), {}
        return saved

    def restore_tallies(
        self, saved: tuple[Counter[str], dict[str, list[str]]]
    ) -> tuple[Counter[str], dict[str, list[str]]]:
        """Put back the tallies ``fresh_tallies`` returned; returns those counted since."""
        since = (self.counts, self.examples)
        self.counts, self.examples = saved
        return since

    def absorb_tallies(self, tallies: tuple[Counter[str], dict[str, list[str]]]) -> None:
        """Add tallies counted elsewhere (a worker's, for one file)."""
        counts, examples = tallies
        self.counts.update(counts)
        for reason, shown in examples.items():
            mine = self.examples.setdefault(reason, [])
            mine += shown[: max(0, 5 - len(mine))]

    def summary(self) -> dict[str, Any]:
        return {
            "counts": dict(sorted(self.counts.items())),
            "examples": {k: v for k, v in sorted(self.examples.items())},
        }
