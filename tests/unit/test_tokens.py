"""API tokens: who may issue and revoke them (the ledger's rules), and what a bearer token admits when."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from analyzer.errors import BadInput, BlastwallError
from analyzer.governance import identities, tokens
from analyzer.governance.ledger import Ledger, verify
from analyzer.governance.trust_root import parse
from analyzer.timeutil import now

AT = now()


@pytest.fixture
def org(tmp_path: Path) -> tuple[Ledger, Path, object]:
    keys = tmp_path / "keys"
    ledger = Ledger(tmp_path / "ledger.jsonl")
    doc = identities.init_org(ledger, organization="T", admin="ana", key_dir=keys)
    for name in ("bo", "bot"):
        identities.register(ledger, name, keys)
    identities.grant(ledger, "bo", "change-advisory-board", admin="ana", key_dir=keys)
    return ledger, keys, parse(doc["fingerprint"])


def _authority(ledger: Ledger, root: object) -> object:
    rep = verify(ledger.path, root)  # type: ignore[arg-type]
    assert rep.ok, rep.problems
    return rep.authority


def _issue(ledger: Ledger, keys: Path, *, admin: str = "ana", days: int = 30, scopes: tuple = ("gate",)):
    return tokens.issue(
        ledger, "bot", list(scopes), expires=AT + timedelta(days=days), admin=admin, key_dir=keys, at=AT
    )


def test_a_token_admits_its_identity_with_its_scopes_until_it_expires(org: tuple) -> None:
    ledger, keys, root = org
    tok, body = _issue(ledger, keys, days=2, scopes=("read", "gate"))
    assert "secret" not in body and tok.secret not in ledger.path.read_text()
    auth = _authority(ledger, root)
    who = tokens.authenticate(auth, tok.bearer, AT)  # type: ignore[arg-type]
    assert who.name == "bot" and who.scopes == {"gate", "read"} and who.token_id == tok.token_id
    with pytest.raises(tokens.Unauthorized, match="expired"):
        tokens.authenticate(auth, tok.bearer, AT + timedelta(days=2))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "bearer",
    [None, "", "Bearer x", "bwt_abc_def", "bwt_" + "0" * 12 + "_" + "a" * 43],
)
def test_what_is_not_an_issued_token_admits_no_one(org: tuple, bearer: str | None) -> None:
    ledger, keys, root = org
    _issue(ledger, keys)
    with pytest.raises(tokens.Unauthorized):
        tokens.authenticate(_authority(ledger, root), bearer, AT)  # type: ignore[arg-type]


def test_the_right_id_with_another_secret_is_refused(org: tuple) -> None:
    ledger, keys, root = org
    tok, _ = _issue(ledger, keys)
    other = tokens.NewToken(tok.token_id, tokens.new_token().secret)
    with pytest.raises(tokens.Unauthorized, match="unknown token"):
        tokens.authenticate(_authority(ledger, root), other.bearer, AT)  # type: ignore[arg-type]


def test_only_a_role_admin_issues_and_the_holder_or_an_admin_revokes(org: tuple) -> None:
    ledger, keys, root = org
    with pytest.raises(BlastwallError, match="role-admin"):
        _issue(ledger, keys, admin="bo")  # the board's member is not a role administrator
    tok, _ = _issue(ledger, keys)
    with pytest.raises(BlastwallError, match="revoked by the identity it acts for or by a role-admin"):
        tokens.revoke(ledger, tok.token_id, by="bo", key_dir=keys)
    tokens.revoke(ledger, tok.token_id, by="bot", key_dir=keys)  # its own identity may
    with pytest.raises(tokens.Unauthorized, match="revoked by bot"):
        tokens.authenticate(_authority(ledger, root), tok.bearer, AT)  # type: ignore[arg-type]
    with pytest.raises(BlastwallError, match="already revoked"):
        tokens.revoke(ledger, tok.token_id, by="ana", key_dir=keys)


def test_a_token_dies_with_its_identity_s_key(org: tuple) -> None:
    ledger, keys, root = org
    tok, _ = _issue(ledger, keys)
    identities.revoke_key(ledger, "bot", by="ana", reason="laptop lost", key_dir=keys)
    with pytest.raises(tokens.Unauthorized, match="key revoked"):
        tokens.authenticate(_authority(ledger, root), tok.bearer, AT)  # type: ignore[arg-type]


def test_bad_requests_are_refused_before_anything_is_written(org: tuple) -> None:
    ledger, keys, _ = org
    size = ledger.path.stat().st_size
    with pytest.raises(BadInput, match="scope"):
        _issue(ledger, keys, scopes=("admin",))
    with pytest.raises(BadInput, match="not in the future"):
        _issue(ledger, keys, days=-1)
    with pytest.raises(BadInput, match="no identity"):
        tokens.issue(
            ledger, "nobody", ["read"], expires=AT + timedelta(days=1), admin="ana", key_dir=keys, at=AT
        )
    assert ledger.path.stat().st_size == size


def test_an_incremental_verify_keeps_what_it_verified_and_a_fresh_one_names_an_edit(org: tuple) -> None:
    """A long-running process verifies only what was written since. An edit of a record it verified
    before changes nothing it answers (it holds the authority it verified), new records must still
    chain to the last one it verified, and a whole verification (every command, serve's background
    check) names the edited record."""
    ledger, keys, root = org
    _issue(ledger, keys)  # the grant (record 6) is no longer the last
    held = Ledger(ledger.path)
    assert held.verify(root).ok  # type: ignore[arg-type]
    text = ledger.path.read_bytes()
    edited = text.replace(b'"change-advisory-board"', b" " * 11 + b'"role-admin"')  # bo made admin, same size
    assert len(edited) == len(text)
    ledger.path.write_bytes(edited)
    rep = held.verify(root)  # type: ignore[arg-type]
    assert rep.ok and rep.authority is not None
    assert not rep.authority.holds("bo", "role-admin")  # the edit grants nothing here
    fresh = verify(ledger.path, root)  # type: ignore[arg-type]
    assert not fresh.ok and fresh.first_bad == 6
    # and a record cut from the end is seen at once: the last record verified is no longer there
    ledger.path.write_bytes(text[: text.rfind(b"\n", 0, len(text) - 1) + 1])
    assert not held.verify(root).ok  # type: ignore[arg-type]
