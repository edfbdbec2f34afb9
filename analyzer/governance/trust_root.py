"""The organization's trust root: the fingerprint of its root identity's public key, kept *outside* the
store (in the organization's own repository), given as ``--trust-root FPR|FILE`` or
``$BLASTWALL_TRUST_ROOT``. A ledger whose first record is not that key's verifies to nothing.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analyzer.errors import BadInput
from analyzer.governance import signing

ENV = "BLASTWALL_TRUST_ROOT"
_FPR = re.compile(r"sha256:[0-9a-f]{64}")


@dataclass(frozen=True)
class TrustRoot:
    fingerprint: str
    source: str


def parse(value: str, source: str = "--trust-root") -> TrustRoot:
    """A fingerprint (``sha256:<64 hex>``), or a file holding one: the JSON ``org init --out`` writes
    (its public key must match its fingerprint) or plain text.

    >>> parse("sha256:" + "ab" * 32).fingerprint[:12]
    'sha256:ababa'
    """
    text = value.strip()
    if _FPR.fullmatch(text):
        return TrustRoot(text, source)
    path = Path(text)
    if not path.is_file():
        raise BadInput(
            f"{source}: {value!r} is neither a fingerprint (sha256:<64 hex>) nor a readable file", path=source
        )
    raw = path.read_text(encoding="utf-8", errors="replace").strip()
    if _FPR.fullmatch(raw):
        return TrustRoot(raw, str(path))
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise BadInput(f"{path}: not a fingerprint and not JSON ({exc})", file=str(path)) from exc
    fpr = doc.get("fingerprint") if isinstance(doc, dict) else None
    if not isinstance(fpr, str) or not _FPR.fullmatch(fpr):
        raise BadInput(f"{path}: no 'fingerprint' of the form sha256:<64 hex>", file=str(path))
    key = doc.get("public_key")
    if key is not None and (not isinstance(key, str) or signing.fingerprint(key) != fpr):
        raise BadInput(f"{path}: its public_key does not have its fingerprint", file=str(path))
    return TrustRoot(fpr, str(path))


def resolve(explicit: str | None) -> TrustRoot | None:
    """The trust root given on the command line, else ``$BLASTWALL_TRUST_ROOT``, else None."""
    if explicit:
        return parse(explicit)
    env = os.environ.get(ENV)
    return parse(env, f"${ENV}") if env else None


def document(organization: str, admin: str, public_key: str) -> dict[str, Any]:
    """What ``org init --out`` writes: keep it in the organization's own repository."""
    return {
        "organization": organization,
        "admin": admin,
        "public_key": public_key,
        "fingerprint": signing.fingerprint(public_key),
        "what": "Blastwall trust root: audit verify --trust-root THIS_FILE",
    }
