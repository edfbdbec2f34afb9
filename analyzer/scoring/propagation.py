"""The dependency graph impact propagates over, built once per (snapshot, evidence window).

Edges are consumer -> provider: observed use inside the window (assume, call, flow), documented CI
dependencies, and CMDB membership both ways (a CI depends on its resources; a resource is only as
healthy as the CI it belongs to). Impact is reverse reachability: everything with a path to a severed
consumer. A second graph holds only the documented edges (CMDB relations and membership), to tell
whether the CMDB alone would have predicted an impact.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import scipy.sparse as sp

from analyzer.scoring.context import Context

OBSERVED_KINDS = ("OBSERVED_ASSUME", "OBSERVED_CALL", "OBSERVED_FLOW")


@dataclass(frozen=True)
class PropagationGraphs:
    impact: sp.csr_array  # provider -> consumer (transposed dependency graph)
    documented: sp.csr_array  # same, documented edges only


def in_window(last_seen: np.ndarray, first_seen: np.ndarray, start: datetime, end: datetime) -> np.ndarray:
    s = np.datetime64(start.replace(tzinfo=None), "s")
    e = np.datetime64(end.replace(tzinfo=None), "s")
    return (last_seen >= s) & (first_seen <= e)


def build_graphs(ctx: Context, start: datetime, end: datetime) -> PropagationGraphs:
    snap = ctx.snap

    def build() -> PropagationGraphs:
        observed_src: list[np.ndarray] = []
        observed_dst: list[np.ndarray] = []
        for kind in OBSERVED_KINDS:
            arr = snap.edges.get(kind)
            if arr is None:
                continue
            m = in_window(arr.last_seen, arr.first_seen, start, end)
            observed_src.append(arr.src[m])
            observed_dst.append(arr.dst[m])
        doc_src: list[np.ndarray] = []
        doc_dst: list[np.ndarray] = []
        arr = snap.edges.get("DEPENDS_ON")
        if arr is not None:
            doc_src.append(arr.src)
            doc_dst.append(arr.dst)
        res: list[int] = []
        cis: list[int] = []
        for resource, ci_ids in ctx.ci_of.items():
            for ci_id in ci_ids:
                if resource in snap.index and ci_id in snap.index:
                    res.append(snap.index[resource])
                    cis.append(snap.index[ci_id])
        res_idx = np.asarray(res, dtype=np.int64)
        ci_idx = np.asarray(cis, dtype=np.int64)
        doc_src += [ci_idx, res_idx]
        doc_dst += [res_idx, ci_idx]
        # transpose: provider -> consumer, so forward reachability from severed consumers finds dependants
        impact = snap.csr(observed_dst + doc_dst, observed_src + doc_src)
        documented = snap.csr(doc_dst, doc_src)
        return PropagationGraphs(impact, documented)

    key = ("propagation", start.isoformat(), end.isoformat())  # ci_of depends on the snapshot alone
    result = snap.memo(key, build)
    assert isinstance(result, PropagationGraphs)
    return result
