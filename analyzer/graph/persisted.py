"""Derived structures persisted beside the store: Python objects pickled, their NumPy arrays written apart
and memory-mapped on load.

``save(obj, path, header)`` writes two files: ``path`` (one JSON header line, then the pickle of ``obj``
with protocol 5 and its arrays out of band) and ``<path>.<nonce>.bin`` (those arrays, 64-byte aligned),
which the header names. ``load`` maps the ``.bin`` copy-on-write: every array of the loaded object is a
view of the file, so processes that load or fork from it share the pages, and a structure that fills
itself in as it is used (a cache of decisions) writes only its own copy of the pages it touches. Each save
writes a new ``.bin`` and then renames the header file over the old one, so a reader sees the old pair or
the new one, never a mix; older ``.bin`` files are removed after (a process that mapped one keeps it).

Large collections of one class (a million stored nodes, three quarters of a million interfaces) are
written as *columns* before the pickle of ``obj`` (``columns``): the pickler keeps every object it writes
alive in its memo until the dump ends, with the tuple each object is rebuilt from, which at scale L was
1.8 GB on top of the context. An object in a column table is written in the pickle as a persistent id
(an integer: its table and row), which the pickler does not memoize; a field holding a list per object is
written as one flat list and the lengths; a column of integers is written without a memo at all. The
columns go through the same pickler as the rest, so a string shared by a column and the rest of the
context is written once and is one object again when loaded.

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
from array import array
from bisect import bisect_left
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from functools import cache
from itertools import accumulate, chain, repeat
from operator import attrgetter
from pathlib import Path
from types import MemberDescriptorType
from typing import Any

import numpy as np

from analyzer.collector import paused, settle

_NUMERIC = "numpy._core.numeric" if np.__version__ >= "2" else "numpy.core.numeric"
_frombuffer: Any = importlib.import_module(_NUMERIC)._frombuffer
"""NumPy's own reconstruction of an array pickled out of band (one of the functions ``load`` allows)."""

FORMAT = 2
ALIGN = 64

_CLASSES = frozenset(
    {
        ("collections", "OrderedDict"),
        ("builtins", "list"),
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


TABLES = 8
"""At most this many column tables in one file (a persistent id is ``row * TABLES + table``)."""

MANIFEST = "blastwall.columns"

_ATOMS = frozenset({"int", "bool", "float", "int | None", "bool | None", "float | None", "None | int"})
"""Field annotations whose values the pickler need not memoize (numbers: never shared by identity)."""


class Restricted(pickle.Unpickler):
    """An unpickler that resolves only the names listed above, Blastwall's dataclasses, the few classes of
    its own that declare ``PERSISTABLE = True``, and SciPy's sparse array classes; persistent ids only
    as rows of the column tables read before them."""

    tables: list[list[Any]]

    def persistent_load(self, pid: Any) -> Any:
        tables = getattr(self, "tables", [])
        if type(pid) is not int or pid < 0 or pid % TABLES >= len(tables):
            raise Refused(f"refused a persistent id {pid!r}: not a row of a column table read before it")
        rows = tables[pid % TABLES]
        if pid // TABLES >= len(rows):
            raise Refused(f"refused a persistent id {pid!r}: past the end of its column table")
        return rows[pid // TABLES]

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


def save(obj: Any, path: Path, header: dict[str, Any], columns: Iterable[Sequence[Any]] = ()) -> int:
    """Write ``obj`` to ``path`` and ``path.bin`` (see the module docstring); returns the bytes written.

    ``columns``: collections of objects to write as column tables (each object a dataclass pickled
    through its constructor, ``analyzer.slotted.by_constructor``), grouped by class in the order the
    classes first appear; a class whose fields hold objects of another table's class comes after it.

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

            _Columnar(body, _tables(columns), put).write(obj)
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


def matches(head: dict[str, Any] | None, expect: dict[str, Any]) -> bool:
    """Whether a header is of what ``expect`` describes, in this format, written by this code: the one
    test both ``current`` and ``load`` make."""
    want = {**expect, "format": FORMAT, "code": code_digest()}
    return isinstance(head, dict) and all(head.get(k) == v for k, v in want.items())


def current(path: Path, expect: dict[str, Any]) -> bool:
    """Whether the file at ``path`` is what ``load`` would read for ``expect`` (from its header alone)."""
    return matches(header(path), expect)


def load(path: Path, expect: dict[str, Any]) -> Any | None:
    """The object persisted at ``path`` if its header matches ``expect`` (and this code wrote it); None
    when there is no such file or it is for something else. A file that matches but cannot be read
    raises ``pickle.UnpicklingError`` (``Refused`` for a name it may not hold) or ``ValueError``.

    The header and the pickle are read from one open file, so a save that replaces the file meanwhile
    cannot pair one file's pickle with the other's arrays."""
    try:
        f = path.open("rb")
    except OSError:
        return None
    with f:
        try:
            head = json.loads(f.readline(1 << 20))
        except ValueError:
            return None
        if not matches(head, expect):
            return None
        buffers = _mapped(path, head)
        if buffers is None:
            return None  # its arrays replaced since (a newer save): the caller rebuilds
        with paused():  # millions of objects: see analyzer.collector
            loaded = _read(Restricted(f, buffers=buffers))  # read as it goes (500 MB at L, never whole)
            settle()  # kept: not scanned by the next young collections
            return loaded


def _mapped(path: Path, head: dict[str, Any]) -> list[memoryview] | None:
    """The arrays the header names, views of their file mapped copy-on-write (None: no such file)."""
    name = str(head.get("bin") or "")
    if not name.startswith(path.name + ".") or "/" in name or "\\" in name:
        raise ValueError(f"{path}: its header names {name!r} as its arrays")
    bin_path = path.with_name(name)
    try:
        f = bin_path.open("rb")
    except OSError:
        return None
    with f:
        size = os.fstat(f.fileno()).st_size
        if size != head["bin_size"]:
            raise ValueError(f"{bin_path}: {size} bytes, the header says {head['bin_size']}")
        view = memoryview(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)) if size else None
    return [view[a : a + n] for a, n in head["buffers"]] if view is not None else []


class _Table:
    """The objects of one class written as columns, ordered by ``id`` (their ids in ``ids``, to find a
    row by bisection: an array of integers, not a dictionary of millions of entries)."""

    def __init__(self, cls: type, objs: list[Any], no: int) -> None:
        objs.sort(key=id)
        self.objs = [o for i, o in enumerate(objs) if i == 0 or o is not objs[i - 1]]
        self.ids = array("q", map(id, self.objs))
        self.cls, self.no, self.written = cls, no, False
        self.fields = [f.name for f in dataclasses.fields(cls)]

    def row(self, obj: Any) -> int | None:
        i = bisect_left(self.ids, id(obj))
        return i if i < len(self.ids) and self.ids[i] == id(obj) else None


def _tables(columns: Iterable[Sequence[Any]]) -> dict[type, _Table]:
    by_class: dict[type, list[Any]] = {}
    for seq in columns:
        for o in seq:
            by_class.setdefault(type(o), []).append(o)
    if len(by_class) > TABLES:
        raise ValueError(f"{len(by_class)} classes written as columns; at most {TABLES}")
    for cls in by_class:
        if not dataclasses.is_dataclass(cls) or "__reduce__" not in cls.__dict__:
            raise TypeError(f"{cls.__name__}: only a dataclass pickled through its constructor is a column")
    return {cls: _Table(cls, objs, no) for no, (cls, objs) in enumerate(by_class.items())}


class _Column:
    """A column written as a list whose items are taken from ``items`` as the pickler writes them: no
    list of a million references is made, which the memo would keep until the whole file is written."""

    def __init__(self, items: Iterator[Any]) -> None:
        self.items = items

    def __reduce__(self) -> tuple[Any, ...]:
        return (list, (), None, self.items)


class _Columnar(pickle.Pickler):
    """Writes the column tables, then ``obj`` with each of their objects as its persistent id."""

    def __init__(self, file: Any, tables: dict[type, _Table], put: Any) -> None:
        super().__init__(file, protocol=5, buffer_callback=put)
        self.by_class = tables

    def persistent_id(self, obj: Any) -> int | None:
        table = self.by_class.get(type(obj))
        if table is None:
            return None
        row = table.row(obj)
        if row is None:
            return None  # not in the table: pickled as it is
        if not table.written:
            raise ValueError(f"a {table.cls.__name__} is referred to before its column table is written")
        return row * TABLES + table.no

    def reducer_override(self, obj: Any) -> Any:
        """A datetime64 or timedelta64 array out of band like any other: NumPy pickles those in band (a
        copy of every time column of millions of edges in the pickle, kept by the memo while it is
        written, and a private copy in each process that loads it instead of shared pages)."""
        if type(obj) is np.ndarray and obj.dtype.kind in "mM" and obj.flags.c_contiguous:
            ints = memoryview(obj.view(np.int64))  # type: ignore[arg-type]
            return (_frombuffer, (pickle.PickleBuffer(ints), obj.dtype, obj.shape, "C"))
        return NotImplemented

    def write(self, obj: Any) -> None:
        tables = list(self.by_class.values())
        layouts = [self._layout(t) for t in tables]
        self.dump((MANIFEST, [(t.cls, len(t.objs), lay) for t, lay in zip(tables, layouts, strict=True)]))
        for t, layout in zip(tables, layouts, strict=True):
            for name, how in zip(t.fields, layout, strict=True):
                get = attrgetter(name)
                if how == "flat":
                    self._atoms(_Column(map(len, map(get, t.objs))))
                    self.dump(_Column(chain.from_iterable(map(get, t.objs))))
                elif how == "atoms":
                    self._atoms(_Column(map(get, t.objs)))
                else:
                    self.dump(_Column(map(get, t.objs)))
            t.written = True
        self.dump(obj)

    def _atoms(self, column: _Column) -> None:
        """Numbers, written without the memo at all."""
        self.fast = True
        try:
            self.dump(column)
        finally:
            self.fast = False

    @staticmethod
    def _layout(t: _Table) -> list[str]:
        """Per field: "flat" (a list per object: the lengths, then the items), "atoms" (numbers), or
        "values" (anything else, memoized as usual)."""
        out = []
        for f in dataclasses.fields(t.cls):
            if all(type(getattr(o, f.name)) is list for o in t.objs):
                out.append("flat")
            elif str(f.type) in _ATOMS:
                out.append("atoms")
            else:
                out.append("values")
        return out


def _read(u: Restricted) -> Any:
    """Read what ``_Columnar.write`` wrote: the manifest, the column tables (each made into its objects,
    which the pickle then names by persistent id), then the object."""
    head = u.load()
    if not (isinstance(head, tuple) and len(head) == 2 and head[0] == MANIFEST and isinstance(head[1], list)):
        raise pickle.UnpicklingError("not a persisted file of this format: no column manifest")
    u.tables = []
    for entry in head[1]:
        cls, n, layout = entry
        names = [f.name for f in dataclasses.fields(cls)] if dataclasses.is_dataclass(cls) else None
        if names is None or not isinstance(n, int) or len(layout) != len(names):
            raise pickle.UnpicklingError(f"a column table of {cls!r} that does not match its class")
        cols = []
        for how in layout:
            if how == "flat":
                lengths, flat = u.load(), u.load()
                _check(cls, lengths, n)
                ends = list(accumulate(lengths))
                if not isinstance(flat, list) or (ends[-1] if ends else 0) != len(flat):
                    raise pickle.UnpicklingError(f"a column of {cls.__name__} whose items do not add up")
                cols.append([flat[e - k : e] for e, k in zip(ends, lengths, strict=True)])
            else:
                col = u.load()
                _check(cls, col, n)
                cols.append(col)
        u.tables.append(_made(cls, names, cols, n))
        del cols
    return u.load()


def _made(cls: type, names: list[str], cols: list[list[Any]], n: int) -> list[Any]:
    """The ``n`` objects of a column table. A slotted dataclass with no ``__post_init__`` (nor a base's) has each field
    set through its slot, a column at a time (half the time of calling the constructor per object, which
    would set the same fields); any other class is called with each row."""
    slots = [cls.__dict__.get(name) for name in names]
    if (
        not names
        or hasattr(cls, "__post_init__")  # its own or a base's: only the constructor runs it
        or not all(isinstance(d, MemberDescriptorType) for d in slots)
    ):
        return list(map(cls, *cols)) if cols else [cls() for _ in range(n)]
    new: Any = cls.__new__
    objs = list(map(new, repeat(cls, n)))
    for slot, col in zip(slots, cols, strict=True):
        deque(map(slot.__set__, objs, col), maxlen=0)  # type: ignore[union-attr]
    return objs


def _check(cls: type, col: Any, n: int) -> None:
    if not isinstance(col, list) or len(col) != n:
        raise pickle.UnpicklingError(f"a column of {cls.__name__} that is not a list of {n} values")


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
