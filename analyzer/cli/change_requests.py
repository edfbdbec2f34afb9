"""``change-request`` (ServiceNow / Jira, and their approvals back into the ledger) and ``accounts``
(which ticket-system account is which identity)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from analyzer.cli.base import ctx_store, handled, main
from analyzer.cli.common_governance import KEY_DIR, TRUST_ROOT, ledger_of, trust_root_of


@main.group("change-request")
def change_request() -> None:
    """Change requests where approvers already work: ServiceNow change_request or a Jira issue; their
    approvals come back as decisions in the ledger. Credentials from the environment (docs/serve.md).

    \b
    Example:
      blastwall change-request open bw-87109988a633 --to servicenow
      blastwall change-request sync
    """


def _verified(ctx: click.Context, trust_root: str | None) -> object:
    from analyzer.governance.identities import verified

    rep = verified(ledger_of(ctx), trust_root_of(trust_root))
    if not rep.ok or rep.authority is None:
        click.echo(f"the ledger does not verify: {rep.problems[0] if rep.problems else '?'}", err=True)
        sys.exit(1)
    return rep.authority


@change_request.command("open")
@click.argument("proposal_id")
@click.option("--to", "to", type=click.Choice(["servicenow", "jira"]), required=True)
@click.option(
    "--link-base", default=None, help="The app's address, for a link back (e.g. https://blastwall.acme)."
)
@click.option("--by", "opened_by", default="blastwall", show_default=True, help="Who files it (recorded).")
@TRUST_ROOT
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_context
@handled
def open_cmd(
    ctx: click.Context,
    proposal_id: str,
    to: str,
    link_base: str | None,
    opened_by: str,
    trust_root: str | None,
    fmt: str,
) -> None:
    """File a change request for a scored proposal whose tier needs a human: the verdict, what it severs,
    who depends on it, the rollback plan and the binding digest of this analysis. Filing again for the same
    analysis returns the request already open.

    \b
    Example:
      export BLASTWALL_SERVICENOW_URL=https://acme.service-now.com BLASTWALL_SERVICENOW_USER=svc-blastwall
      export BLASTWALL_SERVICENOW_PASSWORD=... BLASTWALL_SERVICENOW_GROUPS="change-advisory-board=CAB"
      blastwall change-request open bw-87109988a633 --to servicenow --link-base https://blastwall.acme
    """
    from analyzer import api
    from analyzer.change_requests import open_request, system

    auth = _verified(ctx, trust_root)
    store = ctx_store(ctx)
    ticketing = system(to)
    try:
        rec = open_request(
            store,
            proposal_id,
            ticketing,
            policy=api.current_policy(store),
            acceptances=auth.acceptances,  # type: ignore[attr-defined]
            opened_by=opened_by,
            link_base=link_base,
        )
    finally:
        ticketing.close()
    if fmt == "json":
        click.echo(json.dumps(rec, indent=2))
        return
    again = " (already open for this analysis)" if rec.get("already_open") else ""
    click.echo(f"{proposal_id}: {rec['system']} {rec['number']}{again} {rec['url']}")


@change_request.command("sync")
@TRUST_ROOT
@click.option(
    "--app-key-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the app identity's key is (default $BLASTWALL_KEYS).",
)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_context
@handled
def sync_cmd(ctx: click.Context, trust_root: str | None, app_key_dir: Path | None, fmt: str) -> None:
    """Read every open change request back and record what a linked approver decided, as the app
    identity (it must hold 'app'). Run it on a schedule.

    \b
    Example:
      blastwall change-request sync --format json
    """
    from analyzer import api
    from analyzer.change_requests import COLLECTION, sync, system

    auth = _verified(ctx, trust_root)
    store = ctx_store(ctx)
    used = {r["system"] for r in store.get_documents(COLLECTION).values() if r.get("state") == "open"}
    systems = {name: system(name) for name in sorted(used)}
    try:
        done = sync(
            store,
            ledger_of(ctx),
            auth,  # type: ignore[arg-type]
            systems,
            policy=api.current_policy(store),
            app_key_dir=app_key_dir,
        )
    finally:
        for s in systems.values():
            s.close()
    if fmt == "json":
        click.echo(json.dumps([d.__dict__ for d in done], indent=2))
        return
    for d in done:
        click.echo(f"{d.proposal_id}  {d.outcome:<12} {d.detail}")
    if not done:
        click.echo("no open change request")


@change_request.command("list")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_context
@handled
def list_cmd(ctx: click.Context, fmt: str) -> None:
    """Every change request filed, and where it stands.

    \b
    Example:
      blastwall change-request list
    """
    from analyzer.change_requests import COLLECTION

    rows = sorted(ctx_store(ctx).get_documents(COLLECTION).values(), key=lambda r: r["opened_at"])
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        click.echo(f"{r['proposal_id']}  {r['system']:<10} {r['number']:<12} {r['state']:<8} {r['note']}")


@main.group()
def accounts() -> None:
    """Which ServiceNow or Jira account is which identity: linked by a role-admin in the ledger, so an
    approval read back from a change request counts as that identity's.

    \b
    Example:
      blastwall accounts link priya --servicenow priya.natarajan --as dana
    """


def _account(servicenow: str | None, jira: str | None) -> tuple[str, str]:
    """(system, account) from --servicenow / --jira: exactly one of them."""
    from analyzer.errors import BadInput

    if (servicenow is None) == (jira is None):
        raise BadInput("give exactly one of --servicenow USER_NAME or --jira ACCOUNT_ID")
    return ("servicenow", str(servicenow)) if servicenow is not None else ("jira", str(jira))


@accounts.command("link")
@click.argument("name")
@click.option("--servicenow", "sn", default=None, help="The ServiceNow user_name.")
@click.option("--jira", "jira", default=None, help="The Jira (Atlassian) accountId.")
@click.option("--as", "admin", required=True, help="A holder of role-admin.")
@KEY_DIR
@click.pass_context
@handled
def link_cmd(
    ctx: click.Context, name: str, sn: str | None, jira: str | None, admin: str, key_dir: Path | None
) -> None:
    """Link a ticket-system account to the identity NAME (a signed ledger record).

    \b
    Example:
      blastwall accounts link priya --servicenow priya.natarajan --as dana
      blastwall accounts link priya --jira 5b10ac8d82e05b22cc7d4ef5 --as dana
    """
    from analyzer.governance.identities import link_account

    system, account = _account(sn, jira)
    body = link_account(ledger_of(ctx), name, system, account, admin=admin, key_dir=key_dir)
    click.echo(f"{system} account {body['account']} is {body['name']}, linked by {admin}")


@accounts.command("unlink")
@click.option("--servicenow", "sn", default=None, help="The ServiceNow user_name.")
@click.option("--jira", "jira", default=None, help="The Jira (Atlassian) accountId.")
@click.option("--as", "admin", required=True, help="A holder of role-admin.")
@KEY_DIR
@click.pass_context
@handled
def unlink_cmd(
    ctx: click.Context, sn: str | None, jira: str | None, admin: str, key_dir: Path | None
) -> None:
    """Unlink a ticket-system account: its approvals count for nobody from this record on (decisions
    already recorded stay as they were made).

    \b
    Example:
      blastwall accounts unlink --servicenow priya.natarajan --as dana
    """
    from analyzer.governance.identities import unlink_account

    system, account = _account(sn, jira)
    unlink_account(ledger_of(ctx), system, account, admin=admin, key_dir=key_dir)
    click.echo(f"{system} account {account} is no longer linked")


@accounts.command("list")
@TRUST_ROOT
@click.pass_context
@handled
def accounts_list(ctx: click.Context, trust_root: str | None) -> None:
    """Every linked account, from the ledger verified against the trust root.

    \b
    Example:
      blastwall accounts list
    """
    auth = _verified(ctx, trust_root)
    for (system, account), name in sorted(auth.accounts.items()):  # type: ignore[attr-defined]
        click.echo(f"  {system:<10} {account:<32} {name}")
