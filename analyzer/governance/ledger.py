"""The append-only ledger: one signed JSON record per line, hash-chained, with a signed head.

A record is ``{"v": 2, "seq", "time", "type", "actor", "body", "prev", "hash", "signature"}``: ``hash``
is the SHA-256 of the canonical JSON of the first seven fields, ``prev`` the previous record's hash, and
``signature`` the actor's Ed25519 signature of the hash. What a record may say, and who may sign it, is
``authority.Authority.admit``: the writer refuses to append a record that would not count, and ``verify``
replays every record through the same rules.

After each append the head (``ledger.jsonl.head.json``: the genesis hash, the last seq and hash) is signed
by the recorder — an identity the root granted ``recorder`` at ``org init`` — so a cut tail is caught;
anchoring that head outside the store (``anchors``) catches a rollback even by a holder of the
recorder's key. Appends are serialized by an exclusive lock on the ledger file.

A writer killed mid-append leaves either a partial last line (bytes past the signed head: the next
append moves them to a ``.torn-*`` file and records that it did) or a whole record the head does not
cover yet (the next append checks it as ``verify`` would, then covers it and records that it did). Bytes
the signed head covers are never moved aside: if they do not parse, nothing is appended.
"""

from __future__ import annotations

import copy
import fcntl
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from analyzer.errors import BlastwallError
from analyzer.governance import anchors as anchoring
from analyzer.governance import signing
from analyzer.governance.authority import (
    FORMAT,
    RECORDER_NAME,
    SYSTEM_RECORDS,
    Authority,
    Refused,
    record_hash,
)
from analyzer.governance.trust_root import TrustRoot
from analyzer.timeutil import iso, now

ANCHORED_TYPES = (
    "decision",
    "risk_acceptance",
    "policy_adoption",
    "role_grant",
    "role_revoke",
    "key_rotate",
    "key_revoke",
)


def ledger_path_for(store_uri: str) -> Path:
    """The ledger beside an embedded store; ``$BLASTWALL_LEDGER`` (or ./.blastwall) for a Neo4j store."""
    if os.environ.get("BLASTWALL_LEDGER"):
        return Path(os.environ["BLASTWALL_LEDGER"])
    if "://" in store_uri and not store_uri.startswith("file://"):
        return Path(".blastwall") / "ledger.jsonl"
    return Path(store_uri.removeprefix("file://")) / "ledger.jsonl"


@dataclass
class Replay:
    """The ledger read as far as it counts."""

    authority: Authority
    records: int
    first_bad: int | None = None
    problem: str | None = None
    tail: bytes = b""  # bytes after the last newline
    tail_record: dict[str, Any] | None = None  # the tail, when it is a whole record that counts

    @property
    def hash_at(self) -> dict[int, str]:
        return self.authority.hashes


@dataclass
class Checked:
    """A prefix of the ledger file whose every record this process admitted, signatures included: the
    next read of the same file checks only what follows it, if the prefix still ends with the same last
    record at the same offset.

    That check is what keeps a long-running process (``serve``, the app) cheap on a ledger of a hundred
    thousand records, and what it gives up is only *seeing* an edit of an earlier record: the authority
    this process holds is the one it verified, so an edit there changes none of its answers, and the
    next record it admits must still chain to the last one it verified. Every command verifies the whole
    file afresh, ``serve`` does so again in the background (``--reverify-every``), and
    ``blastwall audit verify`` names the edited record."""

    length: int
    last: bytes  # the prefix's last record, newline included
    authority: Authority

    @classmethod
    def of(cls, data: bytes, authority: Authority) -> Checked | None:
        """What ``data`` (whole records, every one admitted into ``authority``) lets the next read skip."""
        if not data.endswith(b"\n"):
            return None
        start = data.rfind(b"\n", 0, len(data) - 1) + 1
        return cls(len(data), data[start:], authority)

    def holds(self, data: bytes) -> bool:
        return len(data) >= self.length and data[self.length - len(self.last) : self.length] == self.last


def replay(
    data: bytes,
    *,
    check_signatures_from: int = 1,
    anchors_at: dict[int, list[tuple[str, dict[str, Any]]]] | None = None,
    anchor_problems: list[str] | None = None,
    base: Checked | None = None,
    grants_only: bool = False,
) -> Replay:
    """Admit records in order until one does not count (``first_bad`` names it). Signatures are checked
    from ``check_signatures_from`` on; with ``grants_only``, not on the system's own records (gate answers,
    executions, repairs, checkpoints: a ledger in use is mostly those), which grant no role, acceptance or
    decision — for a reader that wants only those (``api.recorded_acceptances``), never for the gate. Anchored heads are checked at their own point of the ledger. With
    ``base`` (taken over: its authority is advanced in place), a prefix already checked is skipped when
    it still ends with the record it ended with, at the same offset (``Checked``)."""
    skip = 0
    if base is not None and base.holds(data):
        auth, skip = base.authority, base.length
    else:
        auth, base = Authority(), None
    lines = data[skip:].split(b"\n")
    rep = Replay(auth, auth.seq, tail=lines[-1])
    for n, line in enumerate(lines[:-1], start=auth.seq + 1):
        try:
            rec = json.loads(line)
        except ValueError as exc:  # includes bytes that are not UTF-8
            rep.first_bad, rep.problem = n, f"not a valid UTF-8 JSON record ({exc})"
            return rep
        try:
            system = grants_only and isinstance(rec, dict) and rec.get("type") in SYSTEM_RECORDS
            auth.admit(rec, check_signature=n >= check_signatures_from and not system)
        except Refused as exc:
            rep.first_bad, rep.problem = n, str(exc)
            return rep
        rep.records = n
        for where, anchor in (anchors_at or {}).get(n, []):
            if anchor["hash"] != rec["hash"]:
                (anchor_problems if anchor_problems is not None else []).append(
                    f"record {n}: differs from the head anchored at {where} (the ledger was rewritten "
                    "or forked after it was anchored)"
                )
            elif not head_signature_ok(auth, anchor):
                (anchor_problems if anchor_problems is not None else []).append(
                    f"anchor {where}: not signed by a recorder or role-admin of this ledger"
                )
    if rep.tail:
        try:
            rec = json.loads(rep.tail)
            copy.deepcopy(auth).admit(rec)  # would it count? (the caller admits it for real)
            rep.tail_record = rec
        except (ValueError, Refused):
            rep.tail_record = None
    return rep


def head_payload(head: dict[str, Any]) -> dict[str, Any]:
    return {"ledger": head.get("ledger"), "seq": head.get("seq"), "hash": head.get("hash")}


def head_signature_ok(auth: Authority, head: dict[str, Any]) -> bool:
    actor = head.get("actor")
    if not isinstance(actor, str) or not auth.may_sign_heads(actor):
        return False
    m = auth.member(actor)
    assert m is not None and m.key is not None
    return signing.verify(m.key, "ledger_head", head_payload(head), head.get("signature"))


@dataclass
class Ledger:
    path: Path
    recorder_key_dir: Path | None = None
    witnesses: list[anchoring.Witness] = field(default_factory=list)
    checked: Checked | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        if self.recorder_key_dir is None:
            env = os.environ.get("BLASTWALL_RECORDER_KEYS")
            self.recorder_key_dir = Path(env) if env else self.path.parent / "recorder"

    @property
    def head_file(self) -> Path:
        return self.path.with_name(self.path.name + ".head.json")

    def exists(self) -> bool:
        return self.path.exists() and self.path.stat().st_size > 0

    @contextmanager
    def _locked(self) -> Iterator[Any]:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a+b") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield f
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def _read_whole(self) -> tuple[bytes, dict[str, Any] | None]:
        """The records and the signed head as one writer left them: read under a shared lock, so not
        between another process's record and the head that covers it."""
        if not self.exists():
            return b"", self.read_head()
        with open(self.path, "rb") as f:
            fcntl.flock(f, fcntl.LOCK_SH)
            try:
                return f.read(), self.read_head()
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def read_head(self) -> dict[str, Any] | None:
        try:
            head = json.loads(self.head_file.read_bytes())
        except (OSError, ValueError):
            return None
        return head if isinstance(head, dict) else None

    def recorder_key(self) -> Ed25519PrivateKey | None:
        try:
            return signing.load_private_key(RECORDER_NAME, self.recorder_key_dir)
        except BlastwallError:
            return None

    # -- reading ---------------------------------------------------------------------------------------
    def records(self) -> list[dict[str, Any]]:
        """Every complete record as written (unverified: use ``verify`` to know they count)."""
        if not self.path.exists():
            return []
        out = []
        for line in self.path.read_bytes().split(b"\n")[:-1]:
            try:
                out.append(json.loads(line))
            except ValueError:
                break
        return out

    # -- writing --------------------------------------------------------------------------------------
    def append(
        self, rtype: str, body: dict[str, Any], *, actor: str, key: Ed25519PrivateKey
    ) -> dict[str, Any]:
        """Append one record signed by ``actor``'s ``key``; refused (nothing written) if it would not
        count. Returns the record as written."""
        return self.append_many([(rtype, body, actor, key)])[-1]

    def append_many(
        self, items: list[tuple[str, dict[str, Any], str, Ed25519PrivateKey]]
    ) -> list[dict[str, Any]]:
        with self._locked() as f:
            f.seek(0)
            cached, self.checked = self.checked, None  # taken over; kept again only if all goes well
            auth = self._ready_to_append(f, f.read(), cached)
            written = [self._write(f, auth, *item) for item in items]
            head = self._sign_head(auth, fallback=items[-1])
            last = signing.canonical(written[-1]) + b"\n"
            end = f.seek(0, os.SEEK_END)
            f.seek(end - len(last))
            if f.read() != last:
                raise BlastwallError(f"{self.path} changed under the lock")  # cannot happen: we hold it
            self.checked = Checked(end, last, auth)
        if self.witnesses and any(r["type"] in ANCHORED_TYPES for r in written):
            self.anchor(head, auth.root_fingerprint)
        return written

    def append_system(self, rtype: str, body: dict[str, Any]) -> dict[str, Any]:
        """A record of the system's own (a gate answer, an execution report), signed by the recorder."""
        key = self.recorder_key()
        if key is None:
            raise BlastwallError(
                f"no recorder key at {self.recorder_key_dir} (created by blastwall org init): this process "
                "cannot write to the ledger"
            )
        return self.append(rtype, body, actor=RECORDER_NAME, key=key)

    def _ready_to_append(self, f: Any, data: bytes, cached: Checked | None) -> Authority:
        """Replay what is there; repair only what is past the signed head; refuse anything else."""
        head = self.read_head()
        if not data:
            if head is not None:
                raise BlastwallError(
                    f"{self.path} is empty but its signed head says record {head.get('seq')}: the ledger was "
                    "truncated; nothing was appended (blastwall audit verify)"
                )
            return Authority()
        if head is None:
            raise BlastwallError(
                f"{self.head_file.name} is missing or unreadable: the end of the ledger cannot be checked, "
                "so nothing was appended (blastwall audit verify)"
            )
        head_seq: int = head["seq"] if isinstance(head.get("seq"), int) else 0
        rep = replay(data, base=cached)  # every signature, except a prefix this process checked already
        if rep.first_bad is not None:
            raise BlastwallError(
                f"the ledger does not verify at record {rep.first_bad} ({rep.problem}); nothing was "
                "appended (blastwall audit verify)"
            )
        auth = rep.authority
        if head.get("ledger") != auth.genesis:
            raise BlastwallError("the signed head belongs to another ledger; nothing was appended")
        covered = rep.records + (1 if rep.tail_record else 0)
        if head_seq > covered:
            raise BlastwallError(
                f"the signed head says the ledger ends at record {head_seq}, it holds {rep.records} whole "
                "record(s): records the head covers are missing or damaged; nothing was appended "
                "(blastwall audit verify)"
            )
        hash_at_head = rep.hash_at.get(head_seq) or (
            rep.tail_record["hash"] if rep.tail_record and rep.tail_record["seq"] == head_seq else None
        )
        signer_state = auth if head_seq == rep.records else _at(data, head_seq)
        if hash_at_head != head.get("hash") or not head_signature_ok(signer_state, head):
            raise BlastwallError(
                "the signed head does not match the ledger or is not signed by its recorder; nothing was "
                "appended (blastwall audit verify)"
            )
        if rep.tail_record is not None:  # a whole record whose newline is missing: restore it, not move it
            auth.admit(rep.tail_record)
            f.write(b"\n")
            f.flush()
            os.fsync(f.fileno())
        elif rep.tail:
            quarantine = self.path.with_name(f"{self.path.name}.torn-{time.time_ns()}")
            quarantine.write_bytes(rep.tail)
            f.truncate(len(data) - len(rep.tail))
            self._write_system(
                f, auth, "repair", {"torn_bytes": len(rep.tail), "quarantined_to": quarantine.name}
            )
        if auth.seq > head_seq and head_seq < covered:
            self._write_system(
                f,
                auth,
                "repair",
                {"uncovered_records": [head_seq + 1, covered], "checked": "signatures and authority"},
            )
        return auth

    def _write_system(self, f: Any, auth: Authority, rtype: str, body: dict[str, Any]) -> None:
        key = self.recorder_key()
        if key is None:
            raise BlastwallError(
                f"the ledger needs a {rtype} but there is no recorder key here; nothing appended"
            )
        self._write(f, auth, rtype, body, RECORDER_NAME, key)

    def _write(
        self, f: Any, auth: Authority, rtype: str, body: dict[str, Any], actor: str, key: Ed25519PrivateKey
    ) -> dict[str, Any]:
        rec: dict[str, Any] = {
            "v": FORMAT,
            "seq": auth.seq + 1,
            "time": iso(now()),
            "type": rtype,
            "actor": actor,
            "body": body,
            "prev": auth.last_hash,
        }
        rec["hash"] = record_hash(rec)
        rec["signature"] = signing.sign(key, "ledger_record", rec["hash"])
        try:
            auth.admit(rec)
        except Refused as exc:
            raise BlastwallError(f"refused: {exc} (nothing was written to the ledger)") from exc
        f.seek(0, os.SEEK_END)
        f.write(signing.canonical(rec) + b"\n")
        f.flush()
        os.fsync(f.fileno())
        return rec

    def _sign_head(
        self, auth: Authority, fallback: tuple[str, dict[str, Any], str, Ed25519PrivateKey]
    ) -> dict[str, Any]:
        key, actor = self.recorder_key(), RECORDER_NAME
        if key is None or not auth.may_sign_heads(RECORDER_NAME):
            key, actor = fallback[3], fallback[2]
        if not auth.may_sign_heads(actor):
            raise BlastwallError(
                f"record {auth.seq} was written but no key here may sign the head (the recorder's key is "
                f"not at {self.recorder_key_dir})"
            )
        head: dict[str, Any] = {
            "ledger": auth.genesis,
            "seq": auth.seq,
            "hash": auth.last_hash,
            "actor": actor,
        }
        head["signature"] = signing.sign(key, "ledger_head", head_payload(head))
        tmp = self.head_file.with_name(self.head_file.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(head, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, self.head_file)
        return head

    def verify(self, trust_root: TrustRoot | None) -> VerifyReport:
        """``verify`` with this ledger's witnesses, going on from what this process verified before while
        that prefix ends as it did (a long-running process, such as ``serve``, checks each record's
        signature once); a ledger that verifies is remembered, so this process's next append
        or verify checks only what was written after. Heads anchored at records verified before are
        not read again, and an edit of a record verified before is not seen here (``Checked``):
        ``blastwall audit verify`` reads every one."""
        data, head = self._read_whole()
        base, self.checked = self.checked, None  # taken over: kept again only if all goes well
        rep = verify(self.path, trust_root, self.witnesses, data=data, head=head, base=base)
        if rep.ok and rep.authority is not None:
            self.checked = Checked.of(data, rep.authority)
        return rep

    def checkpoint(self) -> dict[str, Any]:
        """A checkpoint record by the recorder: states the head it follows."""
        head = self.read_head() or {}
        return self.append_system("checkpoint", {"upto": head.get("seq"), "head": head.get("hash")})

    def anchor(self, head: dict[str, Any] | None = None, root: str | None = None) -> list[str]:
        """Write the signed head to every configured witness; returns where."""
        head = head or self.read_head()
        if head is None:
            raise BlastwallError(f"{self.path} has no signed head to anchor")
        if not self.witnesses:
            raise BlastwallError("no witness: give --anchor DIR|s3://BUCKET/PREFIX or set $BLASTWALL_ANCHOR")
        doc = anchoring.anchor_document(head, root)
        return [w.write(doc) for w in self.witnesses]


def _at(data: bytes, seq: int) -> Authority:
    """The authority as of record ``seq`` (who could sign a head there)."""
    if seq <= 0:
        return Authority()
    cut = 0
    for _ in range(seq):
        nxt = data.find(b"\n", cut)
        cut = len(data) if nxt < 0 else nxt + 1
    return replay(
        data[:cut] if data[:cut].endswith(b"\n") else data[:cut] + b"\n", check_signatures_from=seq + 1
    ).authority


# -- verification ---------------------------------------------------------------------------------------
@dataclass
class VerifyReport:
    ok: bool
    records: int
    first_bad: int | None = None
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    root: str | None = None
    trust_root: str | None = None
    anchors_checked: int = 0
    authority: Authority | None = None

    def fail(self, seq: int | None, why: str) -> None:
        if self.ok:
            self.first_bad = seq
        self.ok = False
        self.problems.append(f"record {seq}: {why}" if seq is not None else why)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "records": self.records,
            "first_bad": self.first_bad,
            "problems": self.problems,
            "warnings": self.warnings,
            "root": self.root,
            "trust_root": self.trust_root,
            "anchors_checked": self.anchors_checked,
        }


def verify(
    path: Path,
    trust_root: TrustRoot | None = None,
    witnesses: list[anchoring.Witness] | None = None,
    *,
    data: bytes | None = None,
    head: dict[str, Any] | None = None,
    base: Checked | None = None,
) -> VerifyReport:
    """Replay every record through the authority rules, check the signed head, the trust root and every
    anchored head; name the first record that does not count. Without a trust root nothing verifies:
    a ledger rebuilt from scratch with someone else's keys is internally perfect. With ``base`` (taken
    over), a prefix this process verified is not replayed again while it ends as it did (``Checked``)."""
    ledger = Ledger(path)
    rep = VerifyReport(True, 0, trust_root=trust_root.fingerprint if trust_root else None)
    if not ledger.exists():
        rep.fail(None, f"{path} does not exist or is empty: nothing has been recorded (blastwall org init)")
        return rep
    if data is None:
        data, head = ledger._read_whole()
    elif head is None:
        head = ledger.read_head()
    anchors_at: dict[int, list[tuple[str, dict[str, Any]]]] = {}
    anchor_problems: list[str] = []
    genesis = _genesis(data)
    for w in witnesses or []:
        for where, doc in w.read(genesis or ""):
            rep.anchors_checked += 1
            if doc is None or not isinstance(doc.get("seq"), int) or doc.get("ledger") != genesis:
                anchor_problems.append(f"anchor {where} is unreadable or names another ledger")
                continue
            anchors_at.setdefault(doc["seq"], []).append((where, doc))
    r = replay(data, anchors_at=anchors_at, anchor_problems=anchor_problems, base=base)
    rep.records, rep.authority, rep.root = r.records, r.authority, r.authority.root_fingerprint
    if r.first_bad is not None:
        rep.fail(r.first_bad, r.problem or "does not count")
    if trust_root is None:
        rep.fail(
            None,
            f"no trust root given (--trust-root or $BLASTWALL_TRUST_ROOT): this ledger's root is {rep.root}, "
            "but a ledger rebuilt with anyone's keys would verify just as well",
        )
    elif rep.root is not None and rep.root != trust_root.fingerprint:
        rep.fail(
            1,
            f"the ledger's root is {rep.root}, not the trust root {trust_root.fingerprint} "
            f"({trust_root.source}): a ledger rebuilt with other keys",
        )
    last = r.records
    if r.tail_record is not None:
        rep.warnings.append(
            f"record {last + 1} lacks its final newline (the next append restores it; it counts)"
        )
        r.authority.admit(r.tail_record)
        last += 1
        rep.records = last
    elif r.tail and r.first_bad is None:
        rep.warnings.append(
            f"{len(r.tail)} byte(s) after record {last} are not a whole record (a write that never finished): "
            "not part of the ledger; the next append moves them aside, unless the signed head covers them"
        )
    for p in anchor_problems:
        rep.fail(None, p)
    for seq in sorted(s for s in anchors_at if s > last):
        where = anchors_at[seq][0][0]
        rep.fail(
            last + 1 if last < seq else seq,
            f"the ledger ends at record {last} but a head at record {seq} was anchored at {where}: "
            "records were cut or the ledger was rolled back",
        )
    if r.first_bad is None:
        _check_head(rep, head, r, last, data)
    return rep


def _genesis(data: bytes) -> str | None:
    end = data.find(b"\n")
    first = data[: end if end >= 0 else len(data)]
    try:
        rec = json.loads(first)
    except ValueError:
        return None
    return rec.get("hash") if isinstance(rec, dict) and isinstance(rec.get("hash"), str) else None


def _check_head(rep: VerifyReport, head: dict[str, Any] | None, r: Replay, last: int, data: bytes) -> None:
    if head is None:
        rep.fail(
            None,
            "the signed head (ledger.jsonl.head.json) is missing or unreadable: the end cannot be checked",
        )
        return
    seq = head.get("seq")
    if not isinstance(seq, int) or head.get("ledger") != r.authority.genesis:
        rep.fail(None, "the signed head does not belong to this ledger")
        return
    if seq > last:
        rep.fail(
            last + 1,
            f"the signed head says the ledger ends at record {seq}, it ends at {last}: records were cut",
        )
        return
    at_head = r.authority if seq == last else _at(data, seq)
    want = r.hash_at.get(seq) or (r.tail_record or {}).get("hash")
    if head.get("hash") != want:
        rep.fail(seq, "differs from the record the signed head names (rewritten after it was signed)")
    elif not head_signature_ok(at_head, head):
        rep.fail(
            None,
            f"the signed head is not signed by a recorder or role-admin chained to the root "
            f"(signed as {head.get('actor')!r})",
        )
    elif seq < last:
        rep.fail(
            seq + 1,
            f"records {seq + 1}..{last} are past the signed head (ends at {seq}): appended without the "
            "recorder, or a writer stopped before signing; the next append checks and covers them",
        )
