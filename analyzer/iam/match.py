"""AWS wildcard matching: ``*`` any run, ``?`` one character. Actions match case-insensitively."""

from __future__ import annotations

import re
from functools import lru_cache


@lru_cache(maxsize=65536)
def _compile(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    rx = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(rx, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def wildcard_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """
    >>> wildcard_match("s3:Get*", "S3:GETOBJECT", ignore_case=True)
    True
    >>> wildcard_match("arn:aws:s3:::bucket/*", "arn:aws:s3:::Bucket/x")
    False
    """
    return _compile(pattern, ignore_case).fullmatch(value) is not None


def action_matches(patterns: tuple[str, ...], action: str) -> bool:
    return any(wildcard_match(p, action, ignore_case=True) for p in patterns)


def resource_matches(patterns: tuple[str, ...], resource: str) -> bool:
    return any(wildcard_match(p, resource) for p in patterns)
