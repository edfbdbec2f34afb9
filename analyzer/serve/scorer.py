"""The API's scoring: one thread, the store's analysis context held warm, proposals scored in the order
they came (what arrives while a batch is scored is the next batch).

A request waits for its proposals up to a bound (``blastwall serve --score-wait``, 1 s): done by then, it
answers with the results; else with ``202`` and where to ask. Results are saved to the store like
``blastwall score`` saves them, so the CLI, the app and ``GET /v1/proposals/{id}`` read the same."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from analyzer.errors import BlastwallError
from analyzer.graph.store import GraphStore, open_store

QUEUED, SCORING, DONE, FAILED = "queued", "scoring", "scored", "failed"


class Scorer:
    def __init__(
        self,
        store_uri: str,
        as_of: str | None,
        after: Callable[[GraphStore, list[dict[str, Any]]], None] | None = None,
    ) -> None:
        self.store_uri = store_uri
        self.as_of = as_of
        self.after = after  # called with each batch's results (e.g. to file change requests)
        self.ready = threading.Event()
        self.problem: str | None = None  # why the context could not be made (readyz says it)
        self.after_problem: str | None = None  # the last failure of ``after``
        self._cond = threading.Condition()
        self._pending: list[str] = []
        self._state: dict[str, str] = {}
        self._why: dict[str, str] = {}
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="blastwall-scorer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        self._thread.join(timeout=60)

    def submit(self, ids: list[str]) -> None:
        with self._cond:
            for pid in ids:
                if pid not in self._pending:
                    self._pending.append(pid)
                self._state[pid] = QUEUED
                self._why.pop(pid, None)
            self._cond.notify_all()

    def wait(self, ids: list[str], seconds: float) -> bool:
        """True if every one of ``ids`` is scored (or failed) within ``seconds``."""
        deadline = time.monotonic() + seconds
        with self._cond:
            while any(self._state.get(p) in (QUEUED, SCORING) for p in ids):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def state(self, pid: str) -> tuple[str | None, str | None]:
        """What this process is doing with ``pid`` (queued, scoring, scored, failed, or None: nothing) and,
        when it failed, why."""
        with self._cond:
            return self._state.get(pid), self._why.get(pid)

    # -- the thread --------------------------------------------------------------------------------
    def _run(self) -> None:
        store = open_store(self.store_uri)
        try:
            self._warm(store)
            while True:
                with self._cond:
                    while not self._pending and not self._stop:
                        self._cond.wait()
                    if self._stop:
                        return
                    batch, self._pending = self._pending, []
                    for pid in batch:
                        self._state[pid] = SCORING
                self._score(store, batch)
        finally:
            store.close()

    def _warm(self, store: GraphStore) -> None:
        from analyzer import api

        try:
            api.analysis_context(store)
            self.problem = None
        except BlastwallError as exc:
            self.problem = f"the analysis context could not be made: {exc}"
        self.ready.set()

    def _score(self, store: GraphStore, batch: list[str]) -> None:
        from analyzer import api

        outcome: dict[str, tuple[str, str | None]] = {}
        results: list[dict[str, Any]] = []
        try:
            at, anchored = api.anchor(store, self.as_of)
            results = api.score(store, batch, as_of=at, anchored=anchored, save=True)["results"]
            for r in results:
                failed = r.get("status") == "error"
                outcome[r["proposal_id"]] = (FAILED, r.get("error")) if failed else (DONE, None)
        except BlastwallError as exc:
            outcome = {pid: (FAILED, str(exc)) for pid in batch}
        except Exception as exc:  # the thread must go on scoring what comes next
            outcome = {pid: (FAILED, f"{type(exc).__name__}: {exc}") for pid in batch}
        if self.after is not None and any(v[0] == DONE for v in outcome.values()):
            try:  # what follows scoring (filing change requests) never undoes it
                self.after(store, [r for r in results if outcome[r["proposal_id"]][0] == DONE])
            except Exception as exc:  # readyz reports it
                self.after_problem = f"{type(exc).__name__}: {exc}"
        with self._cond:
            for pid in batch:
                if self._state.get(pid) == SCORING:  # not submitted again meanwhile
                    self._state[pid], why = outcome.get(pid, (FAILED, "not in the scoring's results"))
                    if why:
                        self._why[pid] = why
            self._cond.notify_all()
