"""The numeric core: NumPy/SciPy only, no I/O. Takes arrays, returns frozen results."""

from analyzer.core.reach import Listed, Reach, reach, reachable
from analyzer.core.sweep import Condensed, condense, reach_sets, set_members, sweep_bits

__all__ = [
    "Condensed",
    "Listed",
    "Reach",
    "condense",
    "reach",
    "reach_sets",
    "reachable",
    "set_members",
    "sweep_bits",
]
