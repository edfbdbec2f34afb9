"""Who is using the app. Read-only unless authenticated; deciding needs the role the tier names.

Two ways in, chosen at start-up:

* ``users``: a JSON users file of scrypt-hashed, salted passwords and roles (``blastwall app-user add``);
  sessions are Flask cookies signed with ``BLASTWALL_APP_SECRET`` (required), HttpOnly and SameSite=Strict.
* ``header``: a reverse proxy that authenticates (OIDC in front) sets the user and groups headers
  (``X-Forwarded-User``, ``X-Forwarded-Groups`` by default); use it only behind such a proxy.

Every state-changing request (the login form, Dash callbacks) must come from the app's own origin, and
the login form carries a CSRF token kept in the session. Passwords and secrets are never logged or shown.
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

from analyzer.errors import BadInput, BlastwallError

MODES = ("none", "users", "header")


@dataclass(frozen=True)
class User:
    name: str
    roles: tuple[str, ...]
    authenticated_by: str


def hash_password(password: str, salt: bytes | None = None) -> dict[str, str]:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    return {"salt": salt.hex(), "hash": digest.hex(), "scheme": "scrypt-n16384-r8-p1"}


def add_user(path: Path, name: str, password: str, roles: list[str]) -> None:
    if len(password) < 12:
        raise BadInput("use a password of at least 12 characters")
    data = json.loads(path.read_text()) if path.exists() else {"users": {}}
    data["users"][name] = hash_password(password) | {"roles": roles}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=2)
    os.replace(tmp, path)


def check_password(path: Path, name: str, password: str) -> User | None:
    try:
        entry = json.loads(path.read_text())["users"].get(name)
    except (OSError, ValueError, KeyError):
        return None
    if not entry:
        hash_password(password)  # same work for unknown users: no timing oracle on names
        return None
    expected = bytes.fromhex(entry["hash"])
    got = bytes.fromhex(hash_password(password, bytes.fromhex(entry["salt"]))["hash"])
    return (
        User(name, tuple(entry.get("roles", [])), "users-file")
        if hmac.compare_digest(expected, got)
        else None
    )


def configure(server: flask.Flask, mode: str, users_file: Path | None) -> None:
    if mode not in MODES:
        raise BlastwallError(f"--auth must be one of {', '.join(MODES)}")
    server.config["BLASTWALL_AUTH"] = mode
    server.config["BLASTWALL_USERS"] = str(users_file) if users_file else None
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
    server.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Strict")

    @server.before_request
    def same_origin_only() -> Any:
        if flask.request.method in ("POST", "PUT", "DELETE", "PATCH"):
            origin = flask.request.headers.get("Origin") or flask.request.headers.get("Referer")
            if origin and urlsplit(origin).netloc != flask.request.host:
                return flask.Response("cross-origin request refused", status=403)
        return None

    @server.route("/login", methods=["GET", "POST"])
    def login() -> Any:
        if server.config["BLASTWALL_AUTH"] != "users":
            return flask.redirect("/")
        error = ""
        if flask.request.method == "POST":
            token = flask.session.pop("csrf", None)
            if not token or not hmac.compare_digest(token, flask.request.form.get("csrf", "")):
                error = "The form expired; try again."
            else:
                user = check_password(
                    Path(server.config["BLASTWALL_USERS"]),
                    flask.request.form.get("user", ""),
                    flask.request.form.get("password", ""),
                )
                if user is None:
                    error = "Unknown user or wrong password."
                else:
                    flask.session.clear()
                    flask.session["user"] = {"name": user.name, "roles": list(user.roles)}
                    return flask.redirect(
                        flask.request.args.get("next", "/") if _local(flask.request.args.get("next")) else "/"
                    )
        flask.session["csrf"] = secrets.token_urlsafe(32)
        return (
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

    @server.route("/logout")
    def logout() -> Any:
        flask.session.clear()
        return flask.redirect("/")


def _local(target: str | None) -> bool:
    return bool(target) and target.startswith("/") and not target.startswith("//")  # type: ignore[union-attr]


def current_user() -> User | None:
    app = flask.current_app
    mode = app.config.get("BLASTWALL_AUTH", "none")
    if mode == "header":
        name = flask.request.headers.get(os.environ.get("BLASTWALL_APP_USER_HEADER", "X-Forwarded-User"))
        groups = flask.request.headers.get(
            os.environ.get("BLASTWALL_APP_ROLES_HEADER", "X-Forwarded-Groups"), ""
        )
        return (
            User(name, tuple(g.strip() for g in groups.split(",") if g.strip()), "proxy-header")
            if name
            else None
        )
    if mode == "users":
        u = flask.session.get("user")
        return User(u["name"], tuple(u["roles"]), "users-file") if u else None
    return None
