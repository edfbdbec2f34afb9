"""Proposals, the tier policy, settings and scoring: ``propose``, ``policy``, ``score``, ``explain`` …"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from analyzer.cli.base import (
    AS_OF_OPTION,
    FORMATS,
    WINDOW_DAYS_OPTION,
    ctx_store,
    emit_results,
    handled,
    main,
    report_errors,
    say_freshness,
)
from analyzer.cli.common_governance import KEY_DIR
from analyzer.errors import BadInput
from analyzer.timings import phase


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

    api.set_setting(ctx_store(ctx), name, value)
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
        click.echo(f"{name} = {api.setting(ctx_store(ctx), name)}")


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

    items = api.unmapped(ctx_store(ctx))
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

    r = import_proposals(ctx_store(ctx), list(paths), requester)
    for pid in r.imported:
        click.echo(f"imported {pid}")
    if r.unchanged:
        click.echo(f"{len(r.unchanged)} proposal(s) already imported, unchanged")
    if r.skipped:
        labels = {
            "no_op_action": "no-op actions (tag, notify …)",
            "terraform_creates": "only created by the plan (nothing that exists changes)",
            "not_available": "not evaluated by the scanner",
            "duplicate": "duplicate (the same finding in another file or format)",
            "not_executed": "steps of a runbook that did not run (failed, cancelled, timed out)",
        }
        parts = ", ".join(f"{n} {labels.get(reason, reason)}" for reason, n in sorted(r.skipped.items()))
        click.echo(f"{sum(r.skipped.values())} finding(s) not proposed: {parts}")
    report_errors(r.errors)


@main.group()
def policy() -> None:
    """The tier policy that decides auto / approval / cab / blocked.

    \b
    Example:
      blastwall policy load data/samples/acme-fin/policy/tier-policy.yaml
    """


@policy.command("load")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--adopts",
    "suggestion_id",
    default=None,
    metavar="ID",
    help="The review's suggestion this policy adopts (ps-…): recorded in the ledger, signed --as you.",
)
@click.option(
    "--as",
    "who",
    default=None,
    help="Put it in force as this identity (the owner role of the policy in force).",
)
@click.option("--statement", default="", help="Why it is adopted (kept in the ledger record).")
@KEY_DIR
@click.pass_context
@handled
def policy_load(
    ctx: click.Context,
    path: Path,
    suggestion_id: str | None,
    who: str | None,
    statement: str,
    key_dir: Path | None,
) -> None:
    """Validate a tier policy YAML file and make it the store's current policy. With --as, it is also put
    in force: a ledger record signed by you, who must hold the role that owns the policy in force (for
    the first, the role the file names as owner). The gate answers only under the policy in force, so a
    policy written into the store by anyone else decides nothing. With --adopts, it adopts a review's
    suggested edit (recorded with the suggestion's id).

    \b
    Example:
      blastwall policy load tier-policy.yaml --as dana
      blastwall policy load suggestions/ps-1a2b3c4d5e6f.yaml --adopts ps-1a2b3c4d5e6f --as dana
    """
    from analyzer.api import store_policy
    from analyzer.governance.tier_policy import load_policy

    store = ctx_store(ctx)
    if suggestion_id is not None and not who:
        raise BadInput("--adopts needs --as: an adoption is signed by the person adopting it")
    if who:
        from analyzer.cli.common_governance import ledger_of
        from analyzer.governance.decisions import adopt_policy

        a = adopt_policy(
            ledger_of(ctx),
            who=who,
            policy=load_policy(path),
            suggestion_id=suggestion_id,
            statement=statement,
            key_dir=key_dir,
        )
        what = f"adoption of {a['suggestion_id']}" if a["suggestion_id"] else "the policy"
        click.echo(f"{what} put in force by {who} ({a['role']}), recorded in the ledger")
    p = store_policy(store, path)
    click.echo(
        f"policy {p.doc['policy_id']} v{p.doc['version']} (owner {p.doc['owner_role']}) is now current"
    )
    if not who:
        click.echo(
            f"note: not put in force in the ledger: the gate lets nothing run under it until a holder of "
            f"{p.doc['owner_role']!r} runs: blastwall policy load {path} --as <them>",
            err=True,
        )


@main.command()
@click.argument("ids", nargs=-1)
@AS_OF_OPTION
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
    Results are saved as each chunk finishes; a progress bar goes to stderr. A proposal that cannot be
    scored is blocked (status error) and makes the command exit 1 once the batch is done. When no
    analysis context of the store as it is now is persisted, a child process builds and persists it
    first (as ``prepare`` does) and this one maps it: the build's memory is not held while scoring.

    \b
    Example:
      blastwall score --as-of 2026-05-15T06:00:00Z --format json
      blastwall score --all --workers 2 --resume --as-of 2026-05-15T06:00:00Z
      blastwall score --scheduler tcp://10.0.0.5:8786 --as-of 2026-05-15T06:00:00Z
    """
    from analyzer import api

    store = ctx_store(ctx)
    pol = api.current_policy(store, policy_path)
    from analyzer.graph.store import resolve_store_uri

    uri = resolve_store_uri(ctx.obj.get("store_uri"))
    done = [0]

    def step(n: int, total: int) -> None:
        done[0] += n
        tty = sys.stderr.isatty()
        if tty or total > 200:  # a progress line for batches worth watching; one line each in a log
            click.echo(
                f"\rscored {done[0]}/{total}" if tty else f"scored {done[0]}/{total}",
                err=True,
                nl=not tty or done[0] >= total,
            )

    at, anchored = api.anchor(store, as_of)
    payload = api.score(
        store,
        list(ids) or None,
        as_of=at,
        anchored=anchored,
        policy=pol,
        include_closed=include_closed,
        workers=workers,
        resume=resume,
        progress=step,
        store_uri=str(uri),
        scheduler=scheduler,
        release=False,  # the command ends after its output: the heap need not go back to the collector
        build_apart=True,  # a context not yet persisted is built in a child: this process only maps it
    )
    say_freshness(payload["freshness"], fmt)
    emit_results(payload, fmt)
    with phase("record reported executions"):
        _record_reported_executions(ctx, store, payload["results"])
    failed = [r["proposal_id"] for r in payload["results"] if r.get("status") == "error"]
    if failed:  # every other proposal was scored and saved; a failure is never a quiet exit 0
        shown = ", ".join(failed[:5]) + (" …" if len(failed) > 5 else "")
        click.echo(
            f"error: {len(failed)} of {len(payload['results'])} proposal(s) could not be scored: {shown}",
            err=True,
        )
        ctx.exit(1)


@main.command()
@AS_OF_OPTION
@WINDOW_DAYS_OPTION
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_context
@handled
def prepare(ctx: click.Context, as_of: str | None, window_days: int | None, fmt: str) -> None:
    """Build the analysis context and what scoring builds on first use, and persist them beside the store
    (``<store>/derived``), so the next ``score``, ``undocumented`` or app starts in seconds. Run it after
    ingesting; ``score`` builds and persists it the same way when it is missing (in a child process),
    and persists what else it built. Nothing is persisted twice for the same store generation and window.

    \b
    Example:
      blastwall prepare --as-of latest
    """
    import time

    from analyzer import api

    store = ctx_store(ctx)
    t = time.perf_counter()
    at, _ = api.anchor(store, as_of)
    report = api.prepare(store, as_of=at, window_days=window_days)
    report["seconds"] = time.perf_counter() - t
    if fmt == "json":
        import json

        click.echo(json.dumps(report, indent=2))
        return
    click.echo(f"analysis context: {report['context']} ({report['context_s']:.1f} s)")
    for name, secs in report["built"].items():
        click.echo(f"  {name}: {secs:.2f} s")
    click.echo(
        f"persisted to {report['path']}" if report["persisted"] else "already persisted: nothing to write"
    )


NO_EVIDENCE = 4
"""Exit status of an answer whose window holds no evidence for an account it covers: not a clean bill."""


def _record_reported_executions(ctx: click.Context, store: Any, results: list[dict[str, Any]]) -> None:
    """Changes a tool says it already ran (Custodian without --dryrun) go into the ledger as executions."""
    from analyzer.cli.common_governance import ledger_of
    from analyzer.governance.review import record_reported_executions

    done = record_reported_executions(store, ledger_of(ctx), results)
    if done["recorded"]:
        click.echo(
            f"recorded {done['recorded']} execution(s) a remediation tool reports it already ran, without a "
            "gate pass (blastwall review lists them)",
            err=True,
        )
    elif done["pending"]:
        click.echo(
            f"note: {done['pending']} proposal(s) a remediation tool reports it already ran are not recorded "
            f"as executions: {done['why']}",
            err=True,
        )


@main.command("undocumented")
@AS_OF_OPTION
@WINDOW_DAYS_OPTION
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

    store = ctx_store(ctx)
    at, anchored = api.anchor(store, as_of)
    found, rep = api.find_undocumented(store, as_of=at, window_days=window_days, anchored=anchored)
    stale = rep["freshness"]["stale"] or rep["freshness"]["newest_evidence"] is None
    if fmt == "json":  # written a row at a time: at L there are hundreds of thousands
        from analyzer.output import json_chunks

        for chunk in json_chunks(rep, "dependencies", found.rows()):
            click.echo(chunk, nl=False)
        click.echo()
        if stale:
            ctx.exit(NO_EVIDENCE)
        return
    say_freshness(rep["freshness"], fmt)
    click.echo(
        f"{rep['count']} undocumented observed dependenc(ies), {rep['window_days']} days to {rep['as_of']}"
        + (" (evidence missing for some accounts: see above)" if stale else "")
    )
    for d in found.rows():
        crit = d["dependants_max_criticality"] or "nothing documented depends on it"
        click.echo(
            f"  [{crit}] {d['consumer']} -> {d['provider']} ({', '.join(d['uses'])}; {d['events']} events, "
            f"last {d['last_seen']}): {d['why_undocumented']}"
        )
    if stale:
        ctx.exit(NO_EVIDENCE)


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

    store = ctx_store(ctx)
    r = store.get_document(api.RESULTS, proposal_id)
    if r is None:
        raise BadInput(f"proposal {proposal_id} has not been scored (blastwall score {proposal_id})")
    fresh = api.result_freshness(store, r)
    say_freshness(fresh, fmt)
    click.echo(to_json({**r, "freshness": fresh}) if fmt == "json" else explain_text(r))
