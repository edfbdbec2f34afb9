"""The demo, the synthetic enterprise and the web app."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from analyzer.cli.base import emit_results, handled, main
from analyzer.errors import BadInput, BlastwallError


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
    emit_results(payload, fmt)
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
