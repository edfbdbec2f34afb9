"""Patterns over a review period (issue #27: "identify patterns where the AI's judgment diverged from what a
human would have decided"): the executions grouped by change kind, proposer, tier rule and approver role,
each group with how often it ran without a gate pass or without any prediction on record, how often it
was rolled back, the median time from a run that broke something to the next change of its target, and
how well the prediction held: precision (of the severed dependencies predicted, the share the refusals after the
execution confirmed) and recall (of the breakage seen after it, the share that was predicted). A group
with nothing predicted, or nothing seen, has no precision or recall (None), never a perfect one.

>>> items = [
...     {"change_kind": "iam.update_trust_policy", "proposer": "custodian", "tier_rule": "auto-unused-trust",
...      "approver_role": None, "outcome": "applied", "gate_passed_before_execution": False,
...      "diverges_from_current_policy": False, "predicted_severed": [["a", "r"]],
...      "predicted_and_observed": [], "unpredicted_breakage": [{"consumer": "etl", "provider": "r"}]},
... ]
>>> g = patterns(items)["tier_rule"]["auto-unused-trust"]
>>> (g["executions"], g["without_gate_pass"], g["precision"], g["recall"])
(1, 1, 0.0, 0.0)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

DIMENSIONS = ("change_kind", "proposer", "tier_rule", "approver_role")


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 3) if whole else None


def patterns(items: Iterable[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """Per dimension, per value (``"none"`` where an execution has none), the group's figures."""
    out: dict[str, dict[str, dict[str, Any]]] = {d: {} for d in DIMENSIONS}
    for item in items:
        predicted = len(item.get("predicted_severed") or [])
        confirmed = len(item.get("predicted_and_observed") or [])
        unpredicted = len(item.get("unpredicted_breakage") or [])
        for d in DIMENSIONS:
            key = str(item.get(d) or "none")
            g = out[d].setdefault(
                key,
                {
                    "executions": 0,
                    "without_gate_pass": 0,
                    "without_prediction": 0,
                    "rolled_back": 0,
                    "diverging_from_current_policy": 0,
                    "broke_something": 0,
                    "predicted": 0,
                    "predicted_and_observed": 0,
                    "unpredicted": 0,
                },
            )
            g["executions"] += 1
            g["without_gate_pass"] += int(not item.get("gate_passed_before_execution"))
            g["rolled_back"] += int(item.get("outcome") == "rolled-back")
            g["diverging_from_current_policy"] += int(bool(item.get("diverges_from_current_policy")))
            g["broke_something"] += int(bool(confirmed or unpredicted))
            g["predicted"] += predicted
            g["predicted_and_observed"] += confirmed
            g["unpredicted"] += unpredicted
            g["without_prediction"] += int("prediction_before" in item and item["prediction_before"] is None)
            restored = item.get("time_to_restore_s")
            if restored is not None and (confirmed or unpredicted):
                g.setdefault("_restore", []).append(float(restored))
    for groups in out.values():
        for g in groups.values():
            g["precision"] = _ratio(g["predicted_and_observed"], g["predicted"])
            g["recall"] = _ratio(g["predicted_and_observed"], g["predicted_and_observed"] + g["unpredicted"])
            # how long what broke stood before the target was changed again (None: never seen changed)
            times = sorted(g.pop("_restore", []))
            g["median_time_to_restore_s"] = times[len(times) // 2] if times else None
    return out
