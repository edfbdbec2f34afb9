"""Ed25519 identities: a private key file per person (readable only by its owner) and a public registry.

An identity is a name, the roles it holds and its public key. ``blastwall keys init`` creates the key
file and registers the identity (in the store and, through the ledger, for ever). Signatures are over
canonical JSON (sorted keys, no spaces), so anyone can re-check them from the ledger alone.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from analyzer.errors import BadInput, BlastwallError

IDENTITIES = "identities"


def canonical(obj: Any) -> bytes:
    """The bytes that are hashed and signed: JSON with sorted keys and no insignificant space."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode(
        "utf-8"
    )


def sha256(obj: Any) -> str:
    return hashlib.sha256(canonical(obj)).hexdigest()


def default_key_dir() -> Path:
    return Path(os.environ.get("BLASTWALL_KEYS") or Path.home() / ".blastwall" / "keys")


@dataclass(frozen=True)
class Identity:
    name: str
    roles: tuple[str, ...]
    public_key: str  # base64 of the raw 32 bytes

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(base64.b64decode(self.public_key)).hexdigest()[:16]

    def as_doc(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "roles": list(self.roles),
            "public_key": self.public_key,
            "fingerprint": self.fingerprint,
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Identity:
        return cls(doc["name"], tuple(doc["roles"]), doc["public_key"])


def _raw_public(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def key_file(name: str, key_dir: Path | None = None) -> Path:
    if not name or "/" in name or name.startswith("."):
        raise BadInput(f"invalid identity name {name!r}")
    return (key_dir or default_key_dir()) / f"{name}.ed25519.pem"


def create_key(name: str, roles: list[str], key_dir: Path | None = None) -> Identity:
    """Write a new private key (mode 0600) and return the identity to register. Never overwrites."""
    path = key_file(name, key_dir)
    if path.exists():
        raise BlastwallError(f"{path} already exists; an identity's key is never replaced silently")
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    return Identity(name, tuple(roles), _raw_public(key.public_key()))


def load_private_key(name: str, key_dir: Path | None = None) -> Ed25519PrivateKey:
    path = key_file(name, key_dir)
    if not path.exists():
        raise BlastwallError(
            f"no key for {name!r} at {path} (create one with: blastwall keys init --name {name})"
        )
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise BlastwallError(f"{path} is readable by others (mode {mode:o}); chmod 600 it first")
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise BlastwallError(f"{path} is not an Ed25519 key")
    return key


def sign(key: Ed25519PrivateKey, payload: Any) -> str:
    return base64.b64encode(key.sign(canonical(payload))).decode("ascii")


def verify(public_key_b64: str, payload: Any, signature_b64: str) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64)).verify(
            base64.b64decode(signature_b64), canonical(payload)
        )
        return True
    except (InvalidSignature, ValueError):
        return False


def public_key_of(key: Ed25519PrivateKey) -> str:
    return _raw_public(key.public_key())
