"""Options and helpers the governance command groups share: the ledger, keys, trust root, witnesses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

KEY_DIR = click.option(
    "--key-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where your private key lives (default $BLASTWALL_KEYS or ~/.blastwall/keys).",
)
TRUST_ROOT = click.option(
    "--trust-root",
    "trust_root",
    default=None,
    metavar="FPR|FILE",
    help="The organization's root fingerprint (sha256:…) or the file `org init --out` wrote, kept outside "
    "the store. Default $BLASTWALL_TRUST_ROOT.",
)
ANCHOR = click.option(
    "--anchor",
    "anchors",
    multiple=True,
    metavar="DIR|s3://BUCKET/PREFIX",
    help="A witness of signed heads (repeatable). Default: $BLASTWALL_ANCHOR (comma-separated).",
)


def ledger_of(ctx: click.Context, anchors: tuple[str, ...] = ()) -> Any:
    from analyzer.governance import anchors as anchoring
    from analyzer.governance.ledger import Ledger, ledger_path_for

    return Ledger(
        ledger_path_for(ctx.ensure_object(dict)["store_uri"]), witnesses=anchoring.configured(anchors)
    )


def trust_root_of(value: str | None) -> Any:
    from analyzer.governance.trust_root import resolve

    return resolve(value)
