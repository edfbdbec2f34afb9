"""Multi-source reachability with a parent pointer per reached node (to explain one path).

``reach`` answers one seed set with arrays the size of what it reaches (``Listed``): a query that reaches a
hundred nodes of a million touches a few hundred entries, on scratch arrays allocated once per thread and
graph size and cleared entry by entry. ``reachable`` gives the same answers as whole-graph arrays
(``Reach``), for callers that want masks.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from analyzer.core._validation import validate_graph, validate_seeds


@dataclass(frozen=True)
class Reach:
    """What one seed set reaches, as whole-graph arrays.

    Attributes
    ----------
    reached : ndarray of bool, shape (n,)
        True for every node reachable from a seed (seeds included).
    parent1, depth1 : ndarray of int64, shape (n,)
        The node each reached node was first reached from, and its hops from the nearest seed, both plus
        one (0: a seed's parent, and unreached nodes). Read them through ``parent``/``depth`` (whole
        arrays, -1 where none) or ``parent_of``/``depth_of``.
    """

    reached: np.ndarray
    parent1: np.ndarray
    depth1: np.ndarray

    @property
    def parent(self) -> np.ndarray:
        """The node each reached node was first reached from; -1 for seeds and unreached nodes."""
        return self.parent1 - 1

    @property
    def depth(self) -> np.ndarray:
        """Hops from the nearest seed; -1 where unreached."""
        return self.depth1 - 1

    def parent_of(self, node: int) -> int:
        return int(self.parent1[node]) - 1

    def depth_of(self, node: int) -> int:
        return int(self.depth1[node]) - 1

    def path_to(self, node: int) -> list[int]:
        """Seed-to-``node`` path following parent pointers (empty if ``node`` is unreached)."""
        if not self.reached[node]:
            return []
        path = [int(node)]
        while self.parent1[path[-1]] > 0:
            path.append(int(self.parent1[path[-1]]) - 1)
        return path[::-1]


@dataclass(frozen=True)
class Listed:
    """What one seed set reaches, listed: every array has one entry per reached node.

    Attributes
    ----------
    nodes : ndarray of int64, shape (k,)
        The reached nodes: the seeds (ascending), then each level of the search (ascending within it).
    parent : ndarray of int64, shape (k,)
        The node each was first reached from; -1 for seeds.
    depth : ndarray of int64, shape (k,)
        Hops from the nearest seed (0 for seeds).
    n : int
        The number of nodes in the graph.
    """

    nodes: np.ndarray
    parent: np.ndarray
    depth: np.ndarray
    n: int
    _sorted: np.ndarray
    _where: np.ndarray

    @classmethod
    def of(cls, nodes: np.ndarray, parent: np.ndarray, depth: np.ndarray, n: int) -> Listed:
        where = np.argsort(nodes, kind="stable")
        return cls(nodes, parent, depth, n, nodes[where], where)

    def __len__(self) -> int:
        return len(self.nodes)

    def position(self, node: int) -> int:
        """Where ``node`` is in ``nodes``; -1 if it is not reached."""
        i = int(np.searchsorted(self._sorted, node))
        return int(self._where[i]) if i < len(self._sorted) and self._sorted[i] == node else -1

    def contains(self, node: int) -> bool:
        return self.position(node) >= 0

    def member(self, nodes: np.ndarray) -> np.ndarray:
        """For each of ``nodes``, whether it is reached (a bool array of the same shape)."""
        nodes = np.asarray(nodes, dtype=np.int64)
        i = np.searchsorted(self._sorted, nodes)
        ok = i < len(self._sorted)
        ok[ok] = self._sorted[i[ok]] == nodes[ok]
        return ok

    def parent_of(self, node: int) -> int:
        k = self.position(node)
        return int(self.parent[k]) if k >= 0 else -1

    def depth_of(self, node: int) -> int:
        k = self.position(node)
        return int(self.depth[k]) if k >= 0 else -1

    def path_to(self, node: int) -> list[int]:
        """Seed-to-``node`` path following parent pointers (empty if ``node`` is unreached)."""
        k = self.position(node)
        if k < 0:
            return []
        path = [int(node)]
        while self.parent[k] >= 0:
            path.append(int(self.parent[k]))
            k = self.position(path[-1])
            if k < 0:  # a parent is always reached before its child; never follow index -1
                raise ValueError(f"node {path[-1]} is a parent but not reached")
        return path[::-1]

    def dense(self) -> Reach:
        """The same answer as whole-graph arrays."""
        reached = np.zeros(self.n, dtype=bool)
        parent1 = np.zeros(self.n, dtype=np.int64)
        depth1 = np.zeros(self.n, dtype=np.int64)
        reached[self.nodes] = True
        parent1[self.nodes] = self.parent + 1
        depth1[self.nodes] = self.depth + 1
        return Reach(reached, parent1, depth1)


class _Scratch:
    """Per thread and graph size: a reached mark, a level mark and parent pointers (plus one), all
    cleared again after each query by the entries it wrote."""

    __slots__ = ("fresh", "parent1", "reached")

    def __init__(self, n: int) -> None:
        self.reached = np.zeros(n, dtype=bool)
        self.fresh = np.zeros(n, dtype=bool)
        self.parent1 = np.zeros(n, dtype=np.int64)


_local = threading.local()
_SIZES_KEPT = 4


def _scratch(n: int) -> _Scratch:
    kept: OrderedDict[int, _Scratch] | None = getattr(_local, "kept", None)
    if kept is None:
        kept = _local.kept = OrderedDict()
    s = kept.pop(n, None) or _Scratch(n)
    kept[n] = s
    while len(kept) > _SIZES_KEPT:
        kept.popitem(last=False)
    return s


def _search(indptr: np.ndarray, indices: np.ndarray, seed: np.ndarray, n: int) -> Listed:
    s = _scratch(n)
    try:
        levels = [seed]
        s.reached[seed] = True
        frontier = seed
        while frontier.size:
            starts = indptr[frontier]
            lens = indptr[frontier + 1] - starts
            total = int(lens.sum())
            if total == 0:
                break
            offsets = np.repeat(starts - np.cumsum(lens) + lens, lens) + np.arange(total)
            nbrs = indices[offsets]
            keep = ~s.reached[nbrs]
            nbrs = nbrs[keep]
            if not nbrs.size:
                break
            s.parent1[nbrs] = np.repeat(frontier, lens)[keep] + 1  # duplicates: any writer is a valid parent
            s.fresh[nbrs] = True
            frontier = np.flatnonzero(s.fresh) if nbrs.size > n // 64 else np.unique(nbrs)
            s.fresh[frontier] = False
            s.reached[frontier] = True
            levels.append(frontier.astype(np.int64, copy=False))
        nodes = np.concatenate(levels)
        parent = s.parent1[nodes] - 1
        parent[: len(seed)] = -1
        depth = np.repeat(np.arange(len(levels), dtype=np.int64), [len(x) for x in levels])
        s.reached[nodes] = False  # every entry the search wrote is a reached node's
        s.parent1[nodes] = 0
    except BaseException:
        _local.kept.pop(n, None)  # interrupted half way: its scratch is not clean, a new one is made
        raise
    return Listed.of(nodes, parent, depth, n)


def reach(graph: sp.sparray | sp.spmatrix, seeds: Sequence[int] | np.ndarray) -> Listed:
    """Breadth-first reachability from one seed set, frontier-at-a-time in NumPy; work and memory follow
    what is reached, not the size of the graph.

    Parameters
    ----------
    graph : sparse array, shape (n, n)
        ``graph[i, j] != 0`` means an edge i -> j.
    seeds : index array
        The nodes the search starts from (e.g. the severed consumers of one proposal).

    Returns
    -------
    Listed
        The reached nodes with their parents and depths.

    Raises
    ------
    ValueError
        If the graph is not square or a seed is out of range.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> g = sp.csr_array(([1, 1, 1], ([0, 1, 3], [1, 2, 3])), shape=(4, 4))
    >>> r = reach(g, [0])
    >>> r.nodes.tolist(), r.path_to(2), r.contains(3)
    ([0, 1, 2], [0, 1, 2], False)
    >>> len(reach(g, []))
    0
    """
    csr = validate_graph(graph)
    n = csr.shape[0]
    (seed,) = validate_seeds([seeds], n)
    return _search(csr.indptr, csr.indices, seed, n)


def reachable(graph: sp.sparray | sp.spmatrix, seeds: Sequence[Sequence[int] | np.ndarray]) -> list[Reach]:
    """``reach`` for each seed set, as whole-graph arrays.

    Parameters
    ----------
    graph : sparse array, shape (n, n)
        ``graph[i, j] != 0`` means an edge i -> j.
    seeds : sequence of index arrays
        One seed set per query.

    Returns
    -------
    list of Reach
        One per seed set, in order; shapes are always (n,).

    Raises
    ------
    ValueError
        If the graph is not square or a seed is out of range.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> g = sp.csr_array(([1, 1, 1], ([0, 1, 3], [1, 2, 3])), shape=(4, 4))
    >>> r = reachable(g, [[0]])[0]
    >>> r.reached.nonzero()[0].tolist(), r.path_to(2)
    ([0, 1, 2], [0, 1, 2])
    >>> reachable(g, [[]])[0].reached.any()
    np.False_
    """
    csr = validate_graph(graph)
    n = csr.shape[0]
    return [_search(csr.indptr, csr.indices, seed, n).dense() for seed in validate_seeds(seeds, n)]
