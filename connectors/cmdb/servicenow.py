"""ServiceNow CMDB: Table API exports (``{"result": [...]}`` per table) -> CIs and relationships.

Tables: ``cmdb_ci_service`` (business services), ``cmdb_ci`` (all CIs), ``cmdb_rel_ci`` (relationships,
parent -> child) and ``cmdb_rel_type`` (``"Depends on::Used by"`` …). Node ids are
``urn:servicenow:<sys_id>``. A relationship means the parent depends on the child, the way ServiceNow
draws "Depends on", "Runs on" and "Contains".
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analyzer.errors import BadInput
from analyzer.graph.schema import Batch, EdgeRow, NodeRow
from analyzer.graph.store import GraphStore
from connectors.cmdb import normalize_criticality
from connectors.jsonfile import load_json, require

SOURCE = "servicenow"
TABLES = ("cmdb_ci_service", "cmdb_ci", "cmdb_rel_type", "cmdb_rel_ci")


def ci_urn(sys_id: str) -> str:
    return f"urn:servicenow:{sys_id}"


def _ref(value: Any) -> str | None:
    """A reference field: ``{"link", "value"}`` (default), a bare sys_id, or ``display_value`` text."""
    if isinstance(value, dict):
        return value.get("value") or None
    return str(value) if value else None


def get_export(directory: Path) -> dict[str, tuple[list[dict[str, Any]], str]]:
    """Read ``<table>.json`` files from ``directory``; missing optional tables read as empty."""
    directory = Path(directory)
    if not directory.is_dir():
        raise BadInput("not a directory of Table API exports (<table>.json)", file=str(directory))
    out: dict[str, tuple[list[dict[str, Any]], str]] = {}
    for table in TABLES:
        f = directory / f"{table}.json"
        if not f.exists():
            out[table] = ([], str(f))
            continue
        data = load_json(f)
        rows = require(data, "result", file=str(f), path="$", types=list)
        out[table] = (rows, str(f))
    if not out["cmdb_ci"][0] and not out["cmdb_ci_service"][0]:
        raise BadInput("neither cmdb_ci.json nor cmdb_ci_service.json holds any record", file=str(directory))
    return out


def transform(export: dict[str, tuple[list[dict[str, Any]], str]], *, seen: str) -> Batch:
    b = Batch(SOURCE)
    cis: dict[str, dict[str, Any]] = {}
    service_ids = set()
    for table in ("cmdb_ci", "cmdb_ci_service"):
        rows, file = export[table]
        for i, r in enumerate(rows):
            sys_id = require(r, "sys_id", file=file, path=f"$.result[{i}]", types=str)
            cls = r.get("sys_class_name") or table
            if table == "cmdb_ci_service" or str(cls).startswith("cmdb_ci_service"):
                service_ids.add(sys_id)
            cis[sys_id] = r
    for sys_id, r in cis.items():
        raw = r.get("busines_criticality") or r.get("business_criticality") or ""
        props = {
            "sys_id": sys_id,
            "name": r.get("name"),
            "class": r.get("sys_class_name"),
            "criticality": normalize_criticality(raw),
            "criticality_raw": raw,
            "owned_by": _ref(r.get("owned_by")),
            "support_group": _ref(r.get("support_group")),
            "object_id": r.get("object_id") or None,
            "correlation_id": r.get("correlation_id") or None,
            "operational_status": r.get("operational_status"),
            "description": r.get("short_description") or None,
        }
        kind = "BusinessService" if sys_id in service_ids else "ConfigurationItem"
        b.nodes.append(NodeRow(ci_urn(sys_id), kind, props, None, seen, seen))
    rel_types = {}
    rows, file = export["cmdb_rel_type"]
    for i, r in enumerate(rows):
        rel_types[require(r, "sys_id", file=file, path=f"$.result[{i}]", types=str)] = r.get("name") or ""
    rows, file = export["cmdb_rel_ci"]
    for i, r in enumerate(rows):
        where = f"$.result[{i}]"
        parent = _ref(require(r, "parent", file=file, path=where))
        child = _ref(require(r, "child", file=file, path=where))
        rtype = _ref(r.get("type"))
        if not parent or not child:
            raise BadInput("relationship without parent or child", file=file, path=where)
        for end in (parent, child):
            if end not in cis:
                b.stub(ci_urn(end), "ConfigurationItem")
        b.edges.append(
            EdgeRow(
                ci_urn(parent),
                "DEPENDS_ON",
                ci_urn(child),
                {"rel_type": rel_types.get(rtype or "", rtype or "unknown"), "sys_id": r.get("sys_id")},
                first_seen=seen,
                last_seen=seen,
            )
        )
    return b


@dataclass
class IngestReport:
    cis: int = 0
    relationships: int = 0
    errors: list[str] = field(default_factory=list)


def ingest_servicenow(store: GraphStore, source: str, *, seen: str) -> IngestReport:
    """Ingest a directory of exports. The whole CMDB is one scope: it is replaced atomically, then the
    previous version's leftovers are cleaned up."""
    if source.startswith(("http://", "https://")):
        raise BadInput(
            "live Table API collection is not available in this version; export the tables "
            "(cmdb_ci_service, cmdb_ci, cmdb_rel_ci, cmdb_rel_type) as JSON and pass the directory",
            file=source,
        )
    export = get_export(Path(source))
    batch = transform(export, seen=seen)
    tag = time.time_ns() // 1000
    store.load(batch, update_tag=tag)
    store.cleanup(source=SOURCE, account=None, update_tag=tag)
    return IngestReport(cis=sum(1 for n in batch.nodes if not n.stub), relationships=len(batch.edges))
