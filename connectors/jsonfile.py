"""Reading JSON inputs with errors that say where: file, line, column and the JSON path."""

from __future__ import annotations

import gzip
import json
import re
import zlib
from pathlib import Path
from typing import Any

import msgspec

from analyzer.errors import BadInput
from analyzer.inputs import check_depth, decode_utf8

_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\],:]|[^\s{}\[\],:"]+')


def json_path_at(text: str, offset: int) -> str:
    """The JSON path of the value being parsed at ``offset`` (best effort, for error messages).

    >>> json_path_at('{"a": [1, {"b": tru', 19)
    '$.a[1].b'
    """
    stack: list[list[Any]] = []  # [container, key-or-index, expecting_key]
    last_string: str | None = None
    for m in _TOKEN.finditer(text, 0, offset):
        tok = m.group()
        if tok == "{":
            stack.append(["{", None, True])
        elif tok == "[":
            stack.append(["[", 0, False])
        elif tok in "}]":
            if stack:
                stack.pop()
        elif tok == ",":
            if stack:
                top = stack[-1]
                if top[0] == "[":
                    top[1] += 1
                else:
                    top[2] = True
        elif tok == ":":
            if stack and last_string is not None:
                stack[-1][1] = last_string
                stack[-1][2] = False
        elif tok.startswith('"'):
            try:
                last_string = json.loads(tok)
            except ValueError:
                last_string = tok.strip('"')
    path = "$"
    for kind, key, expecting_key in stack:
        if kind == "[":
            path += f"[{key}]"
        elif key is not None and not expecting_key:
            path += f".{key}" if re.fullmatch(r"[A-Za-z_][\w-]*", str(key)) else f"[{json.dumps(key)}]"
    return path


def fast_json(data: bytes) -> Any:
    """Parse JSON bytes with msgspec (several times faster than the standard library on CloudTrail)."""
    try:
        return msgspec.json.decode(data)
    except (msgspec.DecodeError, RecursionError) as exc:
        raise ValueError(str(exc)) from exc


def read_bytes(path: Path) -> bytes:
    """A file's bytes, transparently gunzipped; a truncated gzip raises BadInput with the size."""
    raw = path.read_bytes()
    if path.suffix == ".gz" or raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as exc:
            raise BadInput(
                f"corrupt or truncated gzip ({exc}); {len(raw)} bytes on disk", file=str(path)
            ) from exc
    return raw


def read_text(path: Path) -> str:
    """Read a file, transparently gunzipping ``.gz``; a truncated gzip raises BadInput with the offset."""
    return decode_utf8(read_bytes(path), str(path))


def load_json(path: Path) -> Any:
    """Parse a JSON (or .json.gz) file; a syntax error names the file, line, column and JSON path, and
    nesting deeper than ``MAX_DEPTH`` is refused."""
    return parse_json_text(read_text(path), str(path))


def parse_json_text(text: str, where: str) -> Any:
    """``load_json`` of text already read (``where`` names it in errors)."""
    try:
        return check_depth(json.loads(text), where)
    except RecursionError as exc:
        raise BadInput("nested too deeply", file=where) from exc
    except json.JSONDecodeError as exc:
        raise BadInput(
            f"invalid JSON: {exc.msg}",
            file=where,
            line=exc.lineno,
            column=exc.colno,
            path=json_path_at(text, exc.pos),
        ) from exc


def require(obj: Any, key: str, *, file: str, path: str, types: type | tuple[type, ...] = object) -> Any:
    """``obj[key]``, or a BadInput naming the file and the JSON path of the missing/mistyped field."""
    if not isinstance(obj, dict):
        raise BadInput(f"expected an object, found {type(obj).__name__}", file=file, path=path)
    if key not in obj:
        raise BadInput(f"missing required field {key!r}", file=file, path=f"{path}.{key}")
    value = obj[key]
    if types is not object and not isinstance(value, types):
        names = types.__name__ if isinstance(types, type) else "/".join(t.__name__ for t in types)
        raise BadInput(f"expected {names}, found {type(value).__name__}", file=file, path=f"{path}.{key}")
    return value


def _decompress_partial(raw: bytes) -> tuple[bytes, str | None]:
    """Gunzip as much as there is; the problem (truncated or corrupt, with the offset) if any."""
    d = zlib.decompressobj(wbits=47)  # gzip or zlib header, detected
    try:
        out = d.decompress(raw)
    except zlib.error as exc:
        return b"", f"corrupt gzip ({exc})"
    if not d.eof:
        return out, f"truncated gzip: the compressed stream ends at byte {len(raw)} before its end"
    return out, None


def load_records(path: Path, key: str = "Records") -> tuple[list[Any], BadInput | None]:
    """The objects of ``{"<key>": [...]}``, parsed one by one, so a truncated or damaged file still yields
    every record before the damage; the damage is returned (not raised) with its place.

    >>> import tempfile, gzip, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.json.gz"
    >>> _ = p.write_bytes(gzip.compress(b'{"Records": [{"a": 1}, {"a": 2}, {"a": 3}]}')[:-12])
    >>> recs, problem = load_records(p)
    >>> len(recs) >= 1, "truncated gzip" in str(problem)
    (True, True)
    """
    raw = path.read_bytes()
    problem: str | None = None
    if path.suffix == ".gz" or raw[:2] == b"\x1f\x8b":
        raw, problem = _decompress_partial(raw)
    text = raw.decode("utf-8", errors="replace")
    head = re.match(r'\s*\{\s*"' + re.escape(key) + r'"\s*:\s*\[', text)
    if head is None:
        try:
            data = json.loads(text)
        except RecursionError:
            return [], BadInput("nested too deeply", file=str(path))
        except json.JSONDecodeError as exc:
            return [], BadInput(
                problem or f"invalid JSON: {exc.msg}",
                file=str(path),
                line=exc.lineno,
                column=exc.colno,
                path=json_path_at(text, exc.pos),
            )
        if isinstance(data, dict) and isinstance(data.get(key), list):
            return data[key], None
        return [], BadInput(f'expected {{"{key}": [...]}}', file=str(path), path=f"$.{key}")
    decoder = json.JSONDecoder()
    records: list[Any] = []
    pos = head.end()
    ws = re.compile(r"\s*")
    while True:
        pos = ws.match(text, pos).end()  # type: ignore[union-attr]
        if text.startswith("]", pos):
            return records, (BadInput(problem, file=str(path)) if problem else None)
        try:
            obj, pos = decoder.raw_decode(text, pos)
        except RecursionError:
            return records, BadInput(
                f"record {len(records)} is nested too deeply; kept the {len(records)} record(s) before it",
                file=str(path),
                path=f"$.{key}[{len(records)}]",
            )
        except json.JSONDecodeError as exc:
            why = problem or f"invalid JSON: {exc.msg}"
            line = text.count("\n", 0, exc.pos) + 1
            column = exc.pos - text.rfind("\n", 0, exc.pos)
            return records, BadInput(
                f"{why}; kept the {len(records)} record(s) before it",
                file=str(path),
                line=line,
                column=column,
                path=json_path_at(text, exc.pos),
            )
        records.append(obj)
        pos = ws.match(text, pos).end()  # type: ignore[union-attr]
        if text.startswith(",", pos):
            pos += 1
        elif not text.startswith("]", pos):
            why = problem or "expected , or ] between records"
            return records, BadInput(
                f"{why}; kept the {len(records)} record(s) before it",
                file=str(path),
                path=f"$.{key}[{len(records)}]",
            )
