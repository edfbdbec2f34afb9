"""Policy documents as AWS stores them, normalized into statements.

IAM returns policy documents URL-encoded (the raw API) or as objects (boto3 and the AWS CLI decode
them); S3 and Organizations return them as JSON strings. ``parse_document`` takes all three.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from analyzer.errors import BadInput

VALID_VERSIONS = {"2012-10-17", "2008-10-17"}


@dataclass(frozen=True)
class Statement:
    index: int
    sid: str | None
    effect: str
    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    not_resources: tuple[str, ...] = ()
    principals: dict[str, tuple[str, ...]] = field(default_factory=dict)
    not_principals: dict[str, tuple[str, ...]] = field(default_factory=dict)
    conditions: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def label(self) -> str:
        return self.sid or f"#{self.index}"


def _tuple(v: Any) -> tuple[str, ...]:
    if v is None:
        return ()
    if isinstance(v, list):
        return tuple(str(x) for x in v)
    return (str(v),)


def _principal_map(v: Any) -> dict[str, tuple[str, ...]]:
    if v is None:
        return {}
    if v == "*":  # AWS: "Principal": "*" is the same as {"AWS": "*"}
        return {"AWS": ("*",)}
    if isinstance(v, str):
        # not AWS's documented grammar, but some emitters (moto's Lambda policies, hand-written policies
        # read by lenient tools) put one principal as a bare string: read what it can only mean
        if v.endswith(".amazonaws.com") or v.endswith(".amazonaws.com.cn"):
            return {"Service": (v,)}
        if (v.isdigit() and len(v) == 12) or v.startswith("arn:"):
            return {"AWS": (v,)}
        raise ValueError(f"Principal must be '*' or an object, found the string {v!r}")
    if isinstance(v, dict):
        return {str(k): _tuple(x) for k, x in v.items()}
    raise ValueError(f"Principal must be '*' or an object, found {type(v).__name__}")


@dataclass(frozen=True)
class Unreadable:
    """A statement (or a whole document) that could not be read: where, why, and, when the statement's
    Action/NotAction was readable, which actions it names (so it is only in doubt for those)."""

    where: str
    message: str
    actions: tuple[str, ...] | None = None
    not_actions: tuple[str, ...] | None = None


@dataclass(frozen=True)
class ParsedPolicy:
    statements: list[Statement]
    unreadable: list[Unreadable]


def _load(doc: Any, where: str) -> dict[str, Any]:
    if isinstance(doc, str):
        text = doc.strip()
        if text.startswith("%7B") or text.startswith("%7b"):
            text = unquote(text)
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BadInput(f"policy is not valid JSON: {exc.msg}", path=where) from exc
    if not isinstance(doc, dict):
        raise BadInput("policy must be a JSON object", path=where)
    version = doc.get("Version", "2008-10-17")
    if version not in VALID_VERSIONS:
        raise BadInput(f"unsupported policy Version {version!r}", path=f"{where}.Version")
    return doc


def _raw_statements(doc: dict[str, Any], where: str) -> list[Any]:
    raw_statements = doc.get("Statement", [])
    if isinstance(raw_statements, dict):
        raw_statements = [raw_statements]
    if not isinstance(raw_statements, list):
        raise BadInput("Statement must be an object or a list", path=f"{where}.Statement")
    return raw_statements


def _strings(v: Any, path: str) -> tuple[str, ...]:
    if v is None:
        return ()
    items = v if isinstance(v, list) else [v]
    for x in items:
        if not isinstance(x, str):
            raise BadInput(f"expected a string or a list of strings, found {type(x).__name__}", path=path)
    return tuple(items)


def _parse_statement(st: Any, i: int, p: str) -> Statement:
    if not isinstance(st, dict):
        raise BadInput("statement must be an object", path=p)
    effect = st.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise BadInput(f"Effect must be Allow or Deny, found {effect!r}", path=f"{p}.Effect")
    actions = _strings(st.get("Action"), f"{p}.Action")
    not_actions = _strings(st.get("NotAction"), f"{p}.NotAction")
    for a in actions + not_actions:
        if a != "*" and ":" not in a:
            raise BadInput(f"action {a!r} has no service prefix", path=f"{p}.Action")
    try:
        principals = _principal_map(st.get("Principal"))
        not_principals = _principal_map(st.get("NotPrincipal"))
    except ValueError as exc:
        raise BadInput(str(exc), path=f"{p}.Principal") from exc
    conditions: dict[str, dict[str, tuple[str, ...]]] = {}
    cond = st.get("Condition") or {}
    if not isinstance(cond, dict):
        raise BadInput("Condition must be an object", path=f"{p}.Condition")
    for op, kv in cond.items():
        if not isinstance(kv, dict):
            raise BadInput(f"condition {op} must map keys to values", path=f"{p}.Condition.{op}")
        conditions[op] = {
            k: tuple(
                str(x).lower() if isinstance(x, bool) else str(x) for x in (v if isinstance(v, list) else [v])
            )
            for k, v in kv.items()
        }
    return Statement(
        index=i,
        sid=st.get("Sid") if isinstance(st.get("Sid"), str) else None,
        effect=effect,
        actions=actions,
        not_actions=not_actions,
        resources=_strings(st.get("Resource"), f"{p}.Resource"),
        not_resources=_strings(st.get("NotResource"), f"{p}.NotResource"),
        principals=principals,
        not_principals=not_principals,
        conditions=conditions,
        raw=st,
    )


def parse_document(doc: Any, *, where: str = "policy") -> list[Statement]:
    """Normalize a policy document into statements; raise BadInput naming ``where`` and the statement.

    >>> [s.label for s in parse_document('%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A'
    ...     '%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22s3%3AGetObject%22%2C%22Resource%22%3A%22*%22%7D%5D%7D')]
    ['#0']
    """
    d = _load(doc, where)
    return [
        _parse_statement(st, i, f"{where}.Statement[{i}]") for i, st in enumerate(_raw_statements(d, where))
    ]


def parse_lenient(doc: Any, *, where: str = "policy") -> ParsedPolicy:
    """Like ``parse_document`` but keeps going: a bad statement is recorded as ``Unreadable`` (with its
    index) and the others are kept; a document that cannot be read at all is one ``Unreadable``.

    >>> p = parse_lenient({"Statement": [{"Effect": "Alow", "Action": "s3:*", "Resource": "*"},
    ...                                  {"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}]}, where="pol")
    >>> [s.index for s in p.statements], [(u.where, u.actions) for u in p.unreadable]
    ([1], [('pol.Statement[0].Effect', ('s3:*',))])
    """
    try:
        d = _load(doc, where)
        raw = _raw_statements(d, where)
    except BadInput as exc:
        return ParsedPolicy([], [Unreadable(exc.path or where, exc.message)])
    statements, unreadable = [], []
    for i, st in enumerate(raw):
        p = f"{where}.Statement[{i}]"
        try:
            statements.append(_parse_statement(st, i, p))
        except BadInput as exc:
            acts = nacts = None
            if isinstance(st, dict):
                a, na = st.get("Action"), st.get("NotAction")
                if isinstance(a, str | list) and all(
                    isinstance(x, str) for x in (a if isinstance(a, list) else [a])
                ):
                    acts = tuple(a) if isinstance(a, list) else (a,)
                if isinstance(na, str | list) and all(
                    isinstance(x, str) for x in (na if isinstance(na, list) else [na])
                ):
                    nacts = tuple(na) if isinstance(na, list) else (na,)
                if (exc.path or "").endswith("Action"):
                    acts = nacts = None  # the action itself is what is wrong: in doubt for every action
            unreadable.append(Unreadable(exc.path or p, exc.message, acts, nacts))
    return ParsedPolicy(statements, unreadable)


def dump_document(statements: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": statements}
