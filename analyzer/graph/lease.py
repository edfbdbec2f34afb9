"""One writer at a time, visibly: a store-wide write lease across processes and hosts.

Every command that writes (ingest, propose, policy load, score, the demo) holds the store's lease for
its whole run, so two writers never interleave: a second one waits, saying who holds the store, for
``$BLASTWALL_LEASE_WAIT`` seconds (300 by default), then stops with "store busy: <command> (pid, host)
holds it since T" (exit 1). Readers — the app, notebooks, `explain`, the gate — never take it: they see
the last committed generation.

* The embedded store's lease is an advisory lock (``flock``) on ``write.lock`` in the store directory;
  the kernel releases it when its process dies, so a crash never leaves the store locked. The file also
  says who holds it (for the message).
* The Neo4j store's lease is a ``BWLease`` node claimed in one write query and renewed while held; a
  holder that dies stops renewing, and its claim expires after ``TTL`` seconds.

A lease is re-entrant within a thread: a command that calls library functions which take it again
nests; another thread of the same process waits like another process.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analyzer.errors import BlastwallError
from analyzer.timeutil import iso, now

REPORT: Callable[[str], None] | None = None
"""Where "waiting for the store" lines go (the CLI sets this to standard error)."""

TTL = 60.0


def wait_limit() -> float:
    return float(os.environ.get("BLASTWALL_LEASE_WAIT", "300"))


class StoreBusy(BlastwallError):
    """Another writer held the store for longer than this one would wait."""


@dataclass(frozen=True)
class Holder:
    command: str
    pid: int
    host: str
    since: str

    def describe(self) -> str:
        return f"{self.command} (pid {self.pid}, {self.host}) holds it since {self.since}"

    @classmethod
    def me(cls, command: str) -> Holder:
        return cls(command, os.getpid(), socket.gethostname(), iso(now()))

    @classmethod
    def parse(cls, text: str | None) -> Holder | None:
        try:
            d = json.loads(text or "")
            return cls(str(d["command"]), int(d["pid"]), str(d["host"]), str(d["since"]))
        except (ValueError, KeyError, TypeError):
            return None

    def dumps(self) -> str:
        return json.dumps(self.__dict__)


_held: dict[tuple[str, int], int] = {}
_held_lock = threading.Lock()


@contextmanager
def _reentrant(key: str) -> Iterator[bool]:
    """Yields True if this thread already holds the lease for ``key`` (and counts the nesting)."""
    k = (key, threading.get_ident())
    with _held_lock:
        depth = _held.get(k, 0)
        _held[k] = depth + 1
    try:
        yield depth > 0
    finally:
        with _held_lock:
            if _held[k] <= 1:
                del _held[k]
            else:
                _held[k] -= 1


def _waiting(holder: Holder | None, waited: float, last: list[float]) -> None:
    if REPORT is not None and waited - last[0] >= 5:
        last[0] = waited
        REPORT(
            f"waiting for the store: {holder.describe() if holder else 'another writer holds it'} ({waited:.0f} s)"
        )


def _busy(holder: Holder | None, waited: float) -> StoreBusy:
    who = holder.describe() if holder else "another writer holds it"
    return StoreBusy(f"store busy: {who}; gave up after {waited:.0f} s (BLASTWALL_LEASE_WAIT)")


class FileLease:
    """The embedded store's lease: ``flock`` on a file in the store directory."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @contextmanager
    def hold(self, command: str, wait: float | None = None) -> Iterator[None]:
        with _reentrant(str(self.path.resolve())) as nested:
            if nested:
                yield
                return
            limit = wait_limit() if wait is None else wait
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                start, last = time.monotonic(), [0.0]
                while True:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        waited = time.monotonic() - start
                        holder = Holder.parse(self._read(fd))
                        if waited >= limit:
                            raise _busy(holder, waited) from None
                        _waiting(holder, waited, last)
                        time.sleep(0.1)
                os.ftruncate(fd, 0)
                os.pwrite(fd, Holder.me(command).dumps().encode(), 0)
                try:
                    yield
                finally:
                    os.ftruncate(fd, 0)
                    fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)

    @staticmethod
    def _read(fd: int) -> str:
        try:
            return os.pread(fd, 4096, 0).decode("utf-8", "replace")
        except OSError:
            return ""


class GraphLease:
    """The Neo4j store's lease: a node claimed in one query, renewed while held, expiring if not."""

    def __init__(self, run: Callable[..., list[dict[str, Any]]], name: str) -> None:
        self.run = run  # run(cypher, **params) -> rows, in a write transaction
        self.name = name

    @contextmanager
    def hold(self, command: str, wait: float | None = None) -> Iterator[None]:
        with _reentrant(f"graph:{self.name}") as nested:
            if nested:
                yield
                return
            limit = wait_limit() if wait is None else wait
            me = f"{os.getpid()}-{threading.get_ident()}-{time.time_ns()}"
            info = Holder.me(command).dumps()
            start, last = time.monotonic(), [0.0]
            while not self._claim(me, info):
                waited = time.monotonic() - start
                holder = Holder.parse(self._holder())
                if waited >= limit:
                    raise _busy(holder, waited)
                _waiting(holder, waited, last)
                time.sleep(0.2)
            stop = threading.Event()
            beat = threading.Thread(target=self._renew, args=(me, stop), daemon=True)
            beat.start()
            try:
                yield
            finally:
                stop.set()
                beat.join()
                self.run(
                    "MATCH (l:BWLease {id: $id}) WHERE l.holder = $me SET l.holder = null, l.info = null",
                    id=self.name,
                    me=me,
                )

    def _claim(self, me: str, info: str) -> bool:
        rows = self.run(
            "MERGE (l:BWLease {id: $id}) WITH l WHERE l.holder IS NULL OR l.expires < $now OR l.holder = $me "
            "SET l.holder = $me, l.expires = $until, l.info = $info RETURN l.holder AS h",
            id=self.name,
            me=me,
            now=time.time(),
            until=time.time() + TTL,
            info=info,
        )
        return bool(rows) and rows[0].get("h") == me

    def _holder(self) -> str | None:
        rows = self.run("MATCH (l:BWLease {id: $id}) RETURN l.info AS info", id=self.name)
        return rows[0].get("info") if rows else None

    def _renew(self, me: str, stop: threading.Event) -> None:
        while not stop.wait(TTL / 3):
            self.run(
                "MATCH (l:BWLease {id: $id}) WHERE l.holder = $me SET l.expires = $until",
                id=self.name,
                me=me,
                until=time.time() + TTL,
            )


def writes(command: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a library function whose first argument is a store: it runs holding the store's lease."""
    import functools

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def run(store: Any, *args: Any, **kwargs: Any) -> Any:
            with store.lease(command):
                return fn(store, *args, **kwargs)

        return run

    return wrap
