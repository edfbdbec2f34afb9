"""Derived structures persisted beside the store: Python objects pickled, their NumPy arrays written apart
and memory-mapped on load.

``save(obj, path, header)`` writes two files: ``path`` (one JSON header line, then the pickle of ``obj``
with protocol 5 and its arrays out of band) and ``<path>.<nonce>.bin`` (those arrays, 64-byte aligned),
which the header names. ``load`` maps the ``.bin`` copy-on-write: every array of the loaded object is a
view of the file, so processes that load or fork from it share the pages, and a structure that fills
itself in as it is used (a cache of decisions) writes only its own copy of the pages it touches. Each save
writes a new ``.bin`` and then renames the header file over the old one, so a reader sees the old pair or
the new one, never a mix; older ``.bin`` files are removed after (a process that mapped one keeps it).

A pickle can name any callable, and unpickling calls it. ``load`` therefore resolves only what a persisted
analysis context is made of (``Restricted``): Blastwall's own dataclasses and a few named classes, NumPy's
array reconstruction, SciPy's sparse arrays, and plain containers. Anything else — ``os.system``, a
store class whose constructor opens files — is refused with ``Refused``, and the caller rebuilds from the
store instead. Whoever can write the directory can still write wrong analysis into it, as they could into
the store beside it; they cannot run code as the user who loads it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import io
import json
import mmap
import os
import pickle
import shutil
from functools import cache
from pathlib import Path
from typing import Any

from analyzer.collector import paused

FORMAT = 1
ALIGN = 64

_CLASSES = frozenset(
    {
        ("collections", "OrderedDict"),
        ("builtins", "set"),
        ("builtins", "frozenset"),
        ("builtins", "slice"),
        ("builtins", "range"),
        ("builtins", "complex"),
        ("builtins", "bytearray"),
        ("datetime", "datetime"),
        ("datetime", "date"),
        ("datetime", "timedelta"),
        ("datetime", "timezone"),
        ("ipaddress", "IPv4Network"),
        ("ipaddress", "IPv6Network"),
        ("ipaddress", "IPv4Address"),
        ("ipaddress", "IPv6Address"),
        ("numpy", "dtype"),
        ("numpy", "ndarray"),
        ("numpy.dtypes", "StringDType"),
    }
)
"""Classes outside Blastwall a persisted context may hold (constructing one has no side effect)."""

_FUNCTIONS = frozenset(
    {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
        ("analyzer.graph.store", "EMPTY_PROPS"),
    }
)
"""Functions (and one shared object) by name: NumPy rebuilding an array or scalar from its bytes."""

_OWN = ("analyzer.", "connectors.")


class Refused(pickle.UnpicklingError):
    """The file names something a persisted context is never made of."""


class Restricted(pickle.Unpickler):
    """An unpickler that resolves only the names listed above, Blastwall's dataclasses, the few classes of
    its own that declare ``PERSISTABLE = True``, and SciPy's sparse array classes."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _CLASSES or (module, name) in _FUNCTIONS:
            return super().find_class(module, name)
        if "." in name:
            raise Refused(f"refused to load {module}.{name}: a dotted name")
        if module.startswith(_OWN):
            obj = getattr(importlib.import_module(module), name, None)
            if (
                isinstance(obj, type)
                and obj.__module__ == module
                and (dataclasses.is_dataclass(obj) or obj.__dict__.get("PERSISTABLE") is True)
            ):
                return obj
        elif module.startswith("scipy.sparse."):
            import scipy.sparse as sp

            obj = getattr(importlib.import_module(module), name, None)
            if isinstance(obj, type) and issubclass(obj, (sp.sparray, sp.spmatrix)):
                return obj
        raise Refused(f"refused to load {module}.{name}: not something a persisted context holds")


def save(obj: Any, path: Path, header: dict[str, Any]) -> int:
    """Write ``obj`` to ``path`` and ``path.bin`` (see the module docstring); returns the bytes written.

    Streamed: the pickle goes to a file as it is made and each array to the ``.bin`` as the pickler
    reaches it, so the pickle (700 MB at scale L) is never held in memory whole."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tag = f".tmp-{os.getpid()}"
    bin_path = path.with_name(f"{path.name}.{os.urandom(6).hex()}.bin")
    bin_tmp, tmp, body_tmp = Path(f"{bin_path}{tag}"), Path(f"{path}{tag}"), Path(f"{path}.body{tag}")
    spans: list[tuple[int, int]] = []
    pos = 0
    try:
        with _private(bin_tmp) as bins, _private(body_tmp) as body:

            def put(b: pickle.PickleBuffer) -> None:
                nonlocal pos
                raw = b.raw()
                pad = -pos % ALIGN
                bins.write(b"\0" * pad)
                pos += pad
                spans.append((pos, raw.nbytes))
                bins.write(raw)
                pos += raw.nbytes

            pickle.Pickler(body, protocol=5, buffer_callback=put).dump(obj)
            bins.flush()
            os.fsync(bins.fileno())
        head = {
            **header,
            "format": FORMAT,
            "code": code_digest(),
            "bin": bin_path.name,
            "bin_size": pos,
            "buffers": spans,
        }
        with _private(tmp) as f, open(body_tmp, "rb") as made:
            f.write(json.dumps(head, sort_keys=True).encode() + b"\n")
            start = f.tell()
            shutil.copyfileobj(made, f, 16 << 20)
            pickled = f.tell() - start
            f.flush()
            os.fsync(f.fileno())
        os.replace(bin_tmp, bin_path)
        os.replace(tmp, path)
    except BaseException:
        bin_path.unlink(missing_ok=True)
        raise
    finally:
        for t in (bin_tmp, tmp, body_tmp):
            t.unlink(missing_ok=True)
    for old in _bins(path):
        if old != bin_path:
            old.unlink(missing_ok=True)
    return pos + pickled


def header(path: Path) -> dict[str, Any] | None:
    """The header of a persisted file (None: no such file, or not one of ours)."""
    try:
        with path.open("rb") as f:
            line = f.readline(1 << 20)
        head = json.loads(line)
    except (OSError, ValueError):
        return None
    return head if isinstance(head, dict) else None


def load(path: Path, expect: dict[str, Any]) -> Any | None:
    """The object persisted at ``path`` if its header matches ``expect`` (and this code wrote it); None
    when there is no such file or it is for something else. A file that matches but cannot be read
    raises ``pickle.UnpicklingError`` (``Refused`` for a name it may not hold) or ``ValueError``."""
    head = header(path)
    want = {**expect, "format": FORMAT, "code": code_digest()}
    if head is None or any(head.get(k) != v for k, v in want.items()):
        return None
    name = str(head.get("bin") or "")
    if not name.startswith(path.name + ".") or "/" in name or "\\" in name:
        raise ValueError(f"{path}: its header names {name!r} as its arrays")
    bin_path = path.with_name(name)
    try:
        f = bin_path.open("rb")
    except OSError:
        return None  # replaced since the header was read: the caller rebuilds
    with f:
        size = os.fstat(f.fileno()).st_size
        if size != head["bin_size"]:
            raise ValueError(f"{bin_path}: {size} bytes, the header says {head['bin_size']}")
        view = memoryview(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)) if size else None
    with path.open("rb") as f:
        f.readline(1 << 20)
        data = f.read()
    buffers = [view[a : a + n] for a, n in head["buffers"]] if view is not None else []
    with paused():  # millions of objects: see analyzer.collector
        return Restricted(io.BytesIO(data), buffers=buffers).load()


def remove(path: Path) -> None:
    for p in [path, *_bins(path)]:
        p.unlink(missing_ok=True)


@cache
def code_digest() -> str:
    """A digest of the code that reads and writes these files (Blastwall's own modules): a file written by
    other code is not loaded, as its classes may have changed shape."""
    root = Path(__file__).resolve().parents[2]
    h = hashlib.sha256()
    for pkg in ("analyzer", "connectors"):
        for p in sorted((root / pkg).rglob("*.py")):
            h.update(str(p.relative_to(root)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()[:16]


def _bins(path: Path) -> list[Path]:
    return sorted(path.parent.glob(f"{path.name}.*.bin"))


def _private(path: Path) -> io.BufferedWriter:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    return os.fdopen(fd, "wb")


def derived_dir(store: Any) -> Path:
    """Where structures derived from ``store`` are persisted: beside an embedded store (``<dir>/derived``),
    else under ``$BLASTWALL_CACHE_DIR`` (default ``$XDG_CACHE_HOME/blastwall`` or ``~/.cache/blastwall``),
    one directory per store URI."""
    own = getattr(store, "dir", None)
    if isinstance(own, Path):
        return own / "derived"
    base = os.environ.get("BLASTWALL_CACHE_DIR") or str(
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "blastwall"
    )
    return Path(base) / hashlib.sha256(str(store.uri).encode()).hexdigest()[:16]
