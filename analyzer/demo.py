"""The demo: load the acme-fin sample into a fresh store and score its proposals, pinned to the sample's
own time so it tells the same story in five years."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from analyzer import api
from analyzer.errors import BlastwallError
from analyzer.graph.store import GraphStore, open_store
from analyzer.timeutil import parse_time

SAMPLE_AS_OF = "2026-05-15T06:00:00Z"
SAMPLE_COLLECTED_AT = "2026-05-15T06:00:00Z"
MARKER = "meta"


def sample_dir() -> Path:
    """``data/samples/acme-fin`` of the checkout this package runs from."""
    here = Path(__file__).resolve().parents[1] / "data" / "samples" / "acme-fin"
    if not here.is_dir():
        raise BlastwallError(
            f"sample data not found at {here}; run from a clone of the repository or pass --samples"
        )
    return here


def fresh_store(uri: str) -> GraphStore:
    """Open ``uri`` emptied. Refuses a store that holds anything other than a previous demo."""
    store = open_store(uri)
    is_demo = bool(store.get_documents(MARKER).get("demo"))
    empty = store.generation() == 0 or (not store.read_graph().nodes and not store.get_documents("proposals"))
    if not (is_demo or empty):
        store.close()
        raise BlastwallError(
            f"the store {uri} holds data that is not a previous demo; "
            "pass --store with a new path for the demo"
        )
    from analyzer.graph.sqlite_store import SqliteStore

    if isinstance(store, SqliteStore):
        store.close()
        for suffix in ("", "-wal", "-shm"):
            f = Path(str(store.file) + suffix)
            if f.exists():
                f.unlink()
        # a demo store's ledger is demo data too (only ever removed from a store marked as a demo)
        for f in store.dir.glob("ledger*"):
            f.unlink()
        store = open_store(uri)
    else:
        store.drop_all()  # type: ignore[attr-defined]
    store.put_documents(MARKER, {"demo": {"demo": True}})
    return store


def load_directory(store: GraphStore, root: Path, *, seen: str) -> list[str]:
    """Load a directory in the sample's layout (``aws/``, ``cloudtrail/``, ``flowlogs/``, ``servicenow/``,
    ``findings/``, ``policy/tier-policy.yaml``; each part optional) and return the errors of what did
    not load (the rest is loaded)."""
    from connectors.aws.snapshot import load_snapshot
    from connectors.cmdb.servicenow import ingest_servicenow
    from connectors.evidence.cloudtrail import ingest_cloudtrail
    from connectors.evidence.flowlogs import ingest_flowlogs
    from connectors.proposals import import_proposals

    root = Path(root)
    parts = ("aws", "cloudtrail", "flowlogs", "servicenow", "findings", "policy")
    if not any((root / p).exists() for p in parts):
        raise BlastwallError(f"{root} holds none of {', '.join(p + '/' for p in parts)}")
    errors: list[str] = []
    if (root / "aws").is_dir():
        errors += load_snapshot(store, root / "aws", seen=seen).errors
    if (root / "cloudtrail").is_dir():
        errors += ingest_cloudtrail(store, [root / "cloudtrail"]).errors
    if (root / "flowlogs").is_dir():
        errors += ingest_flowlogs(store, [root / "flowlogs"]).errors
    if (root / "servicenow").is_dir():
        errors += ingest_servicenow(store, str(root / "servicenow"), seen=seen).errors
    if (root / "findings").is_dir():
        errors += import_proposals(store, [root / "findings"]).errors
    if (root / "policy" / "tier-policy.yaml").is_file():
        api.store_policy(store, root / "policy" / "tier-policy.yaml")
    return errors


def run_demo(uri: str, samples: Path | None = None) -> tuple[GraphStore, dict[str, Any]]:
    root = samples or sample_dir()
    store = fresh_store(uri)
    errors = load_directory(store, root, seen=SAMPLE_COLLECTED_AT)
    if errors:
        raise BlastwallError("the sample data did not load cleanly:\n" + "\n".join(errors))
    payload = api.score(store, as_of=parse_time(SAMPLE_AS_OF))
    return store, payload
