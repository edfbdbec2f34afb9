"""What scoring builds on first use, built ahead: so the structures are in the persisted analysis
context before a batch forks its workers (``blastwall prepare``), not built on one core while they wait."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from analyzer.scoring.assume import principals_by_account
from analyzer.scoring.context import Context
from analyzer.scoring.impact import ci_accounts
from analyzer.scoring.network_change import prepared
from analyzer.scoring.propagation import build_graphs
from analyzer.scoring.service_trust import all_workloads


def _index_documents(ctx: Context) -> Callable[[], object]:
    indexed = getattr(ctx.network_docs, "indexed", None)
    return indexed if indexed is not None else lambda: None  # a plain mapping (tests) has no index


def warm(ctx: Context, start: datetime, end: datetime) -> dict[str, float]:
    """Build every per-context structure the change kinds use, for the evidence window ``start``-``end``;
    returns the seconds each took (next to none for what was already built)."""
    took: dict[str, float] = {}
    for name, build in (
        ("network model and flow index", lambda: prepared(ctx)),
        ("index of security groups and interfaces", _index_documents(ctx)),
        ("impact propagation graphs", lambda: build_graphs(ctx, start, end)),
        ("principals by account", lambda: principals_by_account(ctx)),
        ("workloads by role", lambda: all_workloads(ctx)),
        ("accounts of each CI", lambda: ci_accounts(ctx)),
    ):
        t = time.perf_counter()
        build()
        took[name] = time.perf_counter() - t
    return took
