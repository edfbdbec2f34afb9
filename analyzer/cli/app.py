"""The demo, the synthetic enterprise and the web app."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from analyzer.cli.base import emit_results, handled, main
from analyzer.cli.common_governance import TRUST_ROOT, trust_root_of
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
    from analyzer import api
    from analyzer.demo import DEMO_KEYS, TRUST_ROOT_FILE, run_demo

    obj = ctx.ensure_object(dict)
    uri = obj["store_uri"] if obj["store_uri"] != ".blastwall" else ".blastwall/demo"
    store, payload = run_demo(uri, samples)
    emit_results(payload, fmt)
    if fmt == "table":
        from analyzer.governance.review_text import review_lines

        click.echo("\nThe week before, reviewed (blastwall review --since 7d):")
        for line in review_lines(payload["review"]):
            click.echo(line)
    root = api.ledger_of(store).path.parent / TRUST_ROOT_FILE
    store.close()
    click.echo(
        f"\ndemo organization: Dana (CISO, role administrator) and Priya (change advisory board), keys in "
        f"{root.parent / DEMO_KEYS}; trust root {json.loads(root.read_text())['fingerprint']}\n"
        f"  export BLASTWALL_TRUST_ROOT={root}    # then: blastwall --store {uri} audit verify\n"
        f"the sample's evidence ends on 2026-05-14: pass --as-of (the demo used {payload['as_of']}) or "
        f"--as-of latest to score, explain or list undocumented dependencies against it; anchored at now, "
        "its window holds no evidence and every answer says so first",
        err=True,
    )
    if not no_app:
        _serve(uri, host, port, trust_root=str(root), app_key_dir=root.parent / DEMO_KEYS)


@main.command()
@click.option("--scale", type=click.Choice(["S", "M", "L"]), default="S", show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--overlapping-cidrs",
    is_flag=True,
    help="Every account's VPC is 10.0.0.0/16: the same private addresses in every account.",
)
@click.option(
    "--pods",
    type=click.IntRange(0, 1_000_000),
    default=0,
    show_default=True,
    help="Pods in EKS clusters (5,000 a cluster, one cluster an account), with Falco alerts on 1 in 100.",
)
@click.option(
    "--subscriptions",
    type=click.IntRange(0, 5_000),
    default=0,
    show_default=True,
    help="Azure subscriptions (20 VMs, 5 storage accounts each), with their logs and Defender recommendations.",
)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@handled
def synth(
    scale: str, seed: int, out: Path, overlapping_cidrs: bool, pods: int, subscriptions: int, fmt: str
) -> None:
    """Write a synthetic enterprise in the sample's real formats (deterministic for a seed).

    S: 6 accounts, loads and scores in seconds (the tests); M: 40 accounts, 2,000 proposals; L: 250
    accounts, about a million nodes, 10,000 proposals (bench/). OUT must be empty or absent; the
    evidence window's end is in OUT/synth.json ("as_of").

    \b
    Example:
      blastwall synth --scale S --seed 7 --out /tmp/synth-s
      blastwall synth --scale S --overlapping-cidrs --out /tmp/synth-reused
      blastwall synth --scale L --pods 100000 --out /tmp/synth-l-eks
      blastwall synth --scale S --subscriptions 3 --out /tmp/synth-s-azure
      blastwall --store /tmp/bw-synth ingest directory /tmp/synth-s
      blastwall --store /tmp/bw-synth score --all --as-of 2026-05-08T00:00:00Z
    """
    from analyzer.synth import generate

    try:
        counts = generate(scale, seed, out, overlapping_cidrs, pods, subscriptions)
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
    help="none: read-only; users: a users file (needs BLASTWALL_APP_SECRET); header: a proxy's signed identity.",
)
@click.option(
    "--users",
    "users_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The users file for --auth users (blastwall app-user add …).",
)
@click.option(
    "--allowed-hosts",
    default=None,
    help="Comma-separated Host names the app answers (default: the bind address, and the loopback names "
    "when bound to loopback); required when bound to all interfaces.",
)
@click.option(
    "--alb-arn",
    default=None,
    help="--auth header behind an AWS ALB: the load balancer's ARN (the token's signer).",
)
@click.option(
    "--alb-keys",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Directory of the ALB's public keys, one PEM file per key id (from public-keys.auth.elb.<region>.amazonaws.com).",
)
@click.option(
    "--oidc-jwks",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="--auth header with an OIDC proxy: the IdP's JWKS file.",
)
@click.option("--oidc-issuer", default=None, help="The expected `iss` of the OIDC token.")
@click.option("--oidc-audience", default=None, help="The expected `aud` of the OIDC token.")
@click.option("--user-claim", default="email", show_default=True, help="The token claim that names the user.")
@click.option(
    "--trust-plain-header",
    is_flag=True,
    help="--auth header with a plain X-Forwarded-User: only when nothing but the proxy can reach the app.",
)
@TRUST_ROOT
@click.option(
    "--app-key-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the app's own key (identity blastwall-app) is; default $BLASTWALL_APP_KEYS or ~/.blastwall/app-keys.",
)
@click.option(
    "--server",
    type=click.Choice(["waitress", "flask"]),
    default="waitress",
    show_default=True,
    help="waitress (a production WSGI server) or flask (Flask's development server, for debugging).",
)
@click.pass_context
@handled
def app(
    ctx: click.Context,
    server: str,
    host: str,
    port: int,
    auth: str,
    users_file: Path | None,
    allowed_hosts: str | None,
    alb_arn: str | None,
    alb_keys: Path | None,
    oidc_jwks: Path | None,
    oidc_issuer: str | None,
    oidc_audience: str | None,
    user_claim: str,
    trust_plain_header: bool,
    trust_root: str | None,
    app_key_dir: Path | None,
) -> None:
    """Serve the Dash app over the store. Decisions in the app are signed by the app's identity
    (blastwall-app, which a role-admin grants the `app` role) for the person it authenticated, and need
    that person's role in the ledger.

    \b
    Example:
      blastwall --store .blastwall/demo app --port 8050
      BLASTWALL_APP_SECRET=… blastwall app --auth users --users app-users.json --trust-root trust-root.json
      blastwall app --host 10.0.3.7 --allowed-hosts blastwall.acme.example --auth header \\
        --alb-arn arn:aws:elasticloadbalancing:us-east-1:482510973311:loadbalancer/app/bw/50dc6c495c0c9188 \\
        --alb-keys /etc/blastwall/alb-keys
    """
    from analyzer.app.proxy_identity import ProxyConfig

    proxy = None
    if alb_arn or alb_keys:
        proxy = ProxyConfig("alb", alb_arn=alb_arn, alb_keys=alb_keys, user_claim=user_claim)
    elif oidc_jwks:
        proxy = ProxyConfig(
            "oidc", jwks_file=oidc_jwks, issuer=oidc_issuer, audience=oidc_audience, user_claim=user_claim
        )
    elif trust_plain_header:
        proxy = ProxyConfig("plain")
    hosts = [h.strip() for h in allowed_hosts.split(",") if h.strip()] if allowed_hosts else None
    _serve(
        ctx.ensure_object(dict)["store_uri"],
        host,
        port,
        auth,
        users_file,
        allowed_hosts=hosts,
        proxy=proxy,
        trust_root=trust_root,
        app_key_dir=app_key_dir,
        server=server,
    )


@main.group("app-user")
def app_user() -> None:
    """Users of the web app (for --auth users): salted scrypt hashes in a JSON file. What they may decide
    comes from the ledger's roles, not from this file.

    \b
    Example:
      blastwall app-user add priya --users app-users.json
    """


@app_user.command("add")
@click.argument("name")
@click.option("--role", "roles", multiple=True, hidden=True)
@click.option("--users", "users_file", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from standard input instead of a prompt."
)
@handled
def app_user_add(name: str, roles: tuple[str, ...], users_file: Path, password_stdin: bool) -> None:
    """Add a user or set a new password (the password is asked for, never given on the command line);
    a new password ends the user's sessions.

    \b
    Example:
      blastwall app-user add priya --users app-users.json
    """
    from analyzer.app.auth import add_user
    from analyzer.governance.signing import check_name

    if roles:
        raise BadInput(
            f"app users hold no roles of their own: a role-admin grants them in the ledger "
            f"(blastwall roles grant {name} {roles[0]} --as ADMIN)",
            path="--role",
        )
    check_name(name)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    add_user(users_file, name, password)
    click.echo(f"{name} written to {users_file}")


@app_user.command("remove")
@click.argument("name")
@click.option("--users", "users_file", type=click.Path(dir_okay=False, path_type=Path), required=True)
@handled
def app_user_remove(name: str, users_file: Path) -> None:
    """Remove a user; their sessions end at once.

    \b
    Example:
      blastwall app-user remove sam --users app-users.json
    """
    from analyzer.app.auth import remove_user

    remove_user(users_file, name)
    click.echo(f"{name} removed from {users_file}; their sessions have ended")


def _serve(
    uri: str,
    host: str,
    port: int,
    auth: str = "none",
    users_file: Path | None = None,
    *,
    allowed_hosts: list[str] | None = None,
    proxy: Any = None,
    trust_root: str | None = None,
    app_key_dir: Path | None = None,
    server: str = "waitress",
) -> None:
    try:
        from analyzer.app import create_app
        from analyzer.app.auth import default_allowed_hosts
    except ImportError as exc:
        raise BlastwallError(f"the app needs the [app] extra: pip install 'blastwall[app]' ({exc})") from exc
    app = create_app(
        uri,
        auth,
        users_file,
        allowed_hosts=allowed_hosts or default_allowed_hosts(host),
        proxy=proxy,
        trust_root=trust_root_of(trust_root),
        app_key_dir=app_key_dir,
    )
    click.echo(f"serving Blastwall on http://{host}:{port}/ (Ctrl-C to stop)")
    if server == "waitress":
        import waitress

        waitress.serve(app.server, host=host, port=port, threads=8, ident="blastwall")
    else:
        app.run(host=host, port=port, debug=False)
