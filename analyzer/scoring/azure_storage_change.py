"""Blast radius of a storage account access setting (``azure.storage_setting``).

What the storage resource logs show using what the setting turns off is severed: anonymous requests
(``allow_blob_public_access`` off), requests signed with the account key (``allow_shared_key_access`` off),
each caller by its address (no principal signs them). A SAS request may be an account-key SAS (refused
after) or a user delegation SAS (not): "may be severed". Where the account's storage logs do not cover the
window, nobody can be said to be unaffected: an unknown. Turning a setting on is exposure.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from analyzer.scoring.context import Context
from analyzer.scoring.outcome import Outcome, azure_target, in_window, severed_entry, simulated_rollback
from analyzer.timeutil import iso

CUT = {"allow_blob_public_access": {"anonymous"}, "allow_shared_key_access": {"accountkey"}}
MAYBE = {"allow_shared_key_access": {"sas"}}


def _storage_log_days(ctx: Context, subscription: str, account_name: str, lo: str, hi: str) -> int:
    """Days in [lo, hi] the account's storage logs cover (coverage slot ``storage:<account>``)."""
    days: set[str] = set()
    for doc in ctx.coverage.values():
        if (
            doc.get("source") == "azure-logs"
            and doc.get("account") == subscription
            and doc.get("region") == f"storage:{account_name}"
        ):
            days |= {d for d in doc.get("days", []) if lo[:10] <= d <= hi[:10]}
    return len(days)


def storage_setting_change(
    ctx: Context, proposal: dict[str, Any], start: datetime, as_of: datetime
) -> Outcome:
    change = proposal["change"]
    kind, out, target, node = azure_target(ctx, proposal, "AzureStorageAccount", "a storage account")
    if node is None:
        return out
    before = {
        "allow_blob_public_access": node.props.get("allow_blob_public_access"),
        "allow_shared_key_access": node.props.get("allow_shared_key_access"),
    }
    # the service's defaults when the property is absent: both allowed (Azure Storage documentation)
    before = {k: True if v is None else bool(v) for k, v in before.items()}
    after = kind.apply(before, change["delta"])
    out.applied = after == before
    lo, hi = iso(start), iso(as_of)
    name = target.rsplit("/", 1)[-1]
    turned_off = [k for k in after if before[k] and not after[k]]
    turned_on = [k for k in after if not before[k] and after[k]]
    for e in (
        ctx.snap.edges_into("OBSERVED_AZURE_ACCESS", target)
        if "OBSERVED_AZURE_ACCESS" in ctx.snap.edges
        else []
    ):
        auth = str(e.props.get("auth") or "oauth")
        action = str(e.props.get("action") or "")
        for setting in turned_off:
            if auth in CUT.get(setting, set()):
                out.severed.append(
                    severed_entry(
                        ctx,
                        e.src,
                        target,
                        f"{action} ({auth})",
                        edge=e,
                        observed=in_window(e, lo, hi),
                        reason=f"{setting} off refuses {auth} requests",
                    )
                )
            elif auth in MAYBE.get(setting, set()):
                out.unknowns.append(
                    {
                        "reason": "access_may_be_severed",
                        "detail": f"{e.src} {action} with a SAS: refused if the SAS is signed with the account "
                        "key, not if it is a user delegation SAS (the log does not say which)",
                    }
                )
    for setting in turned_on:
        out.exposure.append(
            {
                "principal": "anyone" if setting == "allow_blob_public_access" else "account key holders",
                "resource": target,
                "access": setting,
                "after": "allowed",
                "statements": [setting],
            }
        )
    if turned_off and not _storage_log_days(ctx, out.account, name, lo, hi):
        out.unknowns.append(
            {
                "reason": "no_evidence_coverage",
                "detail": f"no storage resource logs of {name} between {lo} and {hi}: who reads it anonymously "
                "or with its key cannot be seen",
            }
        )
    out.severed.sort(key=lambda s: (not s["observed"], -s["events"], s["consumer"]))
    out.rollback = simulated_rollback(
        kind,
        str(change.get("target")),
        before,
        after,
        change["delta"],
        "putting the previous settings back restores every request",
        "the previous settings are not restored",
    )
    if turned_off:
        out.notes.append(f"turns {', '.join(turned_off)} off on {name}")
    return out


def _firewall(ctx: Context, account: str, state: dict[str, Any], address: str, auth: str) -> tuple[str, str]:
    """(allowed | denied | unknown, why) for a request from ``address`` under a storage firewall ("Configure
    Azure Storage firewalls and virtual networks"): everything when the default action is Allow; else a
    public address in an IP rule, or an address of a subnet in a virtual network rule (a service
    endpoint), is let in; a private address that is no loaded interface's (a private endpoint, or a network
    not collected) is unknown; a public one outside the rules is refused, unless it may be a trusted Azure
    service the account's bypass lets in (unknown)."""
    import ipaddress

    if str(state.get("default_action") or "Allow").lower() == "allow":
        return "allowed", "the default action allows every network"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return "unknown", f"the request's address {address!r} is not known"
    if not ip.is_private:
        for rule in state.get("ip_rules") or []:
            try:
                if ip in ipaddress.ip_network(str(rule), strict=False):
                    return "allowed", f"IP rule {rule}"
            except ValueError:
                continue
        holder = ctx.snap.node(account)
        bypass = str((holder.props if holder is not None else {}).get("bypass") or "").lower()
        if auth == "oauth" and "azureservices" in bypass:
            return (
                "unknown",
                f"{address} is in no IP rule; a trusted Azure service the bypass admits cannot be told from the log",
            )
        return "denied", f"{address} is in no IP rule and the default action denies"
    from connectors.evidence.azure_logs import nic_addresses

    nics = ctx.snap.memo(("azure-nic-addresses",), lambda: nic_addresses(ctx.snap.of_kind("AzureNic")))
    nic = nics.get((account.split("/")[2], address))  # type: ignore[attr-defined]
    if nic is None:
        return (
            "unknown",
            f"{address} is no loaded interface's: a private endpoint, or a network not collected",
        )
    subnets = {e.dst for e in ctx.snap.edges_from("IN_SUBNET", nic)}
    rules = {str(r).lower().rstrip("/") for r in state.get("vnet_rules") or []}
    if subnets & rules:
        return "allowed", f"virtual network rule for {sorted(subnets & rules)[0].rsplit('/', 1)[-1]}"
    return (
        "denied",
        f"{nic.rsplit('/', 1)[-1]}'s subnet is in no virtual network rule and the default action denies",
    )


def network_rules_change(ctx: Context, proposal: dict[str, Any], start: datetime, as_of: datetime) -> Outcome:
    """``azure.storage_network_rules``: every request the account's storage logs show, decided by the
    firewall before and after, by the address it came from."""
    change = proposal["change"]
    kind, out, target, node = azure_target(ctx, proposal, "AzureStorageAccount", "a storage account")
    if node is None:
        return out
    before = {
        "default_action": node.props.get("default_action") or "Allow",
        "ip_rules": list(node.props.get("ip_rules") or []),
        "vnet_rules": [str(r).lower().rstrip("/") for r in node.props.get("vnet_rules") or []],
    }
    after = kind.apply(before, change["delta"])
    after["vnet_rules"] = [str(r).lower().rstrip("/") for r in after.get("vnet_rules") or []]
    out.applied = after == before
    if str(node.props.get("public_network_access") or "").lower() == "disabled":
        out.notes.append(
            "public network access is disabled: only private endpoints reach the account, which the firewall does not govern"
        )
    lo, hi = iso(start), iso(as_of)
    name = target.rsplit("/", 1)[-1]
    for e in (
        ctx.snap.edges_into("OBSERVED_AZURE_ACCESS", target)
        if "OBSERVED_AZURE_ACCESS" in ctx.snap.edges
        else []
    ):
        if e.props.get("plane") != "data":
            continue  # Resource Manager operations do not pass the storage firewall
        auth = str(e.props.get("auth") or "oauth")
        action = str(e.props.get("action") or "")
        addresses = list(e.props.get("addresses") or [])
        if not addresses:
            out.unknowns.append(
                {
                    "reason": "access_may_be_severed",
                    "detail": f"{e.src} {action}: the log kept no address to decide it by",
                }
            )
            continue
        for address in addresses:
            (b, _), (a, why) = (_firewall(ctx, target, state, address, auth) for state in (before, after))
            if b == a:
                continue
            if a == "denied":
                entry = severed_entry(
                    ctx,
                    e.src,
                    target,
                    f"{action} from {address}",
                    edge=e,
                    observed=in_window(e, lo, hi),
                    reason=why,
                )
                out.severed.append(entry)
            elif a == "unknown":
                out.unknowns.append(
                    {"reason": "access_may_be_severed", "detail": f"{e.src} {action} from {address}: {why}"}
                )
            elif b == "denied":
                out.exposure.append(
                    {
                        "principal": address,
                        "resource": target,
                        "access": action,
                        "after": a,
                        "statements": [why],
                    }
                )
        if e.props.get("addresses_capped"):
            out.unknowns.append(
                {
                    "reason": "access_may_be_severed",
                    "detail": f"{e.src} {action}: more addresses than the log kept",
                }
            )
    if not _storage_log_days(ctx, out.account, name, lo, hi):
        out.unknowns.append(
            {
                "reason": "no_evidence_coverage",
                "detail": f"no storage resource logs of {name} between {lo} and {hi}: who reaches it from where cannot be seen",
            }
        )
    out.severed.sort(key=lambda s: (not s["observed"], -s["events"], s["consumer"]))
    out.rollback = simulated_rollback(
        kind,
        str(change.get("target")),
        before,
        after,
        change["delta"],
        "the previous firewall restores every request",
        "the previous firewall is not restored",
    )
    return out
