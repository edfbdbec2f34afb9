"""A CMDB kept as a spreadsheet, and an explicit resource -> CI mapping file.

CMDB CSV (header required; ``;`` separates list values)::

    ci_id,name,class,criticality,owner,depends_on,aws_arns
    fraud-detection,Fraud Detection,business_service,critical,fraud-platform,fraud-scoring,
    fraud-scoring,Fraud Scoring Engine,application,1 - most critical,fraud-platform,,arn:aws:iam::615294837560:role/fraud-scoring-engine

``class`` ``business_service`` (or ``service``) makes a business service; anything else a CI.
``criticality`` takes critical/high/medium/low or ServiceNow's "1 - most critical" … "4 - not critical".
Node ids are ``urn:cmdb-csv:<ci_id>``.

Mapping CSV (``resource,ci``): ``resource`` is an ARN (or any node id), ``ci`` a CI's node id
(``urn:…``), a ServiceNow sys_id or a CI name. Each ingest replaces the previous mapping.
"""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass, field
from pathlib import Path

from analyzer.errors import BadInput
from analyzer.graph.lease import writes
from analyzer.graph.schema import Batch, EdgeRow, NodeRow
from analyzer.graph.store import GraphStore
from connectors.cmdb import normalize_criticality

CMDB_SOURCE = "cmdb-csv"
MAPPING_SOURCE = "mapping"
CMDB_COLUMNS = ("ci_id", "name", "class", "criticality", "owner", "depends_on", "aws_arns")
REQUIRED = ("ci_id", "name")


def _rows(path: Path, required: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            header = [h.strip() for h in reader.fieldnames or []]
            missing = [c for c in required if c not in header]
            if missing:
                raise BadInput(
                    f"missing column(s) {', '.join(missing)}; the header is {', '.join(header) or 'empty'}",
                    file=str(path),
                    line=1,
                )
            return [
                (n, {k.strip(): (v or "").strip() for k, v in row.items() if k})
                for n, row in enumerate(reader, start=2)
            ]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise BadInput(f"cannot read CSV: {exc}", file=str(path)) from exc


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.split(";") if v.strip()]


def transform_cmdb(path: Path, *, seen: str) -> Batch:
    b = Batch(CMDB_SOURCE)
    for line, row in _rows(path, REQUIRED):
        if not row["ci_id"]:
            raise BadInput("empty ci_id", file=str(path), line=line)
        urn = f"urn:cmdb-csv:{row['ci_id']}"
        cls = row.get("class", "") or "application"
        kind = (
            "BusinessService"
            if cls.lower() in ("business_service", "service", "business service")
            else ("ConfigurationItem")
        )
        b.nodes.append(
            NodeRow(
                urn,
                kind,
                {
                    "name": row["name"],
                    "class": cls,
                    "criticality": normalize_criticality(row.get("criticality")),
                    "criticality_raw": row.get("criticality", ""),
                    "owned_by": row.get("owner") or None,
                    "aws_arns": _split(row.get("aws_arns", "")),
                },
                None,
                seen,
                seen,
            )
        )
        for dep in _split(row.get("depends_on", "")):
            b.stub(f"urn:cmdb-csv:{dep}", "ConfigurationItem")
            b.edges.append(
                EdgeRow(
                    urn,
                    "DEPENDS_ON",
                    f"urn:cmdb-csv:{dep}",
                    {"rel_type": "depends_on"},
                    first_seen=seen,
                    last_seen=seen,
                )
            )
    return b


@dataclass
class IngestReport:
    loaded: int = 0
    errors: list[str] = field(default_factory=list)


@writes("ingest cmdb csv")
def ingest_cmdb_csv(store: GraphStore, path: Path, *, seen: str) -> IngestReport:
    batch = transform_cmdb(Path(path), seen=seen)
    tag = time.time_ns() // 1000
    store.load(batch, update_tag=tag)
    store.cleanup(source=CMDB_SOURCE, account=None, update_tag=tag)
    return IngestReport(loaded=sum(1 for n in batch.nodes if not n.stub))


@writes("ingest cmdb mapping")
def ingest_mapping(store: GraphStore, path: Path) -> IngestReport:
    """Resolve each line's CI against the CIs in the store; a line that resolves to nothing is reported
    with its line number and skipped, the rest load."""
    report = IngestReport()
    graph = store.read_graph()
    by_key: dict[str, list[str]] = {}
    for n in graph.nodes:
        if n.kind in ("BusinessService", "ConfigurationItem"):
            by_key.setdefault(n.id, []).append(n.id)
            if n.props.get("sys_id"):
                by_key.setdefault(str(n.props["sys_id"]), []).append(n.id)
            if n.props.get("name"):
                by_key.setdefault(str(n.props["name"]).strip().lower(), []).append(n.id)
    known = {n.id: n.kind for n in graph.nodes}
    b = Batch(MAPPING_SOURCE)
    for line, row in _rows(Path(path), ("resource", "ci")):
        resource, ci = row["resource"], row["ci"]
        targets = by_key.get(ci) or by_key.get(ci.lower()) or []
        if not resource or len(set(targets)) != 1:
            why = "no CI" if not targets else f"{len(set(targets))} CIs"
            report.errors.append(f"{path}:{line}: {ci!r} matches {why}; line skipped")
            continue
        b.stub(resource, known.get(resource, "Resource"))
        b.stub(targets[0], known.get(targets[0], "ConfigurationItem"))
        b.edges.append(EdgeRow(resource, "BELONGS_TO", targets[0], {"method": "mapping-file"}))
        report.loaded += 1
    tag = time.time_ns() // 1000
    store.load(b, update_tag=tag)
    store.cleanup(source=MAPPING_SOURCE, account=None, update_tag=tag)
    return report
