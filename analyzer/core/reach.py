"""Multi-source reachability with a parent pointer per reached node (to explain one path)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from analyzer.core._validation import validate_graph, validate_seeds


@dataclass(frozen=True)
class Reach:
    """What one seed set reaches.

    Attributes
    ----------
    reached : ndarray of bool, shape (n,)
        True for every node reachable from a seed (seeds included).
    parent1, depth1 : ndarray of int64, shape (n,)
        The node each reached node was first reached from, and its hops from the nearest seed, both plus
        one (0: a seed's parent, and unreached nodes). Stored so because zeros cost nothing until written
        (a query that reaches a hundred nodes of a million does not fill two million-entry arrays); read
        them through ``parent``/``depth`` (whole arrays, -1 where none) or ``parent_of``/``depth_of``.
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


def reachable(graph: sp.sparray | sp.spmatrix, seeds: Sequence[Sequence[int] | np.ndarray]) -> list[Reach]:
    """Breadth-first reachability from each seed set, frontier-at-a-time in NumPy.

    Parameters
    ----------
    graph : sparse array, shape (n, n)
        ``graph[i, j] != 0`` means an edge i -> j.
    seeds : sequence of index arrays
        One seed set per query (e.g. the severed consumers of one proposal).

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
    indptr = csr.indptr.astype(np.int64, copy=False)
    indices = csr.indices.astype(np.int64, copy=False)
    out = []
    fresh_mark = np.zeros(n, dtype=bool)  # scratch: de-duplicates a level without sorting it
    for seed in validate_seeds(seeds, n):
        reached = np.zeros(n, dtype=bool)
        parent1 = np.zeros(n, dtype=np.int64)
        depth1 = np.zeros(n, dtype=np.int64)
        reached[seed] = True
        depth1[seed] = 1
        frontier = seed
        level = 0
        while frontier.size:
            level += 1
            starts = indptr[frontier]
            lens = indptr[frontier + 1] - starts
            total = int(lens.sum())
            if total == 0:
                break
            offsets = np.repeat(starts - np.cumsum(lens) + lens, lens) + np.arange(total)
            nbrs = indices[offsets]
            keep = ~reached[nbrs]
            nbrs = nbrs[keep]
            parent1[nbrs] = np.repeat(frontier, lens)[keep] + 1  # duplicates: any writer is a valid parent
            fresh_mark[nbrs] = True
            frontier = np.flatnonzero(fresh_mark) if nbrs.size > n // 64 else np.unique(nbrs)
            fresh_mark[frontier] = False
            reached[frontier] = True
            depth1[frontier] = level + 1
        out.append(Reach(reached, parent1, depth1))
    return out
