"""AWS wildcard matching: ``*`` any run, ``?`` one character. Actions match case-insensitively."""

from __future__ import annotations

import re
from functools import lru_cache

LITERAL_STAR = "\x00"
"""A ``*`` that came from the policy variable ``${*}``: matches only a literal asterisk."""
LITERAL_QMARK = "\x01"


def pattern_regex(pattern: str) -> str:
    """The regular expression for one AWS wildcard pattern."""
    return "".join(
        ".*"
        if c == "*"
        else "."
        if c == "?"
        else re.escape("*")
        if c == LITERAL_STAR
        else re.escape("?")
        if c == LITERAL_QMARK
        else re.escape(c)
        for c in pattern
    )


@lru_cache(maxsize=65536)
def _compile(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    rx = pattern_regex(pattern)
    return re.compile(rx, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def wildcard_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """
    >>> wildcard_match("s3:Get*", "S3:GETOBJECT", ignore_case=True)
    True
    >>> wildcard_match("arn:aws:s3:::bucket/*", "arn:aws:s3:::Bucket/x")
    False
    """
    return _compile(pattern, ignore_case).fullmatch(value) is not None


@lru_cache(maxsize=16384)
def compile_any(patterns: tuple[str, ...], ignore_case: bool) -> re.Pattern[str]:
    """One compiled alternation for a statement's patterns (used by the vectorized evaluator)."""
    rx = "|".join(f"(?:{pattern_regex(p)})" for p in patterns) or "(?!)"
    return re.compile(rx, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def action_matches(patterns: tuple[str, ...], action: str) -> bool:
    return any(wildcard_match(p, action, ignore_case=True) for p in patterns)


def resource_matches(patterns: tuple[str, ...], resource: str) -> bool:
    return any(wildcard_match(p, resource) for p in patterns)
