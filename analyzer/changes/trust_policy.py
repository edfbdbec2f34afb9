"""``iam.update_trust_policy``: change who may assume a role.

Example delta (what the Access Analyzer lookup produces)::

    {"remove_principals_of_account": ["739406228105"]}

Other forms: ``{"remove_statements": ["Sid-or-#index", ...]}``, ``{"new_document": {...}}``,
``{"remove_service_principals": ["ec2.amazonaws.com"]}`` (the service may no longer assume the role) and
``{"add_service_condition": {"StringEquals": {"aws:SourceAccount": "111122223333"}}}`` (the confused-deputy
fix: every Allow statement that trusts a service principal gets the condition) and
``{"restrict_web_identity_subjects": ["system:serviceaccount:fraud:fraud-batch"]}`` (IRSA: every Allow
statement that trusts an OIDC provider admits only these token subjects: ``StringEquals`` on
``<issuer>:sub``, replacing whatever it said about ``sub`` before; ``aud`` and other keys kept).
"""

from __future__ import annotations

import copy
import json
from typing import Any
from urllib.parse import unquote

from analyzer.changes import ChangeKind, register

DELTA_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "properties": {
        "remove_principals_of_account": {
            "type": "array",
            "items": {"type": "string", "pattern": "^[0-9]{12}$"},
        },
        "remove_statements": {"type": "array", "items": {"type": "string"}},
        "new_document": {"type": "object"},
        "remove_service_principals": {
            "type": "array",
            "items": {"type": "string", "pattern": "^[a-z0-9.-]+\\.amazonaws\\.com(\\.cn)?$"},
        },
        "restrict_web_identity_subjects": {
            "type": "array",
            "minItems": 1,
            "items": {"type": "string", "minLength": 1},
        },
        "add_service_condition": {
            "type": "object",
            "minProperties": 1,
            "additionalProperties": {
                "type": "object",
                "minProperties": 1,
                "additionalProperties": {
                    "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]
                },
            },
        },
    },
}


def _as_dict(doc: Any) -> dict[str, Any]:
    if isinstance(doc, str):
        text = unquote(doc) if doc.lstrip().startswith("%7") else doc
        return json.loads(text)
    return copy.deepcopy(doc)


def _in_account(value: str, account: str) -> bool:
    return value == account or value.split(":")[4:5] == [account]


def apply(document: Any, delta: dict[str, Any]) -> dict[str, Any]:
    """The trust policy after the change.

    >>> doc = {"Version": "2012-10-17", "Statement": [
    ...     {"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::111122223333:root",
    ...      "arn:aws:iam::444455556666:role/x"]}, "Action": "sts:AssumeRole"}]}
    >>> apply(doc, {"remove_principals_of_account": ["111122223333"]})["Statement"][0]["Principal"]
    {'AWS': 'arn:aws:iam::444455556666:role/x'}
    """
    if "new_document" in delta:
        return copy.deepcopy(delta["new_document"])
    doc = _as_dict(document)
    statements = doc.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    kept = []
    drop = set(delta.get("remove_statements", []))
    accounts = delta.get("remove_principals_of_account", [])
    services = set(delta.get("remove_service_principals", []))
    condition = delta.get("add_service_condition")
    subjects = delta.get("restrict_web_identity_subjects")
    for i, st in enumerate(statements):
        if st.get("Sid") in drop or f"#{i}" in drop:
            continue
        principal = st.get("Principal")
        trusts_service = (
            isinstance(principal, dict) and "Service" in principal and st.get("Effect") == "Allow"
        )
        if services and trusts_service:
            assert isinstance(principal, dict)
            values = (
                principal["Service"] if isinstance(principal["Service"], list) else [principal["Service"]]
            )
            left = [v for v in values if v not in services]
            if not left and len(principal) == 1:
                continue  # the statement trusted only these services: drop it
            principal = dict(principal)
            if left:
                principal["Service"] = left[0] if len(left) == 1 else left
            else:
                del principal["Service"]
            st = {**st, "Principal": principal}
        if condition and trusts_service and "Service" in (st.get("Principal") or {}):
            merged = copy.deepcopy(st.get("Condition") or {})
            for op, keys in condition.items():
                merged.setdefault(op, {}).update(copy.deepcopy(keys))
            st = {**st, "Condition": merged}
        if subjects and st.get("Effect") == "Allow":
            st = _only_subjects(st, subjects)
        if accounts and isinstance(principal, dict) and "AWS" in principal and st.get("Effect") == "Allow":
            values = principal["AWS"] if isinstance(principal["AWS"], list) else [principal["AWS"]]
            left = [v for v in values if not any(_in_account(v, a) for a in accounts)]
            if not left and len(principal) == 1:
                continue  # the statement trusted nothing else: drop it
            new_principal = dict(principal)
            if left:
                new_principal["AWS"] = left[0] if len(left) == 1 else left
            else:
                del new_principal["AWS"]
            st = {**st, "Principal": new_principal}
        kept.append(st)
    doc["Statement"] = kept
    return doc


def _only_subjects(st: dict[str, Any], subjects: list[str]) -> dict[str, Any]:
    """``st`` admitting only web identity tokens whose ``sub`` is one of ``subjects``, for each OIDC
    provider it trusts (a statement that trusts none is returned as it is).

    >>> st = {"Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity",
    ...       "Principal": {"Federated": "arn:aws:iam::111122223333:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/AB"},
    ...       "Condition": {"StringLike": {"oidc.eks.us-east-1.amazonaws.com/id/AB:sub": "system:serviceaccount:fraud:*"},
    ...                     "StringEquals": {"oidc.eks.us-east-1.amazonaws.com/id/AB:aud": "sts.amazonaws.com"}}}
    >>> _only_subjects(st, ["system:serviceaccount:fraud:batch"])["Condition"]
    {'StringEquals': {'oidc.eks.us-east-1.amazonaws.com/id/AB:aud': 'sts.amazonaws.com', 'oidc.eks.us-east-1.amazonaws.com/id/AB:sub': 'system:serviceaccount:fraud:batch'}}
    """
    federated = (
        (st.get("Principal") or {}).get("Federated") if isinstance(st.get("Principal"), dict) else None
    )
    values = federated if isinstance(federated, list) else [federated] if federated else []
    issuers = [v.split(":oidc-provider/", 1)[1] for v in values if ":oidc-provider/" in str(v)]
    if not issuers:
        return st
    keys = {f"{i}:sub".lower() for i in issuers}
    merged: dict[str, Any] = {}
    for op, block in (st.get("Condition") or {}).items():
        kept = {k: v for k, v in block.items() if k.lower() not in keys}
        if kept:
            merged[op] = copy.deepcopy(kept)
    for issuer in issuers:
        merged.setdefault("StringEquals", {})[f"{issuer}:sub"] = (
            subjects[0] if len(subjects) == 1 else list(subjects)
        )
    return {**st, "Condition": merged}


def invert(document_before: Any, delta: dict[str, Any]) -> dict[str, Any]:
    """The rollback: put the exact previous document back."""
    return {"new_document": _as_dict(document_before)}


KIND = register(
    ChangeKind(
        name="iam.update_trust_policy",
        summary="Change a role's trust policy (who may assume it).",
        delta_schema=DELTA_SCHEMA,
        example={"remove_principals_of_account": ["739406228105"]},
        apply=apply,
        invert=invert,
    )
)
