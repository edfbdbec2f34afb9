"""The append-only, hash-chained ledger of everything a human or the gate decided.

One JSON record per line: ``{"seq", "time", "type", "body", "prev", "hash"}`` where ``hash`` is the
SHA-256 of the canonical JSON of the other fields and ``prev`` the previous record's hash. Appends are
serialized with an exclusive file lock. After every append the ledger's own key signs the head
(``ledger.head.json``), and every ``CHECKPOINT_EVERY`` records a signed checkpoint record is chained in,
so deleting records at the end, editing, reordering or truncating is caught by ``verify``.

A process killed mid-append leaves a partial last line: ``verify`` reports it (it is not part of the
ledger) and the next append moves it to a quarantine file and records that it did.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analyzer.errors import BlastwallError
from analyzer.governance import signing
from analyzer.timeutil import iso, now

CHECKPOINT_EVERY = 50
LEDGER_KEY = "ledger-signing"


def ledger_path_for(store_uri: str) -> Path:
    """The ledger beside an embedded store; ``$BLASTWALL_LEDGER`` (or ./.blastwall) for a Neo4j store."""
    if os.environ.get("BLASTWALL_LEDGER"):
        return Path(os.environ["BLASTWALL_LEDGER"])
    if "://" in store_uri and not store_uri.startswith("file://"):
        return Path(".blastwall") / "ledger.jsonl"
    return Path(store_uri.removeprefix("file://")) / "ledger.jsonl"


def record_hash(rec: dict[str, Any]) -> str:
    return signing.sha256({k: rec[k] for k in ("seq", "time", "type", "body", "prev")})


@dataclass
class Ledger:
    path: Path

    @property
    def head_file(self) -> Path:
        return self.path.with_name(self.path.name + ".head.json")

    @property
    def key_dir(self) -> Path:
        return self.path.parent

    @contextmanager
    def _locked(self) -> Iterator[Any]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a+b") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield f
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def _ledger_key(self) -> Any:
        path = signing.key_file(LEDGER_KEY, self.key_dir)
        if not path.exists():
            signing.create_key(LEDGER_KEY, ["ledger"], self.key_dir)
        return signing.load_private_key(LEDGER_KEY, self.key_dir)

    def append(self, rtype: str, body: dict[str, Any]) -> dict[str, Any]:
        """Append one record (and a checkpoint when due); returns the record as written."""
        with self._locked() as f:
            f.seek(0)
            data = f.read()
            good_end = data.rfind(b"\n") + 1
            last = None
            if good_end < len(data):  # a torn tail from a killed writer: quarantine it, say so
                torn = data[good_end:]
                quarantine = self.path.with_name(f"{self.path.name}.torn-{time.time_ns()}")
                quarantine.write_bytes(torn)
                f.truncate(good_end)
                data = data[:good_end]
                last = self._last(data)
                last = self._write(
                    f, last, "repair", {"torn_bytes": len(torn), "quarantined_to": quarantine.name}
                )
            else:
                last = self._last(data)
            rec = self._write(f, last, rtype, body)
            if rec["seq"] % CHECKPOINT_EVERY == 0:
                self._write(f, rec, "checkpoint", self._checkpoint_body(rec))
            return rec

    def checkpoint(self) -> dict[str, Any]:
        with self._locked() as f:
            f.seek(0)
            last = self._last(f.read())
            if last is None:
                raise BlastwallError(f"{self.path}: the ledger is empty")
            return self._write(f, last, "checkpoint", self._checkpoint_body(last))

    def _checkpoint_body(self, upto: dict[str, Any]) -> dict[str, Any]:
        key = self._ledger_key()
        payload = {"upto": upto["seq"], "head": upto["hash"]}
        return payload | {"public_key": signing.public_key_of(key), "signature": signing.sign(key, payload)}

    @staticmethod
    def _last(data: bytes) -> dict[str, Any] | None:
        lines = data.rstrip(b"\n").rsplit(b"\n", 1)
        if not lines[-1]:
            return None
        try:
            last: dict[str, Any] = json.loads(lines[-1])
        except json.JSONDecodeError as exc:
            raise BlastwallError(
                f"the ledger's last record is not JSON ({exc}); run: blastwall audit verify"
            ) from exc
        return last

    def _write(self, f: Any, last: dict[str, Any] | None, rtype: str, body: dict[str, Any]) -> dict[str, Any]:
        rec: dict[str, Any] = {
            "seq": (last["seq"] + 1) if last else 1,
            "time": iso(now()),
            "type": rtype,
            "body": body,
            "prev": last["hash"] if last else None,
        }
        rec["hash"] = record_hash(rec)
        f.seek(0, os.SEEK_END)
        f.write(signing.canonical(rec) + b"\n")
        f.flush()
        os.fsync(f.fileno())
        key = self._ledger_key()
        head = {"seq": rec["seq"], "hash": rec["hash"]}
        tmp = self.head_file.with_suffix(".tmp")
        tmp.write_text(
            json.dumps(
                head | {"public_key": signing.public_key_of(key), "signature": signing.sign(key, head)}
            )
        )
        os.replace(tmp, self.head_file)
        return rec

    def records(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        out = []
        for line in self.path.read_bytes().split(b"\n"):
            if line.strip():
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:
                    break
        return out


@dataclass
class VerifyReport:
    ok: bool
    records: int
    first_bad: int | None = None
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "records": self.records,
            "first_bad": self.first_bad,
            "problems": self.problems,
            "warnings": self.warnings,
        }


def verify(path: Path) -> VerifyReport:
    """Recompute the whole chain, every signature and the signed head; name the first bad record."""
    ledger = Ledger(path)
    if not path.exists():
        return VerifyReport(True, 0, warnings=[f"{path} does not exist yet (nothing recorded)"])
    data = path.read_bytes()
    rep = VerifyReport(True, 0)

    def bad(seq: int | None, why: str) -> None:
        if rep.ok:
            rep.first_bad = seq
        rep.ok = False
        rep.problems.append(f"record {seq}: {why}" if seq is not None else why)

    good_end = data.rfind(b"\n") + 1
    if good_end < len(data):
        rep.warnings.append(
            f"torn tail of {len(data) - good_end} bytes at byte {good_end} (a write that never "
            "finished): not part of the ledger; the next append quarantines it"
        )
    prev_hash = None
    identities: dict[str, dict[str, Any]] = {}
    ledger_keys: set[str] = set()
    hashes: dict[int, str] = {}
    for n, line in enumerate(data[:good_end].split(b"\n")[:-1], start=1):
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            bad(n, "not JSON")
            break
        rep.records += 1
        seq = rec.get("seq")
        if seq != n:
            bad(n, f"sequence number {seq} where {n} was expected (deleted or reordered records)")
            break
        if rec.get("prev") != prev_hash:
            bad(seq, "does not chain to the record before it (deleted, inserted or reordered records)")
            break
        if record_hash(rec) != rec.get("hash"):
            bad(seq, "its content does not match its hash (edited)")
            break
        prev_hash = rec["hash"]
        hashes[seq] = rec["hash"]
        body = rec["body"]
        if rec["type"] == "identity":
            identities[body["name"]] = body
        elif rec["type"] == "checkpoint":
            payload = {"upto": body["upto"], "head": body["head"]}
            if hashes.get(body["upto"]) != body["head"] or not signing.verify(
                body["public_key"], payload, body["signature"]
            ):
                bad(seq, "checkpoint signature or head does not match")
                break
            ledger_keys.add(body["public_key"])
        signed = body.get("signed") if isinstance(body, dict) else None
        if signed:
            who = identities.get(signed["by"])
            if who is None:
                bad(seq, f"signed by {signed['by']!r}, who is not registered earlier in the ledger")
                break
            if not signing.verify(who["public_key"], body["payload"], signed["signature"]):
                bad(seq, f"signature of {signed['by']!r} does not verify")
                break
    if rep.ok:
        head_file = ledger.head_file
        if not head_file.exists():
            if rep.records:
                bad(None, f"{head_file.name} is missing: the end of the ledger cannot be checked")
        else:
            head = json.loads(head_file.read_text())
            payload = {"seq": head["seq"], "hash": head["hash"]}
            if not signing.verify(head["public_key"], payload, head["signature"]):
                bad(None, "the signed head's signature does not verify")
            elif ledger_keys and head["public_key"] not in ledger_keys:
                bad(None, "the head is signed by a key that signed no checkpoint")
            elif head["seq"] == rep.records - 1 and hashes.get(head["seq"]) == head["hash"]:
                rep.warnings.append(
                    f"record {rep.records} is not covered by the signed head: a writer stopped between "
                    "writing it and signing the head, or it was appended without the ledger key"
                )
            elif hashes.get(head["seq"]) != head["hash"] or head["seq"] != rep.records:
                bad(
                    rep.records + 1 if head["seq"] > rep.records else head["seq"],
                    f"the signed head says the ledger ends at record {head['seq']}, it ends at {rep.records} "
                    "(records deleted at the end, or appended without the ledger key)",
                )
    return rep
