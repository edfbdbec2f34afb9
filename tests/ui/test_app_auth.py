"""Signing in, deciding in the browser, being refused without the role, and the origin check."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.ui.conftest import SHOTS, STORY

pytestmark = pytest.mark.ui
PASSWORDS = {"priya": "correct horse battery staple", "sam": "another long passphrase"}


@pytest.fixture(scope="module")
def auth_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    import os

    from werkzeug.serving import make_server

    from analyzer.app import create_app
    from analyzer.app.auth import add_user
    from analyzer.demo import run_demo

    base = tmp_path_factory.mktemp("ui-auth")
    uri = str(base / "store")
    store, _ = run_demo(uri)
    store.close()
    users = base / "users.json"
    add_user(users, "priya", PASSWORDS["priya"], ["change-advisory-board"])
    add_user(users, "sam", PASSWORDS["sam"], ["service-owner"])
    old = os.environ.get("BLASTWALL_APP_SECRET")
    os.environ["BLASTWALL_APP_SECRET"] = "x" * 48
    app = create_app(uri, "users", users)
    port = free_port()
    server = make_server("127.0.0.1", port, app.server, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield {"url": f"http://127.0.0.1:{port}", "ledger": Path(uri) / "ledger.jsonl", "users": users}
    server.shutdown()
    if old is None:
        os.environ.pop("BLASTWALL_APP_SECRET", None)
    else:
        os.environ["BLASTWALL_APP_SECRET"] = old


def _decide(page: object, url: str, comment: str) -> str:
    page.goto(f"{url}/proposal/{STORY}")  # type: ignore[attr-defined]
    page.wait_for_selector("#approve-button")  # type: ignore[attr-defined]
    page.fill("#decision-comment", comment)  # type: ignore[attr-defined]
    page.click("#approve-button")  # type: ignore[attr-defined]
    page.wait_for_function("() => document.querySelector('#decision-message').innerText.length > 0")  # type: ignore[attr-defined]
    return str(page.inner_text("#decision-message"))  # type: ignore[attr-defined]


def _login(page: object, url: str, user: str) -> None:
    page.goto(f"{url}/login")  # type: ignore[attr-defined]
    page.fill("input[name=user]", user)  # type: ignore[attr-defined]
    page.fill("input[name=password]", PASSWORDS[user])  # type: ignore[attr-defined]
    page.click("button[type=submit]")  # type: ignore[attr-defined]
    page.wait_for_selector(f"#current-user >> text={user}")  # type: ignore[attr-defined]


def test_anonymous_is_read_only(browser: object, auth_app: dict) -> None:
    page = browser.new_page()  # type: ignore[attr-defined]
    assert _decide(page, auth_app["url"], "drive-by").startswith("Sign in to decide")


def test_wrong_password_is_refused(browser: object, auth_app: dict) -> None:
    page = browser.new_page()  # type: ignore[attr-defined]
    page.goto(auth_app["url"] + "/login")
    page.fill("input[name=user]", "priya")
    page.fill("input[name=password]", "wrong password here")
    page.click("button[type=submit]")
    page.wait_for_selector("text=Unknown user or wrong password.")


def test_user_without_the_role_is_refused(browser: object, auth_app: dict) -> None:
    page = browser.new_page()  # type: ignore[attr-defined]
    _login(page, auth_app["url"], "sam")
    message = _decide(page, auth_app["url"], "looks fine to me")
    assert message.startswith("Refused:") and "change-advisory-board" in message
    page.screenshot(path=str(SHOTS / "refused.png"), full_page=True)


def test_approver_decides_and_the_ledger_grows(browser: object, auth_app: dict) -> None:
    from analyzer.governance.ledger import Ledger, verify

    before = len(Ledger(auth_app["ledger"]).records())
    page = browser.new_page(viewport={"width": 1400, "height": 900})  # type: ignore[attr-defined]
    _login(page, auth_app["url"], "priya")
    message = _decide(page, auth_app["url"], "ETL moved to its own role first (CHG0042)")
    assert message.startswith("Approved by priya")
    records = Ledger(auth_app["ledger"]).records()
    assert len(records) > before and records[-1]["type"] == "decision"
    payload = records[-1]["body"]["payload"]
    assert payload["approver"] == "priya" and payload["authenticated_by"] == "users-file"
    assert records[-1]["body"]["signed"]["by"] == "blastwall-app" and verify(auth_app["ledger"]).ok
    page.goto(auth_app["url"] + "/audit")
    page.wait_for_selector("text=verifies.")
    assert "priya" in page.inner_text("#audit-table")
    page.screenshot(path=str(SHOTS / "approved-audit.png"), full_page=True)


def test_cross_origin_posts_are_refused(auth_app: dict) -> None:
    req = urllib.request.Request(
        auth_app["url"] + "/_dash-update-component",
        data=b"{}",
        method="POST",
        headers={"Origin": "http://evil.example", "Content-Type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(req, timeout=10)
    assert exc.value.code == 403


def test_users_file_holds_no_passwords(auth_app: dict) -> None:
    text = auth_app["users"].read_text()
    assert all(p not in text for p in PASSWORDS.values())
    assert json.loads(text)["users"]["priya"]["scheme"].startswith("scrypt")
    assert (auth_app["users"].stat().st_mode & 0o077) == 0


def test_trusted_header_mode(tmp_path: Path) -> None:
    from analyzer.app import create_app
    from analyzer.app.auth import current_user

    app = create_app(str(tmp_path / "s"), "header")
    with app.server.test_request_context(
        "/", headers={"X-Forwarded-User": "ana", "X-Forwarded-Groups": "a, b"}
    ):
        u = current_user()
        assert u is not None and (u.name, u.roles, u.authenticated_by) == ("ana", ("a", "b"), "proxy-header")
    with app.server.test_request_context("/"):
        assert current_user() is None


def test_users_mode_refuses_to_start_without_a_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from analyzer.app import create_app
    from analyzer.errors import BlastwallError

    monkeypatch.delenv("BLASTWALL_APP_SECRET", raising=False)
    with pytest.raises(BlastwallError, match="BLASTWALL_APP_SECRET"):
        create_app(str(tmp_path / "s"), "users", tmp_path / "u.json")
