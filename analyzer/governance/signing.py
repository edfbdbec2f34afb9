"""Ed25519 keys and signatures: a private key file per identity (mode 0600), public keys in the ledger.

Signatures are over canonical JSON (sorted keys, no spaces) of a payload wrapped in a *purpose*
(``{"ledger_record": …}``, ``{"ledger_head": …}``, …), so a signature made for one purpose can never be
replayed as another. Anyone can re-check every signature from the ledger alone.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import stat
import unicodedata
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from analyzer.errors import BadInput, BlastwallError

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}")


def canonical(obj: Any) -> bytes:
    """The bytes that are hashed and signed: JSON with sorted keys and no insignificant space."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode(
        "utf-8"
    )


def sha256(obj: Any) -> str:
    return hashlib.sha256(canonical(obj)).hexdigest()


def fingerprint(public_key_b64: str) -> str:
    """``sha256:<64 hex>`` of the raw 32-byte public key: what an organization pins as its trust root.

    >>> fingerprint(base64.b64encode(bytes(32)).decode())
    'sha256:66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925'
    """
    return "sha256:" + hashlib.sha256(base64.b64decode(public_key_b64)).hexdigest()


def check_name(name: str) -> str:
    """An identity name: 1-64 of letters, digits and ``._@+-``, starting with a letter or digit.

    >>> check_name("priya@acme.example")
    'priya@acme.example'
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise BadInput(
            f"invalid identity name {name!r}: use 1-64 letters, digits and . _ @ + - "
            "(starting with a letter or digit)"
        )
    return name


def same_person(a: str | None, b: str | None) -> bool:
    """Whether two names denote the same person: compared case-insensitively after Unicode
    normalization, and an e-mail address equals its local part when only one side has a domain.

    >>> same_person("Priya", "priya@acme.example"), same_person("priya@a.example", "priya@b.example")
    (True, False)
    """
    if not a or not b:
        return False
    x, y = (unicodedata.normalize("NFKC", s).strip().casefold() for s in (a, b))
    if x == y:
        return True
    if ("@" in x) != ("@" in y):
        return x.split("@", 1)[0] == y.split("@", 1)[0]
    return False


def default_key_dir() -> Path:
    return Path(os.environ.get("BLASTWALL_KEYS") or Path.home() / ".blastwall" / "keys")


def _raw_public(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def key_file(name: str, key_dir: Path | None = None) -> Path:
    return (key_dir or default_key_dir()) / f"{check_name(name)}.ed25519.pem"


def write_key(path: Path, key: Ed25519PrivateKey) -> None:
    """Write a private key, owner-only, never over an existing file."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise BlastwallError(f"{path} already exists; an identity's key is never replaced silently") from exc
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
        f.flush()
        os.fsync(f.fileno())


def new_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def load_private_key(name: str, key_dir: Path | None = None) -> Ed25519PrivateKey:
    path = key_file(name, key_dir)
    if not path.exists():
        raise BlastwallError(
            f"no key for {name!r} at {path} (create one with: blastwall keys init --name {name})"
        )
    return load_key_file(path)


def load_key_file(path: Path) -> Ed25519PrivateKey:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise BlastwallError(f"{path} is readable by others (mode {mode:o}); chmod 600 it first")
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except ValueError as exc:
        raise BlastwallError(f"{path} is not a PEM private key ({exc})") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise BlastwallError(f"{path} is not an Ed25519 key")
    return key


def sign(key: Ed25519PrivateKey, purpose: str, payload: Any) -> str:
    return base64.b64encode(key.sign(canonical({purpose: payload}))).decode("ascii")


def verify(public_key_b64: str, purpose: str, payload: Any, signature_b64: Any) -> bool:
    if not isinstance(public_key_b64, str) or not isinstance(signature_b64, str):
        return False
    try:
        Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64, validate=True)).verify(
            base64.b64decode(signature_b64, validate=True), canonical({purpose: payload})
        )
        return True
    except (InvalidSignature, ValueError, TypeError):
        return False


def public_key_of(key: Ed25519PrivateKey) -> str:
    return _raw_public(key.public_key())
