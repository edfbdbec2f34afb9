"""The one place core inputs are converted and checked."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp


def validate_graph(graph: sp.sparray | sp.spmatrix) -> sp.csr_array:
    """Return ``graph`` as a square CSR array; raise ValueError naming what is wrong."""
    if not sp.issparse(graph):
        raise ValueError(f"graph must be a scipy.sparse array, got {type(graph).__name__}")
    if graph.ndim != 2 or graph.shape[0] != graph.shape[1]:
        raise ValueError(f"graph must be square, got shape {graph.shape}")
    # a CSR array is used as it is (no copy: scipy then remembers that its indices are sorted, so a graph
    # built once and queried per proposal is checked once, not on every query)
    csr = graph if isinstance(graph, sp.csr_array) else sp.csr_array(graph)
    csr.sort_indices()
    return csr


def validate_seeds(seeds: Sequence[Sequence[int] | np.ndarray], n: int) -> list[np.ndarray]:
    """Each seed set as a unique int64 array of node indices in [0, n)."""
    out = []
    for k, s in enumerate(seeds):
        arr = np.unique(np.asarray(s, dtype=np.int64).ravel())
        if arr.size and (arr[0] < 0 or arr[-1] >= n):
            raise ValueError(f"seed set {k} has node indices outside [0, {n})")
        out.append(arr)
    return out
