"""Server-side sign-in sessions and failed-attempt counts, in a small SQLite file beside the users file.

The browser holds only a random session id (inside Flask's signed cookie); the row here says whose it is,
when it started and when it was last used, and a *stamp* of the user's entry in the users file. A session
ends at logout (its row is deleted), after ``IDLE`` without use, ``ABSOLUTE`` after sign-in, or as soon as
the user's entry changes or disappears (password reset, user removed). Several app processes share the
file, so they agree on all of it.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

IDLE = float(os.environ.get("BLASTWALL_APP_IDLE_SECONDS", 30 * 60))
ABSOLUTE = float(os.environ.get("BLASTWALL_APP_SESSION_SECONDS", 12 * 3600))
FAIL_WINDOW = 15 * 60
MAX_FAILS_PER_USER = 5
MAX_FAILS_PER_ADDRESS = 20


@dataclass(frozen=True)
class Session:
    user: str
    stamp: str
    created: float
    last_seen: float


def _digest(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


class SessionStore:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        if not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        with self._db() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, user TEXT NOT NULL, "
                "stamp TEXT NOT NULL, created REAL NOT NULL, last_seen REAL NOT NULL)"
            )
            db.execute("CREATE TABLE IF NOT EXISTS failures (key TEXT NOT NULL, at REAL NOT NULL)")
            db.execute("CREATE INDEX IF NOT EXISTS failures_key ON failures (key, at)")

    def _db(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        conn.execute("PRAGMA busy_timeout = 10000")
        return conn

    # -- sessions -------------------------------------------------------------------------------------
    def create(self, user: str, stamp: str) -> str:
        sid = secrets.token_urlsafe(32)
        t = time.time()
        with self._db() as db:
            db.execute("INSERT INTO sessions VALUES (?, ?, ?, ?, ?)", (_digest(sid), user, stamp, t, t))
        return sid

    def get(self, sid: str | None) -> Session | None:
        """The live session for ``sid`` (touched), or None (an expired one is deleted)."""
        if not sid or not isinstance(sid, str):
            return None
        key, t = _digest(sid), time.time()
        with self._db() as db:
            row = db.execute(
                "SELECT user, stamp, created, last_seen FROM sessions WHERE id = ?", (key,)
            ).fetchone()
            if row is None:
                return None
            s = Session(*row)
            if t - s.last_seen > IDLE or t - s.created > ABSOLUTE:
                db.execute("DELETE FROM sessions WHERE id = ?", (key,))
                return None
            db.execute("UPDATE sessions SET last_seen = ? WHERE id = ?", (t, key))
        return s

    def end(self, sid: str | None) -> None:
        if sid:
            with self._db() as db:
                db.execute("DELETE FROM sessions WHERE id = ?", (_digest(sid),))

    def end_user(self, user: str) -> int:
        with self._db() as db:
            return db.execute("DELETE FROM sessions WHERE user = ?", (user,)).rowcount

    # -- throttling -----------------------------------------------------------------------------------
    def blocked_for(self, user: str, address: str) -> float:
        """Seconds until another attempt for this user or from this address is allowed (0: now)."""
        since = time.time() - FAIL_WINDOW
        wait = 0.0
        with self._db() as db:
            for key, limit in (
                (f"user:{user.casefold()}", MAX_FAILS_PER_USER),
                (f"addr:{address}", MAX_FAILS_PER_ADDRESS),
            ):
                rows = db.execute(
                    "SELECT at FROM failures WHERE key = ? AND at > ? ORDER BY at", (key, since)
                ).fetchall()
                if len(rows) >= limit:
                    wait = max(wait, rows[-limit][0] + FAIL_WINDOW - time.time())
        return max(wait, 0.0)

    def failed(self, user: str, address: str) -> None:
        t = time.time()
        with self._db() as db:
            db.execute("DELETE FROM failures WHERE at < ?", (t - FAIL_WINDOW,))
            db.executemany(
                "INSERT INTO failures VALUES (?, ?)", [(f"user:{user.casefold()}", t), (f"addr:{address}", t)]
            )

    def succeeded(self, user: str) -> None:
        with self._db() as db:
            db.execute("DELETE FROM failures WHERE key = ?", (f"user:{user.casefold()}",))


def sessions_for(users_file: Path) -> SessionStore:
    return SessionStore(Path(users_file).with_name(Path(users_file).name + ".sessions.sqlite"))
