"""Blast radius of changing an Azure NSG's rules (``azure.nsg_rules``).

Every observed flow (NSG flow logs) with an end on a network interface the NSG governs (associated with
the interface or with its subnet) is decided before and after by the NSG model (``analyzer.azure.nsg``:
priority order, the default rules, subnet then interface inbound and interface then subnet outbound):
allowed and then denied is severed, allowed and then unknown (a service tag whose prefixes are not known,
memberships of application security groups) is "may be severed", denied and then allowed is exposure. No
flow logs of the NSG in the window: unknown, never "nothing flows".
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from analyzer.azure.nsg import End, Nsg, Rule, decide
from analyzer.azure.nsg_many import decide_many
from analyzer.scoring.context import Context
from analyzer.scoring.outcome import Outcome, azure_target, config_digest, record_flow_change
from analyzer.timeutil import iso


def _rule(r: dict[str, Any]) -> Rule:
    """A rule as stored (``connectors.azure.exports._rule``) or as ``az`` prints it."""
    if "source" not in r:
        from connectors.azure.exports import _rule as from_cli

        r = from_cli(r)
    return Rule(
        str(r.get("name")),
        int(r.get("priority") or 0),
        str(r.get("direction")),
        str(r.get("access")),
        str(r.get("protocol") or "*"),
        tuple(r.get("source") or ()),
        tuple(r.get("source_asgs") or ()),
        tuple(r.get("source_ports") or ("*",)),
        tuple(r.get("destination") or ()),
        tuple(r.get("destination_asgs") or ()),
        tuple(r.get("destination_ports") or ("*",)),
    )


def _nsg(ctx: Context, node_id: str, rules: list[dict[str, Any]] | None = None) -> Nsg | None:
    n = ctx.snap.node(node_id)
    if n is None or not n.props:
        return None
    return Nsg(node_id, tuple(_rule(r) for r in (rules if rules is not None else n.props.get("rules") or [])))


def _end(ctx: Context, node_id: str, nsgs: dict[str, Nsg | None]) -> End | None:
    """A flow end as the NSG model sees it (None: it does not resolve)."""
    snap = ctx.snap
    if node_id.startswith("urn:ip:"):
        return End(node_id.removeprefix("urn:ip:"))
    n = snap.node(node_id)
    if n is None or n.kind != "AzureNic" or not n.props or not n.props.get("private_ips"):
        return None

    def nsg_of(holder: str) -> Nsg | None:
        for e in snap.edges_from("HAS_SECURITY_GROUP", holder):
            if e.dst not in nsgs:
                nsgs[e.dst] = _nsg(ctx, e.dst)
            return nsgs[e.dst]
        return None

    subnet = next((e.dst for e in snap.edges_from("IN_SUBNET", node_id)), None)
    prefixes: list[str] = []
    if subnet is not None:
        for e in snap.edges_from("IN_VPC", subnet):
            vnet = snap.node(e.dst)
            if vnet is not None and vnet.props:
                prefixes += list(vnet.props.get("prefixes") or [])
                for p in vnet.props.get("peerings") or []:
                    if str(p.get("state") or "").lower() == "connected":
                        prefixes += list(p.get("remote_prefixes") or [])
    return End(
        str(n.props["private_ips"][0]),
        nic_nsg=nsg_of(node_id),
        subnet_nsg=nsg_of(subnet) if subnet else None,
        asgs=frozenset(n.props.get("asgs") or []),
        vnet=tuple(prefixes),
    )


def _governed(ctx: Context, nsg: str) -> list[str]:
    """The network interfaces ``nsg`` applies to: associated with them, or with their subnet."""
    snap = ctx.snap
    out = set()
    for e in snap.edges_into("HAS_SECURITY_GROUP", nsg):
        holder = snap.node(e.src)
        if holder is None:
            continue
        if holder.kind == "AzureNic":
            out.add(e.src)
        elif holder.kind == "AzureSubnet":
            out |= {x.src for x in snap.edges_into("IN_SUBNET", e.src)}
    return sorted(out)


def nsg_rules_change(ctx: Context, proposal: dict[str, Any], start: datetime, as_of: datetime) -> Outcome:
    change = proposal["change"]
    kind, out, target, node = azure_target(ctx, proposal, "AzureNsg", "a network security group")
    if node is None:
        return out
    before = {"rules": list(node.props.get("rules") or [])}
    after = kind.apply(before, change["delta"])
    names = lambda s: sorted(str(r.get("name")) for r in s["rules"])  # noqa: E731
    out.applied = names(after) == names(before) and not change["delta"].get("authorize")
    inverse = kind.invert(before, change["delta"])
    restored = kind.apply(after, inverse)
    lo, hi = iso(start), iso(as_of)
    worlds: dict[str, dict[str, Nsg | None]] = {
        w: {target: _nsg(ctx, target, state["rules"])}
        for w, state in (("before", before), ("after", after), ("restored", restored))
    }
    flows = {}
    if "OBSERVED_FLOW" in ctx.snap.edges:
        for nic in _governed(ctx, target):
            for e in [*ctx.snap.edges_from("OBSERVED_FLOW", nic), *ctx.snap.edges_into("OBSERVED_FLOW", nic)]:
                flows[(e.src, e.dst, e.key)] = e
    # every flow's ends as each world sees them, decided together (analyzer.azure.nsg_many); the one-flow
    # decision explains only the flows whose answer changes
    rows: list[tuple[Any, int, str]] = []
    for e in sorted(flows.values(), key=lambda e: (e.src, e.dst, e.key)):
        digits = str(e.props.get("port") or "")
        if digits.isdigit():
            proto = {"tcp": "Tcp", "udp": "Udp"}.get(str(e.props.get("protocol") or "").lower(), "Any")
            rows.append((e, int(digits), proto))
    ends: dict[str, dict[str, End | None]] = {w: {} for w in worlds}

    def end_in(w: str, node_id: str) -> End | None:
        if node_id not in ends[w]:
            ends[w][node_id] = _end(ctx, node_id, worlds[w])
        return ends[w][node_id]

    def pair(w: str, e: Any) -> tuple[End, End]:
        src, dst = end_in(w, e.src), end_in(w, e.dst)
        assert src is not None and dst is not None  # rows keep the flows whose ends resolve
        return src, dst

    rows = [r for r in rows if end_in("before", r[0].src) and end_in("before", r[0].dst)]
    states = {
        w: decide_many([(*pair(w, e), port, proto) for e, port, proto in rows]).tolist() for w in worlds
    }
    state_names = ("denied", "unknown", "allowed")
    mismatch = [
        f"{e.src} -> {e.dst} {proto}/{port}"
        for (e, port, proto), b_state, r_state in zip(rows, states["before"], states["restored"], strict=True)
        if b_state != r_state
    ]
    for (e, port, proto), b_state, a_state in zip(rows, states["before"], states["after"], strict=True):
        if b_state == a_state:
            continue
        b, a = (decide(*pair(w, e), port, proto) for w in ("before", "after"))
        assert (b.state, a.state) == (state_names[b_state], state_names[a_state])
        access = f"{proto.lower()}/{port}"
        record_flow_change(
            ctx,
            out,
            e,
            access,
            (b.state, b.rules),
            (a.state, a.rules, a.reason),
            (lo, hi),
            ("flow_may_be_severed", f"{e.src} -> {e.dst} {access}: {a.reason}"),
        )
    name = target.rsplit("/", 1)[-1]
    # the NSG's own flow logs, or the VNet flow logs of a network its interfaces are in
    vnets = {
        v.dst.rsplit("/", 1)[-1]
        for nic in _governed(ctx, target)
        for sn in ctx.snap.edges_from("IN_SUBNET", nic)
        for v in ctx.snap.edges_from("IN_VPC", sn.dst)
    }
    slots = {f"flow:{name}"} | {f"flow:{v}" for v in vnets}
    covered = any(
        doc.get("source") == "azure-logs"
        and doc.get("account") == out.account
        and doc.get("region") in slots
        and any(lo[:10] <= d <= hi[:10] for d in doc.get("days", []))
        for doc in ctx.coverage.values()
    )
    if not covered:
        out.unknowns.append(
            {
                "reason": "no_evidence_coverage",
                "detail": f"no NSG or VNet flow logs of {name} between {lo} and {hi}: what flows through it cannot be seen",
            }
        )
    out.severed.sort(key=lambda s: (not s["observed"], -s["events"], s["consumer"]))
    out.rollback = {
        "change": {"kind": kind.name, "target": change.get("target"), "delta": inverse},
        "verified": not mismatch,
        "detail": "the inverse change restores every flow decision"
        if not mismatch
        else f"rollback does not restore: {', '.join(mismatch[:5])}",
        "before_digest": config_digest(before),
        "after_digest": config_digest(after),
    }
    return out
