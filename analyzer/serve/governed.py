"""The ledger as the API holds it: every question of authority (whose token is this, may this run, what
ran) answered from the ledger verified against the organization's trust root, never from the store.

The process keeps what it verified (``Ledger.verify`` goes on from the last record it checked), so a
call checks only the records written since the last one; all reads and appends go through one lock (the
verified authority is advanced in place). What that skips, seeing an edit of a record verified before,
a background thread does every ``reverify_every`` seconds: it verifies the whole file afresh, and a
ledger that no longer verifies stops every call (503) until it does."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

from analyzer.governance import tokens
from analyzer.governance.decisions import GateVerdict
from analyzer.governance.ledger import Ledger
from analyzer.governance.trust_root import TrustRoot
from analyzer.graph.store import GraphStore


class Unavailable(Exception):
    """The ledger does not verify: no call is admitted until a human looks (``blastwall audit verify``)."""


class Governed:
    def __init__(self, ledger: Ledger, trust_root: TrustRoot, reverify_every: float = 300.0) -> None:
        self.ledger = ledger
        self.trust_root = trust_root
        self.reverify_every = reverify_every
        self.broken: str | None = None  # what the last whole verification found
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._reverify, name="blastwall-reverify", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _reverify(self) -> None:
        while not self._stop.wait(self.reverify_every):
            self.check_whole()

    def check_whole(self) -> None:
        """Verify the whole file as a new process would (its own read, every signature)."""
        fresh = Ledger(self.ledger.path, witnesses=self.ledger.witnesses)
        rep = fresh.verify(self.trust_root)
        self.broken = None if rep.ok else (rep.problems[0] if rep.problems else "it does not verify")

    def _authority(self) -> Any:
        if self.broken:
            raise Unavailable(f"the ledger does not verify against the trust root: {self.broken}")
        rep = self.ledger.verify(self.trust_root)
        if not rep.ok or rep.authority is None:
            why = rep.problems[0] if rep.problems else "it does not verify"
            raise Unavailable(f"the ledger does not verify against the trust root: {why}")
        return rep.authority

    def caller(self, bearer: str | None, at: datetime) -> tokens.Caller:
        """Who ``bearer`` admits now (``tokens.Unauthorized`` if no one; ``Unavailable`` if no authority
        can be read)."""
        with self._lock:
            return tokens.authenticate(self._authority(), bearer, at)

    def acceptances(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return dict(self._authority().acceptances)

    def records(self) -> int:
        with self._lock:
            return int(self._authority().seq)

    def gate(self, store: GraphStore, proposal_id: str, policy: Any, asked_by: str) -> GateVerdict:
        from analyzer.governance.decisions import gate

        with self._lock:
            return gate(
                store, self.ledger, proposal_id, policy=policy, trust_root=self.trust_root, asked_by=asked_by
            )

    def execution(self, store: GraphStore, proposal_id: str, **report: Any) -> dict[str, Any]:
        from analyzer.governance.review import record_execution

        with self._lock:
            return record_execution(store, self.ledger, proposal_id, **report)
