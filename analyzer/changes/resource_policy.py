"""``resource_policy.remove_statements``: delete statements from a resource-based policy (an S3 bucket
policy, a KMS key policy, a Lambda function policy, an SQS or SNS policy).

Example delta (what Cloud Custodian's ``remove-statements`` with ``statement_ids: matched`` does to the
statements its ``cross-account`` filter flagged)::

    {"statement_ids": ["PartnerRead"]}

A statement without a ``Sid`` is named by its full text in ``statements``. The rollback puts the exact
previous document back (``new_document``).
"""

from __future__ import annotations

import copy
import json
from typing import Any

from analyzer.changes import ChangeKind, register

DELTA_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "properties": {
        "statement_ids": {"type": "array", "items": {"type": "string"}},
        "statements": {"type": "array", "items": {"type": "object"}},
        "new_document": {"type": ["object", "null"]},
        "remove_principals_of_account": {
            "type": "array",
            "items": {"type": "string", "pattern": "^[0-9]{12}$"},
        },
    },
}


def _doc(document: Any) -> dict[str, Any]:
    if document is None:
        return {"Version": "2012-10-17", "Statement": []}
    return json.loads(document) if isinstance(document, str) else copy.deepcopy(document)


def apply(document: Any, delta: dict[str, Any]) -> dict[str, Any] | None:
    """The policy without the named statements (None when nothing is left: the policy is deleted).

    >>> p = {"Version": "2012-10-17", "Statement": [{"Sid": "A", "Effect": "Allow"}, {"Sid": "B", "Effect": "Allow"}]}
    >>> [s["Sid"] for s in apply(p, {"statement_ids": ["A"]})["Statement"]]
    ['B']
    """
    if "new_document" in delta:
        return copy.deepcopy(delta["new_document"])
    doc = _doc(document)
    statements = doc.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    if delta.get("remove_principals_of_account"):
        from analyzer.changes.trust_policy import apply as narrow

        narrowed = narrow(doc, {"remove_principals_of_account": delta["remove_principals_of_account"]})
        return narrowed if narrowed.get("Statement") else None
    ids = set(delta.get("statement_ids", []))
    texts = [json.dumps(s, sort_keys=True) for s in delta.get("statements", [])]
    kept = [s for s in statements if s.get("Sid") not in ids and json.dumps(s, sort_keys=True) not in texts]
    if not kept:
        return None
    doc["Statement"] = kept
    return doc


def invert(document_before: Any, delta: dict[str, Any]) -> dict[str, Any]:
    return {"new_document": None if document_before is None else _doc(document_before)}


KIND = register(
    ChangeKind(
        name="resource_policy.remove_statements",
        summary="Remove statements from a resource-based policy (S3, KMS, Lambda, SQS, SNS).",
        delta_schema=DELTA_SCHEMA,
        example={"statement_ids": ["PartnerRead"]},
        apply=apply,
        invert=invert,
        target_kind="ResourcePolicy",
    )
)
