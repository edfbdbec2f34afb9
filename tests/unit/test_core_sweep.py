"""The condensed bit-packed sweep agrees with SciPy's breadth-first search and with the frontier BFS on
random directed graphs with cycles (hypothesis), including the empty graph, self-loops, one giant
component, and more than 64 source sets (several uint64 lanes)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse.csgraph import breadth_first_order

from analyzer.core import reachable
from analyzer.core.sweep import condense, reach_sets


def scipy_reach(g: sp.csr_array, seeds: list[int]) -> set[int]:
    out: set[int] = set()
    for s in seeds:
        out |= set(breadth_first_order(g, s, directed=True, return_predecessors=False).tolist())
    return out


@st.composite
def graphs(draw: st.DrawFn) -> tuple[sp.csr_array, list[list[int]]]:
    n = draw(st.integers(0, 40))
    if n == 0:
        return sp.csr_array((0, 0), dtype=bool), [[] for _ in range(draw(st.integers(0, 3)))]
    m = draw(st.integers(0, n * 3))
    src = draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m))
    dst = draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m))  # self-loops allowed
    if draw(st.booleans()):  # sometimes one giant component: a ring through every node
        src += list(range(n))
        dst += [(i + 1) % n for i in range(n)]
    g = sp.csr_array((np.ones(len(src), bool), (src, dst)), shape=(n, n))
    sets = draw(st.lists(st.lists(st.integers(0, n - 1), max_size=3), min_size=0, max_size=70))
    return g, sets


@settings(max_examples=200, deadline=None)
@given(graphs())
def test_sweep_agrees_with_scipy_and_the_frontier_bfs(case: tuple[sp.csr_array, list[list[int]]]) -> None:
    g, sets = case
    got = reach_sets(condense(g), sets)
    assert got.shape == (len(sets), g.shape[0])
    frontier = reachable(g, sets) if g.shape[0] else []
    for i, seeds in enumerate(sets):
        want = scipy_reach(g, seeds) if seeds else set()
        assert set(np.flatnonzero(got[i]).tolist()) == want
        if g.shape[0]:
            assert set(np.flatnonzero(frontier[i].reached).tolist()) == want


def test_bad_input_is_refused() -> None:
    import pytest

    with pytest.raises(ValueError, match="square"):
        condense(sp.csr_array((2, 3), dtype=bool))
    g = sp.csr_array(([True], ([0], [1])), shape=(2, 2))
    with pytest.raises(ValueError, match=r"outside 0\.\.1"):
        reach_sets(condense(g), [[5]])


@settings(max_examples=150, deadline=None)
@given(graphs())
def test_packed_bits_read_per_node_are_the_sets_that_reach_it(
    case: tuple[sp.csr_array, list[list[int]]],
) -> None:
    """``sweep_bits`` + ``set_members``: for every node, the sets reaching it, as SciPy's BFS says (the form
    ``undocumented`` reads one consumer at a time, on the reversed impact graph)."""
    from analyzer.core import set_members, sweep_bits

    g, sets = case
    if not g.shape[0]:
        return
    cond = condense(g)
    bits = sweep_bits(cond, sets)
    reaches = [scipy_reach(g, seeds) if seeds else set() for seeds in sets]
    for node in range(g.shape[0]):
        want = [i for i, r in enumerate(reaches) if node in r]
        assert set_members(bits[cond.labels[node]], len(sets)).tolist() == want
