"""The cycle collector paused while a large structure is built.

Python's collector runs whenever allocations outpace deallocations by a threshold, and each of its full
passes visits every live object: building or loading an analysis context at scale L makes about ten
million objects, and the passes that triggered cost more than the building (a persisted context loaded in
18.5 s with the collector, 7.6 s without). Nothing built here is cyclic garbage worth collecting
mid-build; the collector resumes afterwards.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused() -> Iterator[None]:
    """Pause the collector for the block (nested pauses resume only at the outermost).

    Examples
    --------
    >>> import gc
    >>> with paused():
    ...     gc.isenabled()
    False
    >>> gc.isenabled()
    True
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def settle() -> None:
    """Put every object the collector tracks in its oldest generation without scanning it (call it
    right after building or loading a structure of millions of long-lived objects, before the collector
    resumes).

    Objects made while the collector was paused are all in its youngest generation: the first young
    collection after it resumes scans every one of them, and the next older one again (1.2-2.4 s at L,
    for a context that is then kept). In the oldest generation they are scanned only by a full collection,
    which would have come anyway. If the process has frozen objects already (a batch keeps its context
    out of the collector's way, ``gc.freeze``), what was just made stays frozen with them: unfreezing
    would hand the collector a heap that forked workers share page for page.

    Examples
    --------
    >>> import gc
    >>> gc.unfreeze()  # a process that has frozen nothing
    >>> made = [[i] for i in range(1000)]
    >>> settle()
    >>> any(o is made for o in gc.get_objects(generation=0)), any(o is made for o in gc.get_objects(generation=2))
    (False, True)
    """
    frozen = gc.get_freeze_count()
    gc.freeze()
    if not frozen:
        gc.unfreeze()
