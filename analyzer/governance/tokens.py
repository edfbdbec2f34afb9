"""API tokens for ``blastwall serve``: bearer secrets bound to an identity and to scopes.

A token is issued by a role-admin as a signed ``token_issue`` record in the ledger and revoked by a
``token_revoke`` record (by a role-admin or the identity it acts for); the ledger holds the token's id,
identity, scopes, expiry and the SHA-256 of its secret, never the secret, which is shown once, when it
is issued. So the set of tokens that count is read from the verified ledger like every other authority:
a row added to the store, or a record signed by a key that is not a role-admin's, admits no one.

The token a client sends is ``bwt_<token id>_<secret>``: the id finds the record, the secret's digest
must match it (compared in constant time). The secret is 32 random bytes, so a fast hash is enough.

Scopes: ``propose`` (submit proposals), ``read`` (read scored results), ``gate`` (ask the gate and
report what ran).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from analyzer.errors import BadInput
from analyzer.governance.authority import TOKEN_SCOPES, Authority
from analyzer.governance.identities import current, own_key
from analyzer.governance.ledger import Ledger
from analyzer.timeutil import iso, parse_time

PREFIX = "bwt_"
_FORM = re.compile(r"^bwt_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")


class Unauthorized(Exception):
    """The bearer token does not admit the caller: the message says why (never the token)."""


@dataclass(frozen=True, slots=True)
class Caller:
    """Who a request acts for: the identity a token was issued to, and what it may do."""

    name: str
    token_id: str
    scopes: frozenset[str]


@dataclass(frozen=True, slots=True)
class NewToken:
    token_id: str
    secret: str

    @property
    def bearer(self) -> str:
        """What the client sends (``Authorization: Bearer <this>``); shown once, stored nowhere."""
        return f"{PREFIX}{self.token_id}_{self.secret}"


def new_token() -> NewToken:
    return NewToken(secrets.token_hex(6), secrets.token_urlsafe(32))


def digest(secret: str) -> str:
    """What the ledger keeps of a token's secret."""
    return hashlib.sha256(b"blastwall-api-token\x00" + secret.encode()).hexdigest()


def check_scopes(scopes: object) -> list[str]:
    """The scopes as a sorted list, or ValueError naming what is wrong."""
    if not isinstance(scopes, list | tuple) or not scopes:
        raise ValueError(f"scopes must be a non-empty list of {', '.join(TOKEN_SCOPES)}")
    bad = [s for s in scopes if s not in TOKEN_SCOPES]
    if bad:
        raise ValueError(f"unknown scope(s) {bad}: a token's scopes are {', '.join(TOKEN_SCOPES)}")
    return sorted(set(scopes))


def authenticate(auth: Authority, bearer: str | None, at: datetime) -> Caller:
    """The caller a bearer token admits at ``at``, under the authority the verified ledger holds; or
    ``Unauthorized`` saying why (unknown, malformed, revoked, expired, identity gone)."""
    if not bearer:
        raise Unauthorized("no bearer token (Authorization: Bearer bwt_...)")
    m = _FORM.match(bearer)
    if m is None:
        raise Unauthorized("not a Blastwall API token (bwt_<id>_<secret>)")
    token_id, secret = m.groups()
    rec = auth.tokens.get(token_id)
    # the digest is compared even for an unknown id, so the answer's timing does not say which ids exist
    want = rec["sha256"] if rec else "0" * 64
    if not hmac.compare_digest(digest(secret), want) or rec is None:
        raise Unauthorized("unknown token")
    if rec.get("revoked"):
        raise Unauthorized(f"token {token_id} was revoked by {rec['revoked']['by']}")
    if parse_time(rec["expires"], field="token.expires") <= at:
        raise Unauthorized(f"token {token_id} expired at {rec['expires']}")
    member = auth.member(rec["name"])
    if member is None:
        raise Unauthorized(f"token {token_id}'s identity {rec['name']!r} is not an identity here")
    if member.key is None and member.revoked_keys:
        raise Unauthorized(f"token {token_id}'s identity {member.name} had its key revoked")
    return Caller(member.name, token_id, frozenset(rec["scopes"]))


def issue(
    ledger: Ledger,
    name: str,
    scopes: list[str],
    *,
    expires: datetime,
    admin: str,
    key_dir: Path | None,
    at: datetime,
) -> tuple[NewToken, dict[str, Any]]:
    """``admin`` (a role-admin) issues a token acting for the identity ``name``; returns the token (its
    secret exists only in what this returns) and the ledger record's body."""
    try:
        wanted = check_scopes(scopes)
    except ValueError as exc:
        raise BadInput(str(exc), path="--scope") from exc
    if expires <= at:
        raise BadInput(
            f"the token would expire at {iso(expires)}, which is not in the future", path="--expires"
        )
    auth = current(ledger)
    m = auth.member(name)
    if m is None:
        raise BadInput(
            f"no identity {name!r} in this ledger (blastwall keys init --name {name})", path="NAME"
        )
    key = own_key(auth, admin, key_dir)
    token = new_token()
    body = {
        "token_id": token.token_id,
        "name": m.name,
        "scopes": wanted,
        "sha256": digest(token.secret),
        "expires": iso(expires),
    }
    ledger.append("token_issue", body, actor=admin, key=key)
    return token, body


def revoke(ledger: Ledger, token_id: str, *, by: str, key_dir: Path | None) -> dict[str, Any]:
    """Revoke a token (by a role-admin or the identity it acts for): it admits no one afterwards."""
    key = own_key(current(ledger), by, key_dir)
    body = {"token_id": token_id}
    ledger.append("token_revoke", body, actor=by, key=key)
    return body


def listed(auth: Authority) -> list[dict[str, Any]]:
    """Every token the ledger holds (no secrets: it has none), for ``token list``."""
    return [
        {k: v for k, v in t.items() if k != "sha256"} | {"token_id": tid}
        for tid, t in sorted(auth.tokens.items(), key=lambda kv: kv[1]["ledger_seq"])
    ]
