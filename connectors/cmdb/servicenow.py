"""ServiceNow CMDB: the Table API (live, or its exports: ``{"result": [...]}`` per table) -> CIs and
relationships.

Tables: ``cmdb_ci_service`` (business services), ``cmdb_ci`` (all CIs), ``cmdb_rel_ci`` (relationships,
parent -> child) and ``cmdb_rel_type`` (``"Depends on::Used by"`` …). Node ids are
``urn:servicenow:<sys_id>``. A relationship means the parent depends on the child, the way ServiceNow
draws "Depends on", "Runs on" and "Contains".
"""

from __future__ import annotations

import base64
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analyzer.errors import BadInput
from analyzer.graph.lease import writes
from analyzer.graph.schema import Batch, EdgeRow, NodeRow
from analyzer.graph.store import GraphStore
from analyzer.inputs import guard
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


PAGE_SIZE = 1000
MAX_RETRIES = 5


def _credentials() -> tuple[dict[str, str], str]:
    """HTTP headers for the Table API and a description of who we are (never the secret)."""
    token = os.environ.get("SERVICENOW_TOKEN")
    if token:
        return {"Authorization": f"Bearer {token}"}, "an OAuth bearer token (SERVICENOW_TOKEN)"
    user = os.environ.get("SERVICENOW_USER")
    password = os.environ.get("SERVICENOW_PASSWORD", "")
    if not user:
        raise BadInput("live ServiceNow needs SERVICENOW_USER and SERVICENOW_PASSWORD, or SERVICENOW_TOKEN")
    basic = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {basic}"}, f"user {user!r}"


def get_table(
    instance: str, table: str, *, sleep: Callable[[float], None] = time.sleep
) -> list[dict[str, Any]]:
    """Every record of ``table`` through the Table API, paged with sysparm_offset/sysparm_limit.

    429 and 5xx are retried with exponential backoff (``Retry-After`` honoured); 401/403 stop at once with
    a message naming the instance and the user.
    """
    headers, who = _credentials()
    headers["Accept"] = "application/json"
    base = instance.rstrip("/")
    rows: list[dict[str, Any]] = []
    offset = 0
    while True:
        query = urllib.parse.urlencode(
            {"sysparm_limit": PAGE_SIZE, "sysparm_offset": offset, "sysparm_exclude_reference_link": "false"}
        )
        url = f"{base}/api/now/table/{table}?{query}"
        page = _fetch(url, headers, who, instance, sleep)
        batch = page.get("result")
        if not isinstance(batch, list):
            raise BadInput("Table API answer without a result list", file=url, path="$.result")
        rows.extend(batch)
        if len(batch) < PAGE_SIZE:
            return rows
        offset += PAGE_SIZE


def _fetch(url: str, headers: dict[str, str], who: str, instance: str, sleep: Callable[[float], None]) -> Any:
    for attempt in range(MAX_RETRIES + 1):
        request = urllib.request.Request(url, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            if exc.code in (401, 403):
                raise BadInput(
                    f"ServiceNow refused {who} ({exc.code} {exc.reason}); nothing was written", file=instance
                ) from exc
            if (exc.code != 429 and exc.code < 500) or attempt == MAX_RETRIES:
                raise BadInput(f"ServiceNow answered {exc.code} {exc.reason}", file=url) from exc
            retry_after = exc.headers.get("Retry-After") if exc.headers else None
            delay = (
                float(retry_after) if retry_after and retry_after.isdigit() else min(30.0, 0.5 * 2**attempt)
            )
            sleep(delay)
        except urllib.error.URLError as exc:
            if attempt == MAX_RETRIES:
                raise BadInput(f"cannot reach ServiceNow: {exc.reason}", file=instance) from exc
            sleep(min(30.0, 0.5 * 2**attempt))
        except json.JSONDecodeError as exc:
            raise BadInput(f"Table API answer is not JSON: {exc.msg}", file=url) from exc
    raise AssertionError("unreachable")


def get_live(
    instance: str, *, sleep: Callable[[float], None] = time.sleep
) -> dict[str, tuple[list[dict[str, Any]], str]]:
    """The same shape as ``get_export``, read live from an instance."""
    return {
        t: (get_table(instance, t, sleep=sleep), f"{instance.rstrip('/')}/api/now/table/{t}") for t in TABLES
    }


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
        for key in (
            "name",
            "sys_class_name",
            "busines_criticality",
            "business_criticality",
            "object_id",
            "correlation_id",
            "short_description",
            "operational_status",
        ):
            if not isinstance(r.get(key), str | None):
                raise BadInput(
                    f"{key} must be text, found {type(r.get(key)).__name__}",
                    file=export["cmdb_ci"][1],
                    path=f"$.result[sys_id={sys_id}].{key}",
                )
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


@writes("ingest cmdb servicenow")
def ingest_servicenow(store: GraphStore, source: str, *, seen: str) -> IngestReport:
    """Ingest a directory of exports or a live instance (``https://<name>.service-now.com``). Everything is
    read before anything is written; the whole CMDB is one scope, replaced atomically, then the previous
    version's leftovers are cleaned up."""
    live = source.startswith(("http://", "https://"))
    export = get_live(source) if live else get_export(Path(source))
    with guard(source):
        batch = transform(export, seen=seen)
        batch.validate()
    tag = time.time_ns() // 1000
    store.load(batch, update_tag=tag)
    store.cleanup(source=SOURCE, account=None, update_tag=tag)
    return IngestReport(cis=sum(1 for n in batch.nodes if not n.stub), relationships=len(batch.edges))
