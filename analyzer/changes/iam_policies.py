"""IAM identity changes on a role or user (the target is its ARN):

* ``iam.detach_policy``: ``{"policy_arn": "arn:aws:iam::…:policy/x"}`` detaches a managed policy,
  ``{"inline_name": "x"}`` deletes an inline one;
* ``iam.attach_or_put_policy``: ``{"policy_arn": …}`` attaches a managed policy, ``{"inline_name": "x",
  "document": {…}}`` puts an inline one;
* ``iam.set_permissions_boundary``: ``{"boundary_arn": …}`` sets the boundary, ``{"boundary_arn": null}``
  removes it.

``apply`` takes and returns the principal's configuration as the snapshot keeps it (``managed_policies``,
``inline_policies``, ``permissions_boundary``); each rollback is the opposite change, exact.
"""

from __future__ import annotations

import copy
from typing import Any

from analyzer.changes import ChangeKind, register

_POLICY = {"type": "string", "pattern": "^arn:aws[a-z-]*:iam::(aws|[0-9]{12}):policy/"}
DETACH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "oneOf": [{"required": ["policy_arn"]}, {"required": ["inline_name"]}],
    "properties": {"policy_arn": _POLICY, "inline_name": {"type": "string", "minLength": 1}},
}
ATTACH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "oneOf": [{"required": ["policy_arn"]}, {"required": ["inline_name", "document"]}],
    "properties": {
        "policy_arn": _POLICY,
        "inline_name": {"type": "string", "minLength": 1},
        "document": {"type": "object"},
    },
}
BOUNDARY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["boundary_arn"],
    "properties": {"boundary_arn": {"oneOf": [_POLICY, {"type": "null"}]}},
}


def detach(config: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    """
    >>> detach({"managed_policies": ["arn:aws:iam::aws:policy/ReadOnlyAccess"], "inline_policies": []},
    ...        {"policy_arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"})["managed_policies"]
    []
    """
    out = copy.deepcopy(config)
    if "policy_arn" in delta:
        out["managed_policies"] = [p for p in out.get("managed_policies") or [] if p != delta["policy_arn"]]
    else:
        out["inline_policies"] = [
            p for p in out.get("inline_policies") or [] if p.get("name") != delta["inline_name"]
        ]
    return out


def attach(config: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(config)
    if "policy_arn" in delta:
        managed = list(out.get("managed_policies") or [])
        if delta["policy_arn"] not in managed:
            managed.append(delta["policy_arn"])
        out["managed_policies"] = managed
    else:
        inline = [p for p in out.get("inline_policies") or [] if p.get("name") != delta["inline_name"]]
        inline.append({"name": delta["inline_name"], "document": copy.deepcopy(delta["document"])})
        out["inline_policies"] = inline
    return out


def invert_detach(config_before: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    if "policy_arn" in delta:
        return {"policy_arn": delta["policy_arn"]}
    old = next(
        (p for p in config_before.get("inline_policies") or [] if p.get("name") == delta["inline_name"]), None
    )
    return {"inline_name": delta["inline_name"], "document": (old or {}).get("document") or {}}


def invert_attach(config_before: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    if "policy_arn" in delta:
        return {"policy_arn": delta["policy_arn"]}
    return {"inline_name": delta["inline_name"]}


def set_boundary(config: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(config)
    out["permissions_boundary"] = delta["boundary_arn"]
    return out


def invert_boundary(config_before: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    return {"boundary_arn": config_before.get("permissions_boundary")}


REPLACE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["detach", "put"],
    "properties": {"detach": DETACH_SCHEMA, "put": ATTACH_SCHEMA},
}


def replace(config: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    """Detach one policy and put (or attach) its replacement: Access Analyzer's least-privilege
    recommendation.

    >>> cfg = {"managed_policies": ["arn:aws:iam::aws:policy/AmazonS3FullAccess"], "inline_policies": []}
    >>> out = replace(cfg, {"detach": {"policy_arn": "arn:aws:iam::aws:policy/AmazonS3FullAccess"},
    ...                     "put": {"inline_name": "s3-read", "document": {"Statement": []}}})
    >>> out["managed_policies"], [p["name"] for p in out["inline_policies"]]
    ([], ['s3-read'])
    """
    return attach(detach(config, delta["detach"]), delta["put"])


def invert_replace(config_before: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    put = delta["put"]
    undo_put = (
        {"policy_arn": put["policy_arn"]} if "policy_arn" in put else {"inline_name": put["inline_name"]}
    )
    return {"detach": undo_put, "put": invert_detach(config_before, delta["detach"])}


DETACH = register(
    ChangeKind(
        name="iam.detach_policy",
        summary="Detach a managed policy from, or delete an inline policy of, a role or user.",
        delta_schema=DETACH_SCHEMA,
        example={"policy_arn": "arn:aws:iam::aws:policy/AdministratorAccess"},
        apply=detach,
        invert=invert_detach,
        inverse_kind="iam.attach_or_put_policy",
        target_kind="IamPrincipal",
    )
)
ATTACH = register(
    ChangeKind(
        name="iam.attach_or_put_policy",
        summary="Attach a managed policy to, or put an inline policy on, a role or user.",
        delta_schema=ATTACH_SCHEMA,
        example={"policy_arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"},
        apply=attach,
        invert=invert_attach,
        inverse_kind="iam.detach_policy",
        target_kind="IamPrincipal",
    )
)
BOUNDARY = register(
    ChangeKind(
        name="iam.set_permissions_boundary",
        summary="Set (or remove) a role's or user's permissions boundary.",
        delta_schema=BOUNDARY_SCHEMA,
        example={"boundary_arn": "arn:aws:iam::111122223333:policy/workload-boundary"},
        apply=set_boundary,
        invert=invert_boundary,
        target_kind="IamPrincipal",
    )
)

REPLACE = register(
    ChangeKind(
        name="iam.replace_policy",
        summary="Replace a role's or user's policy with another (e.g. a least-privilege recommendation).",
        delta_schema=REPLACE_SCHEMA,
        example={
            "detach": {"policy_arn": "arn:aws:iam::aws:policy/AmazonS3FullAccess"},
            "put": {"inline_name": "s3-read-used", "document": {"Version": "2012-10-17", "Statement": []}},
        },
        apply=replace,
        invert=invert_replace,
        target_kind="IamPrincipal",
    )
)
