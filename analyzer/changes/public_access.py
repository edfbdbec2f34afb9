"""``public_access.block``: turn on S3 Block Public Access for a bucket (target: its ARN). Example delta::

    {"BlockPublicAcls": true, "IgnorePublicAcls": true, "BlockPublicPolicy": true, "RestrictPublicBuckets": true}

``apply`` takes and returns the bucket's ``PublicAccessBlockConfiguration``; the rollback puts the previous
configuration back. What it cuts (Amazon S3 User Guide, "Blocking public access"): with
``RestrictPublicBuckets`` and a *public* bucket policy, only AWS service principals and principals of the
bucket owner's account keep access; ``IgnorePublicAcls`` ignores ACL grants (ACLs are not collected, so
cross-account access that might come from an ACL is unknown).
"""

from __future__ import annotations

from typing import Any

from analyzer.changes import ChangeKind, register

FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
DELTA_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "properties": {f: {"type": "boolean"} for f in FLAGS},
}
FIXED_KEYS = {
    "aws:sourceip",
    "aws:sourcearn",
    "aws:sourcevpc",
    "aws:sourcevpce",
    "aws:sourceaccount",
    "aws:sourceowner",
    "aws:principalaccount",
    "aws:principalorgid",
    "aws:userid",
    "aws:principalarn",
}


def apply(config: dict[str, Any] | None, delta: dict[str, Any]) -> dict[str, Any]:
    """
    >>> apply({}, {"RestrictPublicBuckets": True})["RestrictPublicBuckets"]
    True
    """
    out = {f: bool((config or {}).get(f, False)) for f in FLAGS}
    out.update({k: bool(v) for k, v in delta.items()})
    return out


def invert(config_before: dict[str, Any] | None, delta: dict[str, Any]) -> dict[str, Any]:
    return {f: bool((config_before or {}).get(f, False)) for f in FLAGS}


def is_public_statement(st: Any) -> bool:
    """A statement that grants to everyone: an Allow to ``*`` without a condition pinning a fixed value
    (the S3 guide's "meaning of public": source IP, VPC, endpoint, account, org, ARN …)."""
    if st.effect != "Allow":
        return False
    everyone = "*" in st.principals.get("AWS", ()) or st.not_principals
    if not everyone:
        return False
    for op, kv in st.conditions.items():
        if op.lower().startswith(("stringequals", "arnequals", "ipaddress", "stringlike", "arnlike")):
            for key, values in kv.items():
                if key.lower() in FIXED_KEYS and not any(v in ("*", "0.0.0.0/0", "::/0") for v in values):
                    return False
    return True


KIND = register(
    ChangeKind(
        name="public_access.block",
        summary="Turn on S3 Block Public Access for a bucket.",
        delta_schema=DELTA_SCHEMA,
        example={f: True for f in FLAGS},
        apply=apply,
        invert=invert,
        target_kind="PublicAccess",
    )
)
