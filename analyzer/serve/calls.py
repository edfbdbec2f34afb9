"""Every call the API answers, written down: who (the token's identity and id, never the token), what,
the answer's status and how long it took, one JSON line each in ``api-calls.jsonl`` beside the ledger.

What a call decided that carries authority (a gate answer, an execution report) is in the ledger as
well, signed by the recorder; this log says who asked."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from analyzer.timeutil import iso, now


class CallLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._fd: int | None = None  # opened at the first call

    def write(self, entry: dict[str, Any]) -> None:
        line = json.dumps({"time": iso(now())} | entry, sort_keys=True).encode() + b"\n"
        with self._lock:  # one write per line, in O_APPEND: lines of two threads never interleave
            if self._fd is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            os.write(self._fd, line)

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


def read(path: Path) -> list[dict[str, Any]]:
    """The recorded calls, oldest first (a line cut by a crash is left out)."""
    if not path.exists():
        return []
    out = []
    for line in path.read_bytes().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out
