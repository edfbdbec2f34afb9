"""Kubernetes label selectors (``matchLabels`` and ``matchExpressions``), as the API defines them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def selects(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """Whether a label selector selects an object with ``labels`` (``matchLabels`` and ``matchExpressions``,
    all of them: In, NotIn, Exists, DoesNotExist). An empty selector selects everything; a selector that
    is absent (None) selects nothing.

    >>> selects({"matchLabels": {"app": "a"}}, {"app": "a", "tier": "x"})
    True
    >>> selects({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["x"]}]}, {"app": "a"})
    True
    >>> selects({}, {}), selects(None, {"app": "a"})
    (True, False)
    """
    if selector is None:
        return False
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for ex in selector.get("matchExpressions") or []:
        key, op, values = ex.get("key"), ex.get("operator"), ex.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
        if op not in ("In", "NotIn", "Exists", "DoesNotExist"):
            raise ValueError(f"unknown selector operator {op!r}")
    return True
