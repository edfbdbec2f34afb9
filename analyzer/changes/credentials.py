"""``iam.revoke_credentials``: cut a principal's credentials (target: the user's or role's ARN, or
``arn:aws:iam::ACCOUNT:root`` for the root user's). Delta::

    {"credential": "access_keys", "action": "deactivate"}   # or "delete"; a user's access keys
    {"credential": "console_password"}                        # a user's console login
    {"credential": "role_sessions"}                           # AWSRevokeOlderSessions on a role

Deactivated keys can be activated again; deleted keys and revoked sessions cannot be brought back.
"""

from __future__ import annotations

from typing import Any

from analyzer.changes import ChangeKind, register

DELTA_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["credential"],
    "properties": {
        "credential": {"enum": ["access_keys", "console_password", "role_sessions"]},
        "action": {"enum": ["deactivate", "delete", "activate"]},
    },
}


def apply(state: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    """
    >>> apply({"access_keys": "active"}, {"credential": "access_keys", "action": "deactivate"})
    {'access_keys': 'inactive'}
    """
    out = dict(state)
    action = delta.get("action", "delete")
    out[delta["credential"]] = {"deactivate": "inactive", "delete": "deleted", "activate": "active"}[action]
    return out


def invert(before: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    if delta["credential"] != "access_keys" or delta.get("action", "delete") != "deactivate":
        raise ValueError(
            f"{delta['credential']} cut this way cannot be restored (new credentials must be issued)"
        )
    return {"credential": "access_keys", "action": "activate"}


KIND = register(
    ChangeKind(
        name="iam.revoke_credentials",
        summary="Deactivate or delete a user's access keys or password, or revoke a role's sessions.",
        delta_schema=DELTA_SCHEMA,
        example={"credential": "access_keys", "action": "deactivate"},
        apply=apply,
        invert=invert,
        target_kind="Credentials",
    )
)
