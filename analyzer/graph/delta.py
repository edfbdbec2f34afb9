"""A snapshot brought to a later generation of its store by difference (``patch``), equal to the one a
full read would build (``differences`` says where two are not).

The store's journal (``analyzer.graph.journal``) names the nodes and edges written or deleted since the
snapshot's generation and gives each as it is now. The patch keeps every other row, takes those, and lays
the result out exactly as ``build_snapshot`` does: stored nodes ordered by id, then the ends of edges the
store holds no node for (ordered by id), and each kind's edges ordered by (src, dst, key). Kinds no
changed edge belongs to keep their arrays in order, renumbered; only the changed kinds are sorted again.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from operator import attrgetter
from typing import Any

import numpy as np

from analyzer.graph.journal import EdgeKey, GraphChanges, Stamp, earlier, later
from analyzer.graph.snapshot import EdgeArrays, EdgeRecords, Snapshot, stub_node, timestamps
from analyzer.graph.store import EDGE_FIELDS, EMPTY_PROPS, EdgeColumns, Packed, StoredEdge, StoredNode


class Unpatchable(ValueError):
    """The changes are not from this snapshot's store or generation."""


def patch(old: Snapshot, changes: GraphChanges) -> Snapshot:
    """``old`` with ``changes`` applied: the snapshot of the store at ``changes.graph_generation``."""
    if changes.since != old.graph_generation or old.stored < 0:
        raise Unpatchable(
            f"changes since generation {changes.since} do not apply to a snapshot of generation "
            f"{old.graph_generation}"
        )
    by_id = attrgetter("id")
    stored_old = old.nodes[: old.stored]
    touched = changes.nodes
    added = sorted((n for n in touched.values() if n is not None), key=by_id)
    stored = list(heapq.merge((n for n in stored_old if n.id not in touched), added, key=by_id))
    _stamp_nodes(stored, touched, [st for st in changes.stamps if st.table == "nodes"])
    index = {n.id: i for i, n in enumerate(stored)}

    new_rows: dict[str, list[StoredEdge]] = {}
    gone: dict[str, set[EdgeKey]] = {}
    for key, row in changes.edges.items():
        gone.setdefault(key[1], set()).add(key)
        if row is not None:
            new_rows.setdefault(key[1], []).append(row)

    # every id an edge may end at: the stored nodes, then the old stubs, the ends of the changed edges
    # and the nodes deleted (edges the store kept may still name them), each once, ordered by id
    ends = {e for rows in new_rows.values() for r in rows for e in (r.src, r.dst)}
    deleted = [i for i, n in touched.items() if n is None]
    candidates = sorted(
        {*old.ids[old.stored :], *ends, *deleted}.difference(index),
    )
    ids_wide = [*(n.id for n in stored), *candidates]
    wide = {**index, **{c: len(stored) + j for j, c in enumerate(candidates)}}
    old_to_wide = np.fromiter((wide[i] for i in old.ids), np.int64, old.n)

    values = list(_values_of(old))
    props = list(_props_of(old))
    codes = _Codes(values)
    edge_stamps = [st for st in changes.stamps if st.table == "edges"]
    stamped = {
        kind: got
        for kind, arr in old.edges.items()
        if (got := _stamp_edges(old, kind, arr, edge_stamps, codes)) is not None
    }
    kinds: dict[str, tuple[np.ndarray, np.ndarray, EdgeArrays | None, np.ndarray, list[StoredEdge]]] = {}
    for kind in sorted({*old.edges, *new_rows}):
        arr = old.edges.get(kind)
        keep = np.ones(len(arr.src) if arr else 0, bool)
        if arr is not None and kind in gone:
            keep &= ~_rows_named(old, arr, gone[kind])
        rows = new_rows.get(kind, [])
        src = np.concatenate([old_to_wide[arr.src[keep]] if arr else _I, [wide[r.src] for r in rows]])
        dst = np.concatenate([old_to_wide[arr.dst[keep]] if arr else _I, [wide[r.dst] for r in rows]])
        kinds[kind] = (src.astype(np.int64), dst.astype(np.int64), arr, keep, rows)

    # the stubs still named by an edge stay, the others go; stored nodes keep their place
    named = np.zeros(len(ids_wide), bool)
    for src, dst, *_ in kinds.values():
        named[src] = True
        named[dst] = True
    named[: len(stored)] = True
    final = np.cumsum(named) - 1
    old_nodes = dict(zip(old.ids[old.stored :], old.nodes[old.stored :], strict=True))
    kept_stubs = [c for c, k in zip(candidates, named[len(stored) :].tolist(), strict=True) if k]
    nodes = stored + [old_nodes.get(c) or stub_node(c) for c in kept_stubs]
    ids = tuple(n.id for n in nodes)
    rank = _rank(ids, len(stored))

    edges: dict[str, EdgeArrays] = {}
    for kind, (src_w, dst_w, arr, keep, rows) in kinds.items():
        src, dst = final[src_w], final[dst_w]
        if not len(src):
            continue
        if kind not in gone and kind not in stamped and arr is not None:  # unchanged: renumbered
            # on the new tables (the old ones extended): every kind shares one pair of tables, so the next
            # patch, which extends them again, reads every kind's codes in the same tables
            records = EdgeRecords(arr.records.columns, ids, src, dst, values, props)
            edges[kind] = EdgeArrays(src, dst, arr.count, arr.first_seen, arr.last_seen, records)
            continue
        edges[kind] = _merged(
            kind, arr, keep, rows, src, dst, rank, ids, codes, values, props, stamped.get(kind, {})
        )
    index = {i: n for n, i in enumerate(ids)}
    return Snapshot(
        changes.generation,
        ids,
        index,
        tuple(nodes),
        edges,
        changes.graph_generation,
        len(stored),
        old.instance,
        f"brought up to date by difference from generation {old.graph_generation}: {len(changes.nodes)} "
        f"node(s) and {len(changes.edges)} edge(s) written or deleted since, {len(changes.stamps)} "
        "stamp(s) of rows found unchanged",
    )


_I = np.empty(0, np.int64)


class _Codes:
    """Codes into a snapshot's table of values, extended with what the changed rows bring."""

    def __init__(self, values: list[Any]) -> None:
        self.values = values
        self._of: dict[Any, int] | None = None

    def find(self, value: Any) -> int | None:
        """The code of ``value`` if the table holds it."""
        self(None)
        assert self._of is not None
        return self._of.get(value)

    def __call__(self, value: Any) -> int:
        if self._of is None:
            self._of = {}
            for i, v in enumerate(self.values):
                self._of.setdefault(v, i)
        got = self._of.get(value)
        if got is None:
            got = self._of[value] = len(self.values)
            self.values.append(value)
        return got


def _values_of(snap: Snapshot) -> list[Any]:
    for arr in snap.edges.values():
        return arr.records.values
    return [None]


def _props_of(snap: Snapshot) -> list[dict[str, Any]]:
    for arr in snap.edges.values():
        return arr.records.prop_maps
    return [EMPTY_PROPS]


def _rows_named(snap: Snapshot, arr: EdgeArrays, keys: set[EdgeKey]) -> np.ndarray:
    """Which rows of ``arr`` have one of ``keys``."""
    out = np.zeros(len(arr.src), bool)
    for rows in _positions(snap, arr, keys).values():
        out[rows] = True
    return out


def _positions(snap: Snapshot, arr: EdgeArrays, keys: Iterable[EdgeKey]) -> dict[EdgeKey, list[int]]:
    """Where each of ``keys`` is among the rows of ``arr`` (keys it does not hold are left out)."""
    index = snap.index
    pairs = {}
    for key in keys:
        s, d = index.get(key[0]), index.get(key[2])
        if s is not None and d is not None:
            pairs[(s, d, key[3])] = key
    if not pairs:
        return {}
    n = np.int64(snap.n)
    wanted = np.unique(np.fromiter((s * int(n) + d for s, d, _ in pairs), np.int64, len(pairs)))
    candidates = np.flatnonzero(np.isin(arr.src * n + arr.dst, wanted))
    out: dict[EdgeKey, list[int]] = {}
    if not len(candidates):
        return out
    key_idx, key_values = arr.records.codes("key")
    for row, s, d, k in zip(
        candidates.tolist(),
        arr.src[candidates].tolist(),
        arr.dst[candidates].tolist(),
        key_idx[candidates].tolist(),
        strict=True,
    ):
        found = pairs.get((s, d, key_values[k]))
        if found is not None:
            out.setdefault(found, []).append(row)
    return out


def _rank(ids: tuple[str, ...], stored: int) -> np.ndarray:
    """Per node index, its place among all ids in string order (stored nodes and stubs are each
    ordered by id; the two runs interleave)."""
    rank = np.empty(len(ids), np.int64)
    merged = heapq.merge(range(stored), range(stored, len(ids)), key=ids.__getitem__)
    rank[np.fromiter(merged, np.int64, len(ids))] = np.arange(len(ids))
    return rank


def _merged(
    kind: str,
    arr: EdgeArrays | None,
    keep: np.ndarray,
    rows: list[StoredEdge],
    src: np.ndarray,
    dst: np.ndarray,
    rank: np.ndarray,
    ids: tuple[str, ...],
    codes: _Codes,
    values: list[Any],
    props: list[dict[str, Any]],
    overrides: dict[str, np.ndarray],
) -> EdgeArrays:
    """The kept rows of ``arr`` (their codes for a field in ``overrides`` if there: stamped) and
    ``rows``, in (src, dst, key) order."""
    fields: dict[str, np.ndarray] = {}
    for name in EDGE_FIELDS:
        if arr is None:
            kept = _I
        elif name in overrides:
            kept = overrides[name][keep]
        else:
            kept = arr.records.columns.fields[name].codes(keep)
        if name == "props":
            made = [_props_code(r.props, props) for r in rows]
        else:  # each distinct value coded once
            got = list(map(attrgetter(name), rows))
            local = {v: codes(v) for v in set(got)}
            made = list(map(local.__getitem__, got))
        fields[name] = np.concatenate([kept, np.asarray(made, np.int64)]).astype(np.int64)
    count = np.concatenate([arr.count[keep] if arr is not None else _I, [r.count for r in rows]])
    key_rank = _value_rank(fields["key"], values)
    order = np.lexsort((key_rank, rank[dst], rank[src]))
    src, dst, count = src[order], dst[order], count[order].astype(np.int64)
    packed = {name: Packed.of(c[order]) for name, c in fields.items()}
    cols = EdgeColumns(kind, np.empty(0, np.int32), np.empty(0, np.int32), count, packed)
    return EdgeArrays(
        src,
        dst,
        count,
        timestamps(values, packed["first_seen"].codes(slice(None))),
        timestamps(values, packed["last_seen"].codes(slice(None))),
        EdgeRecords(cols, ids, src, dst, values, props),
    )


def _stamp_nodes(stored: list[StoredNode], touched: Mapping[str, object], stamps: list[Stamp]) -> None:
    """Apply the node stamps, in order, to the rows not read again (``touched``), in place."""
    if not stamps:
        return
    scopes: dict[tuple[str | None, str | None], list[int]] = {}
    for i, n in enumerate(stored):
        if n.id not in touched:
            scopes.setdefault((n.source, n.account), []).append(i)
    for st in stamps:
        skip = set(st.except_nodes)
        for i in scopes.get((st.source, st.account), ()):
            n = stored[i]
            if n.id not in skip:
                stored[i] = StoredNode(
                    n.id,
                    n.kind,
                    n.props,
                    n.source,
                    n.account,
                    st.update_tag,
                    earlier(n.first_seen, st.first_seen),
                    later(n.last_seen, st.last_seen),
                )


def _stamp_edges(
    snap: Snapshot, kind: str, arr: EdgeArrays, stamps: list[Stamp], codes: _Codes
) -> dict[str, np.ndarray] | None:
    """The update tag and first/last seen codes of every row of ``arr`` once the edge stamps are applied
    in order (None: no stamp covers a row of this kind). Rows read again are dropped by the caller."""
    f = arr.records.columns.fields
    held = set(f["source"].table.tolist())
    stamps = [st for st in stamps if codes.find(st.source) in held]
    if not stamps:  # no stamp is of a source these rows have (evidence, for a snapshot's stamps)
        return None
    excepted = _positions(snap, arr, {k for st in stamps for k in st.except_edges if k[1] == kind})
    width = len(codes.values) + 1  # before a stamp adds values: every code of these rows is below it
    scope = f["source"].codes(slice(None)) * np.int64(width) + f["account"].codes(slice(None))
    order = np.argsort(scope, kind="stable")
    keys, starts = np.unique(scope[order], return_index=True)
    bounds = dict(
        zip(keys.tolist(), zip(starts.tolist(), [*starts[1:].tolist(), len(order)], strict=True), strict=True)
    )
    out: dict[str, np.ndarray] | None = None
    for st in stamps:
        cs, ca = codes.find(st.source), codes.find(st.account)
        if cs is None or ca is None:
            continue
        span = bounds.get(cs * width + ca)
        if span is None:
            continue
        rows = order[span[0] : span[1]]
        skip = [p for k in st.except_edges if k[1] == kind for p in excepted.get(k, ())]
        if skip:
            rows = np.setdiff1d(rows, np.asarray(skip, np.int64), assume_unique=True)
        if out is None:
            out = {
                name: f[name].codes(slice(None)).copy() for name in ("update_tag", "first_seen", "last_seen")
            }
        out["update_tag"][rows] = codes(st.update_tag)
        for name, widen, to in (("first_seen", earlier, st.first_seen), ("last_seen", later, st.last_seen)):
            had = out[name][rows]
            distinct = np.unique(had)
            made = np.array([codes(widen(codes.values[c], to)) for c in distinct.tolist()], np.int64)
            out[name][rows] = made[np.searchsorted(distinct, had)]
    return out


def _props_code(value: dict[str, Any], props: list[dict[str, Any]]) -> int:
    if not value:
        return 0
    props.append(value)
    return len(props) - 1


def _value_rank(codes: np.ndarray, values: list[Any]) -> np.ndarray:
    """Per row, the place of its value (a string) among the distinct values of ``codes``."""
    distinct = np.unique(codes)
    order = sorted(range(len(distinct)), key=lambda i: values[distinct[i]] or "")
    rank_of = np.empty(len(distinct), np.int64)
    rank_of[order] = np.arange(len(distinct))
    return rank_of[np.searchsorted(distinct, codes)]


def differences(a: Snapshot, b: Snapshot, limit: int = 10) -> list[str]:
    """Where two snapshots differ in what they hold (not in how their tables are coded): empty when they
    are the same graph laid out the same way."""
    out: list[str] = []
    if a.ids != b.ids:
        only = sorted(set(a.ids) ^ set(b.ids))[:limit]
        out.append(f"node ids differ (e.g. {only}) or are ordered differently")
    elif a.nodes != b.nodes:
        out += [f"node {x.id}: {x} != {y}" for x, y in zip(a.nodes, b.nodes, strict=True) if x != y][:limit]
    if a.stored != b.stored:
        out.append(f"stored nodes: {a.stored} != {b.stored}")
    if list(a.edges) != list(b.edges):
        out.append(f"edge kinds: {list(a.edges)} != {list(b.edges)}")
    for kind in a.edges.keys() & b.edges.keys():
        x, y = a.edges[kind], b.edges[kind]
        for name in ("src", "dst", "count", "first_seen", "last_seen"):
            u, v = getattr(x, name), getattr(y, name)
            if u.dtype.kind == "M":  # NaT is not equal to itself; its bits are
                u, v = u.view(np.int64), v.view(np.int64)
            if not np.array_equal(u, v):
                out.append(f"{kind}: {name} differs")
        rx, ry = list(x.records), list(y.records)
        if rx != ry:
            out += [f"{kind}: {p} != {q}" for p, q in zip(rx, ry, strict=False) if p != q][:limit]
            if len(rx) != len(ry):
                out.append(f"{kind}: {len(rx)} != {len(ry)} rows")
    return out[: limit * 4]
