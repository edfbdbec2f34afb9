import itertools

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.core import reachable


@st.composite
def graphs(draw: st.DrawFn) -> tuple[int, list[tuple[int, int]], list[int]]:
    n = draw(st.integers(1, 40))
    edges = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=120))
    seeds = draw(st.lists(st.integers(0, n - 1), max_size=4))
    return n, edges, seeds


@settings(max_examples=200, deadline=None)
@given(graphs())
def test_agrees_with_networkx_descendants(case: tuple[int, list[tuple[int, int]], list[int]]) -> None:
    n, edges, seeds = case
    src = np.array([e[0] for e in edges], dtype=np.int64)
    dst = np.array([e[1] for e in edges], dtype=np.int64)
    g = sp.csr_array((np.ones(len(edges)), (src, dst)), shape=(n, n))
    r = reachable(g, [seeds])[0]
    G = nx.DiGraph()
    G.add_nodes_from(range(n))
    G.add_edges_from(edges)
    expected = set(seeds).union(*(nx.descendants(G, s) for s in seeds)) if seeds else set()
    assert set(np.flatnonzero(r.reached).tolist()) == expected
    for v in expected:  # every parent chain is a real path from a seed
        path = r.path_to(v)
        assert path[0] in seeds and path[-1] == v
        assert all(G.has_edge(a, b) for a, b in itertools.pairwise(path))


def test_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="square"):
        reachable(sp.csr_array((2, 3)), [[0]])
    with pytest.raises(ValueError, match="outside"):
        reachable(sp.csr_array((2, 2)), [[5]])
