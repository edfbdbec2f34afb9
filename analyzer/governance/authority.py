"""Who holds which role, and what has been decided, replayed from the ledger — and the rules every
record must satisfy to count.

Authority has one root: the organization's root identity (``blastwall org init``), whose public key's
fingerprint the organization keeps outside the store. Every other identity registers itself (a record
signed by its own new key) with **no roles**; roles exist only through ``role_grant`` records signed by a
holder of ``role-admin``, and the root holds ``role-admin`` for ever. So every role chains to the root,
and a record counts only if, at that point of the ledger,

* its hash is right and it chains to the record before it,
* it is signed by the current key of the actor it names (never by a revoked key), and
* that actor may write it: a grant needs ``role-admin``; an approval needs the role its binding says the
  tier requires, held by the approver; a risk acceptance needs the role it claims; the system's own
  records (gate answers, executions, repairs, checkpoints) need ``recorder``; an API token is issued by
  a role-admin to a registered identity and revoked by a role-admin or that identity.

``Authority.admit`` applies one record or raises ``Refused`` saying why; it does no I/O, so the ledger
file's reader, its writer (which refuses to append what would not count) and the tests share it.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from analyzer.governance import signing

FORMAT = 2
ROLE_ADMIN = "role-admin"
RECORDER = "recorder"
APP = "app"
SYSTEM_ROLES = (ROLE_ADMIN, RECORDER, APP)
RECORDER_NAME = "blastwall-recorder"
SYSTEM_RECORDS = ("gate", "execution", "repair", "checkpoint")
TOKEN_SCOPES = ("gate", "propose", "read")
TICKET_SYSTEMS = ("jira", "servicenow")
"""Where approvers already work: an account there is linked to an identity by a role-admin
(``account_link``), so an approval read back from a change request counts as that identity's."""
"""What an API token may do (``analyzer.governance.tokens``): submit proposals, read results, ask the
gate and report executions."""


class Refused(Exception):
    """The record would not count: the message says which rule it breaks."""


def record_hash(rec: dict[str, Any]) -> str:
    return signing.sha256({k: rec.get(k) for k in ("v", "seq", "time", "type", "actor", "body", "prev")})


def fold(name: str) -> str:
    """The key names are unique under: ``Priya`` and ``priya`` are one identity."""
    return unicodedata.normalize("NFKC", name).strip().casefold()


def _text(body: dict[str, Any], key: str, *, optional: bool = False) -> str:
    v = body.get(key)
    if v is None and optional:
        return ""
    if not isinstance(v, str) or not v or len(v) > 4096 or any(ord(c) < 32 for c in v if c != "\n"):
        raise Refused(f"field {key!r} must be a non-empty string")
    return v


def check_role(role: str) -> str:
    if not isinstance(role, str) or not role.strip() or len(role) > 64 or any(ord(c) < 33 for c in role):
        raise Refused(f"invalid role name {role!r}")
    return role


@dataclass
class Member:
    name: str
    key: str | None  # base64 public key; None for a member known only through grants, or revoked
    roles: set[str] = field(default_factory=set)
    root: bool = False
    revoked_keys: list[str] = field(default_factory=list)

    @property
    def fingerprint(self) -> str | None:
        return signing.fingerprint(self.key) if self.key else None


@dataclass
class Authority:
    """The state of the ledger after the records admitted so far."""

    seq: int = 0
    last_hash: str | None = None
    genesis: str | None = None
    root: dict[str, Any] | None = None
    members: dict[str, Member] = field(default_factory=dict)
    decisions: dict[str, dict[str, Any]] = field(default_factory=dict)
    acceptances: dict[str, dict[str, Any]] = field(default_factory=dict)
    adoptions: list[dict[str, Any]] = field(default_factory=list)
    executions: list[dict[str, Any]] = field(default_factory=list)
    gates: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)  # grants, revocations, keys: who, when
    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)  # API tokens by id (digests, no secrets)
    accounts: dict[tuple[str, str], str] = field(default_factory=dict)  # (system, folded account) -> identity
    hashes: dict[int, str] = field(default_factory=dict)  # every admitted record's hash by seq

    # -- questions ---------------------------------------------------------------------------------
    @property
    def root_fingerprint(self) -> str | None:
        return signing.fingerprint(self.root["public_key"]) if self.root else None

    def member(self, name: str) -> Member | None:
        return self.members.get(fold(name)) if isinstance(name, str) else None

    def holds(self, name: str, role: str) -> bool:
        m = self.member(name)
        return bool(m and (role in m.roles or (role == ROLE_ADMIN and m.root)))

    def roles_of(self, name: str) -> list[str]:
        m = self.member(name)
        return sorted(m.roles) if m else []

    def may_sign_heads(self, name: str) -> bool:
        m = self.member(name)
        return bool(m and m.key and (self.holds(name, RECORDER) or self.holds(name, ROLE_ADMIN)))

    def signer_key(self, rec: dict[str, Any]) -> str:
        """The public key that must have signed ``rec`` (before ``rec`` is applied)."""
        rtype, actor, body = rec.get("type"), rec.get("actor"), rec.get("body")
        if not isinstance(body, dict):
            raise Refused("its body is not an object")
        if not isinstance(actor, str) or not actor:
            raise Refused("it names no actor (unsigned records never count)")
        if rtype in ("org_root", "identity"):  # signed by the key it introduces: proof of possession
            key = body.get("public_key")
            if not isinstance(key, str):
                raise Refused("it introduces no public key")
            return key
        m = self.member(actor)
        if m is None:
            raise Refused(f"its actor {actor!r} is not a registered identity at this point of the ledger")
        if m.key is None:
            why = "was revoked" if m.revoked_keys else "was never bound to a key"
            raise Refused(f"its actor {actor!r} has no valid key here (the key {why})")
        return m.key

    # -- the one entry point ----------------------------------------------------------------------
    def admit(self, rec: dict[str, Any], *, check_signature: bool = True) -> None:
        """Check ``rec`` against the chain and the rules; apply it, or raise ``Refused`` and change
        nothing."""
        if not isinstance(rec, dict):
            raise Refused("not a JSON object")
        if rec.get("v") != FORMAT:
            raise Refused(
                f"format {rec.get('v')!r}, not {FORMAT} (a ledger written before trust roots, or not a "
                "Blastwall record): it carries no actor signature"
            )
        if rec.get("seq") != self.seq + 1:
            raise Refused(
                f"sequence number {rec.get('seq')!r} where {self.seq + 1} was expected "
                "(deleted, inserted or reordered records)"
            )
        if rec.get("prev") != self.last_hash:
            raise Refused("does not chain to the record before it (deleted, inserted or reordered records)")
        if record_hash(rec) != rec.get("hash"):
            raise Refused("its content does not match its hash (edited)")
        if not isinstance(rec.get("time"), str):
            raise Refused("it has no time")
        key = self.signer_key(rec)
        if check_signature and not signing.verify(key, "ledger_record", rec["hash"], rec.get("signature")):
            raise Refused(f"its signature is not {rec['actor']!r}'s (a record signed by another key)")
        rtype = rec.get("type")
        if self.seq == 0 and rtype != "org_root":
            raise Refused("the first record must be the organization's root (blastwall org init)")
        handler = _HANDLERS.get(rtype) if isinstance(rtype, str) else None
        if handler is None:
            raise Refused(f"unknown record type {rtype!r}")
        handler(self, rec, rec["actor"], rec["body"])
        self.seq = rec["seq"]
        self.last_hash = rec["hash"]
        self.hashes[self.seq] = rec["hash"]
        if self.genesis is None:
            self.genesis = rec["hash"]

    # -- one handler per record type -----------------------------------------------------------------
    def _org_root(self, rec: dict[str, Any], actor: str, body: dict[str, Any]) -> None:
        if self.seq != 0:
            raise Refused("a second organization root (only the first record may be one)")
        admin = signing.check_name(_text(body, "admin"))
        if fold(actor) != fold(admin):
            raise Refused("the root record must be signed by the admin it names")
        _text(body, "organization")
        self.root = {k: body[k] for k in ("organization", "admin", "public_key")}
        self.members[fold(admin)] = Member(admin, body["public_key"], {ROLE_ADMIN}, root=True)
        self._note(rec, "root", admin, ROLE_ADMIN)

    def _identity(self, rec: dict[str, Any], actor: str, body: dict[str, Any]) -> None:
        name = signing.check_name(_text(body, "name"))
        if fold(actor) != fold(name):
            raise Refused("an identity registers itself: the actor must be the name it registers")
        if fold(name) in self.members:
            raise Refused(f"{name!r} is already an identity here (a new key for it: blastwall keys rotate)")
        self.members[fold(name)] = Member(name, body["public_key"])
        self._note(rec, "identity", name)

    def _role_grant(self, rec: dict[str, Any], actor: str, body: dict[str, Any]) -> None:
        self._need(actor, ROLE_ADMIN, "grant roles")
        name, role = signing.check_name(_text(body, "name")), check_role(_text(body, "role"))
        m = self.member(name)
        expected = body.get("fingerprint")
        if m is not None and expected is not None and expected != m.fingerprint:
            raise Refused(f"the grant names key {expected} but {name}'s key is {m.fingerprint}")
        if m is None:  # known only through grants: can act in the app, not sign (no key)
            m = self.members[fold(name)] = Member(name, None)
        m.roles.add(role)
        self._note(rec, "grant", name, role)

    def _role_revoke(self, rec: dict[str, Any], actor: str, body: dict[str, Any]) -> None:
        self._need(actor, ROLE_ADMIN, "revoke roles")
        name, role = _text(body, "name"), check_role(_text(body, "role"))
        m = self.member(name)
        if m is not None and m.root and role == ROLE_ADMIN:
            raise Refused("the organization's root holds role-admin for ever")
        if m is None or role not in m.roles:
            raise Refused(f"{name!r} does not hold {role!r}")
        m.roles.discard(role)
        self._note(rec, "revoke", name, role)

    def _key_rotate(self, rec: dict[str, Any], actor: str, body: dict[str, Any]) -> None:
        name, new = _text(body, "name"), _text(body, "public_key")
        m = self.member(name)
        if m is None:
            raise Refused(f"{name!r} is not an identity here")
        if m.root:
            raise Refused("the root's key is the trust root: it cannot be rotated in the ledger")
        if fold(actor) != fold(name) and not self.holds(actor, ROLE_ADMIN):
            raise Refused("a key is rotated by its owner (with the old key) or by a role-admin")
        proof = {"ledger": self.genesis, "name": m.name, "public_key": new}
        if not signing.verify(new, "key_binding", proof, body.get("proof")):
            raise Refused("the new key did not sign its own binding (no proof of possession)")
        if new in m.revoked_keys or new == m.key:
            raise Refused("that key was already used by this identity")
        if m.key:
            m.revoked_keys.append(m.key)
        m.key = new
        self._note(rec, "key", m.name)

    def _key_revoke(self, rec: dict[str, Any], actor: str, body: dict[str, Any]) -> None:
        name = _text(body, "name")
        m = self.member(name)
        if m is None or m.key is None:
            raise Refused(f"{name!r} has no key to revoke")
        if m.root:
            raise Refused("the root's key is the trust root: it cannot be revoked in the ledger")
        if fold(actor) != fold(name) and not self.holds(actor, ROLE_ADMIN):
            raise Refused("a key is revoked by its owner or by a role-admin")
        m.revoked_keys.append(m.key)
        m.key = None
        self._note(rec, "key-revoked", m.name)

    def _decision(self, rec: dict[str, Any], actor: str, body: dict[str, Any]) -> None:
        pid, approver = _text(body, "proposal_id"), _text(body, "approver")
        verdict = body.get("decision")
        if verdict not in ("approved", "rejected"):
            raise Refused("decision must be 'approved' or 'rejected'")
        binding = body.get("binding")
        if not isinstance(binding, dict):
            raise Refused("a decision must carry its binding (change, impact, rule, role)")
        role = check_role(_text(binding, "required_role"))
        if fold(actor) != fold(approver):
            recorded_by = body.get("recorded_by")
            if not (
                self.holds(actor, APP) and isinstance(recorded_by, str) and fold(recorded_by) == fold(actor)
            ):
                raise Refused(
                    f"signed by {actor!r} for {approver!r}: only the approver, or an app holding the "
                    "'app' role and saying it recorded the decision, may sign one"
                )
        if self.member(approver) is None:
            raise Refused(f"the approver {approver!r} is not an identity here")
        if not self.holds(approver, role):
            held = ", ".join(self.roles_of(approver)) or "no role"
            raise Refused(f"{approver} did not hold {role!r} here (held: {held})")
        if signing.same_person(approver, binding.get("requester")):
            raise Refused(f"{approver} requested this change and cannot also decide it")
        if verdict == "approved" and binding.get("tier") == "blocked":
            raise Refused("a blocked change cannot be approved")
        self.decisions[pid] = dict(body) | {"ledger_seq": rec["seq"], "signed_by": actor}

    def _risk_acceptance(self, rec: dict[str, Any], actor: str, body: dict[str, Any]) -> None:
        aid, who, role = _text(body, "acceptance_id"), _text(body, "accepted_by"), _text(body, "role")
        if fold(actor) != fold(who):
            raise Refused("a risk acceptance is signed by the person accepting it")
        if not self.holds(who, role):
            raise Refused(f"{who} did not hold {role!r} here")
        if not isinstance(body.get("scope"), dict) or not isinstance(body.get("expires"), str):
            raise Refused("a risk acceptance needs a scope and an expiry")
        self.acceptances[aid] = dict(body) | {"ledger_seq": rec["seq"]}

    def _policy_adoption(self, rec: dict[str, Any], actor: str, body: dict[str, Any]) -> None:
        """A tier policy put in force: signed by its adopter, who holds the role that owns the policy in
        force before it (for the first, the role the new policy names as its owner)."""
        who, role = _text(body, "adopted_by"), check_role(_text(body, "role"))
        owner = check_role(_text(body, "owner_role"))
        if fold(actor) != fold(who):
            raise Refused("a policy adoption is signed by the person adopting it")
        ref = body.get("policy")
        if not isinstance(ref, dict) or not isinstance(ref.get("digest"), str):
            raise Refused("a policy adoption names the policy it puts in force by its digest")
        in_force = self.adoptions[-1] if self.adoptions else None
        needed = in_force["owner_role"] if in_force else owner
        if role != needed:
            raise Refused(
                f"the policy in force is owned by {needed!r}: an adoption must be made as that role, not {role!r}"
            )
        if not self.holds(who, role):
            raise Refused(f"{who} did not hold {role!r} here, the role that owns the policy in force")
        suggestion = body.get("suggestion_id")
        if suggestion is not None and not isinstance(suggestion, str):
            raise Refused("a suggestion id is text")
        self.adoptions.append(dict(body) | {"ledger_seq": rec["seq"], "time": rec["time"]})
        self._note(rec, f"adopted policy {ref.get('policy_id')} v{ref.get('version')}", who, role)

    def policy_in_force(self) -> dict[str, Any] | None:
        """The last tier policy adopted here (its digest, id, version and owner role), or None."""
        return self.adoptions[-1] if self.adoptions else None

    def _token_issue(self, rec: dict[str, Any], actor: str, body: dict[str, Any]) -> None:
        self._need(actor, ROLE_ADMIN, "issue API tokens")
        tid, name = _text(body, "token_id"), signing.check_name(_text(body, "name"))
        if len(tid) != 12 or any(c not in "0123456789abcdef" for c in tid):
            raise Refused("a token id is 12 lowercase hex digits")
        if tid in self.tokens:
            raise Refused(f"token id {tid} was issued before (a token is issued once)")
        m = self.member(name)
        if m is None:
            raise Refused(f"{name!r} is not an identity here: a token acts for a registered identity")
        scopes = body.get("scopes")
        if (
            not isinstance(scopes, list)
            or not scopes
            or any(s not in TOKEN_SCOPES for s in scopes)
            or len(set(scopes)) != len(scopes)
        ):
            raise Refused(f"scopes must be a non-empty list of distinct {', '.join(TOKEN_SCOPES)}")
        sha = body.get("sha256")
        if not isinstance(sha, str) or len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
            raise Refused("a token is recorded by the SHA-256 of its secret (64 lowercase hex digits)")
        expires = _text(body, "expires")
        try:
            datetime.fromisoformat(expires.replace("Z", "+00:00"))
        except ValueError as exc:
            raise Refused(f"expires {expires!r} is not an ISO 8601 time") from exc
        self.tokens[tid] = {
            "name": m.name,
            "scopes": list(scopes),
            "sha256": sha,
            "expires": expires,
            "issued_by": actor,
            "issued_at": rec["time"],
            "ledger_seq": rec["seq"],
            "revoked": None,
        }
        self._note(rec, "token", m.name)

    def _token_revoke(self, rec: dict[str, Any], actor: str, body: dict[str, Any]) -> None:
        tid = _text(body, "token_id")
        t = self.tokens.get(tid)
        if t is None:
            raise Refused(f"no token {tid} was issued here")
        if t["revoked"]:
            raise Refused(f"token {tid} is already revoked")
        if fold(actor) != fold(t["name"]) and not self.holds(actor, ROLE_ADMIN):
            raise Refused("a token is revoked by the identity it acts for or by a role-admin")
        t["revoked"] = {"by": actor, "at": rec["time"], "ledger_seq": rec["seq"]}
        self._note(rec, "token-revoked", t["name"])

    def _account_link(self, rec: dict[str, Any], actor: str, body: dict[str, Any]) -> None:
        self._need(actor, ROLE_ADMIN, "link accounts to identities")
        name, system, account = _text(body, "name"), _text(body, "system"), _text(body, "account")
        if system not in TICKET_SYSTEMS:
            raise Refused(f"system {system!r} is not one of {', '.join(TICKET_SYSTEMS)}")
        m = self.member(name)
        if m is None:
            raise Refused(f"{name!r} is not an identity here")
        key = (system, fold(account))
        held = self.accounts.get(key)
        if held is not None and fold(held) != fold(m.name):
            raise Refused(f"{system} account {account!r} is linked to {held} (unlink it first)")
        self.accounts[key] = m.name
        self._note(rec, f"linked {system}:{account}", m.name)

    def _account_unlink(self, rec: dict[str, Any], actor: str, body: dict[str, Any]) -> None:
        self._need(actor, ROLE_ADMIN, "unlink accounts")
        system, account = _text(body, "system"), _text(body, "account")
        name = self.accounts.pop((system, fold(account)), None)
        if name is None:
            raise Refused(f"{system} account {account!r} is not linked")
        self._note(rec, f"unlinked {system}:{account}", name)

    def linked(self, system: str, account: str) -> str | None:
        """The identity a ticket system's account acts as (None: not linked)."""
        return self.accounts.get((system, fold(account))) if isinstance(account, str) else None

    def _system(self, rec: dict[str, Any], actor: str, body: dict[str, Any]) -> None:
        if not (self.holds(actor, RECORDER) or self.holds(actor, ROLE_ADMIN)):
            raise Refused(f"{rec['type']} records are written by the recorder; {actor!r} is not one")
        if rec["type"] == "gate":
            self.gates.append(
                {"proposal_id": body.get("proposal_id"), "allowed": body.get("allowed") is True}
                | {"time": rec["time"], "ledger_seq": rec["seq"]}
            )
        elif rec["type"] == "execution":
            self.executions.append(dict(body) | {"ledger_seq": rec["seq"]})

    # -- helpers ----------------------------------------------------------------------------------
    def _need(self, actor: str, role: str, what: str) -> None:
        if not self.holds(actor, role):
            raise Refused(f"{actor!r} may not {what}: that needs {role!r}, granted from the root")

    def _note(self, rec: dict[str, Any], what: str, name: str, role: str | None = None) -> None:
        self.history.append(
            {"seq": rec["seq"], "time": rec["time"], "by": rec["actor"], "what": what, "name": name}
            | ({"role": role} if role else {})
        )


_HANDLERS = {
    "org_root": Authority._org_root,
    "identity": Authority._identity,
    "role_grant": Authority._role_grant,
    "role_revoke": Authority._role_revoke,
    "key_rotate": Authority._key_rotate,
    "key_revoke": Authority._key_revoke,
    "decision": Authority._decision,
    "risk_acceptance": Authority._risk_acceptance,
    "policy_adoption": Authority._policy_adoption,
    "token_issue": Authority._token_issue,
    "token_revoke": Authority._token_revoke,
    "account_link": Authority._account_link,
    "account_unlink": Authority._account_unlink,
    **dict.fromkeys(SYSTEM_RECORDS, Authority._system),
}
