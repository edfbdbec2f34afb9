"""``serve`` (the HTTP API for remediation pipelines) and ``token`` (its API tokens, in the ledger)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from analyzer.cli.base import handled, main
from analyzer.cli.common_governance import KEY_DIR, TRUST_ROOT, ledger_of, trust_root_of
from analyzer.errors import BadInput


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@TRUST_ROOT
@click.option(
    "--as-of",
    default=None,
    help="Anchor of the evidence window proposals are scored at: 'latest' (the end of the newest evidence) "
    "or ISO 8601; default now.",
)
@click.option(
    "--score-wait",
    default=1.0,
    show_default=True,
    type=click.FloatRange(0, 30),
    help="Seconds a submission waits for its scores before answering 202 with where to ask.",
)
@click.option(
    "--reverify-every",
    default=300.0,
    show_default=True,
    type=click.FloatRange(1, 86400),
    help="Seconds between whole verifications of the ledger in the background (each call verifies only "
    "the records written since the last one).",
)
@click.option(
    "--change-requests",
    "file_with",
    type=click.Choice(["servicenow", "jira"]),
    default=None,
    help="File a change request there for every submitted proposal whose tier needs a human "
    "(credentials from the environment: docs/serve.md).",
)
@click.option("--link-base", default=None, help="The app's address, for the change requests' link back.")
@click.option("--openapi", is_flag=True, help="Print the OpenAPI document and exit.")
@click.pass_context
@handled
def serve(
    ctx: click.Context,
    host: str,
    port: int,
    trust_root: str | None,
    as_of: str | None,
    score_wait: float,
    reverify_every: float,
    file_with: str | None,
    link_base: str | None,
    openapi: bool,
) -> None:
    """Serve the HTTP API over the store: submit proposals (any format `propose` reads, or an EventBridge
    event carrying Security Hub findings), read scores, ask the gate, report executions. Callers
    authenticate with API tokens (`blastwall token issue`); every call is written to api-calls.jsonl
    beside the ledger. See docs/serve.md.

    \b
    Example:
      export BLASTWALL_TRUST_ROOT=trust-root.json
      blastwall --store .blastwall/prod serve --port 8080 --as-of latest
    """
    from analyzer.serve.api import create_api, openapi_document

    if openapi:
        click.echo(json.dumps(openapi_document(), indent=2))
        return
    root = trust_root_of(trust_root)
    if root is None:
        raise BadInput(
            "serve answers only from a ledger verified against the organization's trust root: give "
            "--trust-root FPR|FILE or set $BLASTWALL_TRUST_ROOT",
            path="--trust-root",
        )
    if file_with:
        from analyzer.change_requests import system

        system(file_with).close()  # its settings are read now: a missing one stops serve before it starts
    import uvicorn

    uri = ctx.ensure_object(dict)["store_uri"]
    app = create_api(
        str(uri),
        root,
        as_of=as_of,
        score_wait=score_wait,
        ledger=ledger_of(ctx),
        reverify_every=reverify_every,
        file_with=file_with,
        link_base=link_base,
    )
    click.echo(f"serving {uri} on http://{host}:{port} (ready when /readyz says so)", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)


@main.group()
def token() -> None:
    """API tokens for `blastwall serve`: issued and revoked as signed ledger records.

    \b
    Example:
      blastwall token issue custodian-bot --scope propose --scope gate --expires 90d --as dana
    """


@token.command("issue")
@click.argument("name")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    required=True,
    type=click.Choice(["propose", "read", "gate"]),
    help="What the token may do (repeat): propose, read, gate (ask the gate and report executions).",
)
@click.option(
    "--expires", default="90d", show_default=True, help="A duration (90d, 12h) or an ISO 8601 time."
)
@click.option("--as", "admin", required=True, help="A holder of role-admin.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@KEY_DIR
@click.pass_context
@handled
def token_issue(
    ctx: click.Context,
    name: str,
    scopes: tuple[str, ...],
    expires: str,
    admin: str,
    fmt: str,
    key_dir: Path | None,
) -> None:
    """Issue a token acting for the identity NAME. The token is printed once, here: the ledger keeps only
    its digest. Give it to the pipeline as a secret (e.g. AWS Secrets Manager), never in a file in git.

    \b
    Example:
      blastwall token issue custodian-bot --scope propose --scope gate --expires 90d --as dana
    """
    from analyzer.governance.tokens import issue
    from analyzer.timeutil import later_than, now

    at = now()
    tok, body = issue(
        ledger_of(ctx),
        name,
        list(scopes),
        expires=later_than(expires, at, field="--expires"),
        admin=admin,
        key_dir=key_dir,
        at=at,
    )
    if fmt == "json":
        click.echo(json.dumps({k: v for k, v in body.items() if k != "sha256"} | {"token": tok.bearer}))
        return
    click.echo(tok.bearer)
    click.echo(
        f"token {tok.token_id} for {body['name']} ({', '.join(body['scopes'])}), expires {body['expires']}; "
        "shown once: the ledger keeps only its digest",
        err=True,
    )


@token.command("revoke")
@click.argument("token_id")
@click.option("--as", "by", required=True, help="A holder of role-admin, or the identity the token acts for.")
@KEY_DIR
@click.pass_context
@handled
def token_revoke(ctx: click.Context, token_id: str, by: str, key_dir: Path | None) -> None:
    """Revoke a token: from this record on it admits no one (a running `serve` sees it at its next call).

    \b
    Example:
      blastwall token revoke 3f9a0c12d4e5 --as dana
    """
    from analyzer.governance.tokens import revoke

    revoke(ledger_of(ctx), token_id, by=by, key_dir=key_dir)
    click.echo(f"token {token_id} revoked by {by}")


@token.command("list")
@TRUST_ROOT
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_context
@handled
def token_list(ctx: click.Context, trust_root: str | None, fmt: str) -> None:
    """Every token the ledger holds (never a secret: it has none), from the ledger verified against the
    trust root.

    \b
    Example:
      blastwall token list --format json
    """
    from analyzer.governance.identities import verified
    from analyzer.governance.tokens import listed

    rep = verified(ledger_of(ctx), trust_root_of(trust_root))
    if not rep.ok or rep.authority is None:
        click.echo(f"the ledger does not verify: {rep.problems[0] if rep.problems else '?'}", err=True)
        sys.exit(1)
    rows = listed(rep.authority)
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        state = f"revoked by {r['revoked']['by']}" if r["revoked"] else f"expires {r['expires']}"
        click.echo(f"  {r['token_id']}  {r['name']:<20} {','.join(r['scopes']):<20} {state}")
