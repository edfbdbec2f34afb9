"""What an attacker with write access to the store directory can do to a ledger: write records and heads
with correct hashes and chaining, signed with whatever key they hold (or none)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from analyzer.governance import signing
from analyzer.governance.authority import FORMAT, record_hash


def lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def last_record(path: Path) -> dict[str, Any]:
    return json.loads(lines(path)[-1])


def forge_record(
    path: Path, rtype: str, actor: str, body: dict[str, Any], key: Ed25519PrivateKey | None
) -> dict[str, Any]:
    """Append a well-formed record: right seq, prev and hash; signed with ``key`` (None: unsigned)."""
    prev = last_record(path)
    rec: dict[str, Any] = {
        "v": FORMAT,
        "seq": prev["seq"] + 1,
        "time": prev["time"],
        "type": rtype,
        "actor": actor,
        "body": body,
        "prev": prev["hash"],
    }
    rec["hash"] = record_hash(rec)
    if key is not None:
        rec["signature"] = signing.sign(key, "ledger_record", rec["hash"])
    with open(path, "ab") as f:
        f.write(signing.canonical(rec) + b"\n")
    return rec


def resign_head(path: Path, key: Ed25519PrivateKey, actor: str, upto: int | None = None) -> dict[str, Any]:
    """Write a head for record ``upto`` (default: the last), signed with ``key`` in ``actor``'s name."""
    recs = [json.loads(x) for x in lines(path)]
    rec = recs[-1] if upto is None else recs[upto - 1]
    head: dict[str, Any] = {"ledger": recs[0]["hash"], "seq": rec["seq"], "hash": rec["hash"], "actor": actor}
    head["signature"] = signing.sign(key, "ledger_head", {k: head[k] for k in ("ledger", "seq", "hash")})
    path.with_name(path.name + ".head.json").write_text(json.dumps(head))
    return head


def truncate_to(path: Path, n: int) -> None:
    path.write_bytes(b"".join(lines(path)[:n]))
