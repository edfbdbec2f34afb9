"""The analysis context's per-process caches answer what they cache: a caller's subject made once is the
one ``_subject`` makes, the coverage index gives what reading every coverage document gives for every account, window and
source, and neither is persisted with the context."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from analyzer import api
from analyzer.demo import load_directory
from analyzer.graph.store import open_store
from analyzer.scoring.coverage import window_days
from tests.conftest import SAMPLE, SAMPLE_AS_OF

pytestmark = pytest.mark.integration


def test_caches_answer_what_they_cache(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "s"))
    assert not load_directory(store, SAMPLE, seen=SAMPLE_AS_OF)
    ctx = api.analysis_context(store)
    callers = [*sorted(ctx.principals)[:40], "urn:aws:service:lambda.amazonaws.com", "anonymous"]
    for arn in callers:
        first = ctx.subject(arn)
        assert first == ctx._subject(arn) and ctx.subject(arn) is first
    accounts = sorted({d.get("account") for d in ctx.coverage.values()} | {"999999999999"})
    end = datetime(2026, 5, 15, tzinfo=UTC)
    assert ctx.coverage, "the sample keeps CloudTrail and flow logs"
    for account in accounts:
        for days in (1, 7, 30, 90):
            for sources in (("cloudtrail",), ("flowlogs",), ("cloudtrail", "flowlogs")):
                start = end - timedelta(days=days)
                days_in = window_days(start, end)
                have = set().union(
                    *(
                        set(d.get("days", [])) & days_in
                        for d in ctx.coverage.values()
                        if d.get("account") == account and d.get("source") in sources
                    )
                )
                want = (len(have), len(days_in))  # every coverage document read, as the index must agree
                assert ctx.covered_days(account, start, end, sources) == want, (account, days, sources)
    state = pickle.loads(pickle.dumps(ctx, protocol=5)).__dict__
    assert "_subjects" not in state and "_coverage_days" not in state
