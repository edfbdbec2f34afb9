"""``azure.remove_role_assignment``: delete an Azure role assignment (what Defender for Cloud's "remove
deprecated/guest/external accounts with owner permissions" and an access review's "remove" do).

The target is the assignment's ARM id (``…/providers/Microsoft.Authorization/roleAssignments/<guid>``) or
its GUID; the delta is empty. The rollback creates it again (same principal, role, scope and condition:
a new assignment id, the same access), so ``invert`` returns ``{"restore": true}``. ``apply`` takes and
returns ``{"assigned": bool}``.
"""

from __future__ import annotations

from typing import Any

from analyzer.changes import ChangeKind, register

SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"restore": {"type": "boolean"}},
}


def apply(state: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    """
    >>> apply({"assigned": True}, {})
    {'assigned': False}
    >>> apply({"assigned": False}, {"restore": True})
    {'assigned': True}
    """
    return {"assigned": bool(delta.get("restore"))}


def invert(before: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    return {"restore": bool(before.get("assigned"))}


REMOVE = register(
    ChangeKind(
        name="azure.remove_role_assignment",
        summary="Remove an Azure role assignment (the principal loses the role at that scope).",
        delta_schema=SCHEMA,
        example={},
        apply=apply,
        invert=invert,
        target_kind="AzureRoleAssignment",
    )
)
