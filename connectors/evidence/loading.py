"""What every evidence connector does at the end: one atomic write of the usage edges, the endpoint
stubs, the widened coverage and the record of which files were ingested (so re-ingest is a no-op)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analyzer.graph.schema import Batch, EdgeRow, EdgeStream
from analyzer.graph.store import GraphStore
from connectors.evidence.coverage import COLLECTION as COVERAGE
from connectors.evidence.coverage import coverage_id, merge_days


@dataclass
class IngestReport:
    """What an evidence ingest did: files read, files skipped as already ingested, what was counted, and
    each file's error (the rest loaded)."""

    files: int = 0
    skipped_already_ingested: int = 0
    counted: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


INGESTED = "ingested_files"


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def ingested_digests(store: GraphStore) -> set[str]:
    return set(store.get_documents(INGESTED))


def load_evidence(
    store: GraphStore,
    source: str,
    stubs: Iterable[tuple[str, str, str | None]],
    edges: Iterable[EdgeRow],
    new_files: dict[str, dict[str, Any]],
    days: dict[tuple[str, str], set[str]],
    stream: tuple[EdgeStream, int] | None = None,
) -> int:
    """Write it all in one unit; returns the number of edges written. ``stream``: more edges, made as
    they are written, and how many it makes."""
    batch = Batch(source)
    for node_id, kind, account in stubs:
        batch.stub(node_id, kind, account)
    batch.edges.extend(edges)
    if stream is not None:
        batch.edge_stream, batch.edge_stream_rows = stream
    existing = store.get_documents(COVERAGE)
    coverage = {}
    for (account, region), covered in days.items():
        cid = coverage_id(source, account, region)
        coverage[cid] = merge_days(existing.get(cid), source, account, region, covered)
    batch.documents = {INGESTED: new_files, COVERAGE: coverage}
    store.load(batch, update_tag=time.time_ns() // 1000)
    return len(batch.edges) + (stream[1] if stream is not None else 0)


def evidence_files(paths: Iterable[Path | str], keep: Callable[[Path], bool] = lambda p: True) -> list[Path]:
    """The files to read: each path that is a file, and the files ``keep`` accepts under each directory
    (sorted, so the order of a load does not depend on the file system's)."""
    out: list[Path] = []
    for p in map(Path, paths):
        out += sorted(x for x in p.rglob("*") if x.is_file() and keep(x)) if p.is_dir() else [p]
    return out


def fold_edge(into: dict[Any, EdgeRow], key: Any, e: EdgeRow) -> EdgeRow:
    """Add one aggregated evidence edge to ``into``: a new key keeps ``e``; a known one adds its count and
    widens first and last seen. Returns the edge kept."""
    mine = into.get(key)
    if mine is None:
        into[key] = e
        return e
    mine.count += e.count
    mine.first_seen = min(str(mine.first_seen), str(e.first_seen))
    mine.last_seen = max(str(mine.last_seen), str(e.last_seen))
    return mine


def merge_part(agg: Any, part: Any) -> None:
    """One file's stubs, covered days and counts into the whole ingest's aggregate (the edges are folded
    by the caller: how two edges merge is the connector's)."""
    for node, got in part.stubs.items():
        agg.stubs.setdefault(node, got)
    for day_key, d in part.days.items():
        agg.days.setdefault(day_key, set()).update(d)
    agg.counted.update(part.counted)


def load_aggregate(
    store: GraphStore, source: str, agg: Any, new_files: dict[str, dict[str, Any]], report: IngestReport
) -> IngestReport:
    """The ingest's end: its counts into the report, and one write of what the new files held."""
    report.counted = dict(agg.counted)
    if new_files:
        stubs = [(node, kind, account) for node, (kind, account) in agg.stubs.items()]
        load_evidence(store, source, stubs, list(agg.edges.values()), new_files, agg.days)
    return report
