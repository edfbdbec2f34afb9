"""Who is using the app. Read-only unless authenticated; what a person may decide comes from the ledger.

Three ways in, chosen at start-up:

* ``none``: read-only, no sign-in.
* ``users``: a JSON users file of scrypt-hashed, salted passwords (``blastwall app-user add``). Sessions
  are server-side (``sessions``): logout, removing the user or changing their password ends them, as do
  the idle and absolute timeouts; failed sign-ins are throttled per user and per address.
* ``header``: a reverse proxy that authenticates says who the user is, in a token it signed
  (``proxy_identity``: an AWS ALB's ``x-amzn-oidc-data``, or an OIDC JWT against a JWKS file); a plain
  header only with ``--trust-plain-header``.

Every request must name an allowed host (default: the address the app is bound to), every state-changing
request must come from the app's own origin, the login form carries a CSRF token, and ``next`` redirects
stay on this site. Passwords and secrets are never logged or shown.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import flask

from analyzer.app.proxy_identity import ProxyConfig, user_from_headers
from analyzer.app.sessions import SessionStore, sessions_for
from analyzer.errors import BadInput, BlastwallError

MODES = ("none", "users", "header")
LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class User:
    name: str
    authenticated_by: str


# -- the users file -------------------------------------------------------------------------------------
def hash_password(password: str, salt: bytes | None = None) -> dict[str, str]:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    return {"salt": salt.hex(), "hash": digest.hex(), "scheme": "scrypt-n16384-r8-p1"}


def _read_users(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}
    users = data.get("users") if isinstance(data, dict) else None
    return users if isinstance(users, dict) else {}


def _write_users(path: Path, users: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"users": users}, f, indent=2)
    os.replace(tmp, path)


def add_user(path: Path, name: str, password: str) -> None:
    """Add a user or set a new password (which ends that user's sessions)."""
    if len(password) < 12:
        raise BadInput("use a password of at least 12 characters")
    users = _read_users(path)
    users[name] = hash_password(password)
    _write_users(Path(path), users)


def remove_user(path: Path, name: str) -> None:
    users = _read_users(path)
    if name not in users:
        raise BlastwallError(f"{name!r} is not in {path}")
    del users[name]
    _write_users(Path(path), users)
    sessions_for(path).end_user(name)


def user_stamp(path: Path, name: str) -> str | None:
    """A digest of the user's entry: it changes when the password does, and is None once removed."""
    entry = _read_users(path).get(name)
    return hashlib.sha256(json.dumps(entry, sort_keys=True).encode()).hexdigest() if entry else None


def check_password(path: Path, name: str, password: str) -> bool:
    entry = _read_users(path).get(name)
    try:
        salt, expected = bytes.fromhex(entry["salt"]), bytes.fromhex(entry["hash"])  # type: ignore[index]
    except (TypeError, KeyError, ValueError):  # unknown user, or an entry that is not ours: no sign-in
        hash_password(password)  # the same work either way: no timing oracle on names
        return False
    got = bytes.fromhex(hash_password(password, salt)["hash"])
    return hmac.compare_digest(expected, got)


# -- requests -------------------------------------------------------------------------------------------
def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path on this site, else ``/``. Browsers drop tabs and newlines
    from URLs and treat ``\\`` as ``/``, so ``/\\t/evil.example`` would leave the site: refused.

    >>> [safe_next(t) for t in ("/audit", "//evil.example", "/\\t/evil.example/", "/\\\\evil", "https://x")]
    ['/audit', '/', '/', '/', '/']
    """
    if not target or not isinstance(target, str):
        return "/"
    if any(ord(c) < 33 or c in "\\\x7f" for c in target):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def _hostname(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def default_allowed_hosts(bind: str) -> list[str]:
    """The bind address, and the loopback names when bound to loopback."""
    if bind in ("0.0.0.0", "::", ""):
        raise BlastwallError(
            f"the app is bound to all interfaces ({bind or '*'}): name the hosts it answers to with --allowed-hosts"
        )
    return [bind, *LOOPBACK] if bind in LOOPBACK else [bind]


def configure(
    server: flask.Flask,
    mode: str,
    users_file: Path | None,
    *,
    allowed_hosts: list[str] | None = None,
    proxy: ProxyConfig | None = None,
) -> None:
    if mode not in MODES:
        raise BlastwallError(f"--auth must be one of {', '.join(MODES)}")
    server.config["BLASTWALL_AUTH"] = mode
    server.config["BLASTWALL_USERS"] = str(users_file) if users_file else None
    hosts = {_hostname(h) for h in (allowed_hosts or list(LOOPBACK))}
    if mode == "users":
        secret = os.environ.get("BLASTWALL_APP_SECRET")
        if not secret or len(secret) < 32:
            raise BlastwallError(
                "--auth users needs BLASTWALL_APP_SECRET (32+ random characters) to sign sessions"
            )
        if users_file is None or not Path(users_file).exists():
            raise BlastwallError(
                "--auth users needs --users FILE (create one with: blastwall app-user add …)"
            )
        server.secret_key = secret
        server.extensions["blastwall_sessions"] = sessions_for(Path(users_file))
    if mode == "header":
        if proxy is None:
            raise BlastwallError(
                "--auth header needs a signed identity from the proxy (--alb-arn/--alb-keys, or --oidc-jwks/"
                "--oidc-issuer/--oidc-audience), or --trust-plain-header if nothing but the proxy can reach the app"
            )
        server.config["BLASTWALL_PROXY"] = proxy.check()
    server.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=os.environ.get("BLASTWALL_APP_SECURE_COOKIES") == "1",
    )

    @server.before_request
    def guard() -> Any:
        if _hostname(flask.request.host) not in hosts:
            return flask.Response("unknown host", status=400)
        if flask.request.method in ("POST", "PUT", "DELETE", "PATCH"):
            origin = flask.request.headers.get("Origin") or flask.request.headers.get("Referer")
            if origin and urlsplit(origin).netloc != flask.request.host:
                return flask.Response("cross-origin request refused", status=403)
        flask.g.bw_user = _resolve()
        return None

    @server.route("/login", methods=["GET", "POST"])
    def login() -> Any:
        if server.config["BLASTWALL_AUTH"] != "users":
            return flask.redirect("/")
        store: SessionStore = server.extensions["blastwall_sessions"]
        error, status = "", 200
        if flask.request.method == "POST":
            name = flask.request.form.get("user", "")
            address = flask.request.remote_addr or "?"
            token = flask.session.pop("csrf", None)
            wait = store.blocked_for(name, address)
            if not token or not hmac.compare_digest(token, flask.request.form.get("csrf", "")):
                error = "The form expired; try again."
            elif wait > 0:
                error, status = (
                    f"Too many failed sign-ins; try again in {int(wait // 60) + 1} minute(s).",
                    429,
                )
            elif check_password(
                Path(server.config["BLASTWALL_USERS"]), name, flask.request.form.get("password", "")
            ):
                store.succeeded(name)
                sid = store.create(name, user_stamp(Path(server.config["BLASTWALL_USERS"]), name) or "")
                flask.session.clear()
                flask.session["sid"] = sid
                return flask.redirect(safe_next(flask.request.args.get("next")))
            else:
                store.failed(name, address)
                error = "Unknown user or wrong password."
        flask.session["csrf"] = secrets.token_urlsafe(32)
        page = (
            "<!doctype html><html><head><title>Blastwall sign in</title></head><body style='font-family:sans-serif;"
            "margin:3em'><h2>Sign in to Blastwall</h2>"
            + (f"<p style='color:#c62828'>{html.escape(error)}</p>" if error else "")
            + "<form method='post'><input type='hidden' name='csrf' value='"
            + flask.session["csrf"]
            + "'>"
            "<p><label>User <input name='user' autocomplete='username'></label></p>"
            "<p><label>Password <input name='password' type='password' autocomplete='current-password'></label></p>"
            "<p><button type='submit'>Sign in</button></p></form></body></html>"
        )
        return page, status

    @server.route("/logout")
    def logout() -> Any:
        store = server.extensions.get("blastwall_sessions")
        if store is not None:
            store.end(flask.session.get("sid"))
        flask.session.clear()
        return flask.redirect("/")


def _resolve() -> User | None:
    app = flask.current_app
    mode = app.config.get("BLASTWALL_AUTH", "none")
    if mode == "header":
        cfg: ProxyConfig = app.config["BLASTWALL_PROXY"]
        name = user_from_headers(cfg, flask.request.headers)
        return User(name, f"proxy-{cfg.kind}") if name else None
    if mode == "users":
        store: SessionStore = app.extensions["blastwall_sessions"]
        s = store.get(flask.session.get("sid"))
        if s is None:
            return None
        if user_stamp(Path(app.config["BLASTWALL_USERS"]), s.user) != s.stamp:  # removed, or new password
            store.end(flask.session.get("sid"))
            return None
        return User(s.user, "users-file")
    return None


def current_user() -> User | None:
    """The signed-in user of this request (checked again on every request)."""
    if "bw_user" in flask.g:
        user: User | None = flask.g.bw_user
        return user
    flask.g.bw_user = _resolve()
    return flask.g.bw_user
