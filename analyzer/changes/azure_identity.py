"""``azure.remove_managed_identity``: delete a managed identity (or disable a VM's system-assigned one).

The target is the identity's principal, ``urn:azure:principal:<object id>`` (or the object id). Every
request it makes fails afterwards, whatever its role assignments; and it cannot be put back: a new
identity has a new object id, so every assignment must be made again and every workload reconfigured.
Blastwall says so (not invertible), and the tier rises. ``apply`` takes and returns ``{"state": ...}``.
"""

from __future__ import annotations

from typing import Any

from analyzer.changes import ChangeKind, register


def apply(state: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    """
    >>> apply({"state": "present"}, {})
    {'state': 'deleted'}
    """
    return {"state": "deleted"}


def invert(before: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    raise ValueError("a deleted managed identity cannot be restored: a new one has a new object id")


REMOVE = register(
    ChangeKind(
        name="azure.remove_managed_identity",
        summary="Delete a managed identity (cannot be undone: a new one is a new principal).",
        delta_schema={"type": "object", "additionalProperties": False, "properties": {}},
        example={},
        apply=apply,
        invert=invert,
        invertible=False,
        target_kind="AzurePrincipal",
    )
)
