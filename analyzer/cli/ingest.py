"""Loading configuration, evidence and documentation: ``blastwall ingest …``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from analyzer.cli.base import ctx_store, handled, main, report_errors
from analyzer.timeutil import iso, now, parse_time


# -- ingest -------------------------------------------------------------------------------------------
@main.group()
def ingest() -> None:
    """Load configuration, evidence or documentation into the store.

    \b
    Example:
      blastwall ingest cloudtrail data/samples/acme-fin/cloudtrail
    """


@ingest.command("aws")
@click.option(
    "--profile", default=None, help="AWS profile (SSO profiles work); default: the environment's credentials."
)
@click.option(
    "--org-role", default=None, help="Read-only role to assume in every account of the organization."
)
@click.option(
    "--account", "accounts", multiple=True, help="Only these accounts (repeatable); needs --org-role."
)
@click.option(
    "--region", "regions", multiple=True, help="Regions to read (repeatable); default: the profile's."
)
@click.option(
    "--save-raw",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Also keep the raw responses here, in the offline snapshot layout (replay: ingest aws-snapshot).",
)
@click.option(
    "--workers", type=click.IntRange(1, 32), default=4, show_default=True, help="Accounts read at once."
)
@click.option(
    "--last-accessed",
    is_flag=True,
    help="Also run IAM last-accessed jobs for every role and user (one job each: slower).",
)
@click.pass_context
@handled
def ingest_aws(
    ctx: click.Context,
    profile: str | None,
    org_role: str | None,
    accounts: tuple[str, ...],
    regions: tuple[str, ...],
    save_raw: Path | None,
    workers: int,
    last_accessed: bool,
) -> None:
    """Collect IAM, Organizations, S3 and EC2 networking live through read-only API calls (the policy
    it needs is connectors/aws/collector-policy.json). A refused call is a warning; the rest goes on.

    \b
    Example:
      blastwall ingest aws --profile security-audit --org-role BlastwallReadOnly --region us-east-1 \\
        --save-raw snapshots/2026-05-15
    """
    from connectors.aws.collect import ingest_aws as run

    r = run(
        ctx_store(ctx),
        save_raw=save_raw,
        profile=profile,
        org_role=org_role,
        accounts=list(accounts) or None,
        regions=list(regions) or None,
        workers=workers,
        with_last_accessed=last_accessed,
    )
    click.echo(f"{len(r.accounts)} account(s), {r.files} response file(s)")
    for w in r.warnings:
        click.echo(f"warning: {w}", err=True)


@ingest.command("aws-snapshot")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--collected-at", default=None, help="When the snapshot was taken (ISO 8601; default now).")
@click.pass_context
@handled
def ingest_aws_snapshot(ctx: click.Context, directory: Path, collected_at: str | None) -> None:
    """Load an offline AWS snapshot: DIR/<account>/<region|global>/<service>-<Operation>.json.

    \b
    Example:
      blastwall ingest aws-snapshot data/samples/acme-fin/aws
    """
    from connectors.aws.snapshot import load_snapshot

    seen = iso(parse_time(collected_at)) if collected_at else iso(now())
    report = load_snapshot(ctx_store(ctx), directory, seen=seen)
    for account, n in report.loaded.items():
        click.echo(f"account {account}: {n} nodes")
    for w in report.warnings:
        click.echo(f"warning: {w}", err=True)
    report_errors(report.errors)


@ingest.command("directory")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--collected-at", default=None, help="When the snapshot was taken (ISO 8601; default now).")
@click.pass_context
@handled
def ingest_directory(ctx: click.Context, directory: Path, collected_at: str | None) -> None:
    """Load a directory in the sample's layout: aws/, cloudtrail/, flowlogs/, servicenow/, findings/ and
    policy/tier-policy.yaml, each optional (what `blastwall synth` writes).

    \b
    Example:
      blastwall synth --scale S --seed 1 --out /tmp/synth-s
      blastwall --store /tmp/bw-synth ingest directory /tmp/synth-s --collected-at 2026-05-08T00:00:00Z
    """
    from analyzer.demo import load_directory

    seen = iso(parse_time(collected_at)) if collected_at else iso(now())
    errors = load_directory(ctx_store(ctx), directory, seen=seen)
    click.echo(f"loaded {directory}")
    report_errors(errors)


@ingest.command("kubernetes")
@click.argument("directory", required=False, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--cluster-arn",
    default=None,
    help="The EKS cluster (default for an export: from `aws eks describe-cluster` output in DIR).",
)
@click.option(
    "--oidc-issuer",
    default=None,
    help="The cluster's OIDC issuer URL (default: from describe-cluster); names its service accounts' tokens.",
)
@click.option("--live", is_flag=True, help="Read the cluster through its API instead of an export.")
@click.option(
    "--kubeconfig", default=None, help="With --live: the kubeconfig (default $KUBECONFIG, ~/.kube/config)."
)
@click.option("--context", "kube_context", default=None, help="With --live: the kubeconfig context.")
@click.option("--profile", default=None, help="With --live: the AWS profile that may call eks:Describe*.")
@click.option("--no-aws", is_flag=True, help="With --live: do not ask EKS (issuer and Pod Identity unknown).")
@click.option("--collected-at", default=None, help="When the export was taken (ISO 8601; default now).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_context
@handled
def ingest_kubernetes_cmd(
    ctx: click.Context,
    directory: Path | None,
    cluster_arn: str | None,
    oidc_issuer: str | None,
    live: bool,
    kubeconfig: str | None,
    kube_context: str | None,
    profile: str | None,
    no_aws: bool,
    collected_at: str | None,
    fmt: str,
) -> None:
    """Load one cluster: its `kubectl get -o json` exports (namespaces, workloads, pods, services, service
    accounts, NetworkPolicies), its `aws eks describe-cluster` output and its Pod Identity associations;
    or, with --live, the same read through the Kubernetes and EKS APIs (read-only: list calls only).

    \b
    Example:
      kubectl get namespaces,deployments,statefulsets,daemonsets,jobs,cronjobs,replicasets,pods,services,\\
        serviceaccounts,networkpolicies -A -o json > export/fraud-eks/objects.json
      aws eks describe-cluster --name fraud-eks > export/fraud-eks/cluster.json
      blastwall ingest kubernetes export/fraud-eks
      blastwall ingest kubernetes --live --context fraud-eks \\
        --cluster-arn arn:aws:eks:us-east-1:615294837560:cluster/fraud-eks
    """
    import json
    from dataclasses import asdict

    from analyzer.errors import BadInput
    from connectors.kubernetes.exports import ingest_kubernetes

    seen = iso(parse_time(collected_at)) if collected_at else iso(now())
    if live:
        if directory is not None or not cluster_arn:
            raise BadInput("--live reads the cluster's API: give --cluster-arn and no DIRECTORY")
        from connectors.aws.session import base_session
        from connectors.kubernetes.live import ingest_kubernetes_live

        report = ingest_kubernetes_live(
            ctx_store(ctx),
            cluster_arn=cluster_arn,
            seen=seen,
            kubeconfig=kubeconfig,
            context=kube_context,
            session=None if no_aws else base_session(profile),
            oidc_issuer=oidc_issuer,
        )
    else:
        if directory is None:
            raise BadInput("give the export's DIRECTORY, or --live")
        report = ingest_kubernetes(
            ctx_store(ctx), directory, seen=seen, cluster_arn=cluster_arn, oidc_issuer=oidc_issuer
        )
    if fmt == "json":
        click.echo(json.dumps(asdict(report), indent=2, sort_keys=True))
        return
    counts = ", ".join(f"{n} {k}" for k, n in sorted(report.counts.items()))
    click.echo(f"{report.cluster}: {counts or 'nothing'}")
    for kind, n in sorted(report.skipped.items()):
        click.echo(f"skipped {n} {kind}", err=True)
    for w in report.warnings:
        click.echo(f"warning: {w}", err=True)


@ingest.command("k8s-audit")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--cluster-arn", required=True, help="The EKS cluster whose API server wrote the log.")
@click.pass_context
@handled
def ingest_k8s_audit_cmd(ctx: click.Context, paths: tuple[Path, ...], cluster_arn: str) -> None:
    """Load Kubernetes audit logs (audit.k8s.io/v1 Events, one per line; or an `aws logs
    filter-log-events` export of EKS control plane logging): which RBAC binding allowed whose requests.

    \b
    Example:
      aws logs filter-log-events --log-group-name /aws/eks/fraud-eks/cluster \\
        --log-stream-name-prefix kube-apiserver-audit > audit/fraud-eks-2026-05-14.json
      blastwall ingest k8s-audit audit/ --cluster-arn arn:aws:eks:us-east-1:615294837560:cluster/fraud-eks
    """
    from connectors.evidence.k8s_audit import ingest_k8s_audit

    r = ingest_k8s_audit(ctx_store(ctx), list(paths), cluster_arn=cluster_arn)
    counted = ", ".join(f"{n} {k}" for k, n in sorted(r.counted.items()))
    click.echo(f"{r.files} file(s): {counted or 'no events'}; {r.skipped_already_ingested} already ingested")
    report_errors(r.errors)


@ingest.command("cloudtrail")
@click.argument("paths", nargs=-1, required=True)
@click.pass_context
@handled
def ingest_cloudtrail_cmd(ctx: click.Context, paths: tuple[str, ...]) -> None:
    """Load CloudTrail: log files (.json or .json.gz; files or directories), lookup-events output,
    CloudTrail Lake results, or a trail's bucket as s3://bucket/prefix (read through boto3).

    \b
    Example:
      blastwall ingest cloudtrail AWSLogs/482510973311/CloudTrail/
      blastwall ingest cloudtrail s3://acme-org-cloudtrail/AWSLogs/482510973311/
    """
    from connectors.evidence.cloudtrail import ingest_cloudtrail

    r = ingest_cloudtrail(ctx_store(ctx), list(paths))
    click.echo(
        f"{r.files} file(s), {r.records} record(s), {r.edges} usage edge(s); "
        f"{r.skipped_already_ingested} file(s) already ingested"
    )
    report_errors(r.errors)


@ingest.command("flowlogs")
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "--fields",
    default=None,
    help="Field names of the log format, for sources without a header line (CloudWatch Logs); "
    "default: the version 2 default format.",
)
@click.pass_context
@handled
def ingest_flowlogs_cmd(ctx: click.Context, paths: tuple[str, ...], fields: str | None) -> None:
    """Load VPC flow logs: files (S3 delivery layout, .log.gz; a header line names custom fields) or a
    CloudWatch Logs group as logs://GROUP (read through boto3).

    \b
    Example:
      blastwall ingest flowlogs AWSLogs/739406228105/vpcflowlogs/
      blastwall ingest flowlogs logs://vpc-flow-logs
    """
    from connectors.evidence.flowlogs import ingest_flowlogs

    r = ingest_flowlogs(ctx_store(ctx), list(paths), fields)
    click.echo(
        f"{r.files} file(s), {r.records} flow record(s); {len(r.skipped_lines)} line(s) skipped; "
        f"{r.skipped_already_ingested} file(s) already ingested"
    )
    for line in r.skipped_lines[:20]:
        click.echo(f"skipped: {line}", err=True)
    _attribution(r.attribution)
    report_errors(r.errors)


def _attribution(summary: dict[str, Any]) -> None:
    """How the ends of the records were tied to interfaces, and what was left an address, and why."""
    from connectors.evidence.attribution import REASONS

    counts = summary.get("counts") or {}
    if not counts:
        return
    tied = ("interface", "same_vpc", "peered_vpc", "address_only")
    click.echo(
        "attributed: "
        + ", ".join(f"{counts.get(k, 0)} {REASONS[k]}" for k in tied if counts.get(k))
        + (
            "; not attributed: "
            + ", ".join(f"{counts[k]} {REASONS[k]}" for k in REASONS if k not in tied and counts.get(k))
            if any(counts.get(k) for k in REASONS if k not in tied)
            else ""
        )
    )
    for reason, shown in (summary.get("examples") or {}).items():
        for line in shown[:3]:
            click.echo(f"{reason}: {line}", err=True)


@ingest.group("cmdb")
def ingest_cmdb() -> None:
    """Load the CMDB: ServiceNow exports or Backstage catalog files.

    \b
    Example:
      blastwall ingest cmdb servicenow data/samples/acme-fin/servicenow
    """


@ingest_cmdb.command("servicenow")
@click.argument("source")
@click.pass_context
@handled
def ingest_servicenow_cmd(ctx: click.Context, source: str) -> None:
    """Load the ServiceNow CMDB from DIR (Table API exports <table>.json: cmdb_ci_service, cmdb_ci,
    cmdb_rel_ci, cmdb_rel_type) or live from an instance URL (SERVICENOW_USER and SERVICENOW_PASSWORD,
    or SERVICENOW_TOKEN for an OAuth bearer token).

    \b
    Example:
      blastwall ingest cmdb servicenow data/samples/acme-fin/servicenow
      SERVICENOW_USER=cmdb.reader SERVICENOW_PASSWORD=… blastwall ingest cmdb servicenow https://acme.service-now.com
    """
    from connectors.cmdb.servicenow import ingest_servicenow

    r = ingest_servicenow(ctx_store(ctx), source, seen=iso(now()))
    click.echo(f"{r.cis} CI(s), {r.relationships} relationship(s)")


@ingest_cmdb.command("backstage")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.pass_context
@handled
def ingest_backstage_cmd(ctx: click.Context, paths: tuple[Path, ...]) -> None:
    """Load Backstage catalog files (multi-document YAML).

    \b
    Example:
      blastwall ingest cmdb backstage catalog-info.yaml
    """
    from connectors.cmdb.backstage import ingest_backstage

    r = ingest_backstage(ctx_store(ctx), list(paths), seen=iso(now()))
    click.echo(f"{r.entities} entit(ies), {r.relationships} relationship(s)")


@ingest_cmdb.command("csv")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
@handled
def ingest_cmdb_csv_cmd(ctx: click.Context, path: Path) -> None:
    """Load a CMDB kept as CSV (columns ci_id,name,class,criticality,owner,depends_on,aws_arns).

    \b
    Example:
      blastwall ingest cmdb csv cmdb.csv
    """
    from connectors.cmdb.csvfile import ingest_cmdb_csv

    r = ingest_cmdb_csv(ctx_store(ctx), path, seen=iso(now()))
    click.echo(f"{r.loaded} CI(s)")


@ingest_cmdb.command("mapping")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
@handled
def ingest_mapping_cmd(ctx: click.Context, path: Path) -> None:
    """Load an explicit resource -> CI mapping (CSV with columns resource,ci); replaces the previous one.

    \b
    Example:
      blastwall ingest cmdb mapping resource-to-ci.csv
    """
    from connectors.cmdb.csvfile import ingest_mapping

    r = ingest_mapping(ctx_store(ctx), path)
    click.echo(f"{r.loaded} mapping(s)")
    report_errors(r.errors)
