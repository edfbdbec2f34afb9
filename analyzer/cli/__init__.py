"""``blastwall``: a thin command line over the library, one module per command group.

Exit codes: 0 ok, 1 error, 2 bad input, 3 a gate says a human is needed. Each module registers its
commands on ``main`` when imported.
"""

from analyzer.cli import app, audit, authority, governance, iam, ingest, network, scoring, serve  # noqa: F401
from analyzer.cli.base import main, run

__all__ = ["main", "run"]
