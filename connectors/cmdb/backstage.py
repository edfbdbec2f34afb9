"""Backstage catalog files (multi-document YAML) -> CIs and documented dependencies.

Entities of kind Component, System, Resource, API and Group become CIs ``urn:backstage:<kind>:<ns>/<name>``.
``spec.dependsOn`` and ``spec.dependencyOf`` become DEPENDS_ON; a component depends on nothing through its
``system``, but the system depends on its components. Criticality comes from the annotation
``blastwall.io/criticality`` (Backstage has no standard field), else ``unknown``. Cloud resources map to an
entity through the annotation ``blastwall.io/aws-arns`` (comma-separated ARNs).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analyzer.errors import BadInput
from analyzer.graph.lease import writes
from analyzer.graph.schema import Batch, EdgeRow, NodeRow
from analyzer.graph.store import GraphStore
from analyzer.inputs import guard, load_yaml
from connectors.cmdb import normalize_criticality

SOURCE = "backstage"
KINDS = {"component", "system", "resource", "api", "group", "domain"}
ARN_ANNOTATION = "blastwall.io/aws-arns"


def entity_ref(ref: str, default_kind: str, default_ns: str = "default") -> str:
    """``[kind:][namespace/]name`` -> ``urn:backstage:<kind>:<ns>/<name>`` (lower-cased, as Backstage compares).

    >>> entity_ref("resource:payments/ledger-db", "component")
    'urn:backstage:resource:payments/ledger-db'
    """
    kind, _, rest = ref.rpartition(":") if ":" in ref else (default_kind, "", ref)
    ns, _, name = rest.rpartition("/") if "/" in rest else (default_ns, "", rest)
    return f"urn:backstage:{(kind or default_kind).lower()}:{(ns or default_ns).lower()}/{name.lower()}"


def get_documents(paths: list[Path]) -> list[tuple[dict[str, Any], str, int]]:
    out = []
    for p in paths:
        files = sorted(Path(p).rglob("*.y*ml")) if Path(p).is_dir() else [Path(p)]
        for f in files:
            docs = load_yaml(f.read_bytes(), str(f), all_documents=True)
            for i, d in enumerate(docs):
                if isinstance(d, dict):
                    out.append((d, str(f), i))
    return out


def transform(docs: list[tuple[dict[str, Any], str, int]], *, seen: str) -> Batch:
    b = Batch(SOURCE)
    for d, file, i in docs:
        kind = str(d.get("kind", "")).lower()
        if kind not in KINDS:
            continue
        meta = d.get("metadata") or {}
        if not meta.get("name"):
            raise BadInput("entity without metadata.name", file=file, path=f"document {i}.metadata.name")
        ns = meta.get("namespace", "default")
        urn = entity_ref(f"{kind}:{ns}/{meta['name']}", kind)
        spec = d.get("spec") or {}
        ann = meta.get("annotations") or {}
        arns = [a.strip() for a in str(ann.get(ARN_ANNOTATION, "")).split(",") if a.strip()]
        props = {
            "name": meta.get("title") or meta["name"],
            "class": f"backstage:{kind}",
            "criticality": normalize_criticality(ann.get("blastwall.io/criticality")),
            "owned_by": spec.get("owner"),
            "lifecycle": spec.get("lifecycle"),
            "aws_arns": arns,
        }
        b.nodes.append(
            NodeRow(
                urn, "BusinessService" if kind == "system" else "ConfigurationItem", props, None, seen, seen
            )
        )
        for dep in _refs(spec, "dependsOn", file, i):
            target = entity_ref(dep, "component", ns)
            b.stub(target, "ConfigurationItem")
            b.edges.append(
                EdgeRow(urn, "DEPENDS_ON", target, {"rel_type": "dependsOn"}, first_seen=seen, last_seen=seen)
            )
        for dep in _refs(spec, "dependencyOf", file, i):
            source = entity_ref(dep, "component", ns)
            b.stub(source, "ConfigurationItem")
            b.edges.append(
                EdgeRow(
                    source, "DEPENDS_ON", urn, {"rel_type": "dependencyOf"}, first_seen=seen, last_seen=seen
                )
            )
        if kind in ("component", "resource", "api") and spec.get("system"):
            system = entity_ref(spec["system"], "system", ns)
            b.stub(system, "BusinessService")
            b.edges.append(
                EdgeRow(system, "DEPENDS_ON", urn, {"rel_type": "system"}, first_seen=seen, last_seen=seen)
            )
    return b


def _refs(spec: dict[str, Any], field: str, file: str, i: int) -> list[Any]:
    """A relation of the entity's spec: a list of entity refs (Backstage's descriptor format), never a
    string (iterating one would relate the entity to each of its characters)."""
    refs = spec.get(field) or []
    if not isinstance(refs, list):
        raise BadInput(
            f"{field} must be a list of entity refs, not {type(refs).__name__}",
            file=file,
            path=f"document {i}.spec.{field}",
        )
    return refs


@dataclass
class IngestReport:
    entities: int
    relationships: int


@writes("ingest cmdb backstage")
def ingest_backstage(store: GraphStore, paths: list[Path], *, seen: str) -> IngestReport:
    """Everything is read and checked before anything is written (a malformed entity refuses the load,
    naming its file and document)."""
    docs = get_documents(paths)
    with guard(", ".join(str(p) for p in paths)):
        batch = transform(docs, seen=seen)
        batch.validate()
    tag = time.time_ns() // 1000
    store.load(batch, update_tag=tag)
    store.cleanup(source=SOURCE, account=None, update_tag=tag)
    return IngestReport(sum(1 for n in batch.nodes if not n.stub), len(batch.edges))
