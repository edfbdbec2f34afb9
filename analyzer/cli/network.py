"""Network questions: ``reach``, ``exposure``, ``flows``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from analyzer.cli.base import AS_OF_OPTION, WINDOW_DAYS_OPTION, ctx_store, handled, main, say_freshness
from analyzer.errors import BadInput


# -- network questions --------------------------------------------------------------------------------
@main.command("reach")
@click.argument("src")
@click.argument("dst")
@click.option(
    "--port", type=click.IntRange(0, 65535), required=True, help="Destination port (ICMP: the type)."
)
@click.option(
    "--protocol", type=click.Choice(["tcp", "udp", "icmp", "icmpv6"]), default="tcp", show_default=True
)
@click.option("--explain", is_flag=True, help="List every rule and route that allows it.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_context
@handled
def reach_cmd(
    ctx: click.Context, src: str, dst: str, port: int, protocol: str, explain: bool, fmt: str
) -> None:
    """Can SRC reach DST on PORT? allowed / denied / unknown, decided the way the VPC does: both sides'
    security groups (stateful), both subnets' network ACLs (stateless, with the ephemeral return), and a
    route (local, peering on both sides, internet gateway, NAT gateway).

    SRC and DST: an ENI id, an instance id, an IP address, a CIDR or a security group. A CIDR or a group
    is decided for every address (every interface holding the group): allowed / denied / unknown when
    uniform, partial with the split (which addresses, by which rule) otherwise.

    \b
    Example:
      blastwall reach i-0123456789abcdef0 52.216.88.133 --port 443 --explain
      blastwall reach 198.51.100.7 eni-0a1b2c3d4e5f60718 --port 22 --format json
      blastwall reach 10.10.3.0/24 eni-0a1b2c3d4e5f60718 --port 5432
    """
    from analyzer import api
    from analyzer.network.ranges import is_set, reach_set
    from analyzer.network.service import reach
    from analyzer.output import to_json

    m = api.network_model(ctx_store(ctx))
    if is_set(src) or is_set(dst):
        got = reach_set(m, src, dst, protocol, port)
        if fmt == "json":
            click.echo(to_json({"src": src, "dst": dst, "protocol": protocol, "port": port, **got.as_dict()}))
            return
        click.echo(f"{got.decision.upper()}: {src} -> {dst} {protocol}/{port}")
        for member in got.members:
            click.echo(f"  {member['decision']:<8} {member['flow']}")
            for p in member["pieces"]:
                if "range" in p:
                    click.echo(
                        f"    {p['decision']:<8} {p['range']} ({p['addresses']}): {'; '.join(p['why'])}"
                    )
        for p in got.pieces:
            click.echo(f"  {p['decision']:<8} {p['range']} ({p['addresses']}): {'; '.join(p['why'])}")
        return
    d = reach(m, src, dst, protocol, port)
    if fmt == "json":
        click.echo(to_json({"src": src, "dst": dst, "protocol": protocol, "port": port, **d.as_dict()}))
        return
    click.echo(f"{d.decision.upper()}: {src} -> {dst} {protocol}/{port}")
    for b in d.blocked_by:
        click.echo(f"  blocked by: {b}")
    for u in d.unknown:
        click.echo(f"  unknown: {u}")
    if explain or d.decision == "allowed":
        for a in d.allowed_by:
            click.echo(f"  allowed by: {a}")


def REVOKE_OPTION(fn: Callable[..., Any]) -> Callable[..., Any]:
    for opt in (
        click.option(
            "--quarantine",
            "quarantines",
            multiple=True,
            metavar="ENI=SG[,SG]",
            help="Replace an interface's security groups for a what-if (an isolation runbook).",
        ),
        click.option(
            "--authorize",
            "authorizes",
            multiple=True,
            metavar="SG:DIRECTION:PROTO:PORTS:PEER",
            help="A security-group rule to add for a what-if (a loosening change; repeatable).",
        ),
        click.option(
            "--revoke",
            "revokes",
            multiple=True,
            metavar="SG:DIRECTION:PROTO:PORTS:PEER",
            help="A security-group rule to revoke for a what-if (repeatable), e.g. "
            "sg-0abc:ingress:tcp:443:0.0.0.0/0 or sg-0abc:egress:-1:all:0.0.0.0/0.",
        ),
    ):
        fn = opt(fn)
    return fn


def _net_changes(
    revokes: tuple[str, ...], authorizes: tuple[str, ...], quarantines: tuple[str, ...]
) -> list[Any]:
    from analyzer.network.service import Authorize, Quarantine, Revoke

    return (
        [Revoke.parse(r) for r in revokes]
        + [Authorize.parse(a) for a in authorizes]
        + [Quarantine.parse(q) for q in quarantines]
    )


@main.command("exposure")
@REVOKE_OPTION
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_context
@handled
def exposure_cmd(
    ctx: click.Context,
    revokes: tuple[str, ...],
    authorizes: tuple[str, ...],
    quarantines: tuple[str, ...],
    fmt: str,
) -> None:
    """What the internet can reach: each ENI with a public address and each ingress rule open to a public
    range, decided end to end (network ACLs, an internet-gateway route). With --revoke, before and after.

    \b
    Example:
      blastwall exposure --format json
      blastwall exposure --revoke sg-0abc:ingress:tcp:22:0.0.0.0/0
    """
    from analyzer import api
    from analyzer.network.load import model_from_documents
    from analyzer.network.service import apply_changes, exposure
    from analyzer.output import to_json

    store = ctx_store(ctx)
    before = exposure(api.network_model(store))
    payload: dict[str, Any] = {"exposure": before}
    changes = _net_changes(revokes, authorizes, quarantines)
    if changes:
        docs, changed = apply_changes(api.network_documents(store), changes)
        if changed == 0:
            raise BadInput(
                "no rule or interface matches the change given (nothing would change)", path="--revoke"
            )
        after = exposure(model_from_documents(docs))
        open_after = {(x["eni"], x["rule"]) for x in after if x["decision"] != "denied"}
        open_before = {(x["eni"], x["rule"]) for x in before if x["decision"] != "denied"}
        payload = {
            "before": before,
            "after": after,
            "closed": [x for x in before if (x["eni"], x["rule"]) in open_before - open_after],
            "opened": [x for x in after if (x["eni"], x["rule"]) in open_after - open_before],
        }
    if fmt == "json":
        click.echo(to_json(payload))
        return
    rows = payload["before"] if changes else payload["exposure"]
    open_rows = [x for x in rows if x["decision"] != "denied"]
    click.echo(f"{len(open_rows)} internet-facing opening(s)")
    for x in open_rows:
        click.echo(
            f"  {x['decision']:<8} {x['eni']} {x['protocol']}/{x['ports']} from {x['source']}  ({x['rule']})"
        )
    if changes:
        for what in ("closed", "opened"):
            click.echo(f"after the change, {what}: {len(payload[what])}")
            for x in payload[what]:
                click.echo(f"  {x['eni']} {x['protocol']}/{x['ports']} from {x['source']}")


@main.command("flows")
@REVOKE_OPTION
@AS_OF_OPTION
@WINDOW_DAYS_OPTION
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_context
@handled
def flows_cmd(
    ctx: click.Context,
    revokes: tuple[str, ...],
    authorizes: tuple[str, ...],
    quarantines: tuple[str, ...],
    as_of: str | None,
    window_days: int | None,
    fmt: str,
) -> None:
    """The flows observed in the evidence window (VPC flow logs) and what the configuration says of each
    today: allowed, already denied (stale evidence: nothing can sever it) or unknown. With --revoke /
    --authorize / --quarantine: before and after, re-deciding only the flows with an endpoint the change
    touches; severed = allowed before, denied after; opened = the reverse. The window and each account's
    flow-log coverage come first; an account with none in the window is unknown, not quiet.

    \b
    Example:
      blastwall flows --as-of latest --format json
      blastwall flows --as-of 2026-05-15T00:00:00Z --revoke sg-0abc:egress:-1:all:0.0.0.0/0
      blastwall flows --as-of latest --quarantine eni-0abc=sg-0isolation
    """
    from analyzer import api
    from analyzer.network.service import observed, observed_flows, whatif
    from analyzer.output import to_json

    store = ctx_store(ctx)
    at, anchored = api.anchor(store, as_of)
    snap = api.analysis_context(store).snap
    fresh, start, end = api.flow_freshness(store, at, anchored, window_days)
    in_window = [  # seen in the window: not last seen before it, not first seen after it
        e
        for e in snap.edge_records("OBSERVED_FLOW")
        if (not e.last_seen or e.last_seen >= start) and (not e.first_seen or e.first_seen <= end)
    ]
    flows = observed(in_window)
    say_freshness(fresh, fmt)
    changes = _net_changes(revokes, authorizes, quarantines)
    if changes:
        result = whatif(api.network_documents(store), flows, changes)
        if fmt == "json":
            click.echo(to_json({**result, "freshness": fresh}))
            return
        click.echo(
            f"{result['changed_entries']} entr(ies) changed; {result['re_decided']} flow(s) re-decided"
        )
        for r in result["flows"]:
            click.echo(
                f"  {r['status']:<15} {r['src']} -> {r['dst']} {r['protocol']}/{r['port']} ({r['count']} seen)"
            )
        return
    rows = observed_flows(api.network_model(store), flows)
    if fmt == "json":
        click.echo(to_json({"count": len(rows), "flows": rows, "freshness": fresh}))
        return
    for r in rows:
        click.echo(
            f"  {r['current']:<15} {r['src']} -> {r['dst']} {r['protocol']}/{r['port']} ({r['count']} seen)"
        )
