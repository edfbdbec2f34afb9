"""``iam.update_managed_policy``: a new default version of a customer managed policy (target: the
policy's ARN), ``{"document": {...}}``. It changes what every role, user and group the policy is attached
to may do at once. The rollback makes the previous version the default again (IAM keeps up to five
versions; ``SetDefaultPolicyVersion``), which restores the document exactly. AWS managed policies cannot
be changed by their users.
"""

from __future__ import annotations

import copy
from typing import Any

from analyzer.changes import ChangeKind, register

DELTA_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["document"],
    "properties": {"document": {"type": "object", "required": ["Statement"]}},
}


def apply(config: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    """
    >>> apply({"document": {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}},
    ...       {"document": {"Statement": []}})
    {'document': {'Statement': []}}
    """
    return {**config, "document": copy.deepcopy(delta["document"])}


def invert(before: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    return {"document": copy.deepcopy(before.get("document") or {"Statement": []})}


KIND = register(
    ChangeKind(
        name="iam.update_managed_policy",
        summary="Set a new default version of a customer managed policy (for every principal it is attached to).",
        delta_schema=DELTA_SCHEMA,
        example={
            "document": {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}],
            }
        },
        apply=apply,
        invert=invert,
        target_kind="ManagedPolicy",
    )
)
