"""Hostile input refused cleanly, in bounded time and memory: the parsing rules every reader shares.

* JSON and YAML nesting is bounded (``MAX_DEPTH``): deeper documents are refused, not recursed into.
* What YAML aliases expand to is bounded (``MAX_ALIAS_EXPANSION`` values): an alias bomb ("billion
  laughs") is refused while it is composed, in microseconds, instead of expanding to gigabytes later.
* Text must be UTF-8; the error names the byte.
* ``guard(file, where)`` turns what a malformed but parseable document makes code raise (a missing key,
  a number where a string belongs, a date out of range, nesting too deep) into a ``BadInput`` naming the
  file and the place, so one bad file never stops a batch with "unexpected TypeError".
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import yaml

from analyzer.errors import BadInput

MAX_DEPTH = 64
MAX_ALIAS_EXPANSION = 10_000
MAX_TEXT = 1 << 20  # a single string value longer than this (1 MiB) is refused where strings are checked
TIME_PATTERN = re.compile(
    r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)"
)


def check_depth(obj: Any, file: str, limit: int = MAX_DEPTH) -> Any:
    """``obj`` if no container in it is nested deeper than ``limit``; else a BadInput.

    >>> check_depth({"a": [1, {"b": 2}]}, "f.json")
    {'a': [1, {'b': 2}]}
    """
    stack: list[tuple[Any, int]] = [(obj, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            raise BadInput(f"nested deeper than {limit} levels", file=file)
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return obj


def decode_utf8(raw: bytes, file: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadInput(
            f"not UTF-8 text (byte {exc.start}: {raw[exc.start : exc.start + 1]!r})", file=file
        ) from exc


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that bounds nesting and what aliases expand to while composing, before anything is
    constructed: an alias bomb of a few lines (each anchor a list of aliases of the previous one) names
    few aliases but expands exponentially, so what is counted is the size each alias stands for."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._expanded = 0
        self._depth = 0
        self._sizes: dict[int, int] = {}

    def _size(self, node: Any) -> int:
        known = self._sizes.get(id(node))
        if known is not None:
            return known
        if isinstance(node, yaml.MappingNode):
            size = 1 + sum(self._size(k) + self._size(v) for k, v in node.value)
        elif isinstance(node, yaml.SequenceNode):
            size = 1 + sum(self._size(v) for v in node.value)
        else:
            size = 1
        self._sizes[id(node)] = size
        return size

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            anchored = self.anchors.get(event.anchor)
            if anchored is not None:
                self._expanded += self._size(anchored)
                if self._expanded > MAX_ALIAS_EXPANSION:
                    raise BadInput(
                        f"YAML aliases expand to more than {MAX_ALIAS_EXPANSION:,} values (an alias bomb?)",
                        line=event.start_mark.line + 1,
                    )
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise BadInput(f"YAML nested deeper than {MAX_DEPTH} levels", line=mark.line + 1)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def load_yaml(text: str | bytes, file: str, *, all_documents: bool = False) -> Any:
    """Parse YAML safely (no tags that run code, bounded aliases and nesting); errors name the line."""
    if isinstance(text, bytes):
        text = decode_utf8(text, file)
    try:
        if all_documents:
            return list(yaml.load_all(text, Loader=_BoundedLoader))
        return yaml.load(text, Loader=_BoundedLoader)
    except BadInput as exc:
        raise BadInput(exc.message, file=file, line=exc.line) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise BadInput(
            f"invalid YAML: {getattr(exc, 'problem', None) or exc}",
            file=file,
            line=(mark.line + 1) if mark else None,
        ) from exc
    except RecursionError as exc:
        raise BadInput("YAML nested too deeply", file=file) from exc


def check_time(value: Any, file: str, path: str) -> str:
    """An ISO 8601 time as AWS writes them (``2026-05-14T23:55:07Z``); anything else is refused.

    >>> check_time("2026-05-14T23:55:07Z", "f", "$.eventTime")
    '2026-05-14T23:55:07Z'
    """
    if not isinstance(value, str) or not TIME_PATTERN.fullmatch(value):
        shown = repr(value) if not isinstance(value, str) or len(value) < 60 else repr(value[:60]) + "…"
        raise BadInput(f"not a time: {shown}", file=file, path=path)
    return value


def describe(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        return f"missing field {exc.args[0]!r}" if exc.args else "missing field"
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    if isinstance(exc, UnicodeError):
        return "text that is not UTF-8"
    text = str(exc)
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


UNEXPECTED = (
    KeyError,
    TypeError,
    AttributeError,
    ValueError,
    OverflowError,
    IndexError,
    RecursionError,
    UnicodeError,
)


@contextmanager
def guard(file: str, path: str | None = None, what: str = "content") -> Iterator[None]:
    """Inside, a malformed document's consequences become a BadInput naming ``file`` (and ``path``):
    "unexpected <what>: …"."""
    try:
        yield
    except BadInput as exc:
        if exc.file is None:
            raise BadInput(exc.message, file=file, path=exc.path or path, line=exc.line) from None
        raise
    except UNEXPECTED as exc:
        raise BadInput(f"unexpected {what}: {describe(exc)}", file=file, path=path) from exc
