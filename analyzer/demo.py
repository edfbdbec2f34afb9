"""The demo: load the acme-fin sample into a fresh store and score its proposals, pinned to the sample's
own time so it tells the same story in five years."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from analyzer import api
from analyzer.errors import BlastwallError
from analyzer.governance.decisions import APP_IDENTITY, adopt_policy
from analyzer.graph.lease import writes
from analyzer.graph.store import GraphStore, open_store
from analyzer.timeutil import parse_time
from analyzer.timings import phase

SAMPLE_AS_OF = "2026-05-15T06:00:00Z"
SAMPLE_COLLECTED_AT = "2026-05-15T06:00:00Z"
MARKER = "meta"
DEMO_KEYS = "demo-keys"
TRUST_ROOT_FILE = "trust-root.json"
DEMO_ORG = "ACME Financial (sample)"


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
        # a demo store's ledger and keys are demo data too (only ever removed from a store marked as a demo)
        for f in store.dir.glob("ledger*"):
            f.unlink()
        for name in ("recorder", DEMO_KEYS):
            if (store.dir / name).is_dir():
                shutil.rmtree(store.dir / name)
        (store.dir / TRUST_ROOT_FILE).unlink(missing_ok=True)
        store = open_store(uri)
    else:
        store.drop_all()  # type: ignore[attr-defined]
        _clear_demo_ledger(api.ledger_of(store).path)
    store.put_documents(MARKER, {"demo": {"demo": True}})
    return store


def _clear_demo_ledger(ledger: Path) -> None:
    """The ledger of a demo on a server store lives in a local directory: remove it only if it is a
    previous demo's (its trust-root file names the demo organization), refuse otherwise."""
    if not ledger.exists():
        return
    marker = ledger.parent / TRUST_ROOT_FILE
    try:
        is_demo = json.loads(marker.read_text()).get("organization") == DEMO_ORG
    except (OSError, ValueError, AttributeError):
        is_demo = False
    if not is_demo:
        raise BlastwallError(
            f"{ledger} holds a ledger that is not a previous demo's: set BLASTWALL_LEDGER to a new path for the demo"
        )
    for f in ledger.parent.glob(ledger.name + "*"):
        f.unlink()
    for name in ("recorder", DEMO_KEYS):
        if (ledger.parent / name).is_dir():
            shutil.rmtree(ledger.parent / name)
    marker.unlink()


@writes("ingest directory")
def load_directory(store: GraphStore, root: Path, *, seen: str) -> list[str]:
    """Load a directory in the sample's layout (each provider's parts: ``aws/``, ``cloudtrail/``,
    ``flowlogs/``, ``kubernetes/<cluster>/``; then ``servicenow/``, ``findings/``,
    ``policy/tier-policy.yaml``; each part optional) and return the errors of what did not load (the rest
    is loaded)."""
    from analyzer import providers
    from connectors.cmdb.servicenow import ingest_servicenow
    from connectors.proposals import import_proposals

    root = Path(root)
    parts = providers.directory_parts()
    names = [p.name for p in parts] + ["servicenow", "findings", "policy"]
    if not any((root / n).exists() for n in names):
        raise BlastwallError(f"{root} holds none of {', '.join(n + '/' for n in names)}")
    errors: list[str] = []
    for part in parts:  # in the providers' order: configuration before the evidence attributed to it
        if (root / part.name).is_dir():
            with phase(part.phase):
                errors += providers.function(part.load)(store, root / part.name, seen)
    if (root / "servicenow").is_dir():
        with phase("ingest the CMDB"):
            errors += ingest_servicenow(store, str(root / "servicenow"), seen=seen).errors
    if (root / "findings").is_dir():
        with phase("import proposals"):
            errors += import_proposals(store, [root / "findings"]).errors
    if (root / "policy" / "tier-policy.yaml").is_file():
        api.store_policy(store, root / "policy" / "tier-policy.yaml")
    return errors


def demo_authority(store: GraphStore) -> dict[str, Any]:
    """The sample organization's people, the way a real one gets them: ``org init`` makes Dana (the
    CISO, who owns the tier policy) the root, and she grants the roles; Priya sits on the change advisory
    board. Their keys live in the demo store (``demo-keys/``) only because this is a demo: a real
    organization keeps each key with its person and the trust-root file in its own repository."""
    from analyzer.governance import identities

    ledger = api.ledger_of(store)
    keys = ledger.path.parent / DEMO_KEYS
    doc = identities.init_org(ledger, organization=DEMO_ORG, admin="dana", key_dir=keys)
    (ledger.path.parent / TRUST_ROOT_FILE).write_text(json.dumps(doc, indent=2) + "\n")
    identities.grant(ledger, "dana", "CISO", admin="dana", key_dir=keys)
    identities.register(ledger, "priya", keys)
    identities.grant(ledger, "priya", "change-advisory-board", admin="dana", key_dir=keys)
    identities.register(
        ledger, APP_IDENTITY, keys
    )  # the web app, which records decisions of people it signs in
    identities.grant(ledger, APP_IDENTITY, "app", admin="dana", key_dir=keys)
    # Dana, as CISO, puts the sample's tier policy in force: the gate answers only under it
    adopt_policy(ledger, who="dana", policy=api.current_policy(store), key_dir=keys)
    return doc | {"trust_root_file": str(ledger.path.parent / TRUST_ROOT_FILE), "key_dir": str(keys)}


def run_demo(uri: str, samples: Path | None = None) -> tuple[GraphStore, dict[str, Any]]:
    root = samples or sample_dir()
    holder = open_store(uri)  # the demo rewrites the whole store: it holds the write lease throughout
    try:
        with holder.lease("demo"):
            return _run_demo(uri, root)
    finally:
        holder.close()


def _run_demo(uri: str, root: Path) -> tuple[GraphStore, dict[str, Any]]:
    store = fresh_store(uri)
    errors = load_directory(store, root, seen=SAMPLE_COLLECTED_AT)
    if errors:
        raise BlastwallError("the sample data did not load cleanly:\n" + "\n".join(errors))
    doc = demo_authority(store)
    as_of = parse_time(SAMPLE_AS_OF)
    payload = api.score(store, as_of=as_of)
    payload["review"] = review_the_incident(store, payload, doc["trust_root_file"])
    return store, payload


REVIEW_DAYS = 7


def review_the_incident(store: GraphStore, payload: dict[str, Any], trust_root_file: str) -> dict[str, Any]:
    """The sample's past, reviewed the way a team would on its weekly cadence: the CSPM's run that the
    sample's findings report (recorded in the ledger as an execution without a gate pass, as ``score``
    records any tool's own report) against the week's evidence before the demo's time."""
    from datetime import timedelta

    from analyzer.governance import trust_root
    from analyzer.governance.review import record_reported_executions, review

    ledger = api.ledger_of(store)
    record_reported_executions(store, ledger, payload["results"])
    policy = api.current_policy(store)
    until = parse_time(SAMPLE_AS_OF)
    return review(
        store,
        ledger,
        policy,
        until - timedelta(days=REVIEW_DAYS),
        until,
        trust_root.parse(trust_root_file),
        rescore=api.retro_scorer(store, policy),
    )
