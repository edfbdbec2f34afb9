"""``blastwall``: a thin command line over the library. Exit codes: 0 ok, 1 error, 2 bad input,
3 a gate says a human is needed."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

import click

from analyzer import __version__
from analyzer.errors import BadInput, BlastwallError
from analyzer.graph.store import GraphStore, open_store, resolve_store_uri
from analyzer.timeutil import iso, now, parse_time

FORMATS = click.Choice(["table", "json", "csv"])


def _fail(exc: BlastwallError) -> None:
    click.echo(f"error: {exc}", err=True)
    sys.exit(exc.exit_code)


def handled(fn: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except BlastwallError as exc:
            _fail(exc)
        except (KeyboardInterrupt, SystemExit, click.exceptions.Exit, click.ClickException):
            raise
        except Exception as exc:  # a bug or an environment failure: say what, traceback only on request
            if os.environ.get("BLASTWALL_DEBUG"):
                raise
            click.echo(
                f"error: unexpected {type(exc).__name__}: {exc} (set BLASTWALL_DEBUG=1 for the traceback)",
                err=True,
            )
            sys.exit(1)

    return wrapper


def _store(ctx: click.Context) -> GraphStore:
    obj = ctx.ensure_object(dict)
    if "store" not in obj:
        obj["store"] = open_store(obj.get("store_uri"))
        ctx.call_on_close(obj["store"].close)
    return obj["store"]


def _report_errors(errors: list[str]) -> None:
    for e in errors:
        click.echo(f"error: {e}", err=True)
    if errors:
        click.echo(f"{len(errors)} input(s) rejected; everything else was loaded.", err=True)
        sys.exit(2)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--store",
    "store_uri",
    envvar="BLASTWALL_STORE",
    default=None,
    metavar="PATH|bolt://…",
    help="Store: a directory (embedded SQLite, default ./.blastwall) or a bolt:// / neo4j:// URI. "
    "Also $BLASTWALL_STORE.",
)
@click.version_option(__version__, prog_name="blastwall")
@click.pass_context
def main(ctx: click.Context, store_uri: str | None) -> None:
    """Blastwall: what a remediation will break, who depends on it, and who must authorize it.

    \b
    Example:
      blastwall ingest aws-snapshot data/samples/acme-fin/aws
      blastwall propose data/samples/acme-fin/findings
      blastwall score --format json
    """
    ctx.ensure_object(dict)["store_uri"] = resolve_store_uri(store_uri)


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
        _store(ctx),
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
    report = load_snapshot(_store(ctx), directory, seen=seen)
    for account, n in report.loaded.items():
        click.echo(f"account {account}: {n} nodes")
    for w in report.warnings:
        click.echo(f"warning: {w}", err=True)
    _report_errors(report.errors)


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
    errors = load_directory(_store(ctx), directory, seen=seen)
    click.echo(f"loaded {directory}")
    _report_errors(errors)


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

    r = ingest_cloudtrail(_store(ctx), list(paths))
    click.echo(
        f"{r.files} file(s), {r.records} record(s), {r.edges} usage edge(s); "
        f"{r.skipped_already_ingested} file(s) already ingested"
    )
    _report_errors(r.errors)


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

    r = ingest_flowlogs(_store(ctx), list(paths), fields)
    click.echo(
        f"{r.files} file(s), {r.records} flow record(s); {len(r.skipped_lines)} line(s) skipped; "
        f"{r.skipped_already_ingested} file(s) already ingested"
    )
    for line in r.skipped_lines[:20]:
        click.echo(f"skipped: {line}", err=True)
    _report_errors(r.errors)


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

    r = ingest_servicenow(_store(ctx), source, seen=iso(now()))
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

    r = ingest_backstage(_store(ctx), list(paths), seen=iso(now()))
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

    r = ingest_cmdb_csv(_store(ctx), path, seen=iso(now()))
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

    r = ingest_mapping(_store(ctx), path)
    click.echo(f"{r.loaded} mapping(s)")
    _report_errors(r.errors)


@main.group()
def settings() -> None:
    """Store-wide settings (e.g. the resource tag that names a resource's CI).

    \b
    Example:
      blastwall settings set cmdb_tag_key ServiceNowCI
    """


@settings.command("set")
@click.argument("name")
@click.argument("value")
@click.pass_context
@handled
def settings_set(ctx: click.Context, name: str, value: str) -> None:
    """Set a setting. Known: cmdb_tag_key (default cmdb_ci).

    \b
    Example:
      blastwall settings set cmdb_tag_key ServiceNowCI
    """
    from analyzer import api

    api.set_setting(_store(ctx), name, value)
    click.echo(f"{name} = {value}")


@settings.command("show")
@click.pass_context
@handled
def settings_show(ctx: click.Context) -> None:
    """Print every setting and its value.

    \b
    Example:
      blastwall settings show
    """
    from analyzer import api

    for name in api.DEFAULT_SETTINGS:
        click.echo(f"{name} = {api.setting(_store(ctx), name)}")


@main.command("unmapped")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_context
@handled
def unmapped_cmd(ctx: click.Context, fmt: str) -> None:
    """Cloud resources that map to no CI: every dependency on them reads as undocumented.

    \b
    Example:
      blastwall unmapped --format json
    """
    from analyzer import api

    items = api.unmapped(_store(ctx))
    if fmt == "json":
        from analyzer.output import to_json

        click.echo(to_json({"count": len(items), "resources": items}))
    else:
        click.echo(f"{len(items)} resource(s) map to no CI")
        for i in items:
            click.echo(f"  {i['kind']:<12} {i['id']}")


# -- proposals, policy, score -------------------------------------------------------------------------
@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--requester",
    default=None,
    help="Who asks for these changes (an identity); default: the tool that proposed them.",
)
@click.pass_context
@handled
def propose(ctx: click.Context, paths: tuple[Path, ...], requester: str | None) -> None:
    """Import proposed remediations; the format is detected from the content.

    \b
    Example:
      blastwall propose data/samples/acme-fin/findings/securityhub-access-analyzer.json
    """
    from connectors.proposals import import_proposals

    r = import_proposals(_store(ctx), list(paths), requester)
    for pid in r.imported:
        click.echo(f"imported {pid}")
    if r.unchanged:
        click.echo(f"{len(r.unchanged)} proposal(s) already imported, unchanged")
    _report_errors(r.errors)


@main.group()
def policy() -> None:
    """The tier policy that decides auto / approval / cab / blocked.

    \b
    Example:
      blastwall policy load data/samples/acme-fin/policy/tier-policy.yaml
    """


@policy.command("load")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.pass_context
@handled
def policy_load(ctx: click.Context, path: Path) -> None:
    """Validate a tier policy YAML file and make it the store's current policy.

    \b
    Example:
      blastwall policy load tier-policy.yaml
    """
    from analyzer.api import store_policy

    p = store_policy(_store(ctx), path)
    click.echo(
        f"policy {p.doc['policy_id']} v{p.doc['version']} (owner {p.doc['owner_role']}) is now current"
    )


def _emit(payload: dict[str, Any], fmt: str) -> None:
    from analyzer.output import results_csv, results_table, to_json

    if fmt == "json":
        click.echo(to_json(payload))
    elif fmt == "csv":
        click.echo(results_csv(payload), nl=False)
    else:
        click.echo(results_table(payload))


@main.command()
@click.argument("ids", nargs=-1)
@click.option("--as-of", default=None, help="Anchor of the evidence window (ISO 8601; default now).")
@click.option(
    "--policy",
    "policy_path",
    type=click.Path(exists=True, path_type=Path),
    default=None,
    help="Tier policy file (default: the store's current policy).",
)
@click.option("--all", "include_closed", is_flag=True, help="Every proposal, not only the open ones.")
@click.option("--workers", type=click.IntRange(1, 256), default=1, show_default=True, help="Local processes.")
@click.option(
    "--scheduler",
    default=None,
    metavar="local|tcp://HOST:PORT",
    help="Score on Dask: 'local' starts a LocalCluster of --workers processes; an address uses an existing "
    "cluster (its workers need blastwall installed). The analysis context is shipped once per worker.",
)
@click.option(
    "--resume",
    is_flag=True,
    help="Keep saved results that still answer their proposal (same evidence anchor, analysis inputs, policy "
    "and change): a killed batch goes on where it stopped, without rescoring or duplicates.",
)
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.pass_context
@handled
def score(
    ctx: click.Context,
    ids: tuple[str, ...],
    as_of: str | None,
    policy_path: Path | None,
    include_closed: bool,
    workers: int,
    scheduler: str | None,
    resume: bool,
    fmt: str,
) -> None:
    """Score proposals (default: every open one): severed, impacted, undocumented, unknowns, tier.
    Results are saved as each chunk finishes; a progress bar goes to stderr.

    \b
    Example:
      blastwall score --as-of 2026-05-15T06:00:00Z --format json
      blastwall score --all --workers 2 --resume --as-of 2026-05-15T06:00:00Z
      blastwall score --scheduler tcp://10.0.0.5:8786 --as-of 2026-05-15T06:00:00Z
    """
    from analyzer import api

    store = _store(ctx)
    pol = api.current_policy(store, policy_path)
    from analyzer.graph.store import resolve_store_uri

    uri = resolve_store_uri(ctx.obj.get("store_uri"))
    done = [0]

    def step(n: int, total: int) -> None:
        done[0] += n
        if sys.stderr.isatty() or total > 200:  # a progress line for batches worth watching
            click.echo(f"\rscored {done[0]}/{total}", err=True, nl=done[0] >= total)

    payload = api.score(
        store,
        list(ids) or None,
        as_of=parse_time(as_of) if as_of else None,
        policy=pol,
        include_closed=include_closed,
        workers=workers,
        resume=resume,
        progress=step,
        store_uri=str(uri),
        scheduler=scheduler,
    )
    _emit(payload, fmt)


@main.command("undocumented")
@click.option("--as-of", default=None, help="Anchor of the evidence window (ISO 8601; default now).")
@click.option(
    "--window-days", type=int, default=None, help="Evidence window (default: the tier policy's, 90)."
)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_context
@handled
def undocumented_cmd(ctx: click.Context, as_of: str | None, window_days: int | None, fmt: str) -> None:
    """Every observed dependency with no CMDB relationship between its owners, ranked by the criticality
    of what depends on it, then by volume. Useful before any remediation is proposed.

    \b
    Example:
      blastwall undocumented --as-of 2026-05-15T06:00:00Z --format json
    """
    from analyzer import api

    rep = api.undocumented(_store(ctx), as_of=parse_time(as_of) if as_of else None, window_days=window_days)
    if fmt == "json":
        from analyzer.output import to_json

        click.echo(to_json(rep))
        return
    click.echo(
        f"{rep['count']} undocumented observed dependenc(ies), {rep['window_days']} days to {rep['as_of']}"
    )
    for d in rep["dependencies"]:
        crit = d["dependants_max_criticality"] or "nothing documented depends on it"
        click.echo(
            f"  [{crit}] {d['consumer']} -> {d['provider']} ({', '.join(d['uses'])}; {d['events']} events, "
            f"last {d['last_seen']}): {d['why_undocumented']}"
        )


# -- IAM questions ------------------------------------------------------------------------------------
def _context_pairs(pairs: tuple[str, ...]) -> dict[str, str | list[str]]:
    """``KEY=VALUE`` pairs; a key given twice is multivalued; ``KEY=`` means the key is absent."""
    out: dict[str, str | list[str]] = {}
    for pair in pairs:
        if "=" not in pair:
            raise BadInput(f"--context expects KEY=VALUE, got {pair!r}", path="--context")
        k, v = pair.split("=", 1)
        if k in out:
            prev = out[k]
            out[k] = [*prev, v] if isinstance(prev, list) else [prev, v]
        else:
            out[k] = v
    return out


CONTEXT_OPTION = click.option(
    "--context",
    "context_pairs",
    multiple=True,
    metavar="KEY=VALUE",
    help="A request context key (repeatable; the same key twice is multivalued; KEY= says it is absent). "
    "Keys not given stay unknown and make a decision that needs them conditional.",
)


@main.command("can")
@click.argument("principal")
@click.argument("action")
@click.argument("resource")
@CONTEXT_OPTION
@click.option("--explain", is_flag=True, help="Show each deciding statement's policy text.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_context
@handled
def can_cmd(
    ctx: click.Context,
    principal: str,
    action: str,
    resource: str,
    context_pairs: tuple[str, ...],
    explain: bool,
    fmt: str,
) -> None:
    """Can PRINCIPAL do ACTION on RESOURCE? allowed, denied or conditional (with the context keys it
    depends on), decided by AWS's evaluation logic over SCPs, identity policies, the permissions
    boundary and the resource (or trust, or key) policy.

    PRINCIPAL: an ARN, a role or user name, an account id, or a service (ec2.amazonaws.com).
    RESOURCE: an ARN, or a bucket, queue, key, function or role name.

    \b
    Example:
      blastwall can legacy-etl-role sts:AssumeRole datalake-reader --explain
      blastwall can arn:aws:iam::615294837560:role/fraud-feature-pipeline s3:GetObject \\
          arn:aws:s3:::acme-legacy-etl-output/daily.csv --context aws:SecureTransport=true --format json
    """
    from analyzer import api
    from analyzer.output import to_json
    from analyzer.scoring.access import (
        can,
        decision_dict,
        resolve_principal,
        resolve_resource,
        statement_texts,
    )

    extra = _context_pairs(context_pairs)
    actx = api.analysis_context(_store(ctx))
    p = resolve_principal(actx, principal)
    r = resolve_resource(actx, resource)
    d = can(actx, p, action, r, extra)
    payload = decision_dict(d, principal=p, action=action, resource=r)
    texts = statement_texts(actx, p, r, d.statements) if explain else {}
    if fmt == "json":
        if explain:
            payload["statement_text"] = texts
        click.echo(to_json(payload))
        return
    click.echo(f"{d.state.upper()}: {p} -> {action} -> {r}")
    if d.reason:
        click.echo(f"  why: {d.reason}")
    for label in d.statements:
        click.echo(f"  statement: {label}")
        if label in texts:
            for line in json.dumps(texts[label], indent=2).splitlines():
                click.echo(f"      {line}")
    for k in d.missing_context:
        click.echo(f"  depends on: {k}")


@main.command("who-can")
@click.argument("action")
@click.argument("resource")
@CONTEXT_OPTION
@click.option("--all", "include_denied", is_flag=True, help="List denied principals too.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_context
@handled
def who_can_cmd(
    ctx: click.Context,
    action: str,
    resource: str,
    context_pairs: tuple[str, ...],
    include_denied: bool,
    fmt: str,
) -> None:
    """Every principal that can (or conditionally can) do ACTION on RESOURCE: the principals of every
    collected account plus the outsiders the resource policy names, decided in one batch.

    \b
    Example:
      blastwall who-can s3:GetObject arn:aws:s3:::acme-datalake-curated/part-0001.parquet
      blastwall who-can sts:AssumeRole datalake-reader --format json
    """
    from analyzer import api
    from analyzer.output import to_json
    from analyzer.scoring.access import resolve_resource, who_can

    extra = _context_pairs(context_pairs)
    actx = api.analysis_context(_store(ctx))
    r = resolve_resource(actx, resource)
    rows = who_can(actx, action, r, extra, include_denied)
    if fmt == "json":
        click.echo(to_json({"action": action, "resource": r, "count": len(rows), "principals": rows}))
        return
    click.echo(f"{len(rows)} principal(s) for {action} on {r}")
    for row in rows:
        note = f"  (depends on: {', '.join(row['missing_context'])})" if row["missing_context"] else ""
        click.echo(f"  {row['decision']:<11} {row['principal']}{note}")


@main.command("facts")
@click.option(
    "--kind",
    "kinds",
    type=click.Choice(["CAN_ASSUME", "CAN_ACCESS"]),
    multiple=True,
    help="Only these kinds (default: both).",
)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_context
@handled
def facts_cmd(ctx: click.Context, kinds: tuple[str, ...], fmt: str) -> None:
    """The IAM facts with their justification: CAN_ASSUME for every principal a trust policy names or
    that was seen assuming the role, CAN_ACCESS for every observed call and for every principal against
    resources marked sensitive (a classification tag, or the CI's classification).

    \b
    Example:
      blastwall facts --kind CAN_ASSUME --format json
    """
    from analyzer import api
    from analyzer.scoring.access import facts, facts_summary, to_json

    items = facts(api.analysis_context(_store(ctx)), kinds or ("CAN_ASSUME", "CAN_ACCESS"))
    if fmt == "json":
        click.echo(to_json(items))
        return
    summary = facts_summary(items)
    for kind, c in summary["by_kind"].items():
        click.echo(f"{kind}: {c['allowed']} allowed, {c['conditional']} conditional, {c['denied']} denied")
    for f in items:
        if f.decision.state != "denied":
            click.echo(f"  {f.decision.state:<11} {f.principal} {f.action} {f.resource}")


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

    SRC and DST: an ENI id, an instance id, an IP address or a CIDR.

    \b
    Example:
      blastwall reach i-0123456789abcdef0 52.216.88.133 --port 443 --explain
      blastwall reach 198.51.100.7 eni-0a1b2c3d4e5f60718 --port 22 --format json
    """
    from analyzer import api
    from analyzer.network.service import reach
    from analyzer.output import to_json

    d = reach(api.network_model(_store(ctx)), src, dst, protocol, port)
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

    store = _store(ctx)
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
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_context
@handled
def flows_cmd(
    ctx: click.Context,
    revokes: tuple[str, ...],
    authorizes: tuple[str, ...],
    quarantines: tuple[str, ...],
    fmt: str,
) -> None:
    """The observed flows (VPC flow logs) and what the configuration says of each today: allowed, already
    denied (stale evidence: nothing can sever it) or unknown. With --revoke / --authorize / --quarantine:
    before and after, re-deciding only the flows with an endpoint the change touches; severed = allowed
    before, denied after; opened = the reverse.

    \b
    Example:
      blastwall flows --format json
      blastwall flows --revoke sg-0abc:egress:-1:all:0.0.0.0/0
      blastwall flows --quarantine eni-0abc=sg-0isolation
    """
    from analyzer import api
    from analyzer.network.service import observed, observed_flows, whatif
    from analyzer.output import to_json

    store = _store(ctx)
    snap = api.analysis_context(store).snap
    flows = observed(list(snap.edge_records("OBSERVED_FLOW")))
    changes = _net_changes(revokes, authorizes, quarantines)
    if changes:
        result = whatif(api.network_documents(store), flows, changes)
        if fmt == "json":
            click.echo(to_json(result))
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
        click.echo(to_json({"count": len(rows), "flows": rows}))
        return
    for r in rows:
        click.echo(
            f"  {r['current']:<15} {r['src']} -> {r['dst']} {r['protocol']}/{r['port']} ({r['count']} seen)"
        )


# -- governance ---------------------------------------------------------------------------------------
def _ledger(ctx: click.Context) -> Any:
    from analyzer.governance.ledger import Ledger, ledger_path_for

    return Ledger(ledger_path_for(ctx.ensure_object(dict)["store_uri"]))


KEY_DIR = click.option(
    "--key-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where private keys live (default $BLASTWALL_KEYS or ~/.blastwall/keys).",
)


@main.group()
def keys() -> None:
    """Signing identities (Ed25519): who approves, rejects and accepts risk.

    \b
    Example:
      blastwall keys init --name dana --role CISO
    """


@keys.command("init")
@click.option("--name", required=True, help="The person's identity (e.g. their login).")
@click.option("--role", "roles", required=True, multiple=True, help="A role they hold (repeatable).")
@KEY_DIR
@click.pass_context
@handled
def keys_init(ctx: click.Context, name: str, roles: tuple[str, ...], key_dir: Path | None) -> None:
    """Create a private key (mode 0600) and register the identity and its roles in the store and ledger.

    \b
    Example:
      blastwall keys init --name priya --role change-advisory-board
    """
    from analyzer.governance.decisions import register_identity

    ident = register_identity(_store(ctx), _ledger(ctx), name, list(roles), key_dir)
    click.echo(f"identity {ident.name} ({', '.join(ident.roles)}), key fingerprint {ident.fingerprint}")


@main.command("accept-risk")
@click.option(
    "--as", "who", required=True, help="Identity accepting the risk (must hold the policy owner's role)."
)
@click.option(
    "--kind", "kinds", required=True, multiple=True, help="Change kind the acceptance covers (repeatable)."
)
@click.option("--max-risk", type=click.IntRange(0, 100), required=True, help="Highest risk score covered.")
@click.option(
    "--max-criticality",
    type=click.Choice(["low", "medium", "high", "critical"]),
    default="low",
    show_default=True,
    help="Highest impacted criticality covered.",
)
@click.option("--expires", required=True, help="ISO 8601 expiry.")
@click.option("--statement", required=True, help="What is accepted and why.")
@KEY_DIR
@click.pass_context
@handled
def accept_risk_cmd(
    ctx: click.Context,
    who: str,
    kinds: tuple[str, ...],
    max_risk: int,
    max_criticality: str,
    expires: str,
    statement: str,
    key_dir: Path | None,
) -> None:
    """Record a signed, scoped, expiring acceptance under which `auto` changes may run unattended.

    \b
    Example:
      blastwall accept-risk --as dana --kind iam.update_trust_policy --max-risk 10 \\
        --expires 2026-12-31T00:00:00Z --statement "Unused external trust may be removed automatically"
    """
    from analyzer import api
    from analyzer.governance.decisions import accept_risk

    store = _store(ctx)
    policy = api.current_policy(store)
    a = accept_risk(
        store,
        _ledger(ctx),
        who=who,
        policy_owner_role=policy.doc["owner_role"],
        kinds=list(kinds),
        max_risk=max_risk,
        max_criticality=max_criticality,
        expires=expires,
        statement=statement,
        key_dir=key_dir,
    )
    click.echo(f"risk acceptance {a['acceptance_id']} by {who} ({a['role']}) until {a['expires']}")


def _decide(
    ctx: click.Context, proposal_id: str, who: str, comment: str, key_dir: Path | None, ok: bool
) -> None:
    from analyzer.governance.decisions import decide

    d = decide(_store(ctx), _ledger(ctx), proposal_id, who=who, approve=ok, comment=comment, key_dir=key_dir)
    click.echo(f"{proposal_id} {d['decision']} by {who} at {d['decided_at']}")


@main.command()
@click.argument("proposal_id")
@click.option("--as", "who", required=True, help="Your identity (its role must be the one the tier names).")
@click.option("--comment", required=True, help="Why.")
@KEY_DIR
@click.pass_context
@handled
def approve(ctx: click.Context, proposal_id: str, who: str, comment: str, key_dir: Path | None) -> None:
    """Approve a scored proposal: signed, checked against the tier's approver role, recorded in the ledger.

    \b
    Example:
      blastwall approve bw-87109988a633 --as priya --comment "ETL moved to its own role first (CHG0042)"
    """
    _decide(ctx, proposal_id, who, comment, key_dir, True)


@main.command()
@click.argument("proposal_id")
@click.option("--as", "who", required=True, help="Your identity.")
@click.option("--comment", required=True, help="Why.")
@KEY_DIR
@click.pass_context
@handled
def reject(ctx: click.Context, proposal_id: str, who: str, comment: str, key_dir: Path | None) -> None:
    """Reject a scored proposal (signed, recorded in the ledger); the gate will then refuse it.

    \b
    Example:
      blastwall reject bw-87109988a633 --as priya --comment "Feeds fraud detection; redesign first"
    """
    _decide(ctx, proposal_id, who, comment, key_dir, False)


@main.command()
@click.argument("proposal_id")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_context
@handled
def gate(ctx: click.Context, proposal_id: str, fmt: str) -> None:
    """Exit 0 if the change may run now (auto under a live risk acceptance, or approved), 3 if it needs a
    human, 1 on error. Put it in front of Custodian, Prowler --fixer or a CI job.

    \b
    Example:
      blastwall gate bw-87109988a633 && custodian run ...
    """
    from analyzer.governance.decisions import gate as run_gate

    v = run_gate(_store(ctx), _ledger(ctx), proposal_id)
    if fmt == "json":
        from analyzer.output import to_json

        click.echo(
            to_json({"proposal_id": proposal_id, "allowed": v.allowed, "tier": v.tier, "reason": v.reason})
        )
    else:
        click.echo(f"{'ALLOWED' if v.allowed else 'NEEDS A HUMAN'}: {v.reason}")
    sys.exit(v.exit_code)


@main.group()
def audit() -> None:
    """The tamper-evident ledger of decisions.

    \b
    Example:
      blastwall audit verify
    """


@audit.command("verify")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_context
@handled
def audit_verify(ctx: click.Context, fmt: str) -> None:
    """Recompute the hash chain, every signature and the signed head; name the first bad record (exit 1).

    \b
    Example:
      blastwall --store .blastwall/demo audit verify --format json
    """
    from analyzer.governance.ledger import verify

    ledger = _ledger(ctx)
    rep = verify(ledger.path)
    if fmt == "json":
        from analyzer.output import to_json

        click.echo(to_json(rep.as_dict() | {"ledger": str(ledger.path)}))
    else:
        click.echo(f"{ledger.path}: {rep.records} record(s), {'verifies' if rep.ok else 'DOES NOT VERIFY'}")
        for p in rep.problems:
            click.echo(f"  problem: {p}")
        for w in rep.warnings:
            click.echo(f"  warning: {w}")
    sys.exit(0 if rep.ok else 1)


@audit.command("checkpoint")
@click.pass_context
@handled
def audit_checkpoint(ctx: click.Context) -> None:
    """Chain a checkpoint signed with the ledger's key now (one is also written every 50 records).

    \b
    Example:
      blastwall audit checkpoint
    """
    rec = _ledger(ctx).checkpoint()
    click.echo(f"checkpoint at record {rec['seq']} covering up to {rec['body']['upto']}")


@audit.command("export")
@click.option(
    "--format", "fmt", type=click.Choice(["json", "csv", "html"]), default="json", show_default=True
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write to this file instead of standard output.",
)
@click.pass_context
@handled
def audit_export(ctx: click.Context, fmt: str, output: Path | None) -> None:
    """One change record per decision (who, under which authority, knowing what), for auditors.

    \b
    Example:
      blastwall audit export --format html -o change-records.html
    """
    from analyzer.governance.review import export

    text = export(_ledger(ctx), fmt)
    if output:
        output.write_text(text)
        click.echo(f"wrote {output}")
    else:
        click.echo(text, nl=False)


@main.command("record-execution")
@click.argument("proposal_id")
@click.option("--outcome", type=click.Choice(["applied", "failed", "rolled-back"]), required=True)
@click.option("--at", "at", default=None, help="When it ran (ISO 8601; default now).")
@click.option(
    "--by",
    "reported_by",
    default="remediation-tool",
    show_default=True,
    help="Who reports it (the tool or person that ran the change).",
)
@click.option("--detail", default="", help="Free text: run id, ticket, error.")
@click.pass_context
@handled
def record_execution_cmd(
    ctx: click.Context, proposal_id: str, outcome: str, at: str | None, reported_by: str, detail: str
) -> None:
    """Record what the remediation tool reports it did with a proposal (into the ledger).

    \b
    Example:
      blastwall record-execution bw-87109988a633 --outcome applied --by custodian --detail run-4411
    """
    from analyzer.governance.review import record_execution

    body = record_execution(
        _store(ctx),
        _ledger(ctx),
        proposal_id,
        outcome=outcome,
        at=parse_time(at) if at else now(),
        reported_by=reported_by,
        detail=detail,
    )
    click.echo(f"{proposal_id}: {body['outcome']} at {body['executed_at']} (reported by {reported_by})")


@main.command("review")
@click.option("--since", default="30d", show_default=True, help="A duration (30d, 12h) or an ISO 8601 time.")
@click.option("--until", default=None, help="End of the period (ISO 8601; default now).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option(
    "--html",
    "html_out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write a human-readable HTML report here.",
)
@click.pass_context
@handled
def review_cmd(ctx: click.Context, since: str, until: str | None, fmt: str, html_out: Path | None) -> None:
    """Post-action review: executed changes, predicted vs observed breakage, and decisions the current
    policy would now make differently.

    \b
    Example:
      blastwall review --since 30d --html review.html
    """
    from analyzer import api
    from analyzer.governance.review import parse_since, review, review_html

    store = _store(ctx)
    end = parse_time(until) if until else now()
    report = review(store, _ledger(ctx), api.current_policy(store), parse_since(since, end), end)
    if html_out:
        html_out.write_text(review_html(report))
    if fmt == "json":
        from analyzer.output import to_json

        click.echo(to_json(report))
    else:
        s = report["summary"]
        click.echo(
            f"{s['executions']} execution(s) {report['since']} .. {report['until']}: "
            f"{s['without_gate_pass']} without a gate pass, {s['with_unpredicted_breakage']} with "
            f"unpredicted breakage, {s['diverging_from_current_policy']} diverging from the current policy"
        )
        for i in report["executions"]:
            click.echo(
                f"  {i['proposal_id']} {i['outcome']} {i['executed_at']}: "
                f"{len(i['predicted_and_observed'])} predicted and seen, "
                f"{len(i['predicted_not_observed'])} predicted not seen, "
                f"{len(i['unpredicted_breakage'])} unpredicted"
                + ("" if i["gate_passed_before_execution"] else "; RAN WITHOUT A GATE PASS")
            )


@main.command()
@click.argument("proposal_id")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_context
@handled
def explain(ctx: click.Context, proposal_id: str, fmt: str) -> None:
    """Explain one scored proposal: the statements that allowed each severed dependency, its use and
    documentation, each impact path, the unknowns, the rule that set the tier, and the rollback.

    \b
    Example:
      blastwall explain bw-87109988a633
    """
    from analyzer import api
    from analyzer.output import explain_text, to_json

    r = _store(ctx).get_documents(api.RESULTS).get(proposal_id)
    if r is None:
        raise BadInput(f"proposal {proposal_id} has not been scored (blastwall score {proposal_id})")
    click.echo(to_json(r) if fmt == "json" else explain_text(r))


# -- demo and app -------------------------------------------------------------------------------------
@main.command()
@click.option("--no-app", is_flag=True, help="Stop after printing the scores.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8050, show_default=True, type=int)
@click.option(
    "--samples",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Sample organization directory (default: data/samples/acme-fin of this checkout).",
)
@click.pass_context
@handled
def demo(ctx: click.Context, no_app: bool, fmt: str, host: str, port: int, samples: Path | None) -> None:
    """Load the acme-fin sample into a fresh store, score its proposals, print them and serve the app.

    The store is the one --store / $BLASTWALL_STORE names (default ./.blastwall/demo); only an empty
    store or a previous demo's is overwritten.

    \b
    Example:
      blastwall --store /tmp/bw-demo demo --no-app --format json
    """
    from analyzer.demo import run_demo

    obj = ctx.ensure_object(dict)
    uri = obj["store_uri"] if obj["store_uri"] != ".blastwall" else ".blastwall/demo"
    store, payload = run_demo(uri, samples)
    _emit(payload, fmt)
    store.close()
    if not no_app:
        _serve(uri, host, port)


@main.command()
@click.option("--scale", type=click.Choice(["S", "M", "L"]), default="S", show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@handled
def synth(scale: str, seed: int, out: Path, fmt: str) -> None:
    """Write a synthetic enterprise in the sample's real formats (deterministic for a seed).

    S: 6 accounts, loads and scores in seconds (the tests); M: 40 accounts, 2,000 proposals; L: 250
    accounts, about a million nodes, 10,000 proposals (bench/). OUT must be empty or absent; the
    evidence window's end is in OUT/synth.json ("as_of").

    \b
    Example:
      blastwall synth --scale S --seed 7 --out /tmp/synth-s
      blastwall --store /tmp/bw-synth ingest directory /tmp/synth-s
      blastwall --store /tmp/bw-synth score --all --as-of 2026-05-08T00:00:00Z
    """
    from analyzer.synth import generate

    try:
        counts = generate(scale, seed, out)
    except FileExistsError as exc:
        raise BadInput(str(exc), path="--out") from exc
    if fmt == "json":
        click.echo(json.dumps({"out": str(out), "scale": scale, "seed": seed, "counts": counts}, indent=2))
    else:
        for k, v in counts.items():
            click.echo(f"{k:>32}  {v:,}")


@main.command()
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Interface to bind (loopback by default)."
)
@click.option("--port", default=8050, show_default=True, type=int)
@click.option(
    "--auth",
    type=click.Choice(["none", "users", "header"]),
    default="none",
    show_default=True,
    help="none: read-only; users: a users file (needs BLASTWALL_APP_SECRET); header: a trusted proxy.",
)
@click.option(
    "--users",
    "users_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The users file for --auth users (blastwall app-user add …).",
)
@click.pass_context
@handled
def app(ctx: click.Context, host: str, port: int, auth: str, users_file: Path | None) -> None:
    """Serve the Dash app over the store.

    \b
    Example:
      blastwall --store .blastwall/demo app --port 8050
      BLASTWALL_APP_SECRET=… blastwall app --auth users --users app-users.json
    """
    _serve(ctx.ensure_object(dict)["store_uri"], host, port, auth, users_file)


@main.group("app-user")
def app_user() -> None:
    """Users of the web app (for --auth users): salted scrypt hashes and roles in a JSON file.

    \b
    Example:
      blastwall app-user add priya --role change-advisory-board --users app-users.json
    """


@app_user.command("add")
@click.argument("name")
@click.option("--role", "roles", multiple=True, required=True, help="A role the user holds (repeatable).")
@click.option("--users", "users_file", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from standard input instead of a prompt."
)
@handled
def app_user_add(name: str, roles: tuple[str, ...], users_file: Path, password_stdin: bool) -> None:
    """Add or replace a user (the password is asked for, never given on the command line).

    \b
    Example:
      blastwall app-user add priya --role change-advisory-board --users app-users.json
    """
    from analyzer.app.auth import add_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    add_user(users_file, name, password, list(roles))
    click.echo(f"{name} ({', '.join(roles)}) written to {users_file}")


def _serve(uri: str, host: str, port: int, auth: str = "none", users_file: Path | None = None) -> None:
    try:
        from analyzer.app import create_app
    except ImportError as exc:
        raise BlastwallError(f"the app needs the [app] extra: pip install 'blastwall[app]' ({exc})") from exc
    click.echo(f"serving Blastwall on http://{host}:{port}/ (Ctrl-C to stop)")
    create_app(uri, auth, users_file).run(host=host, port=port, debug=False)


if __name__ == "__main__":  # pragma: no cover
    main()


__all__ = ["BadInput", "main"]
