"""The ledger itself: ``audit verify``, ``anchor``, ``checkpoint``, ``export``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from analyzer.cli.base import handled, main
from analyzer.cli.common_governance import ANCHOR, TRUST_ROOT, ledger_of, trust_root_of


@main.group()
def audit() -> None:
    """The tamper-evident ledger of decisions.

    \b
    Example:
      blastwall audit verify
    """


@audit.command("verify")
@TRUST_ROOT
@ANCHOR
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_context
@handled
def audit_verify(ctx: click.Context, trust_root: str | None, anchors: tuple[str, ...], fmt: str) -> None:
    """Replay every record: its hash chain, its signature by the actor it names, and that the actor held
    the role it needed at that point (roles replayed from grants that chain to the trust root); then the
    signed head and every anchored head. Names the first record that does not count (exit 1).

    \b
    Example:
      blastwall audit verify --trust-root trust-root.json --anchor s3://acme-ledger-witness/blastwall
    """
    from analyzer.governance.ledger import verify

    ledger = ledger_of(ctx, anchors)
    rep = verify(ledger.path, trust_root_of(trust_root), ledger.witnesses)
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
    """Chain a checkpoint by the recorder now (it also checks, and covers, whole records a stopped writer
    left past the signed head).

    \b
    Example:
      blastwall audit checkpoint
    """
    rec = ledger_of(ctx).checkpoint()
    click.echo(f"checkpoint at record {rec['seq']} covering up to {rec['body']['upto']}")


@audit.command("anchor")
@click.option(
    "--to",
    "targets",
    multiple=True,
    metavar="DIR|s3://BUCKET/PREFIX",
    help="Where to write the signed head (repeatable; default $BLASTWALL_ANCHOR). In a bucket with S3 "
    "Object Lock the object gets a retention.",
)
@TRUST_ROOT
@click.pass_context
@handled
def audit_anchor(ctx: click.Context, targets: tuple[str, ...], trust_root: str | None) -> None:
    """Write the ledger's signed head to a witness outside the store, after checking the ledger verifies:
    later, `audit verify --anchor` fails if the ledger does not extend every anchored head (cut, rolled
    back or forked). Set $BLASTWALL_ANCHOR to anchor every decision as it is made.

    \b
    Example:
      blastwall audit anchor --to s3://acme-ledger-witness/blastwall --trust-root trust-root.json
      blastwall audit anchor --to /mnt/worm/blastwall
    """
    from analyzer.errors import BlastwallError
    from analyzer.governance.ledger import verify

    ledger = ledger_of(ctx, targets)
    rep = verify(ledger.path, trust_root_of(trust_root), ledger.witnesses)
    if not rep.ok:
        raise BlastwallError("the ledger does not verify, so its head is not anchored: " + rep.problems[0])
    for where in ledger.anchor(None, rep.root):
        click.echo(f"anchored head {rep.records} at {where}")


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
@TRUST_ROOT
@click.pass_context
@handled
def audit_export(ctx: click.Context, fmt: str, output: Path | None, trust_root: str | None) -> None:
    """One change record per decision (who, under which authority, knowing what), for auditors.

    \b
    Example:
      blastwall audit export --format html -o change-records.html
    """
    from analyzer.governance.review import export

    text = export(ledger_of(ctx), fmt, trust_root_of(trust_root))
    if output:
        output.write_text(text)
        click.echo(f"wrote {output}")
    else:
        click.echo(text, nl=False)
