"""``blastwall``: a thin command line over the library. Exit codes: 0 ok, 1 error, 2 bad input,
3 a gate says a human is needed."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any

import click

from analyzer import __version__
from analyzer.errors import BlastwallError
from analyzer.graph.store import GraphStore, open_store, resolve_store_uri

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


def ctx_store(ctx: click.Context) -> GraphStore:
    obj = ctx.ensure_object(dict)
    if "store" not in obj:
        obj["store"] = open_store(obj.get("store_uri"))
        ctx.call_on_close(obj["store"].close)
    return obj["store"]


def report_errors(errors: list[str]) -> None:
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
@click.option(
    "--timings",
    is_flag=True,
    help="Print where the command's time and memory went (phases, seconds, peak MiB) to stderr.",
)
@click.version_option(__version__, prog_name="blastwall")
@click.pass_context
def main(ctx: click.Context, store_uri: str | None, timings: bool) -> None:
    """Blastwall: what a remediation will break, who depends on it, and who must authorize it.

    \b
    Example:
      blastwall ingest aws-snapshot data/samples/acme-fin/aws
      blastwall propose data/samples/acme-fin/findings
      blastwall score --format json
    """
    ctx.ensure_object(dict)["store_uri"] = resolve_store_uri(store_uri)
    from analyzer.graph import lease

    lease.REPORT = lambda line: click.echo(line, err=True)  # a second writer says whom it waits for
    from analyzer import notices

    notices.HOOK = lambda line: click.echo(f"note: {line}", err=True)  # what a command repaired on the way
    if timings or os.environ.get("BLASTWALL_TIMINGS"):
        from analyzer import timings as tm

        def done() -> None:
            tm.write()
            if timings:
                for line in tm.lines():
                    click.echo(line, err=True)

        ctx.call_on_close(done)


def run() -> None:
    """The ``blastwall`` program: ``main``, then out. A command that held an analysis context (millions of
    objects) leaves without the interpreter freeing them one by one — about ten seconds at a million
    nodes, after the output is complete and the store closed — once its streams are flushed."""
    try:
        main.main(standalone_mode=True)
        code: int = 0
    except SystemExit as exc:
        if isinstance(exc.code, str):
            click.echo(exc.code, err=True)
        code = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
    from analyzer.graph.current import holds_snapshots

    if not holds_snapshots():
        sys.exit(code)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def emit_results(payload: dict[str, Any], fmt: str) -> None:
    from analyzer.timings import phase

    with phase("write the output"):
        _emit_results(payload, fmt)


def _emit_results(payload: dict[str, Any], fmt: str) -> None:
    from analyzer.output import json_chunks, results_csv, results_table

    if fmt == "json":  # written a result at a time: 10,000 results are never one string
        head = {k: v for k, v in payload.items() if k != "results"}
        for part in json_chunks(head, "results", payload["results"]):
            sys.stdout.write(part)
        sys.stdout.write("\n")
        sys.stdout.flush()
    elif fmt == "csv":
        click.echo(results_csv(payload), nl=False)
    else:
        click.echo(results_table(payload))


AS_OF_OPTION = click.option(
    "--as-of",
    default=None,
    help="Anchor of the evidence window: ISO 8601, or 'latest' (the end of the newest evidence); default "
    "now, and the answer then says how old the evidence is.",
)
WINDOW_DAYS_OPTION = click.option(
    "--window-days", type=int, default=None, help="Evidence window (default: the tier policy's, 90)."
)


def say_freshness(f: dict[str, Any], fmt: str) -> None:
    """The evidence caveat, first: on stdout above a table, on stderr beside JSON or CSV; then, above a
    table, the window and what each account's evidence covers in it (JSON carries ``freshness``)."""
    from analyzer.scoring.freshness import headline, window_line

    line = headline(f)
    if line:
        click.echo(f"EVIDENCE: {line}", err=fmt != "table")
    if fmt == "table":
        click.echo(window_line(f))
