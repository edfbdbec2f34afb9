"""Azure: ``blastwall ingest azure`` (a tenant from `az` exports, or live from Azure Resource Manager) and
``blastwall ingest azure-logs`` (Activity Log and storage resource logs)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import click

from analyzer.cli.base import ctx_store, handled, report_errors
from analyzer.cli.ingest import ingest
from analyzer.timeutil import iso, now, parse_time


@ingest.command("azure")
@click.argument("directory", required=False, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--live", is_flag=True, help="Read the tenant from Azure Resource Manager (read-only list calls)."
)
@click.option(
    "--subscription",
    "subscriptions",
    multiple=True,
    help="With --live: only these subscriptions (repeatable).",
)
@click.option(
    "--arm-endpoint",
    default="https://management.azure.com",
    show_default=True,
    help="With --live: the Resource Manager endpoint (a sovereign cloud's, e.g. https://management.chinacloudapi.cn).",
)
@click.option("--collected-at", default=None, help="When the tenant was read (ISO 8601; default now).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_context
@handled
def ingest_azure_cmd(
    ctx: click.Context,
    directory: Path | None,
    live: bool,
    subscriptions: tuple[str, ...],
    arm_endpoint: str,
    collected_at: str | None,
    fmt: str,
) -> None:
    """Load an Azure tenant: management groups and subscriptions, role definitions, role and deny
    assignments, virtual networks, NSGs, network interfaces and storage accounts, from the JSON `az ... -o
    json` prints; or, with --live, the same read from Azure Resource Manager with the environment's
    credential (DefaultAzureCredential: environment, managed identity, Azure CLI login). A list the
    credential may not read is named, never taken as empty.

    \b
    Example:
      az role assignment list --all -o json > tenant/role-assignment-list.json
      az storage account list -o json > tenant/storage-account-list.json
      blastwall ingest azure tenant/
      blastwall ingest azure --live --subscription 4d1e9b2a-7c3f-4a5e-8b6d-0f1e2d3c4b5a
    """
    from analyzer.errors import BadInput
    from connectors.azure.exports import ingest_azure
    from connectors.azure.live import ingest_azure_live

    seen = iso(parse_time(collected_at)) if collected_at else iso(now())
    if live:
        if directory is not None:
            raise BadInput("--live reads Azure Resource Manager: give no DIRECTORY")
        report = ingest_azure_live(
            ctx_store(ctx), seen=seen, endpoint=arm_endpoint, subscriptions=list(subscriptions) or None
        )
    else:
        if directory is None:
            raise BadInput("give the exports' DIRECTORY, or --live")
        report = ingest_azure(ctx_store(ctx), directory, seen=seen)
    if fmt == "json":
        click.echo(json.dumps(asdict(report), indent=2, sort_keys=True))
        return
    counts = ", ".join(f"{n} {k}" for k, n in sorted(report.counts.items()))
    click.echo(f"azure: {counts or 'nothing'}")
    for w in report.warnings:
        click.echo(f"warning: {w}", err=True)


@ingest.command("azure-logs")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.pass_context
@handled
def ingest_azure_logs_cmd(ctx: click.Context, paths: tuple[Path, ...]) -> None:
    """Load Azure Monitor logs as a diagnostic setting archives them to a storage account (PT1H.json
    blobs, JSON lines; plain or gzipped): the Activity Log (who did what, through which role assignment)
    and storage resource logs (who read and wrote, by OAuth, account key, SAS or anonymously).

    \b
    Example:
      az storage blob download-batch --account-name acmelogs --source insights-activity-logs --destination logs/
      blastwall ingest azure-logs logs/insights-activity-logs logs/insights-logs-storageread
    """
    from connectors.evidence.azure_logs import ingest_azure_logs

    r = ingest_azure_logs(ctx_store(ctx), list(paths))
    counted = ", ".join(f"{n} {k}" for k, n in sorted(r.counted.items()))
    click.echo(f"{r.files} file(s): {counted or 'no records'}; {r.skipped_already_ingested} already ingested")
    report_errors(r.errors)


@ingest.command("azure-flowlogs")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.pass_context
@handled
def ingest_azure_flowlogs_cmd(ctx: click.Context, paths: tuple[Path, ...]) -> None:
    """Load NSG flow logs (version 2) as Network Watcher writes them to a storage account
    (insights-logs-networksecuritygroupflowevent/…/PT1H.json): each allowed connection once, between the
    network interfaces holding its addresses (or the addresses).

    \b
    Example:
      az storage blob download-batch --account-name acmeflowlogs \\
        --source insights-logs-networksecuritygroupflowevent --destination flowlogs/
      blastwall ingest azure-flowlogs flowlogs/
    """
    from connectors.evidence.azure_flowlogs import ingest_azure_flowlogs

    r = ingest_azure_flowlogs(ctx_store(ctx), list(paths))
    counted = ", ".join(f"{n} {k}" for k, n in sorted(r.counted.items()))
    click.echo(f"{r.files} file(s): {counted or 'no flows'}; {r.skipped_already_ingested} already ingested")
    report_errors(r.errors)
