"""Proposed remediations from the tools teams already run. Formats are a registry: one module each.

``detect`` picks the format from a file's content; an unknown format is refused with the list of the
formats understood.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analyzer.errors import BadInput
from analyzer.graph.store import GraphStore
from analyzer.timeutil import iso, now
from connectors.jsonfile import load_json

COLLECTION = "proposals"


@dataclass(frozen=True)
class ProposalFormat:
    name: str
    description: str
    detect: Callable[[Any], bool]
    parse: Callable[[Any, str], list[dict[str, Any]]]


FORMATS: dict[str, ProposalFormat] = {}


def register(fmt: ProposalFormat) -> ProposalFormat:
    FORMATS[fmt.name] = fmt
    return fmt


def proposal_id(fmt: str, finding_id: str) -> str:
    """Stable id: importing the same finding twice yields the same proposal."""
    return "bw-" + hashlib.sha256(f"{fmt}\x1f{finding_id}".encode()).hexdigest()[:12]


def detect(data: Any, file: str) -> ProposalFormat:
    for fmt in FORMATS.values():
        if fmt.detect(data):
            return fmt
    known = ", ".join(f"{f.name} ({f.description})" for f in FORMATS.values())
    raise BadInput(f"unknown proposal format; formats understood: {known}", file=file)


@dataclass
class ImportReport:
    imported: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def import_proposals(store: GraphStore, paths: list[Path], requester: str | None = None) -> ImportReport:
    """Parse every file; a bad file is reported and contributes nothing; the good ones are stored at once."""
    _ensure_registered()
    report = ImportReport()
    existing = store.get_documents(COLLECTION)
    new: dict[str, dict[str, Any]] = {}
    for p in paths:
        files = sorted(x for x in Path(p).rglob("*") if x.is_file()) if Path(p).is_dir() else [Path(p)]
        for f in files:
            try:
                if f.suffix in (".yaml", ".yml"):
                    import yaml

                    data = yaml.safe_load(f.read_text())
                else:
                    data = load_json(f)
                fmt = detect(data, str(f))
                proposals = fmt.parse(data, str(f))
            except BadInput as exc:
                report.errors.append(str(exc))
                continue
            except FileNotFoundError:
                report.errors.append(f"{f}: no such file")
                continue
            for prop in proposals:
                pid = prop["proposal_id"]
                old = existing.get(pid)
                if old is not None and old.get("change") == prop["change"]:
                    report.unchanged.append(pid)
                    continue
                prop["imported_at"] = iso(now())
                if requester:
                    prop["requester"] = requester
                prop.setdefault("status", "open")
                new[pid] = prop
                report.imported.append(pid)
    if new:
        store.put_documents(COLLECTION, new)
    return report


def _ensure_registered() -> None:
    from connectors.proposals import asff, blastwall_yaml  # noqa: F401  (register themselves)
