"""Reachability for many source sets at once: strongly connected components condensed once per graph,
then one bit-packed sweep over the condensed DAG in topological order.

Each source set is one bit in ``uint64`` lanes, so 64 sets share one machine word per component; a
component's bits flow along every edge of the DAG, level by level (every predecessor of a level is in an
earlier level), with ``np.bitwise_or.at``. The condensation depends only on the graph, so it is computed
once and reused for every batch of source sets (``Condensed``); one sweep costs O(edges x sets / 64).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components


@dataclass(frozen=True)
class Condensed:
    """A directed graph's strongly connected components and the DAG between them.

    Attributes
    ----------
    labels : ndarray of int64, shape (n,)
        The component of each node.
    src, dst : ndarray of int64, shape (m,)
        The DAG's edges between distinct components, sorted by the level of ``src``.
    level_bounds : ndarray of int64, shape (levels + 1,)
        ``src[level_bounds[i]:level_bounds[i + 1]]`` are the edges leaving level ``i``.
    n_components : int
    """

    labels: np.ndarray
    src: np.ndarray
    dst: np.ndarray
    level_bounds: np.ndarray
    n_components: int

    @property
    def n_nodes(self) -> int:
        return int(self.labels.shape[0])


def _validate(graph: sp.sparray | sp.spmatrix) -> sp.csr_array:
    g = sp.csr_array(graph)
    if g.ndim != 2 or g.shape[0] != g.shape[1]:
        raise ValueError(f"the graph must be a square adjacency matrix, got shape {g.shape}")
    return g


def condense(graph: sp.sparray | sp.spmatrix) -> Condensed:
    """Condense a directed graph (``graph[i, j]`` nonzero: an edge i -> j) into its DAG of components.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> g = sp.csr_array(([1, 1, 1], ([0, 1, 1], [1, 0, 2])), shape=(3, 3))  # 0 <-> 1 -> 2
    >>> c = condense(g)
    >>> c.n_components, bool(c.labels[0] == c.labels[1]), len(c.src)
    (2, True, 1)
    """
    g = _validate(graph)
    n = g.shape[0]
    if n == 0:
        empty = np.empty(0, np.int64)
        return Condensed(empty, empty, empty, np.zeros(1, np.int64), 0)
    k, labels = connected_components(g, directed=True, connection="strong")
    labels = labels.astype(np.int64)
    coo = g.tocoo()
    a, b = labels[coo.row], labels[coo.col]
    keep = a != b
    pairs = np.unique(np.stack([a[keep], b[keep]]), axis=1) if keep.any() else np.empty((2, 0), np.int64)
    src, dst = pairs[0].astype(np.int64), pairs[1].astype(np.int64)
    # levels: longest path from a root (Kahn's algorithm, one vectorized step per level)
    indeg = np.bincount(dst, minlength=k)
    level = np.full(k, -1, np.int64)
    order = np.argsort(src, kind="stable")
    s_sorted, d_sorted = src[order], dst[order]
    starts = np.searchsorted(s_sorted, np.arange(k + 1))
    frontier = np.flatnonzero(indeg == 0)
    depth = 0
    while frontier.size:
        level[frontier] = depth
        spans = [d_sorted[starts[c] : starts[c + 1]] for c in frontier]
        out = np.concatenate(spans) if spans else np.empty(0, np.int64)
        if out.size == 0:
            break
        np.subtract.at(indeg, out, 1)
        frontier = np.unique(out[indeg[out] == 0])
        depth += 1
    by_level = np.argsort(level[src], kind="stable")
    src, dst = src[by_level], dst[by_level]
    bounds = np.searchsorted(level[src], np.arange(depth + 2)) if src.size else np.zeros(1, np.int64)
    return Condensed(labels, src, dst, bounds.astype(np.int64), int(k))


def sweep_bits(cond: Condensed, sources: Sequence[Sequence[int] | np.ndarray]) -> np.ndarray:
    """For each component, which source sets reach it, bit-packed: bit ``i % 64`` of lane ``i // 64``.

    The compact form of ``reach_sets``: (components x lanes) words instead of (sets x nodes) booleans, so
    thousands of sets over a million nodes stay in megabytes. Read a node's sets with ``set_members``.

    Parameters
    ----------
    cond : Condensed
        The graph, condensed once by ``condense``.
    sources : sequence of sequences of int
        Node indices; one set per bit.

    Returns
    -------
    ndarray of uint64, shape (n_components, max(1, ceil(len(sources) / 64)))

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> g = sp.csr_array(([1, 1], ([0, 1], [1, 2])), shape=(3, 3))  # 0 -> 1 -> 2
    >>> c = condense(g)
    >>> bits = sweep_bits(c, [[0], [1], [2]])
    >>> [set_members(bits[c.labels[node]], 3).tolist() for node in range(3)]
    [[0], [0, 1], [0, 1, 2]]
    """
    n, k = cond.n_nodes, cond.n_components
    lanes = max(1, (len(sources) + 63) // 64)
    bits = np.zeros((k, lanes), np.uint64)
    for i, s in enumerate(sources):
        idx = np.asarray(s, dtype=np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise ValueError(f"source set {i} names a node outside 0..{n - 1}")
        if idx.size:
            lane = bits[:, i // 64]  # a view: writing it writes ``bits``
            np.bitwise_or.at(lane, cond.labels[idx], np.uint64(1) << np.uint64(i % 64))
    for lv in range(len(cond.level_bounds) - 1):
        a, b = cond.level_bounds[lv], cond.level_bounds[lv + 1]
        if a == b:
            continue
        np.bitwise_or.at(bits, cond.dst[a:b], bits[cond.src[a:b]])
    return bits


def set_members(row: np.ndarray, n_sets: int) -> np.ndarray:
    """The indices of the sets whose bits are set in one component's ``row`` of ``sweep_bits``.

    >>> set_members(np.array([0b101, 1], np.uint64), 70).tolist()
    [0, 2, 64]
    """
    flags = np.unpackbits(np.ascontiguousarray(row, dtype="<u8").view(np.uint8), bitorder="little")
    return np.flatnonzero(flags[:n_sets])


def reach_sets(cond: Condensed, sources: Sequence[Sequence[int] | np.ndarray]) -> np.ndarray:
    """For each source set, which nodes it reaches (itself included), as a boolean matrix.

    Parameters
    ----------
    cond : Condensed
        The graph, condensed once by ``condense``.
    sources : sequence of sequences of int
        Node indices; one set per row of the result.

    Returns
    -------
    ndarray of bool, shape (len(sources), n)

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> g = sp.csr_array(([1, 1, 1], ([0, 1, 2], [1, 2, 0])), shape=(4, 4))  # a 3-cycle and node 3
    >>> reach_sets(condense(g), [[0], [3], []]).astype(int).tolist()
    [[1, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0]]
    """
    n, n_sets = cond.n_nodes, len(sources)
    bits = sweep_bits(cond, sources)
    node_bits = bits[cond.labels] if n else bits[:0]
    out = np.zeros((n_sets, n), bool)
    for i in range(n_sets):
        out[i] = (node_bits[:, i // 64] >> np.uint64(i % 64)) & np.uint64(1) == 1
    return out
