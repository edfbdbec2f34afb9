"""The numeric core: NumPy/SciPy only, no I/O. Takes arrays, returns frozen results."""

from analyzer.core.reach import Reach, reachable

__all__ = ["Reach", "reachable"]
