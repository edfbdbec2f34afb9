"""Condition blocks and policy variables, evaluated the way AWS documents them (IAM User Guide, "IAM JSON
policy elements: Condition operators", "Single-valued vs. multivalued context keys", "Policy variables").

Blastwall rarely knows a whole request context, so a context here has three kinds of entry:

* a key mapped to a tuple of values: the key is present (a multivalued key may have several values);
* a key mapped to ``ABSENT``: Blastwall *knows* the request would not carry it (an untagged principal has
  no ``aws:PrincipalTag/team``; CloudTrail shows an AssumeRole without an external id);
* a key not in the mapping at all: unknown. A condition that needs it evaluates to ``None`` and names it;
  it never quietly becomes true or false.

Keys are case-insensitive (stored lower-case); values are compared as the operator says.
"""

from __future__ import annotations

import base64
import ipaddress
import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, Final

from analyzer.iam.match import LITERAL_QMARK, LITERAL_STAR, wildcard_match


class _Absent:
    __slots__ = ()

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Final = _Absent()
"""The context key is known not to be in the request."""


@dataclass(frozen=True)
class OutsideOf:
    """The key is present with a value Blastwall does not know, except that it is none of ``values``.

    Used for ``aws:PrincipalOrgID`` of an account that is not in the collected organization: it is not
    our organization's id, but it may be some other organization's.
    """

    values: frozenset[str]


ContextValue = tuple[str, ...] | _Absent | OutsideOf


class RequestContext(dict[str, ContextValue]):
    """Lower-case key -> value. ``closed`` lists key prefixes Blastwall knows completely (e.g. the
    principal's tags: ``aws:principaltag/``): an unlisted key under one of them is ``ABSENT``, not unknown.
    """

    closed: tuple[str, ...] = ()

    def __init__(self, *args: object, closed: tuple[str, ...] = (), **kwargs: ContextValue) -> None:
        super().__init__(*args, **kwargs)
        self.closed = closed

    def lookup(self, key: str) -> ContextValue | None:
        k = key.lower()
        v = dict.get(self, k)
        if v is None and any(k.startswith(c) for c in self.closed):
            return ABSENT
        return v


def ctx_get(context: dict[str, ContextValue], key: str) -> ContextValue | None:
    v = context.lookup(key) if isinstance(context, RequestContext) else context.get(key.lower())
    if isinstance(v, str):  # a plain string is one value, never a sequence of characters
        return (v,)
    return v


Tri = bool | None

OPERATORS: Final = frozenset(
    {
        "StringEquals",
        "StringNotEquals",
        "StringEqualsIgnoreCase",
        "StringNotEqualsIgnoreCase",
        "StringLike",
        "StringNotLike",
        "NumericEquals",
        "NumericNotEquals",
        "NumericLessThan",
        "NumericLessThanEquals",
        "NumericGreaterThan",
        "NumericGreaterThanEquals",
        "DateEquals",
        "DateNotEquals",
        "DateLessThan",
        "DateLessThanEquals",
        "DateGreaterThan",
        "DateGreaterThanEquals",
        "Bool",
        "BinaryEquals",
        "IpAddress",
        "NotIpAddress",
        "ArnEquals",
        "ArnLike",
        "ArnNotEquals",
        "ArnNotLike",
        "Null",
    }
)
NEGATED: Final = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "NumericNotEquals": "NumericEquals",
    "DateNotEquals": "DateEquals",
    "NotIpAddress": "IpAddress",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
}


@dataclass(frozen=True)
class Operator:
    """A parsed condition operator such as ``ForAllValues:StringLikeIfExists``."""

    qualifier: str  # "", "ForAllValues" or "ForAnyValue"
    base: str  # the positive operator (StringEquals for StringNotEquals)
    negated: bool
    if_exists: bool
    name: str

    @property
    def supported(self) -> bool:
        return self.base in OPERATORS


@lru_cache(maxsize=4096)
def parse_operator(op: str) -> Operator:
    """
    >>> parse_operator("ForAllValues:StringNotLikeIfExists")
    Operator(qualifier='ForAllValues', base='StringLike', negated=True, if_exists=True, name='ForAllValues:StringNotLikeIfExists')
    """
    qualifier, _, rest = op.rpartition(":")
    if_exists = rest.endswith("IfExists") and rest != "IfExists"
    base = rest.removesuffix("IfExists") if if_exists else rest
    negated = base in NEGATED
    return Operator(qualifier, NEGATED.get(base, base), negated, if_exists, op)


# -- one value against one policy value ----------------------------------------------------------------
def _number(s: str) -> float | None:
    try:
        return float(s)
    except ValueError:
        return None


def _date(s: str) -> float | None:
    s = s.strip()
    if re.fullmatch(r"-?\d+(\.\d+)?", s):
        return float(s)  # epoch seconds
    try:
        dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        from datetime import UTC

        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def _arn_like(pattern: str, value: str) -> bool:
    """ARN operators compare each of the six colon-separated parts, each part with wildcards."""
    p = pattern.split(":", 5)
    v = value.split(":", 5)
    if len(p) != 6 or len(v) != 6:
        return pattern == "*" or (len(p) == 1 and wildcard_match(pattern, value))
    return all(wildcard_match(a, b) for a, b in zip(p, v, strict=True))


def _network(text: str) -> Any:
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None


def _ip_in(cidr: str, value: str) -> bool:
    try:
        net = ipaddress.ip_network(cidr.strip(), strict=False)
        addr = ipaddress.ip_address(value.strip().split("/")[0])
    except ValueError:
        return False
    return addr.version == net.version and addr in net


class Malformed(ValueError):
    """A value an operator cannot read (a number that is not one, a date, an address, base-64): AWS
    documents no behaviour for it, so the condition is unknown, with this reason."""


def _parsed(parse: Any, text: str, what: str, side: str) -> Any:
    v = parse(text)
    if v is None:
        raise Malformed(f"the {side} value {text[:60]!r} is not {what}")
    return v


def _b64(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except ValueError:
        return None


def _compare(base: str, pattern: str, value: str) -> bool:
    if base == "StringEquals":
        return value == pattern
    if base == "StringEqualsIgnoreCase":
        return value.lower() == pattern.lower()
    if base == "StringLike":
        return wildcard_match(pattern, value)
    if base.startswith("Numeric"):
        b = _parsed(_number, pattern, "a number", "policy")
        a = _parsed(_number, value, "a number", "request")
        return bool(_ORDER[base.removeprefix("Numeric")](a, b))
    if base.startswith("Date"):
        b = _parsed(_date, pattern, "a date", "policy")
        a = _parsed(_date, value, "a date", "request")
        return bool(_ORDER[base.removeprefix("Date")](a, b))
    if base == "Bool":
        return value.lower() == pattern.lower()
    if base == "BinaryEquals":
        return bool(_parsed(_b64, value, "base-64", "request") == _parsed(_b64, pattern, "base-64", "policy"))
    if base == "IpAddress":
        _parsed(_network, pattern, "an IP address or range", "policy")
        return _ip_in(pattern, value)
    if base in ("ArnEquals", "ArnLike"):
        return _arn_like(pattern, value)
    raise ValueError(base)


NO_VARIABLES = frozenset(
    {
        *(
            f"Numeric{o}"
            for o in ("Equals", "LessThan", "LessThanEquals", "GreaterThan", "GreaterThanEquals")
        ),
        *(f"Date{o}" for o in ("Equals", "LessThan", "LessThanEquals", "GreaterThan", "GreaterThanEquals")),
        "BinaryEquals",
        "IpAddress",
        "Null",
    }
)
"""Operators with which a policy variable is not substituted ("You can not use a policy variable with the
Numeric / Date / Binary / IpAddress / Null condition operator": the text stays literal)."""

_ORDER = {
    "Equals": lambda a, b: a == b,
    "LessThan": lambda a, b: a < b,
    "LessThanEquals": lambda a, b: a <= b,
    "GreaterThan": lambda a, b: a > b,
    "GreaterThanEquals": lambda a, b: a >= b,
}


def value_matches(op: Operator, patterns: tuple[str, ...], value: str) -> bool:
    """One context value against the policy's values: a positive operator needs one pattern to match;
    a negated one needs none to (AWS: "the values ... are ORed"; negation applies to the result)."""
    hit = any(_compare(op.base, p, value) for p in patterns)
    return not hit if op.negated else hit


# -- policy variables -----------------------------------------------------------------------------------
_VAR = re.compile(r"\$\{([^}]*)\}")
_SPECIAL = {"*": "*", "?": "?", "$": "$"}
_LITERAL = {"*": LITERAL_STAR, "?": LITERAL_QMARK, "$": "$"}


class Unresolved(Exception):
    """A policy variable whose key is unknown (``key``) or known absent with no default (``absent``)."""

    def __init__(self, key: str, absent: bool) -> None:
        super().__init__(key)
        self.key = key
        self.absent = absent


def has_variables(text: str) -> bool:
    return "${" in text


def substitute(text: str, context: dict[str, ContextValue], *, for_pattern: bool) -> str:
    """Replace ``${key}`` (and ``${key, 'default'}``) with the request's value.

    ``${*}``, ``${?}`` and ``${$}`` stand for the literal characters; in a pattern (Resource, StringLike,
    ArnLike) the literal ``*`` and ``?`` are marked so the wildcard matcher does not treat them as wildcards.

    >>> substitute("arn:aws:s3:::home/${aws:username}/*", {"aws:username": ("ana",)}, for_pattern=True)
    'arn:aws:s3:::home/ana/*'
    >>> substitute("${aws:PrincipalTag/team, 'none'}", {"aws:principaltag/team": ABSENT}, for_pattern=False)
    'none'
    """

    def repl(m: re.Match[str]) -> str:
        inner = m.group(1).strip()
        if inner in _SPECIAL:
            return _LITERAL[inner] if for_pattern else _SPECIAL[inner]
        key, default = inner, None
        dm = re.fullmatch(r"(.+?)\s*,\s*'(.*)'", inner)
        if dm:
            key, default = dm.group(1).strip(), dm.group(2)
        v = ctx_get(context, key)
        if isinstance(v, tuple) and len(v) == 1:
            return v[0]
        if v is None or isinstance(v, OutsideOf) or (isinstance(v, tuple) and len(v) > 1):
            raise Unresolved(key, absent=False)
        if default is not None:
            return default
        raise Unresolved(key, absent=True)

    return _VAR.sub(repl, text)


# -- one condition block --------------------------------------------------------------------------------
def key_holds(op: Operator, key: str, patterns: tuple[str, ...], value: ContextValue | None) -> Tri:
    """One (operator, key) pair of a Condition block against one context entry; ``None`` when unknown."""
    if not op.supported:
        return None
    if op.base == "Null":
        if value is None:
            return None
        present = not isinstance(value, _Absent) and not (isinstance(value, tuple) and len(value) == 0)
        want_absent = any(p.lower() == "true" for p in patterns)
        return present != want_absent
    if value is None:
        return None
    if isinstance(value, _Absent) or value == ():
        if op.qualifier == "ForAllValues":
            return True  # vacuously true for a missing or empty key
        if op.qualifier == "ForAnyValue":
            return False
        if op.if_exists:
            return True
        return op.negated  # AWS: a missing key does not match; a negated operator is then true
    if isinstance(value, OutsideOf):
        # decidable only by equality against the values we know it is not
        if op.base not in ("StringEquals", "StringEqualsIgnoreCase"):
            return None
        known = {v.lower() for v in value.values}
        if all(p.lower() in known for p in patterns):
            return op.negated
        return None
    results = [value_matches(op, patterns, v) for v in value]
    if op.qualifier == "ForAllValues":
        return all(results)
    if op.qualifier == "ForAnyValue":
        return any(results)
    if op.negated:
        return all(results)  # single-valued negation on a multivalued key: no value may match
    return any(results)


def condition_holds(
    conditions: dict[str, dict[str, tuple[str, ...]]], context: dict[str, ContextValue]
) -> tuple[Tri, tuple[str, ...]]:
    """All operators and all keys must hold (AND); True / False, or None with the unknown keys named.

    >>> condition_holds({"StringEquals": {"aws:PrincipalOrgID": ("o-1",)}}, {"aws:principalorgid": ("o-1",)})
    (True, ())
    >>> condition_holds({"StringEquals": {"sts:ExternalId": ("x",)}}, {})
    (None, ('sts:ExternalId',))
    >>> condition_holds({"StringEqualsIfExists": {"aws:SourceVpc": ("vpc-1",)}}, {"aws:sourcevpc": ABSENT})
    (True, ())
    """
    missing: list[str] = []
    unknown = False
    for op_name, kv in conditions.items():
        op = parse_operator(op_name)
        for key, raw_patterns in kv.items():
            try:
                patterns = tuple(
                    substitute(p, context, for_pattern=op.base in ("StringLike", "ArnLike", "ArnEquals"))
                    if has_variables(p) and op.base not in NO_VARIABLES
                    else p
                    for p in raw_patterns
                )
            except Unresolved as exc:
                if exc.absent:
                    return False, ()
                missing.append(exc.key)
                unknown = True
                continue
            try:
                held = key_holds(op, key, patterns, ctx_get(context, key))
            except Malformed as exc:
                missing.append(f"{key} ({op_name}: {exc}; AWS documents no behaviour for it)")
                unknown = True
                continue
            if held is False:
                return False, ()
            if held is None:
                missing.append(key if op.supported else f"{key} (operator {op_name} not supported)")
                unknown = True
    return (None, tuple(dict.fromkeys(missing))) if unknown else (True, ())
