"""Changes that take a resource away:

* ``compute.stop_or_terminate``: ``{"action": "stop"}`` or ``{"action": "terminate"}`` on an instance (ARN or
  id). Stopping is undone by starting it; terminating cannot be undone.
* ``resource.delete``: ``{}`` on any resource (a role, a bucket, a key, a queue, a function, a security
  group …). Deleting cannot be undone: Blastwall says so and the tier rises.

``apply`` takes and returns the resource's state as ``{"state": ...}``.
"""

from __future__ import annotations

from typing import Any

from analyzer.changes import ChangeKind, register

STOP_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["action"],
    "properties": {"action": {"enum": ["stop", "terminate", "start"]}},
}


def stop(state: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    """
    >>> stop({"state": "running"}, {"action": "stop"})
    {'state': 'stopped'}
    """
    return {"state": {"stop": "stopped", "terminate": "terminated", "start": "running"}[delta["action"]]}


def invert_stop(before: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    if delta["action"] == "terminate":
        raise ValueError("a terminated instance cannot be started again")
    return {"action": "start" if before.get("state") == "running" else "stop"}


def delete(state: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    return {"state": "deleted"}


def invert_delete(before: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    raise ValueError("a deleted resource cannot be restored by Blastwall (restore it from a backup)")


STOP = register(
    ChangeKind(
        name="compute.stop_or_terminate",
        summary="Stop or terminate an instance (quarantine, cost or compromise response).",
        delta_schema=STOP_SCHEMA,
        example={"action": "stop"},
        apply=stop,
        invert=invert_stop,
        target_kind="Removal",
    )
)
DELETE = register(
    ChangeKind(
        name="resource.delete",
        summary="Delete a resource (cannot be undone).",
        delta_schema={"type": "object", "additionalProperties": False, "properties": {}},
        example={},
        apply=delete,
        invert=invert_delete,
        invertible=False,
        target_kind="Removal",
    )
)
