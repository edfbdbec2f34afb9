"""The organization's authority: ``org init``, ``keys …`` and ``roles …`` (all signed ledger records)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from analyzer.cli.base import handled, main
from analyzer.cli.common_governance import KEY_DIR, ledger_of
from analyzer.errors import BadInput


@main.group()
def org() -> None:
    """The organization's root of authority (its fingerprint is what `audit verify --trust-root` checks).

    \b
    Example:
      blastwall org init --organization "ACME Financial" --admin dana --out trust-root.json
    """


@org.command("init")
@click.option("--organization", required=True, help="The organization's name.")
@click.option("--admin", required=True, help="The root identity: the first role administrator.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the trust-root file here (keep it in the organization's own repository).",
)
@KEY_DIR
@click.pass_context
@handled
def org_init(
    ctx: click.Context, organization: str, admin: str, out: Path | None, key_dir: Path | None
) -> None:
    """Start the ledger: the root identity (ADMIN, holding role-admin for ever), and the recorder that
    signs the ledger's head. Prints the root's fingerprint: that, not anything in the store, is what
    makes the ledger the organization's.

    \b
    Example:
      blastwall org init --organization "ACME Financial" --admin dana --out trust-root.json
      export BLASTWALL_TRUST_ROOT=$PWD/trust-root.json
    """
    from analyzer.governance.identities import init_org

    doc = init_org(ledger_of(ctx), organization=organization, admin=admin, key_dir=key_dir)
    if out:
        out.write_text(json.dumps(doc, indent=2) + "\n")
    click.echo(f"organization {organization}: root identity {admin}")
    click.echo(f"trust root {doc['fingerprint']}" + (f" (written to {out})" if out else ""))


@main.group()
def keys() -> None:
    """Signing identities (Ed25519). An identity holds no role until a role-admin grants one.

    \b
    Example:
      blastwall keys init --name priya
      blastwall roles grant priya change-advisory-board --as dana
    """


@keys.command("init")
@click.option("--name", required=True, help="The person's identity (e.g. their login).")
@click.option("--role", "roles", multiple=True, hidden=True)
@KEY_DIR
@click.pass_context
@handled
def keys_init(ctx: click.Context, name: str, roles: tuple[str, ...], key_dir: Path | None) -> None:
    """Create your private key (mode 0600; an existing key file is reused) and register the identity in
    the ledger, with no roles.

    \b
    Example:
      blastwall keys init --name priya
    """
    if roles:
        raise BadInput(
            "roles are granted, never claimed: ask a role administrator to run "
            f"`blastwall roles grant {name} {roles[0]} --as ADMIN`",
            path="--role",
        )
    from analyzer.governance.identities import register

    fpr = register(ledger_of(ctx), name, key_dir)
    click.echo(f"identity {name}, key {fpr} (no roles: a role-admin grants them)")


@keys.command("rotate")
@click.option("--name", required=True, help="Your identity.")
@KEY_DIR
@click.pass_context
@handled
def keys_rotate(ctx: click.Context, name: str, key_dir: Path | None) -> None:
    """Replace your key: the new key is signed into the ledger by the old one, which then signs nothing.

    \b
    Example:
      blastwall keys rotate --name priya
    """
    from analyzer.governance.identities import rotate_key

    click.echo(f"{name}: new key {rotate_key(ledger_of(ctx), name, key_dir)}")


@keys.command("revoke")
@click.argument("name")
@click.option("--as", "by", required=True, help="NAME itself, or a role-admin.")
@click.option("--reason", required=True, help="Why (e.g. the laptop holding it was lost).")
@KEY_DIR
@click.pass_context
@handled
def keys_revoke(ctx: click.Context, name: str, by: str, reason: str, key_dir: Path | None) -> None:
    """Revoke NAME's key: nothing it signs after this record counts.

    \b
    Example:
      blastwall keys revoke priya --as dana --reason "laptop lost"
    """
    from analyzer.governance.identities import revoke_key

    revoke_key(ledger_of(ctx), name, by=by, reason=reason, key_dir=key_dir)
    click.echo(f"{name}'s key is revoked")


@main.group()
def roles() -> None:
    """Roles, granted and revoked by a role administrator whose authority chains to the trust root.

    \b
    Example:
      blastwall roles grant priya change-advisory-board --as dana
    """


@roles.command("grant")
@click.argument("name")
@click.argument("role")
@click.option("--as", "admin", required=True, help="A holder of role-admin (the root, or one it granted).")
@click.option("--fingerprint", default=None, help="NAME's key fingerprint as NAME told you (checked).")
@KEY_DIR
@click.pass_context
@handled
def roles_grant(
    ctx: click.Context, name: str, role: str, admin: str, fingerprint: str | None, key_dir: Path | None
) -> None:
    """Grant ROLE to NAME (a signed ledger record naming NAME's current key). A NAME with no identity yet
    can act only through the app.

    \b
    Example:
      blastwall roles grant priya change-advisory-board --as dana --fingerprint sha256:3f1c…
      blastwall roles grant blastwall-app app --as dana
    """
    from analyzer.governance.identities import grant

    body = grant(ledger_of(ctx), name, role, admin=admin, key_dir=key_dir, fingerprint=fingerprint)
    key = body.get("fingerprint") or "no key yet: app only"
    click.echo(f"{name} ({key}) now holds {role}, granted by {admin}")


@roles.command("revoke")
@click.argument("name")
@click.argument("role")
@click.option("--as", "admin", required=True, help="A holder of role-admin.")
@KEY_DIR
@click.pass_context
@handled
def roles_revoke(ctx: click.Context, name: str, role: str, admin: str, key_dir: Path | None) -> None:
    """Revoke ROLE from NAME (from this record on; earlier decisions stay as they were made).

    \b
    Example:
      blastwall roles revoke sam change-advisory-board --as dana
    """
    from analyzer.governance.identities import revoke

    revoke(ledger_of(ctx), name, role, admin=admin, key_dir=key_dir)
    click.echo(f"{name} no longer holds {role}")


@roles.command("list")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_context
@handled
def roles_list(ctx: click.Context, fmt: str) -> None:
    """Every identity in the ledger: its key fingerprint and the roles it holds now.

    \b
    Example:
      blastwall roles list --format json
    """
    from analyzer.governance.identities import current, summary

    rows = summary(current(ledger_of(ctx)))
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        root = " (root)" if r["root"] else ""
        click.echo(
            f"  {r['name']:<24} {r['fingerprint'] or 'no key':<72} {', '.join(r['roles']) or '-'}{root}"
        )
