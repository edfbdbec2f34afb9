"""The graph impact propagates over, built once per (snapshot, evidence window): what "X is impacted
because Y lost access" means, hop by hop (docs/concepts.md, "Impact").

A hop ``a -> b`` reads "if a is impacted, so is b". The hops, each with its relation and its evidence:

- ``uses``: a consumer depends on the provider it calls, reads or assumes (call direction): provider ->
  consumer. CloudTrail calls other than writes, role assumptions, and flows (client -> server).
- ``writes``: the readers of a data store depend on its writers for fresh data (data direction). A write
  (``s3:PutObject``, ``sqs:SendMessage``, ``kinesis:PutRecord`` …, ``WRITE_ACTIONS``) makes
  the writer feed the store: writer -> the store's data (a node of its own, "the data of D": the store
  itself stays available to everyone else), and ``reads``: the store's data -> each of its readers. A writer
  feeds a store only when it made at least ``FEED_SHARE`` of the store's writes in the window and the
  store has fewer than ``SINK_WRITERS`` distinct writers (one of the writers to a log sink or a landing
  zone going quiet does not starve its readers).
- ``db_client``: a client of a database (a flow into its port) is taken to feed it, as a writer would;
  flow logs cannot tell reads from writes, so these hops are marked apart and stay at the resource level
  (they are not aggregated into CI-to-CI dependencies).
- ``writes_as``: a principal that assumes a role and writes as it feeds what the role writes, in
  proportion to its share of the role's assumptions (CloudTrail records the write as the role's).
- ``runs_as``: a role -> the instances and functions that run as it; ``attached``: an interface and the
  instance it is attached to, both ways (one workload).
- ``member``: a resource -> each CI it belongs to. Never the other way: a CI's other resources are not
  impacted by one of them.
- ``observed_ci``: CI -> CI, aggregated from the hops above between their resources (the consumer's CI
  uses the provider's CI; a reader's CI depends on the CI of a writer CloudTrail shows).
  A CI whose resources use more than ``HUB_SHARE`` of all CIs (monitoring, scanners, deployment
  pipelines, gateways) gets no such hop into it: it is reached only from the resources it really uses.
- ``documented``: CI -> CI, a dependency the CMDB documents (``DEPENDS_ON``: the dependant is impacted).

Impact never leaves a CI for a resource, so a walk is resource hops first (``resource``: every hop up to
and including ``member``), then CI hops (``ci_observed``: ``observed_ci``; ``ci_all``: with ``documented``).
``documented`` holds ``member`` and ``documented`` only: what the CMDB alone predicts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import scipy.sparse as sp

from analyzer.scoring.context import Context

OBSERVED_KINDS = ("OBSERVED_ASSUME", "OBSERVED_CALL", "OBSERVED_FLOW")
RELATIONS = (
    "uses",
    "reads",
    "writes",
    "writes_as",
    "db_client",
    "runs_as",
    "attached",
    "member",
    "observed_ci",
    "documented",
)
REL = {name: i for i, name in enumerate(RELATIONS)}
_REL_BITS = max(len(RELATIONS) - 1, 1).bit_length()
FEED_SHARE = 0.1
"""A writer feeds a store when it made at least this share of the store's writes in the window."""
SINK_WRITERS = 5
"""A store with this many distinct writers in the window is a sink (``_sinks``)."""
HUB_SHARE = 0.2
HUB_MIN = 5
"""A CI seen using more than this share of the CIs (and more than ``HUB_MIN``) is a hub (``_hubs``)."""
DATA_PORTS = frozenset({1433, 1521, 3306, 5432, 5439, 9042, 27017})
"""Database ports (SQL Server, Oracle, MySQL/Aurora, PostgreSQL, Redshift, Cassandra, MongoDB): a flow into
one may write, so its client is taken to feed the database (reads and writes cannot be told apart in
flow logs)."""
WRITE_ACTIONS = frozenset(
    {
        "s3:PutObject",
        "s3:CopyObject",
        "s3:CompleteMultipartUpload",
        "s3:UploadPart",
        "s3:DeleteObject",
        "s3:DeleteObjects",
        "sqs:SendMessage",
        "sqs:SendMessageBatch",
        "sns:Publish",
        "sns:PublishBatch",
        "kinesis:PutRecord",
        "kinesis:PutRecords",
        "firehose:PutRecord",
        "firehose:PutRecordBatch",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:BatchWriteItem",
        "dynamodb:TransactWriteItems",
        "events:PutEvents",
        "logs:PutLogEvents",
    }
)
"""CloudTrail actions that put data into what they call (the rest are uses: the caller depends on it)."""


@dataclass(frozen=True)
class PropagationGraphs:
    """Graph node ``i < n`` is snapshot node ``i``; ``n + k`` is the data of store ``stale_base[k]``.

    ``keys`` (``src * size + dst``, sorted) with ``relation`` and ``events`` is the hop table: one hop per
    pair, the strongest relation kept (observed before documented). ``via`` maps a ``writes_as`` hop's
    key to the role the writer acted as."""

    n: int
    stale_base: np.ndarray
    resource: sp.csr_array
    ci_observed: sp.csr_array
    ci_all: sp.csr_array
    documented: sp.csr_array
    keys: np.ndarray
    relation: np.ndarray
    events: np.ndarray
    via: dict[int, int]
    shared_writer: np.ndarray  # (assumer, role, store) rows: see ``_shared_writes``
    writer_cis: np.ndarray = field(default_factory=lambda: np.empty((0, 2), np.int64))
    """(row of ``shared_writer``, a CI node of that row's writer) pairs."""

    @property
    def size(self) -> int:
        return self.n + len(self.stale_base)

    @property
    def impact(self) -> sp.csr_array:
        """Every hop (observed and documented) in one graph."""
        g = (self.resource + self.ci_all).astype(bool)
        assert isinstance(g, sp.csr_array)
        return g

    def base(self, g: int) -> int:
        """The snapshot node a graph node stands for."""
        return g if g < self.n else int(self.stale_base[g - self.n])

    def is_data(self, g: int) -> bool:
        return g >= self.n

    def hop(self, a: int, b: int) -> tuple[str, int, int | None]:
        """(relation, events, the role acted as for ``writes_as``) of the hop ``a -> b``."""
        key = a * self.size + b
        i = int(np.searchsorted(self.keys, key))
        if i >= len(self.keys) or self.keys[i] != key:
            return "documented", 0, None  # only in the documented graph's own pairs
        return RELATIONS[int(self.relation[i])], int(self.events[i]), self.via.get(key)


def in_window(last_seen: np.ndarray, first_seen: np.ndarray, start: datetime, end: datetime) -> np.ndarray:
    s = np.datetime64(start.replace(tzinfo=None), "s")
    e = np.datetime64(end.replace(tzinfo=None), "s")
    return (last_seen >= s) & (first_seen <= e)


def _observed(ctx: Context, kind: str, start: datetime, end: datetime) -> tuple[np.ndarray, ...]:
    """(consumer, provider, events, is_write) of one evidence kind inside the window."""
    arr = ctx.snap.edges.get(kind)
    if arr is None:
        e = np.empty(0, np.int64)
        return e, e, e, np.empty(0, bool)
    m = in_window(arr.last_seen, arr.first_seen, start, end)
    write = np.zeros(len(arr.src), bool)
    if kind in ("OBSERVED_CALL", "OBSERVED_FLOW") and len(arr.src):
        idx, props = arr.records.codes("props")
        if kind == "OBSERVED_CALL":
            table = np.array([p.get("action") in WRITE_ACTIONS for p in props], bool)
        else:
            table = np.array([_port(p.get("port")) in DATA_PORTS for p in props], bool)
        write = table[idx] if len(table) else write
    return arr.src[m], arr.dst[m], arr.count[m].astype(np.int64), write[m]


def _port(value: object) -> int | None:
    try:
        return int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None


def _share(src: np.ndarray, dst: np.ndarray, events: np.ndarray, n: int) -> tuple[sp.coo_array, np.ndarray]:
    """``src -> dst`` with events summed per pair (canonical COO), and each pair's share of everything
    into its ``dst``."""
    m = sp.coo_array((events.astype(np.float64), (src, dst)), shape=(n, n))
    m.sum_duplicates()
    total = np.bincount(m.col, weights=m.data, minlength=n)
    return m, m.data / np.maximum(total[m.col], 1)


def _sinks(pairs: sp.coo_array, n: int) -> np.ndarray:
    """Per node: written by ``SINK_WRITERS`` or more distinct writers (a log sink, a landing zone, a fleet's
    database): no single writer is taken to feed its readers."""
    return np.bincount(pairs.col, minlength=n) >= SINK_WRITERS


def _shared_writes(
    assumes: sp.csr_array, writes: sp.csr_array, acting: sp.coo_array, sink: np.ndarray
) -> np.ndarray:
    """(assumer, role, store) where the role feeds the store but the assumer's share of the role's
    assumptions is too small to say its sessions did: CloudTrail records the writes as the role's, so
    whether this assumer's loss starves the store's readers cannot be told. Reported as unknown."""
    low = (acting.data < FEED_SHARE) & ~sink[acting.col]
    out: list[tuple[int, int, int]] = []
    feeding = (writes >= FEED_SHARE).tocsc()
    for w, d in zip(acting.row[low].tolist(), acting.col[low].tolist(), strict=True):
        roles = set(assumes[[w], :].tocoo().col.tolist())
        fed_by = feeding.indices[feeding.indptr[d] : feeding.indptr[d + 1]].tolist()
        out += [(w, r, d) for r in fed_by if r in roles]
    return np.asarray(out, np.int64).reshape(-1, 3)


def _hubs(consumers: np.ndarray, member: sp.csr_array, n: int) -> np.ndarray:
    """Per node: a CI whose resources were seen using more than ``HUB_SHARE`` of the CIs (and more than
    ``HUB_MIN``), ``consumers`` holding the consumer CI of each distinct (provider CI, consumer CI) pair:
    monitoring, scanners, deployment pipelines, gateways. Their use of each is not a dependency of the whole
    CI on it: no CI-to-CI hop is made into them (a hop from the very resource they use still is)."""
    with_members = int((np.diff(member.tocsc().indptr) > 0).sum())
    return np.bincount(consumers, minlength=n) > max(HUB_MIN, HUB_SHARE * with_members)


def _membership(ctx: Context) -> tuple[np.ndarray, np.ndarray]:
    snap = ctx.snap
    res: list[int] = []
    cis: list[int] = []
    for resource, ci_ids in ctx.ci_of.items():
        r = snap.index.get(resource)
        if r is None:
            continue
        for ci_id in ci_ids:
            c = snap.index.get(ci_id)
            if c is not None and c != r:
                res.append(r)
                cis.append(c)
    return np.asarray(res, np.int64), np.asarray(cis, np.int64)


def _workloads(ctx: Context) -> tuple[np.ndarray, np.ndarray]:
    """(role, workload) for the instances and functions that run as a role."""
    from analyzer.scoring.service_trust import all_workloads

    snap = ctx.snap
    roles: list[int] = []
    work: list[int] = []
    for role, by_service in all_workloads(ctx).items():
        r = snap.index.get(role)
        for ws in by_service.values():
            for w in ws:
                if r is not None and w in snap.index:
                    roles.append(r)
                    work.append(snap.index[w])
    return np.asarray(roles, np.int64), np.asarray(work, np.int64)


def build_graphs(ctx: Context, start: datetime, end: datetime) -> PropagationGraphs:
    key = ("propagation", start.isoformat(), end.isoformat())
    ctx.forget("propagation", but=key)  # one window kept: at L a window's graphs are hundreds of MB
    result = ctx.memo(key, lambda: _build(ctx, start, end))
    assert isinstance(result, PropagationGraphs)
    return result


def _build(ctx: Context, start: datetime, end: datetime) -> PropagationGraphs:
    snap = ctx.snap
    n = snap.n
    parts = [_observed(ctx, kind, start, end) for kind in OBSERVED_KINDS]
    a_c, a_p, a_e, _ = parts[0]
    c_c, c_p, c_e, c_w = parts[1]
    f_c, f_p, f_e, f_w = parts[2]

    # --- data direction: who feeds which store ------------------------------------------------------
    w_ev_pairs, w_share = _share(c_c[c_w], c_p[c_w], c_e[c_w], n)  # writer -> store, its share of the writes
    db_pairs, db_share = _share(f_c[f_w], f_p[f_w], f_e[f_w], n)  # client -> database, by flows (inferred)
    a_ev_pairs, a_share = _share(a_c, a_p, a_e, n)  # assumer -> role, its share of the assumptions
    writes = sp.csr_array((w_share, (w_ev_pairs.row, w_ev_pairs.col)), shape=(n, n))
    assumes = sp.csr_array((a_share, (a_ev_pairs.row, a_ev_pairs.col)), shape=(n, n))
    acting = (assumes @ writes).tocoo()  # assumer -> what the role writes, the assumer's share of it
    sink = _sinks(w_ev_pairs, n) | _sinks(db_pairs, n)
    d_keep = (w_share >= FEED_SHARE) & ~sink[w_ev_pairs.col]
    s_keep = (acting.data >= FEED_SHARE) & ~sink[acting.col]
    b_keep = (db_share >= FEED_SHARE) & ~sink[db_pairs.col]
    direct_w, direct_d = w_ev_pairs.row[d_keep].astype(np.int64), w_ev_pairs.col[d_keep].astype(np.int64)
    direct_events = w_ev_pairs.data[d_keep].astype(np.int64)
    acting_w, acting_d = acting.row[s_keep].astype(np.int64), acting.col[s_keep].astype(np.int64)
    db_w, db_d = db_pairs.row[b_keep].astype(np.int64), db_pairs.col[b_keep].astype(np.int64)
    feed_w = np.concatenate([direct_w, acting_w])  # writes CloudTrail proves, for the CI level
    feed_d = np.concatenate([direct_d, acting_d])
    stale_base = np.unique(np.concatenate([feed_d, db_d]))
    stale_of = np.full(n, -1, np.int64)
    stale_of[stale_base] = n + np.arange(len(stale_base))
    size = n + len(stale_base)
    assume_ev = sp.csr_array((a_ev_pairs.data, (a_ev_pairs.row, a_ev_pairs.col)), shape=(n, n))
    # the role each writes_as hop went through: the one that gave the largest share
    via: dict[int, int] = {}
    acting_events = np.zeros(len(acting_w), np.int64)
    for j, (w, d) in enumerate(zip(acting_w.tolist(), acting_d.tolist(), strict=True)):
        roles = assumes[[w], :].tocoo()
        best, best_share = -1, 0.0
        for r, share in zip(roles.col.tolist(), roles.data.tolist(), strict=True):
            s = share * float(writes[r, d])
            if s > best_share:
                best, best_share = r, s
        if best >= 0:
            via[w * size + int(stale_of[d])] = best
            acting_events[j] = int(assume_ev[w, best])

    hs: list[np.ndarray] = []
    hd: list[np.ndarray] = []
    hr: list[np.ndarray] = []
    he: list[np.ndarray] = []

    def add(src: np.ndarray, dst: np.ndarray, rel: str, events: np.ndarray | None = None) -> None:
        hs.append(np.asarray(src, np.int64))
        hd.append(np.asarray(dst, np.int64))
        hr.append(np.full(len(src), REL[rel], np.int8))
        he.append(np.zeros(len(src), np.int64) if events is None else np.asarray(events, np.int64))

    # --- call direction: the provider's trouble is the consumer's; a fed store's data, its readers' ----
    u_c = np.concatenate([a_c, c_c[~c_w], f_c])
    u_p = np.concatenate([a_p, c_p[~c_w], f_p])
    u_e = np.concatenate([a_e, c_e[~c_w], f_e])
    add(u_p, u_c, "uses", u_e)
    reads = stale_of[u_p] >= 0
    add(stale_of[u_p[reads]], u_c[reads], "reads", u_e[reads])
    add(direct_w, stale_of[direct_d], "writes", direct_events)
    add(db_w, stale_of[db_d], "db_client", db_pairs.data[b_keep].astype(np.int64))
    add(acting_w, stale_of[acting_d], "writes_as", acting_events)

    # --- one workload's identities --------------------------------------------------------------------
    roles, work = _workloads(ctx)
    add(roles, work, "runs_as")
    att = snap.edges.get("ATTACHED_TO")
    if att is not None:
        add(att.src, att.dst, "attached")
        add(att.dst, att.src, "attached")

    # --- up to the CIs, and between them ----------------------------------------------------------------
    m_res, m_ci = _membership(ctx)
    add(m_res, m_ci, "member")
    # counts as integers (exact, and no float copy of millions of event counts); each product taken from
    # the right, so the large intermediate is per resource and CI, not per CI and resource (at scale L
    # 116 MB less at the build's peak)
    member = sp.csr_array((np.ones(len(m_res), np.int64), (m_res, m_ci)), shape=(n, n))
    member.sum_duplicates()
    uses = sp.csr_array((u_e, (u_p, u_c)), shape=(n, n))
    feeds = sp.csr_array((np.ones(len(feed_w), np.int64), (feed_w, feed_d)), shape=(n, n))
    read_ev = sp.csr_array((u_e[reads], (u_p[reads], u_c[reads])), shape=(n, n))
    ci_uses = (member.T @ (uses @ member)).tocoo()  # provider CI -> consumer CI
    ci_data = (member.T @ (feeds @ (read_ev @ member))).tocoo()  # writer's CI -> reader's CI
    use_off = ci_uses.row != ci_uses.col
    hub = _hubs(ci_uses.col[use_off], member, n)
    keep = use_off & ~hub[ci_uses.col]  # a CI watching much of the estate is not broken by each thing
    add(ci_uses.row[keep], ci_uses.col[keep], "observed_ci", ci_uses.data[keep].astype(np.int64))
    data_off = ci_data.row != ci_data.col
    add(ci_data.row[data_off], ci_data.col[data_off], "observed_ci", ci_data.data[data_off].astype(np.int64))
    dep = snap.edges.get("DEPENDS_ON")
    d_src = dep.dst if dep is not None else np.empty(0, np.int64)
    d_dst = dep.src if dep is not None else np.empty(0, np.int64)
    add(d_src, d_dst, "documented")

    shared = _shared_writes(assumes, writes, acting, sink)
    # at scale L the hops are 17 million: what made them is let go before they are put together, and
    # each list of parts as soon as it is joined (the build's peak was 1 GB over what it keeps)
    del uses, feeds, read_ev, member, ci_uses, ci_data, assumes, writes, acting, assume_ev
    del u_c, u_p, u_e, reads, parts, a_c, a_p, a_e, c_c, c_p, c_e, c_w, f_c, f_p, f_e, f_w
    src, dst, rel, events = (_joined(x) for x in (hs, hd, hr, he))
    # per pair, the strongest relation (lowest code) first, of equal ones the first added: one stable sort
    # of (pair, relation) packed in one integer, made in place (the pair's key times 16, plus the code)
    packed = np.multiply(src, size)
    packed += dst
    packed <<= _REL_BITS
    np.bitwise_or(packed, rel, out=packed)
    order = np.argsort(packed, kind="stable")
    pairs = packed[order]
    pairs >>= _REL_BITS
    first = np.ones(len(order), bool)
    first[1:] = pairs[1:] != pairs[:-1]
    del pairs
    pick = order[first]
    del order, first
    keys = packed[pick] >> _REL_BITS
    del packed

    def graph(mask: np.ndarray) -> sp.csr_array:
        g = sp.csr_array((np.ones(int(mask.sum()), bool), (src[mask], dst[mask])), shape=(size, size))
        g.sum_duplicates()
        return g

    is_doc = rel == REL["documented"]
    is_ci = rel == REL["observed_ci"]
    return PropagationGraphs(
        n=n,
        stale_base=stale_base,
        resource=graph(~is_doc & ~is_ci),
        ci_observed=graph(is_ci),
        ci_all=graph(is_ci | is_doc),
        documented=graph(is_doc | (rel == REL["member"])),
        keys=keys,
        relation=rel[pick],
        events=events[pick],
        via=via,
        shared_writer=shared,
        writer_cis=_writer_cis(ctx, shared),
    )


def _joined(parts: list[np.ndarray]) -> np.ndarray:
    """The parts as one array; the list is emptied (its parts are freed as the caller drops them)."""
    out = np.concatenate(parts)
    parts.clear()
    return out


def _writer_cis(ctx: Context, shared: np.ndarray) -> np.ndarray:
    """(row of ``shared``, a CI node of its writer) pairs: which rows an impacted CI makes relevant."""
    snap, pairs = ctx.snap, []
    for k, w in enumerate(shared[:, 0].tolist()):
        pairs += [(k, snap.index[c]) for c in ctx.ci_of.get(snap.ids[w], []) if c in snap.index]
    return np.asarray(pairs, np.int64).reshape(-1, 2)
