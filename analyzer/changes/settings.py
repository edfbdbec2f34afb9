"""``setting.harden``: turn on a protective setting. Not harmless by default:

* ``{"setting": "s3_default_encryption", "kms_key": KEY_ARN}`` (target: a bucket ARN): new objects are
  encrypted with the key, so every observed writer needs ``kms:GenerateDataKey`` and every reader of new
  objects ``kms:Decrypt`` on it; ``"sse": "AES256"`` instead (SSE-S3, S3-managed keys) needs no key
  permission;
* ``{"setting": "s3_require_tls"}`` (target: a bucket ARN): a bucket-policy statement denying requests
  without TLS (``aws:SecureTransport`` false) cuts every caller that does not use TLS;
* ``{"setting": "imdsv2_required"}`` (target: an instance ARN or id): the instance metadata service
  answers only session-token (IMDSv2) requests, which cuts software still using IMDSv1;
* ``{"setting": "sqs_encryption"}`` (target: a queue ARN): server-side encryption with the SQS-owned key
  (SSE-SQS), or with ``"kms_key": KEY_ARN`` (SSE-KMS). Requests to an encrypted queue must use HTTPS and
  Signature Version 4, and with a KMS key producers need ``kms:GenerateDataKey`` and ``kms:Decrypt``,
  consumers ``kms:Decrypt`` (SQS Developer Guide, "Encryption at rest" and "Key management").

``apply`` takes and returns the target's setting as ``{"setting": ..., "value": ...}``; the rollback puts
the previous value back.
"""

from __future__ import annotations

import copy
from typing import Any

from analyzer.changes import ChangeKind, register

DELTA_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["setting"],
    "properties": {
        "setting": {"enum": ["s3_default_encryption", "s3_require_tls", "imdsv2_required", "sqs_encryption"]},
        "kms_key": {"type": "string", "pattern": "^arn:aws[a-z-]*:kms:"},
        "sse": {"const": "AES256"},
        "restore": {},
    },
    "allOf": [
        {
            "if": {"properties": {"setting": {"const": "s3_default_encryption"}}},
            "then": {"anyOf": [{"required": ["kms_key"]}, {"required": ["sse"]}, {"required": ["restore"]}]},
        }
    ],
}

TLS_STATEMENT = {
    "Sid": "DenyInsecureTransport",
    "Effect": "Deny",
    "Principal": "*",
    "Action": "s3:*",
    "Resource": ["{bucket}", "{bucket}/*"],
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}


def apply(current: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    """
    >>> apply({"setting": "imdsv2_required", "value": "optional"}, {"setting": "imdsv2_required"})
    {'setting': 'imdsv2_required', 'value': 'required'}
    """
    out = copy.deepcopy(current)
    if "restore" in delta:
        out["value"] = copy.deepcopy(delta["restore"])
        return out
    out["value"] = {
        "s3_default_encryption": {"sse": "aws:kms", "kms_key": delta["kms_key"]}
        if delta.get("kms_key")
        else {"sse": "AES256"},
        "s3_require_tls": True,
        "imdsv2_required": "required",
        "sqs_encryption": {"sse": "kms", "kms_key": delta["kms_key"]}
        if delta.get("kms_key")
        else {"sse": "sqs"},
    }[delta["setting"]]
    return out


def invert(before: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    return {"setting": delta["setting"], "restore": copy.deepcopy(before.get("value"))}


KIND = register(
    ChangeKind(
        name="setting.harden",
        summary="Turn on a protective setting (SSE-KMS default encryption, TLS-only bucket access, IMDSv2, SQS encryption).",
        delta_schema=DELTA_SCHEMA,
        example={
            "setting": "s3_default_encryption",
            "kms_key": "arn:aws:kms:us-east-1:111122223333:key/abcd",
        },
        apply=apply,
        invert=invert,
        target_kind="Setting",
    )
)
