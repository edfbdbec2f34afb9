"""The Python API the CLI, the Dash app and notebooks share: score proposals held in a store."""

from __future__ import annotations

import contextlib
import gc
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from analyzer.collector import paused
from analyzer.errors import BadInput
from analyzer.governance.decisions import covering_acceptance, default_approver
from analyzer.governance.ledger import Ledger, ledger_path_for
from analyzer.governance.tier_policy import TierPolicy, load_policy, parse_policy
from analyzer.graph.current import current_snapshot, held_snapshot, load_snapshot, remember
from analyzer.graph.lease import writes
from analyzer.graph.store import GraphStore
from analyzer.scoring.blast import RESULT_SCHEMA_VERSION, failed_result, score_or_fail
from analyzer.scoring.context import Context, build_context
from analyzer.scoring.freshness import freshness, result_accounts
from analyzer.scoring.verdict import verdict
from analyzer.timeutil import iso, now, parse_time
from analyzer.timings import phase
from connectors.evidence.coverage import COLLECTION as COVERAGE
from connectors.proposals import COLLECTION as PROPOSALS

POLICY = "policy"
RESULTS = "results"
SCORING = "scoring"


@writes("policy load")
def store_policy(store: GraphStore, path: Path) -> TierPolicy:
    """Validate a tier policy file and make it the store's current policy."""
    raw = Path(path).read_bytes()
    policy = parse_policy(raw, str(path))  # refuses what is not UTF-8, bounded YAML or the schema
    text = raw.decode("utf-8")
    store.put_documents(POLICY, {"current": {"text": text, "source": str(path)}})
    return policy


def current_policy(store: GraphStore, override: Path | None = None) -> TierPolicy:
    if override is not None:
        return load_policy(override)
    doc = store.get_documents(POLICY).get("current")
    if doc:
        return parse_policy(doc["text"], doc["source"])
    return load_policy(None)


SETTINGS = "settings"
DEFAULT_SETTINGS = {"cmdb_tag_key": "cmdb_ci"}


def setting(store: GraphStore, name: str) -> str:
    """A store-wide setting (``blastwall settings set NAME VALUE``), else its default."""
    if name not in DEFAULT_SETTINGS:
        raise BadInput(f"unknown setting {name!r}; known: {', '.join(DEFAULT_SETTINGS)}")
    doc = store.get_documents(SETTINGS).get(name)
    return str(doc["value"]) if doc else DEFAULT_SETTINGS[name]


@writes("settings set")
def set_setting(store: GraphStore, name: str, value: str) -> None:
    setting(store, name)  # validates the name
    store.put_documents(SETTINGS, {name: {"value": value}})


def unmapped(store: GraphStore) -> list[dict[str, Any]]:
    """Cloud resources that map to no CI (so any dependency on them reads as undocumented)."""
    ctx = analysis_context(store)
    kinds = ("IamRole", "IamUser", "S3Bucket", "Ec2Instance")
    return [
        {"id": n.id, "kind": n.kind, "account": n.account}
        for n in ctx.snap.nodes
        if n.kind in kinds and n.source == "aws" and n.id not in ctx.ci_of
    ]


CONTEXT_FILE = "analysis-context.pkl"
"""The persisted analysis context, in ``analyzer.graph.persisted.derived_dir(store)``."""


def analysis_context(store: GraphStore) -> Context:
    """The store's current snapshot and what analysis derives from it (reused while nothing changes).

    Reused in this process while the store's ``graph_generation`` is unchanged. In a new process, the
    context the last run persisted (``persist_context``: arrays mapped from disk, seconds instead of
    reading the whole graph) is used as it is when it is of the store's generation; when the store has
    changed since, its snapshot is brought up to date by difference from the store's journal
    (``analyzer.graph.current``) and what is derived from it is built again; else the graph is read."""
    coverage, tag_key, collection, key = _context_inputs(store)
    gen = store.graph_generation()
    if current_snapshot(store, gen) is None:
        with phase("load the persisted analysis context"):
            loaded = _load_persisted(store)
        if loaded is not None:
            ctx, head = loaded
            if head == _persisted_header(store, gen, key):
                remember(store, ctx.snap)
                ctx.snap.memo(key, lambda: ctx)
            elif held_snapshot(store) is None:
                remember(store, ctx.snap)  # of an earlier generation: brought up to date below
            del ctx, head  # not held past here: what a stale one derived is built again below
        del loaded
    snap = load_snapshot(store)

    def build() -> Context:
        from analyzer.network.documents import NetworkDocuments
        from analyzer.network.load import NETWORK

        with phase("derive the analysis context"), paused():
            ctx = build_context(snap, coverage, tag_key, collection)
            ctx.network_docs = NetworkDocuments(store.get_document_texts(NETWORK))
        return ctx

    built = snap.memo(key, build)
    assert isinstance(built, Context)
    return built


def _context_inputs(
    store: GraphStore,
) -> tuple[dict[str, Any], str, dict[str, Any], tuple[str, ...]]:
    """What an analysis context is derived from besides the graph (coverage, the CMDB tag key, what was
    collected), and the key it is kept under."""
    coverage = store.get_documents(COVERAGE)
    tag_key = setting(store, "cmdb_tag_key")
    collection = store.get_documents("collection")
    return (
        coverage,
        tag_key,
        collection,
        ("context", tag_key, json.dumps([coverage, collection], sort_keys=True)),
    )


def persisted_is_current(store: GraphStore) -> bool:
    """Whether the persisted analysis context is of the store as it is now, written by this code: what a
    new process loads as it is (read from its header alone)."""
    from analyzer.graph import persisted

    expect = _persisted_header(store, store.graph_generation(), _context_inputs(store)[3])
    return persisted.current(persisted.derived_dir(store) / CONTEXT_FILE, expect)


def prepare_apart(store: GraphStore, as_of: datetime, window_days: int) -> bool:
    """Build and persist the analysis context in a child process, unless the persisted one is current;
    True when it is current after. The build's memory (at scale L most of a command's peak: the
    structures being made and the pickler's bookkeeping while it writes them) is returned when the child
    exits, and this process then maps the persisted context as a warm start does. The child's phases are
    recorded here, one level down; if it fails, the caller builds the context itself as before."""
    import multiprocessing

    from analyzer.notices import say
    from analyzer.timings import _DEPTH, PHASES

    if persisted_is_current(store):
        return True
    depth = _DEPTH[0] + 1
    error = ""
    with phase("build and persist the analysis context in a child process"):
        mp = multiprocessing.get_context("spawn")
        theirs, ours = mp.Pipe(duplex=False)
        child = mp.Process(target=_prepare_child, args=(str(store.uri), iso(as_of), window_days, ours))
        try:
            child.start()
        except OSError as exc:
            say(f"could not start a process to build the analysis context ({exc}); building it here")
            return False
        ours.close()
        try:
            report, error = theirs.recv() if theirs.poll(None) else ([], "")
        except EOFError:
            report = []
        child.join()
        PHASES.extend({**p, "depth": p["depth"] + depth} for p in report)
    if child.exitcode != 0 or error:
        why = error or f"exit code {child.exitcode}"
        say(f"building the analysis context in a child process failed ({why}); building it here")
    return persisted_is_current(store)


def _prepare_child(uri: str, as_of: str, window_days: int, out: Any) -> None:
    from analyzer.graph.store import open_store
    from analyzer.timings import report

    error = ""
    try:
        prepare(open_store(uri), as_of=parse_time(as_of), window_days=window_days)
    except Exception as exc:  # said by the parent, which then builds the context itself
        error = f"{type(exc).__name__}: {exc}"
    finally:
        out.send((report()["phases"], error))
        out.close()


def _persisted_header(store: GraphStore, gen: int, key: tuple[str, ...]) -> dict[str, Any]:
    import hashlib

    digest = hashlib.sha256(json.dumps(key).encode()).hexdigest()[:16]
    return {"what": "analysis context", "store": store.uri, "graph_generation": gen, "key": digest}


def _load_persisted(store: GraphStore) -> tuple[Context, dict[str, Any]] | None:
    """The analysis context persisted for ``store`` (of whichever generation), with its header."""
    import pickle

    from analyzer.graph import persisted
    from analyzer.notices import say

    path = persisted.derived_dir(store) / CONTEXT_FILE
    head = persisted.header(path) or {}
    try:
        ctx = persisted.load(path, {"what": "analysis context", "store": store.uri})
    except (pickle.UnpicklingError, ValueError, EOFError, TypeError, AttributeError, ImportError) as exc:
        say(f"{path}: the persisted analysis context cannot be used ({exc}); rebuilding it from the store")
        persisted.remove(path)
        return None
    if ctx is None:
        return None
    if not isinstance(ctx, Context) or ctx.snap.graph_generation != head.get("graph_generation"):
        say(f"{path}: not an analysis context of this store; rebuilding it from the store")
        persisted.remove(path)
        return None
    ctx.persisted_keys = frozenset(map(repr, ctx.memo_keys()))
    return ctx, {k: head.get(k) for k in ("what", "store", "graph_generation", "key")}


def prepare(
    store: GraphStore, *, as_of: datetime | None = None, window_days: int | None = None
) -> dict[str, Any]:
    """Build (or load) the analysis context, build what scoring builds on first use for the evidence
    window ending at ``as_of`` (now when None), and persist them (``blastwall prepare``)."""
    import time

    from analyzer.graph import persisted
    from analyzer.scoring.prepare import warm

    t = time.perf_counter()
    with phase("analysis context"):
        ctx = analysis_context(store)
    context_s = time.perf_counter() - t
    origin = (
        "loaded from the persisted file"
        if ctx.persisted_keys is not None
        else f"built from the store, {ctx.snap.how}"
    )
    end = as_of or now()
    with phase("structures built on first use"), paused():
        built = warm(ctx, end - timedelta(days=window_days or current_policy(store).window_days), end)
    with phase("persist the analysis context"):
        wrote = persist_context(store, ctx)
    return {
        "context": origin,
        "context_s": context_s,
        "built": built,
        "persisted": wrote,
        "path": str(persisted.derived_dir(store) / CONTEXT_FILE),
        "graph_generation": ctx.snap.graph_generation,
    }


def persist_context(store: GraphStore, ctx: Context | None = None) -> bool:
    """Persist the analysis context of ``store`` (and the structures built on it so far) for the next
    process, unless what is persisted already holds them; True if written. A failure to write (a
    read-only directory, a full disk) is said and changes nothing else."""
    from analyzer.graph import persisted
    from analyzer.notices import say

    ctx = ctx or analysis_context(store)
    keys = frozenset(map(repr, ctx.memo_keys()))
    if ctx.persisted_keys is not None and keys <= ctx.persisted_keys:
        return False
    key = next(k for k, v in ctx.snap.memo_items() if v is ctx and isinstance(k, tuple))
    path = persisted.derived_dir(store) / CONTEXT_FILE
    try:
        header = _persisted_header(store, ctx.snap.graph_generation, key)
        persisted.save(ctx, path, header, ctx.persisted_columns())
    except OSError as exc:
        say(f"{path}: the analysis context could not be persisted ({exc}); the next run builds it again")
        return False
    ctx.persisted_keys = keys
    return True


def network_model(store: GraphStore) -> Any:
    """The VPC configuration of the store as a network model (reused while nothing changes)."""
    from analyzer.network.load import NETWORK, model_from_documents

    snap = load_snapshot(store)
    return snap.memo(("network",), lambda: model_from_documents(store.get_documents(NETWORK)))


def network_documents(store: GraphStore) -> dict[str, dict[str, Any]]:
    from analyzer.network.load import NETWORK

    return store.get_documents(NETWORK)


def find_undocumented(
    store: GraphStore,
    *,
    as_of: datetime | None = None,
    window_days: int | None = None,
    anchored: str | None = None,
) -> tuple[Any, dict[str, Any]]:
    """The undocumented observed dependencies (``scoring.undocumented.Undocumented``: ranked arrays, rows
    made on demand) and the report without its rows: ``as_of``, ``window_days``, ``count``, and how fresh
    the evidence is (``freshness``: an account with none in the window is unknown, not clean)."""
    from analyzer.scoring.undocumented import find

    ctx = analysis_context(store)
    anchored = anchored or ("given" if as_of is not None else "now")
    end = as_of or now()
    days = window_days or current_policy(store).window_days
    found = find(ctx, end, days)
    return found, {
        "as_of": iso(end),
        "window_days": days,
        "count": found.count,
        "freshness": freshness(ctx.coverage, end - timedelta(days=days), end, anchored),
    }


def undocumented(
    store: GraphStore,
    *,
    as_of: datetime | None = None,
    window_days: int | None = None,
    anchored: str | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    """Every observed dependency the CMDB does not document (``count``; the first ``limit`` of them as
    rows in ``dependencies``, all when None), most critical dependants first, with ``freshness``."""
    found, rep = find_undocumented(store, as_of=as_of, window_days=window_days, anchored=anchored)
    return {**rep, "dependencies": list(found.rows(limit))}


def flow_freshness(
    store: GraphStore, as_of: datetime | None, anchored: str, window_days: int | None
) -> tuple[dict[str, Any], str, str]:
    """The flow-log window ending at ``as_of`` (now when None): its freshness over the flow-log coverage
    records, and its start and end as stored times compare (ISO 8601, UTC)."""
    end = as_of or now()
    start = end - timedelta(days=window_days or current_policy(store).window_days)
    flowlogs = {k: d for k, d in store.get_documents(COVERAGE).items() if d.get("source") == "flowlogs"}
    return freshness(flowlogs, start, end, anchored), iso(start), iso(end)


def result_freshness(store: GraphStore, r: dict[str, Any]) -> dict[str, Any]:
    """How fresh the evidence of a stored result's window is, for the accounts it is about (read from
    the coverage records, not the whole analysis context)."""
    ev = r.get("evidence") or {}
    end = parse_time(str(ev.get("window_end") or r.get("as_of") or iso(now())), field="evidence.window_end")
    start = parse_time(ev["window_start"], field="evidence.window_start") if ev.get("window_start") else end
    return freshness(store.get_documents(COVERAGE), start, end, "given", accounts=result_accounts(r) or None)


def anchor(store: GraphStore, text: str | None) -> tuple[datetime | None, str]:
    """An ``--as-of`` value: None (now), ``latest`` (the end of the newest day of evidence) or a time."""
    from analyzer.scoring.freshness import latest_anchor

    if text is None:
        return None, "now"
    if text.strip().lower() == "latest":
        at = latest_anchor(store.get_documents(COVERAGE))  # the coverage records, not the whole context
        if at is None:
            raise BadInput("--as-of latest: no evidence has been loaded to anchor at", path="--as-of")
        return at, "latest"
    return parse_time(text, field="--as-of"), "given"


def input_fingerprint(ctx: Context) -> str:
    """What the analysis read, as a digest that saving results does not change (the store's generation
    does): the graph's size and newest update tags, evidence counts, coverage, collection records, VPC
    documents."""
    import hashlib

    snap = ctx.snap
    kinds = snap.edges.values()
    parts = [
        len(snap.nodes),
        sum(len(k.src) for k in kinds),
        max((n.update_tag or 0 for n in snap.nodes), default=0),
        max((k.records.max_update_tag() for k in kinds), default=0),
        sum(int(k.count.sum()) for k in kinds),
        ctx.coverage,
        ctx.collection,
        sorted(ctx.network_docs),
    ]
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _same_input(
    saved: dict[str, Any], proposal: dict[str, Any], as_of: str, fingerprint: str, version: str
) -> bool:
    """A saved result still answers this proposal: same evidence anchor, analysis inputs, policy, change."""
    c = saved.get("change") or {}
    return (
        saved.get("as_of") == as_of
        and saved.get("input_fingerprint") == fingerprint
        and (saved.get("policy") or {}).get("version") == version
        and c.get("kind") == proposal["change"].get("kind")
        and c.get("target") == proposal["change"].get("target")
        and c.get("delta") == proposal["change"].get("delta")
    )


_WORKER: dict[str, Any] = {}


def _worker_init(store_uri: str, policy_doc: dict[str, Any], policy_source: str, as_of: str) -> None:
    from analyzer.graph.store import open_store
    from analyzer.timeutil import parse_time

    store = open_store(store_uri)
    _WORKER.update(
        ctx=analysis_context(store),
        policy=TierPolicy(policy_doc, policy_source),
        as_of=parse_time(as_of),
        store=store,
    )


def _settle() -> None:
    """Before a chunk: collect what the previous chunks left and freeze what stays (caches the scorers
    fill as they go), so the collector does not scan it again during every later chunk (it did: at L a
    worker spent a quarter of its time in full collections)."""
    gc.collect()
    gc.freeze()


def _worker_score(chunk: list[dict[str, Any]]) -> list[dict[str, Any]]:
    _settle()
    return [score_or_fail(p, _WORKER["ctx"], _WORKER["policy"], _WORKER["as_of"]) for p in chunk]


def _dask_score(
    chunk: list[dict[str, Any]], ctx: Context, policy_doc: dict[str, Any], policy_source: str, as_of: str
) -> list[dict[str, Any]]:
    """One chunk on a Dask worker; ``ctx`` arrives as a future that was broadcast once per worker."""
    from analyzer.timeutil import parse_time

    policy = TierPolicy(policy_doc, policy_source)
    _settle()
    return [score_or_fail(p, ctx, policy, parse_time(as_of)) for p in chunk]


def _pool(processes: int, initargs: tuple[Any, ...] | None) -> Any:
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    if "fork" in mp.get_all_start_methods() and _WORKER.get("ctx") is not None:
        return ProcessPoolExecutor(processes, mp_context=mp.get_context("fork"))
    if initargs is None:
        raise BadInput("scoring with several workers here needs the store's location", path="--workers")
    return ProcessPoolExecutor(processes, initializer=_worker_init, initargs=initargs)


def _on_processes(
    chunks: list[list[dict[str, Any]]],
    workers: int,
    initargs: tuple[Any, ...] | None,
    finish: Callable[[list[dict[str, Any]]], None],
    fail: Callable[[list[dict[str, Any]], str], None],
    work: Callable[[list[dict[str, Any]]], list[dict[str, Any]]] = _worker_score,
) -> None:
    """Chunks on local processes. Where processes can be forked (Linux, macOS) they are forked from this
    one after ``_WORKER`` holds the analysis context, so they share its memory copy-on-write and start at
    once; elsewhere each opens the store and builds the context (``_worker_init`` with ``initargs``).

    A process that dies (an OOM kill, a crash in a native library) breaks the whole pool and every chunk
    still in it. Those are run again ``workers`` at a time on a fresh pool, and the chunks of a wave that
    breaks again each alone: a chunk that kills its process even alone gets ``status: error``; the others
    are scored. Pools are rebuilt only after a crash."""
    from concurrent.futures import as_completed
    from concurrent.futures.process import BrokenProcessPool

    def run(ids: list[int], processes: int, wave: int) -> list[int]:
        lost: list[int] = []
        todo = list(ids)
        while todo:
            with _pool(processes, initargs) as pool:
                while todo:
                    batch, todo = todo[:wave], todo[wave:]
                    futures = {pool.submit(work, chunks[i]): i for i in batch}
                    broke = False
                    for fut in as_completed(futures):
                        try:
                            finish(fut.result())
                        except BrokenProcessPool:
                            lost.append(futures[fut])
                            broke = True
                        except Exception as exc:  # e.g. a result that cannot be sent back: this chunk only
                            fail(chunks[futures[fut]], f"{type(exc).__name__}: {exc}")
                    if broke:
                        break
        return sorted(lost)

    lost = run(list(range(len(chunks))), workers, len(chunks))
    if lost:
        lost = run(lost, workers, workers)
    for i in lost:
        if run([i], 1, 1):
            fail(chunks[i], "the worker process died while scoring this chunk, also when it ran alone")


def _on_dask(
    chunks: list[list[dict[str, Any]]],
    scheduler: str,
    workers: int,
    ctx: Context,
    policy: TierPolicy,
    as_of: str,
    finish: Callable[[list[dict[str, Any]]], None],
    fail: Callable[[list[dict[str, Any]], str], None],
) -> None:
    """Chunks on Dask: ``scheduler`` is ``local`` (a LocalCluster of ``workers`` processes on 127.0.0.1) or
    the address of an existing scheduler (``tcp://HOST:PORT``; its workers need blastwall installed). The
    analysis context is shipped once per worker; a chunk whose worker keeps dying (Dask retries it on
    others first) gets ``status: error``."""
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError as exc:
        raise BadInput("--scheduler needs the dask extra: pip install 'blastwall[dask]'") from exc

    cluster = None
    if scheduler == "local":
        cluster = LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None, host="127.0.0.1"
        )
        client = Client(cluster)
    else:
        try:
            client = Client(scheduler, timeout="10s")
        except OSError as exc:
            raise BadInput(f"cannot reach the Dask scheduler {scheduler}: {exc}", path="--scheduler") from exc
    try:
        shipped = client.scatter(ctx, broadcast=True, hash=False)
        futures = {
            client.submit(_dask_score, c, shipped, policy.doc, policy.source, as_of, pure=False): i
            for i, c in enumerate(chunks)
        }
        for fut in as_completed(futures):
            try:
                finish(fut.result())
            except Exception as exc:  # KilledWorker and the like: this chunk only
                fail(chunks[futures[fut]], f"{type(exc).__name__}: {exc}")
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def score(
    store: GraphStore,
    ids: list[str] | None = None,
    *,
    as_of: datetime | None = None,
    policy: TierPolicy | None = None,
    save: bool = True,
    include_closed: bool = False,
    workers: int = 1,
    resume: bool = False,
    chunk_size: int = 100,
    progress: Callable[[int, int], None] | None = None,
    store_uri: str | None = None,
    scheduler: str | None = None,
    anchored: str | None = None,
    release: bool = True,
    build_apart: bool = False,
) -> dict[str, Any]:
    """Score the given proposals (default: every open one) and return the versioned result object.

    Results are saved chunk by chunk as they finish, so a batch that is killed keeps what it finished;
    ``resume`` skips proposals whose saved result still answers them (same evidence anchor, analysis
    inputs (``input_fingerprint``), policy version and change). ``workers`` > 1 scores chunks in local
    processes (forked from this one, sharing its analysis context; where fork is not available each opens
    ``store_uri`` and builds the context); ``scheduler`` runs them on
    Dask instead (``local`` or ``tcp://HOST:PORT``). A proposal that cannot be scored, or whose worker died,
    gets ``status: error`` and the batch goes on. Saving holds the store's write lease for the run.
    The batch keeps the analysis context out of the cycle collector's way (``gc.freeze``); ``release``
    hands it back at the end, as a long-lived process must; a command about to exit passes False.
    ``build_apart``: a context that is not persisted is built and persisted in a child process first
    (``prepare_apart``) and then loaded here, so this process never holds a context being built (a
    command; a long-lived process keeps the one it builds)."""
    with store.lease("score") if save else contextlib.nullcontext():
        return _score(
            store,
            ids,
            as_of,
            policy,
            save,
            include_closed,
            workers,
            resume,
            chunk_size,
            progress,
            store_uri,
            scheduler,
            anchored,
            release,
            build_apart,
        )


def _score(
    store: GraphStore,
    ids: list[str] | None,
    as_of: datetime | None,
    policy: TierPolicy | None,
    save: bool,
    include_closed: bool,
    workers: int,
    resume: bool,
    chunk_size: int,
    progress: Callable[[int, int], None] | None,
    store_uri: str | None,
    scheduler: str | None,
    anchored: str | None = None,
    release: bool = True,
    build_apart: bool = False,
) -> dict[str, Any]:
    anchored = anchored or ("given" if as_of is not None else "now")
    as_of = as_of or now()
    policy = policy or current_policy(store)
    if build_apart and current_snapshot(store, store.graph_generation()) is None:
        prepare_apart(store, as_of, policy.window_days)
    with phase("read the proposals"):
        proposals = store.get_documents(PROPOSALS)
    if ids:
        missing = [i for i in ids if i not in proposals]
        if missing:
            raise BadInput(f"no such proposal: {', '.join(missing)}")
        chosen = [proposals[i] for i in ids]
    else:
        chosen = [p for p in proposals.values() if include_closed or p.get("status", "open") == "open"]
    with phase("analysis context"):
        ctx = analysis_context(store)
    snap = ctx.snap
    stamp = iso(as_of)
    version = str(policy.header().get("version"))
    kept: list[dict[str, Any]] = []
    fingerprint = input_fingerprint(ctx)
    if resume:
        saved = store.get_documents(RESULTS)
        todo = []
        for p in chosen:
            old = saved.get(p["proposal_id"])
            if old is not None and _same_input(old, p, stamp, fingerprint, version):
                kept.append(old)
            else:
                todo.append(p)
        chosen = todo
    with phase("read the ledger's risk acceptances"):
        acceptances = recorded_acceptances(store)
    results: list[dict[str, Any]] = []

    def finish(batch: list[dict[str, Any]]) -> None:
        apply_risk_acceptances(batch, acceptances, policy, as_of)
        for r in batch:  # after the acceptances: the sentence names the tier that stands
            r["summary"] = verdict(r)
        results.extend(batch)
        if save and batch:
            store.put_documents(
                RESULTS,
                {r["proposal_id"]: r | {"as_of": stamp, "input_fingerprint": fingerprint} for r in batch},
            )
        if progress is not None:
            progress(len(batch), len(chosen))

    def fail(batch: list[dict[str, Any]], detail: str) -> None:
        finish([failed_result(p, policy, as_of, "worker_failed", detail) for p in batch])

    def chunked(todo: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
        return [todo[i : i + chunk_size] for i in range(0, len(todo), chunk_size)]

    chunks = chunked(chosen)
    # The context is millions of long-lived objects: the cyclic collector need not scan them while the
    # batch runs (a full collection at a million nodes takes seconds), and forked workers then share them
    # without the collector touching (and so copying) their pages.
    gc.freeze()
    # and a chunk's own objects (a hub's result is thousands of entries) are scanned in full collections
    # a tenth as often as by default: young cycles still go in the frequent young collections
    thresholds = gc.get_threshold()
    gc.set_threshold(max(thresholds[0], 10_000), thresholds[1], max(thresholds[2], 100))
    try:
        if scheduler and chunks:
            _on_dask(chunks, scheduler, workers, ctx, policy, stamp, finish, fail)
        elif workers > 1 and len(chunks) > 1:
            # one proposal of each change kind first, here: what every worker needs for that kind (the
            # network model, the indexes of evidence) is built once, before the fork, and shared
            first = sorted(
                {p["change"].get("kind"): i for i, p in reversed(list(enumerate(chosen)))}.values()
            )
            with phase("first of each change kind"):
                finish([score_or_fail(chosen[i], ctx, policy, as_of) for i in first])
            rest = [p for i, p in enumerate(chosen) if i not in first]  # a handful: one per kind
            gc.freeze()
            initargs = (store_uri, policy.doc, policy.source, stamp) if store_uri else None
            _WORKER.update(ctx=ctx, policy=policy, as_of=as_of)  # what forked workers inherit
            try:
                with phase(f"scoring on {workers} processes"):
                    _on_processes(chunked(rest), workers, initargs, finish, fail)
            finally:
                _WORKER.clear()
        else:
            with phase("scoring"):
                for c in chunks:
                    _settle()
                    finish([score_or_fail(p, ctx, policy, as_of) for p in c])
    finally:
        gc.set_threshold(*thresholds)
        if release:
            # the heap back to the cycle collector: the first allocation after this may start a full
            # collection over everything the context holds (seconds at L), which a command that is about
            # to exit need not wait for
            gc.unfreeze()
    for r in kept:
        r.setdefault("summary", verdict(r))
    results.extend(kept)
    results.sort(key=lambda r: (-r["risk_score"], r["proposal_id"]))
    if save and results:  # what the app anchors its lists at, read without reading every result
        store.put_documents(SCORING, {"last": {"as_of": stamp, "scored": len(results), "at": iso(now())}})
    if ctx.persisted_keys is None:  # built here: persisted with what this batch built on it, so the next
        with phase("persist the analysis context"):  # process starts warm (``prepare`` adds to it)
            persist_context(store, ctx)
    return {
        "schema_version": RESULT_SCHEMA_VERSION,
        "as_of": stamp,
        "store_generation": snap.generation,
        "policy": policy.header(),
        "problems": ctx.problems,
        "freshness": freshness(ctx.coverage, as_of - timedelta(days=policy.window_days), as_of, anchored),
        "results": results,
        "resumed": len(kept),
    }


def retro_scorer(
    store: GraphStore, policy: TierPolicy
) -> Callable[[dict[str, Any], datetime], dict[str, Any] | None]:
    """Scores one proposal as of a past time, unsaved, the analysis context built on first use: what the
    review shows as "what Blastwall would have said" before a change nobody asked it about."""
    held: dict[str, Context] = {}

    def rescore(proposal: dict[str, Any], at: datetime) -> dict[str, Any] | None:
        if "ctx" not in held:
            held["ctx"] = analysis_context(store)
        r = score_or_fail(proposal, held["ctx"], policy, at)
        apply_risk_acceptances([r], recorded_acceptances(store), policy, at)
        r["summary"] = verdict(r)
        return r

    return rescore


def apply_risk_acceptances(
    results: list[dict[str, Any]], acceptances: dict[str, dict[str, Any]], policy: TierPolicy, as_of: datetime
) -> None:
    """An ``auto`` tier stands only under a live, signed risk acceptance whose scope covers the change;
    otherwise it becomes ``approval`` and the result says why."""
    alternatives = [r["safer_alternative"] for r in results if r.get("safer_alternative")]
    for r in results + alternatives:
        if r["tier"] != "auto":
            continue
        acceptance, why = covering_acceptance(acceptances, r, as_of, policy)
        if acceptance is not None:
            r["risk_acceptance"] = acceptance["acceptance_id"]
            r["tier_notes"].append(why)
        else:
            r["tier"] = "approval"
            r["approver_role"] = default_approver(policy)
            r["tier_notes"].append(f"auto needs a live risk acceptance covering it: {why}")


def ledger_of(store: GraphStore) -> Ledger:
    """The ledger that goes with ``store`` (beside an embedded store; ``$BLASTWALL_LEDGER`` otherwise),
    with the witnesses ``$BLASTWALL_ANCHOR`` names."""
    from analyzer.governance import anchors

    return Ledger(ledger_path_for(getattr(store, "uri", "")), witnesses=anchors.configured())


def recorded_acceptances(store: GraphStore) -> dict[str, dict[str, Any]]:
    """The risk acceptances the ledger records (none if it does not verify). Scoring uses them to say
    ``auto``; the gate checks them again against the trust root before anything runs."""
    from analyzer.governance.ledger import replay

    ledger = ledger_of(store)
    if not ledger.exists():
        return {}
    rep = replay(ledger.path.read_bytes(), grants_only=True)  # a year of gate answers: not re-signed here
    return rep.authority.acceptances if rep.first_bad is None else {}


def last_scoring_time(store: GraphStore) -> datetime | None:
    """The evidence anchor of the newest scoring (None: nothing scored). Stores scored before this record
    existed are read result by result, once."""
    last = store.get_document(SCORING, "last")
    if last is not None:
        return parse_time(last["as_of"], field="scoring.as_of")
    times = [json.loads(t).get("as_of") for t in store.get_document_texts(RESULTS).values()]
    newest = max((t for t in times if t), default=None)
    return parse_time(newest, field="results.as_of") if newest else None


def saved_results(store: GraphStore) -> list[dict[str, Any]]:
    return sorted(store.get_documents(RESULTS).values(), key=lambda r: (-r["risk_score"], r["proposal_id"]))


def kubernetes_who_can(
    store: GraphStore,
    cluster_arn: str,
    verb: str,
    resource: str,
    *,
    namespace: str | None = None,
    name: str | None = None,
) -> list[Any]:
    """Who may do ``verb`` on ``resource`` (``pods/exec``, ``deployments.apps``) in a loaded cluster, by
    Kubernetes RBAC (``analyzer.kubernetes.rbac``): every subject, with the binding, role and rule."""
    from analyzer.graph.ids import Cluster
    from analyzer.kubernetes.rbac import Request, who_can_in

    try:
        cluster = Cluster(cluster_arn)
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    snap = load_snapshot(store)
    if snap.node(cluster.arn) is None:
        raise BadInput(f"{cluster.arn} is not a loaded cluster (blastwall ingest kubernetes)")
    return who_can_in(snap, cluster.prefix(), Request.parse(verb, resource, namespace, name=name))
