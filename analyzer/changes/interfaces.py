"""``eni.replace_security_groups``: put an interface in other security groups (quarantine, isolation).

Example delta::

    {"groups": ["sg-0a1b2c3d4e5f60718"]}

``apply`` takes and returns the interface as ``DescribeNetworkInterfaces`` returns it; the rollback puts
the previous groups back.
"""

from __future__ import annotations

import copy
from typing import Any

from analyzer.changes import ChangeKind, register

DELTA_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["groups"],
    "properties": {
        "groups": {"type": "array", "minItems": 1, "items": {"type": "string", "pattern": "^sg-"}}
    },
}


def apply(eni: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    """
    >>> apply({"NetworkInterfaceId": "eni-1", "Groups": [{"GroupId": "sg-a"}]}, {"groups": ["sg-q"]})["Groups"]
    [{'GroupId': 'sg-q'}]
    """
    out = copy.deepcopy(eni)
    out["Groups"] = [{"GroupId": g} for g in delta["groups"]]
    return out


def invert(eni_before: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    return {"groups": [g["GroupId"] for g in eni_before.get("Groups") or []]}


KIND = register(
    ChangeKind(
        name="eni.replace_security_groups",
        summary="Replace a network interface's security groups (quarantine).",
        delta_schema=DELTA_SCHEMA,
        example={"groups": ["sg-0quarantine0000000"]},
        apply=apply,
        invert=invert,
        target_kind="NetworkInterface",
    )
)
