"""``blastwall``: a thin command line over the library, one module per command group.

Exit codes: 0 ok, 1 error, 2 bad input, 3 a gate says a human is needed. Each module registers its
commands on ``main`` when imported.
"""

from analyzer.cli import (  # noqa: F401
    app,
    audit,
    authority,
    azure,
    change_requests,
    governance,
    iam,
    ingest,
    kubernetes,
    network,
    scoring,
    serve,
)
from analyzer.cli.base import main, run

__all__ = ["main", "run"]
