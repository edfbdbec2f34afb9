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


@settings(max_examples=200, deadline=None)
@given(graphs(), st.lists(st.integers(0, 39), max_size=4))
def test_listed_reach_is_the_dense_answer_and_leaves_nothing_behind(
    case: tuple[int, list[tuple[int, int]], list[int]], other: list[int]
) -> None:
    """``reach`` lists what ``reachable`` marks, with the same parents and depths; the scratch it reuses
    is clean afterwards (a second query on a graph of the same size answers as a fresh search would)."""
    from analyzer.core import reach

    n, edges, seeds = case
    src = np.array([e[0] for e in edges], dtype=np.int64)
    dst = np.array([e[1] for e in edges], dtype=np.int64)
    g = sp.csr_array((np.ones(len(edges)), (src, dst)), shape=(n, n))
    for s in (seeds, [x for x in other if x < n], seeds):
        got = reach(g, s)
        want = reachable(g, [s])[0]
        assert sorted(got.nodes.tolist()) == np.flatnonzero(want.reached).tolist()
        dense = got.dense()
        assert np.array_equal(dense.reached, want.reached)
        assert np.array_equal(dense.depth, want.depth)
        for v in range(n):
            assert got.contains(v) == bool(want.reached[v])
            assert got.depth_of(v) == want.depth_of(v)
            assert got.path_to(v) == want.path_to(v)
        assert got.member(np.arange(n)).tolist() == want.reached.tolist()
        assert got.depth[: len(set(s))].tolist() == [0] * len(set(s))  # seeds first


def test_listed_reach_from_threads_at_once() -> None:
    """Each thread has its own scratch: searches running together answer as they would alone."""
    from concurrent.futures import ThreadPoolExecutor

    from analyzer.core import reach

    rng = np.random.default_rng(3)
    n = 5_000
    g = sp.csr_array((np.ones(8_000), (rng.integers(0, n, 8_000), rng.integers(0, n, 8_000))), shape=(n, n))
    seeds = [rng.integers(0, n, 3).tolist() for _ in range(200)]
    alone = [sorted(reach(g, s).nodes.tolist()) for s in seeds]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda s: sorted(reach(g, s).nodes.tolist()), seeds))
    assert together == alone
