"""The organization, its identities and their roles: every change here is a signed ledger record.

* ``init_org``: the root identity (the admin), the recorder, and the recorder's grant — the first three
  records of a ledger. The root's fingerprint is the trust root the organization keeps outside the store.
* ``register``: a person's own key, registered with no roles.
* ``grant`` / ``revoke``: roles, signed by a holder of ``role-admin`` (the root, or someone it granted).
* ``rotate_key`` / ``revoke_key``: a new key signed by the old one; a revoked key signs nothing after.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from analyzer.errors import BadInput, BlastwallError
from analyzer.governance import signing
from analyzer.governance.authority import RECORDER, RECORDER_NAME, ROLE_ADMIN, Authority, Refused, check_role
from analyzer.governance.ledger import Checked, Ledger, VerifyReport, replay, verify
from analyzer.governance.trust_root import TrustRoot, document
from analyzer.notices import say


def _key_for(name: str, key_dir: Path | None) -> tuple[Any, bool]:
    """The person's key: the existing file, or a new one (and whether it is new)."""
    path = signing.key_file(name, key_dir)
    if path.exists():
        return signing.load_private_key(name, key_dir), False
    key = signing.new_key()
    signing.write_key(path, key)
    return key, True


def current(ledger: Ledger) -> Authority:
    """The authority as the ledger says, for checks before writing (the ledger's writer re-checks
    everything against the verified records; the gate reads only ``verify``)."""
    if not ledger.exists():
        return Authority()
    data = ledger.path.read_bytes()
    rep = replay(data, base=ledger.checked)
    if rep.first_bad is not None:
        ledger.checked = None
        raise BlastwallError(f"the ledger does not verify at record {rep.first_bad}: {rep.problem}")
    # what was just checked need not be checked again by this process's next append (which takes the
    # state over: use what this returns before appending)
    ledger.checked = Checked.of(data, rep.authority)
    return rep.authority


def init_org(ledger: Ledger, *, organization: str, admin: str, key_dir: Path | None) -> dict[str, Any]:
    """Start a ledger whose root is ``admin``; returns the trust-root document to keep elsewhere."""
    signing.check_name(admin)
    if not organization.strip():
        raise BadInput("--organization must name the organization")
    if ledger.exists():
        first = replay(ledger.path.read_bytes().split(b"\n", 1)[0] + b"\n")
        if first.first_bad is not None:
            raise BlastwallError(
                f"{ledger.path} holds a ledger this version cannot take over ({first.problem}); move it aside "
                "(keep it: it records earlier decisions) and run org init again"
            )
        raise BlastwallError(
            f"{ledger.path} already holds a ledger (root {first.authority.root_fingerprint}); an organization "
            "is initialized once"
        )
    admin_key, _ = _key_for(admin, key_dir)
    assert ledger.recorder_key_dir is not None
    ledger.recorder_key_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    recorder_key, _ = _key_for(RECORDER_NAME, ledger.recorder_key_dir)
    admin_pub, recorder_pub = signing.public_key_of(admin_key), signing.public_key_of(recorder_key)
    # written aside and published whole (head first, then the ledger, which cannot already exist): a
    # kill at any point leaves either no ledger (run org init again) or the whole start of one
    staging = Ledger(
        ledger.path.with_name(f".{ledger.path.name}.init-{os.getpid()}"),
        recorder_key_dir=ledger.recorder_key_dir,
    )
    for leftover in (staging.path, staging.head_file):
        leftover.unlink(missing_ok=True)
    staging.append_many(
        [
            (
                "org_root",
                {"organization": organization, "admin": admin, "public_key": admin_pub},
                admin,
                admin_key,
            ),
            ("identity", {"name": RECORDER_NAME, "public_key": recorder_pub}, RECORDER_NAME, recorder_key),
            (
                "role_grant",
                {"name": RECORDER_NAME, "role": RECORDER, "fingerprint": signing.fingerprint(recorder_pub)},
                admin,
                admin_key,
            ),
        ]
    )
    os.replace(staging.head_file, ledger.head_file)
    try:
        os.link(staging.path, ledger.path)
    except FileExistsError as exc:
        raise BlastwallError(f"{ledger.path} was initialized by someone else meanwhile") from exc
    finally:
        staging.path.unlink(missing_ok=True)
    return document(organization, admin, admin_pub)


def register(ledger: Ledger, name: str, key_dir: Path | None) -> str:
    """Register ``name`` with its own key (created if the key file does not exist); returns the key's
    fingerprint. The identity holds no role until a role-admin grants one."""
    signing.check_name(name)
    auth = current(ledger)
    if auth.root is None:
        raise BlastwallError("this ledger has no organization yet (blastwall org init --admin NAME)")
    if auth.member(name) is not None:
        raise BlastwallError(f"identity {name!r} already exists in this ledger")
    key, _ = _key_for(name, key_dir)
    pub = signing.public_key_of(key)
    ledger.append("identity", {"name": name, "public_key": pub}, actor=name, key=key)
    return signing.fingerprint(pub)


def own_key(auth: Authority, name: str, key_dir: Path | None) -> Any:
    """``name``'s private key, checked against the key the ledger holds for them. A rotation that was
    interrupted is settled here: recorded in the ledger but not yet moved into place, it is completed;
    never recorded, its staged key is dropped."""
    m = auth.member(name)
    if m is None:
        raise BlastwallError(f"no identity {name!r} in this ledger (blastwall keys init --name {name})")
    if m.key is None:
        raise BlastwallError(f"{name!r} has no valid key in this ledger (wrong or revoked key)")
    path = signing.key_file(name, key_dir)
    staged = path.with_name(f"{path.name}.new")
    key = signing.load_private_key(name, key_dir)
    if signing.public_key_of(key) == m.key:
        if staged.exists():
            staged.unlink()
            say(f"dropped {staged.name}: a key rotation that stopped before the ledger recorded it")
        return key
    if staged.exists() and signing.public_key_of(new := signing.load_key_file(staged)) == m.key:
        path.rename(path.with_name(f"{path.name}.retired-{time.time_ns()}"))
        staged.rename(path)
        say(f"completed an interrupted key rotation for {name}: the ledger already held the new key")
        return new
    raise BlastwallError(
        f"the key file for {name!r} does not match the registered identity (wrong or revoked key)"
    )


def _admin_key(ledger: Ledger, admin: str, key_dir: Path | None) -> Any:
    return own_key(current(ledger), admin, key_dir)


def grant(
    ledger: Ledger, name: str, role: str, *, admin: str, key_dir: Path | None, fingerprint: str | None = None
) -> dict[str, Any]:
    """``admin`` grants ``role`` to ``name``. The grant records the key ``name`` holds now (pass
    ``fingerprint`` to make sure it is the key you expect); a name with no identity yet becomes one known
    only through grants, usable through the app."""
    signing.check_name(name)
    try:
        check_role(role)
    except Refused as exc:
        raise BadInput(str(exc), path="ROLE") from exc
    auth = current(ledger)
    m = auth.member(name)
    held = m.fingerprint if m else None
    if fingerprint and fingerprint != held:
        raise BlastwallError(f"{name}'s key is {held}, not {fingerprint}: not granting")
    key = _admin_key(ledger, admin, key_dir)
    body: dict[str, Any] = {"name": m.name if m else name, "role": role}
    if held:
        body["fingerprint"] = held
    ledger.append("role_grant", body, actor=admin, key=key)
    return body


def revoke(ledger: Ledger, name: str, role: str, *, admin: str, key_dir: Path | None) -> dict[str, Any]:
    key = _admin_key(ledger, admin, key_dir)
    body = {"name": name, "role": role}
    ledger.append("role_revoke", body, actor=admin, key=key)
    return body


def rotate_key(ledger: Ledger, name: str, key_dir: Path | None) -> str:
    """A new key for ``name``, signed into the ledger by the old one; the old key file is kept aside as
    ``…retired-<time>`` (it signs nothing any more). Returns the new fingerprint."""
    old = _admin_key(ledger, name, key_dir)
    auth = current(ledger)
    new = signing.new_key()
    pub = signing.public_key_of(new)
    proof = signing.sign(new, "key_binding", {"ledger": auth.genesis, "name": name, "public_key": pub})
    staged = signing.key_file(name, key_dir).with_name(f"{name}.ed25519.pem.new")
    signing.write_key(staged, new)
    ledger.append("key_rotate", {"name": name, "public_key": pub, "proof": proof}, actor=name, key=old)
    path = signing.key_file(name, key_dir)
    path.rename(path.with_name(f"{path.name}.retired-{time.time_ns()}"))
    staged.rename(path)
    return signing.fingerprint(pub)


def revoke_key(ledger: Ledger, name: str, *, by: str, reason: str, key_dir: Path | None) -> dict[str, Any]:
    """Revoke ``name``'s current key (by its owner or a role-admin): nothing it signs afterwards counts."""
    if not reason.strip():
        raise BadInput("say why the key is revoked (--reason)")
    key = _admin_key(ledger, by, key_dir)
    body = {"name": name, "reason": reason}
    ledger.append("key_revoke", body, actor=by, key=key)
    return body


def summary(auth: Authority) -> list[dict[str, Any]]:
    """Every identity: its key, roles and whether it is the root (for ``roles list``)."""
    return [
        {
            "name": m.name,
            "fingerprint": m.fingerprint,
            "roles": sorted(m.roles | ({ROLE_ADMIN} if m.root else set())),
            "root": m.root,
            "revoked_keys": len(m.revoked_keys),
        }
        for m in sorted(auth.members.values(), key=lambda m: m.name)
    ]


def verified(ledger: Ledger, trust_root: TrustRoot | None) -> VerifyReport:
    """``verify`` with the ledger's own witnesses."""
    return verify(ledger.path, trust_root, ledger.witnesses)


def link_account(
    ledger: Ledger, name: str, system: str, account: str, *, admin: str, key_dir: Path | None
) -> dict[str, Any]:
    """``admin`` (a role-admin) links a ticket system's account to the identity ``name``: an approval that
    account gives in a change request counts as ``name``'s (if ``name`` holds the role it needs)."""
    auth = current(ledger)
    if auth.member(name) is None:
        raise BadInput(f"no identity {name!r} in this ledger", path="NAME")
    if not account.strip():
        raise BadInput("the account is empty", path=f"--{system}")
    key = own_key(auth, admin, key_dir)
    body = {"name": auth.member(name).name, "system": system, "account": account}  # type: ignore[union-attr]
    ledger.append("account_link", body, actor=admin, key=key)
    return body


def unlink_account(ledger: Ledger, system: str, account: str, *, admin: str, key_dir: Path | None) -> None:
    key = own_key(current(ledger), admin, key_dir)
    ledger.append("account_unlink", {"system": system, "account": account}, actor=admin, key=key)
