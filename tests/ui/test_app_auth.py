"""Signing in and deciding in a real browser, and the attacks review made on the app: a session that
outlives logout, removal or a role revoked in the ledger; an off-site `next`; unthrottled guessing; any
Host header; a roles header. Each asserts what the user (or the attacker) sees."""

from __future__ import annotations

import json
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.ui.conftest import SHOTS, STORY

pytestmark = pytest.mark.ui
PASSWORDS = {"priya": "correct horse battery staple", "sam": "another long passphrase"}


def _serve(app: object) -> tuple[str, object]:
    from werkzeug.serving import make_server

    port = free_port()
    server = make_server("127.0.0.1", port, app.server, threaded=True)  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{port}", server


@pytest.fixture
def auth_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict]:
    """A fresh demo per test (tests here change users, roles and sessions)."""
    from analyzer.app import create_app
    from analyzer.app.auth import add_user
    from analyzer.demo import run_demo
    from analyzer.governance.trust_root import parse

    uri = str(tmp_path / "store")
    store, _ = run_demo(uri)
    store.close()
    users = tmp_path / "users.json"
    add_user(users, "priya", PASSWORDS["priya"])
    add_user(users, "sam", PASSWORDS["sam"])
    monkeypatch.setenv("BLASTWALL_APP_SECRET", "x" * 48)
    app = create_app(
        uri,
        "users",
        users,
        trust_root=parse(str(Path(uri) / "trust-root.json")),
        app_key_dir=Path(uri) / "demo-keys",
    )
    url, server = _serve(app)
    yield {"url": url, "uri": uri, "ledger": Path(uri) / "ledger.jsonl", "users": users}
    server.shutdown()  # type: ignore[attr-defined]


def _decide(page: object, url: str, comment: str) -> str:
    page.goto(f"{url}/proposal/{STORY}")  # type: ignore[attr-defined]
    page.wait_for_selector("#approve-button")  # type: ignore[attr-defined]
    page.fill("#decision-comment", comment)  # type: ignore[attr-defined]
    page.click("#approve-button")  # type: ignore[attr-defined]
    page.wait_for_function("() => document.querySelector('#decision-message').innerText.length > 0")  # type: ignore[attr-defined]
    return str(page.inner_text("#decision-message"))  # type: ignore[attr-defined]


def _login(page: object, url: str, user: str, next_: str = "") -> None:
    page.goto(f"{url}/login" + (f"?next={next_}" if next_ else ""))  # type: ignore[attr-defined]
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


def test_a_user_without_a_ledger_role_is_refused(browser: object, auth_app: dict) -> None:
    page = browser.new_page()  # type: ignore[attr-defined]
    _login(page, auth_app["url"], "sam")
    assert "sam (no role in the ledger)" in page.inner_text("#current-user")
    message = _decide(page, auth_app["url"], "looks fine to me")
    assert (
        message.startswith("Refused:")
        and "change-advisory-board" in message
        and "sam holds no role" in message
    )
    page.screenshot(path=str(SHOTS / "refused.png"), full_page=True)


def test_approver_decides_and_the_ledger_grows(browser: object, auth_app: dict) -> None:
    from analyzer.governance.ledger import Ledger, verify
    from analyzer.governance.trust_root import parse

    before = len(Ledger(auth_app["ledger"]).records())
    page = browser.new_page(viewport={"width": 1400, "height": 900})  # type: ignore[attr-defined]
    _login(page, auth_app["url"], "priya")
    assert "priya (change-advisory-board)" in page.inner_text("#current-user")
    page.goto(f"{auth_app['url']}/proposal/{STORY}")
    page.wait_for_selector("#decision")
    assert page.inner_text("#decision").startswith("No decision yet")
    message = _decide(page, auth_app["url"], "ETL moved to its own role first (CHG0042)")
    assert message.startswith("Approved by priya")
    # the Decision section says so at once, without reloading the page
    page.wait_for_function(
        "() => document.querySelector('#decision').innerText.startsWith('Approved by priya')"
    )
    assert "ETL moved to its own role first (CHG0042)" in page.inner_text("#decision")
    records = Ledger(auth_app["ledger"]).records()
    assert len(records) > before and records[-1]["type"] == "decision"
    body = records[-1]["body"]
    assert body["approver"] == "priya" and body["authenticated_by"] == "users-file"
    assert (
        records[-1]["actor"] == "blastwall-app"
        and body["binding"]["required_role"] == "change-advisory-board"
    )
    assert verify(auth_app["ledger"], parse(str(Path(auth_app["uri"]) / "trust-root.json"))).ok
    page.goto(auth_app["url"] + "/audit")
    page.wait_for_selector("text=verifies against the trust root")
    assert "priya" in page.inner_text("#audit-table")
    page.screenshot(path=str(SHOTS / "approved-audit.png"), full_page=True)


# -- sessions that must end ----------------------------------------------------------------------------
def _replay_cookies(browser: object, url: str, cookies: list) -> object:
    """A second browser that presents a cookie copied earlier (what a thief would do)."""
    ctx = browser.new_context()  # type: ignore[attr-defined]
    ctx.add_cookies(cookies)
    page = ctx.new_page()
    page.goto(url + "/")
    page.wait_for_selector("#current-user")
    return page


def test_a_copied_cookie_is_worthless_after_logout(browser: object, auth_app: dict) -> None:
    ctx = browser.new_context()  # type: ignore[attr-defined]
    page = ctx.new_page()
    _login(page, auth_app["url"], "priya")
    stolen = ctx.cookies()
    page.goto(auth_app["url"] + "/logout")
    page.wait_for_selector("#current-user >> text=sign in")
    thief = _replay_cookies(browser, auth_app["url"], stolen)
    assert "priya" not in thief.inner_text("#current-user")  # type: ignore[attr-defined]
    assert _decide(thief, auth_app["url"], "as priya").startswith("Sign in to decide")


def test_removing_a_user_ends_their_session(browser: object, auth_app: dict) -> None:
    from analyzer.app.auth import remove_user

    page = browser.new_page()  # type: ignore[attr-defined]
    _login(page, auth_app["url"], "priya")
    remove_user(auth_app["users"], "priya")
    page.goto(auth_app["url"] + "/")
    page.wait_for_selector("#current-user >> text=sign in")
    assert _decide(page, auth_app["url"], "still here?").startswith("Sign in to decide")


def test_a_new_password_ends_old_sessions(browser: object, auth_app: dict) -> None:
    from analyzer.app.auth import add_user

    page = browser.new_page()  # type: ignore[attr-defined]
    _login(page, auth_app["url"], "priya")
    add_user(auth_app["users"], "priya", "a brand new long passphrase")
    page.goto(auth_app["url"] + "/")
    page.wait_for_selector("#current-user >> text=sign in")


def test_a_role_revoked_in_the_ledger_stops_an_open_session_deciding(browser: object, auth_app: dict) -> None:
    from analyzer.governance import identities
    from analyzer.governance.ledger import Ledger

    page = browser.new_page()  # type: ignore[attr-defined]
    _login(page, auth_app["url"], "priya")
    identities.revoke(
        Ledger(auth_app["ledger"]),
        "priya",
        "change-advisory-board",
        admin="dana",
        key_dir=Path(auth_app["uri"]) / "demo-keys",
    )
    message = _decide(page, auth_app["url"], "approving after my role went")
    assert message.startswith("Refused:") and "priya holds no role in the ledger" in message


def test_idle_and_absolute_timeouts_end_sessions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from analyzer.app import sessions

    store = sessions.SessionStore(tmp_path / "s.sqlite")
    sid = store.create("priya", "stamp")
    assert store.get(sid) is not None
    monkeypatch.setattr(sessions, "IDLE", -1.0)
    assert store.get(sid) is None and store.get(sid) is None  # ended, and deleted
    monkeypatch.setattr(sessions, "IDLE", 3600.0)
    monkeypatch.setattr(sessions, "ABSOLUTE", -1.0)
    assert store.get(store.create("priya", "stamp")) is None


# -- redirects, guessing, hosts -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "target", ["/%09/evil.example/", "//evil.example/", "/%5Cevil.example", "https://evil.example/"]
)
def test_next_never_leaves_the_site(browser: object, auth_app: dict, target: str) -> None:
    page = browser.new_page()  # type: ignore[attr-defined]
    page.goto(f"{auth_app['url']}/login?next={target}")
    page.fill("input[name=user]", "priya")
    page.fill("input[name=password]", PASSWORDS["priya"])
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert urllib.parse.urlsplit(page.url).netloc == urllib.parse.urlsplit(auth_app["url"]).netloc, page.url
    page.wait_for_selector("#current-user >> text=priya")


def test_next_within_the_site_is_followed(browser: object, auth_app: dict) -> None:
    page = browser.new_page()  # type: ignore[attr-defined]
    _login(page, auth_app["url"], "priya", next_="/audit")
    assert page.url == auth_app["url"] + "/audit"


def _post_login(url: str, user: str, password: str) -> tuple[int, str]:
    """The login form as a script would submit it (with its CSRF token and cookie)."""
    import http.cookiejar

    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    form = opener.open(url + "/login", timeout=10).read().decode()
    csrf = re.search(r"name='csrf' value='([^']+)'", form)
    assert csrf
    data = urllib.parse.urlencode({"csrf": csrf.group(1), "user": user, "password": password}).encode()
    try:
        resp = opener.open(urllib.request.Request(url + "/login", data=data, method="POST"), timeout=10)
        return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_guessing_is_throttled(auth_app: dict) -> None:
    for _ in range(5):
        status, body = _post_login(auth_app["url"], "priya", "not the password at all")
        assert status == 200 and "wrong password" in body
    status, body = _post_login(auth_app["url"], "priya", PASSWORDS["priya"])  # right, but too late
    assert status == 429 and "Too many failed sign-ins" in body
    status, body = _post_login(auth_app["url"], "sam", PASSWORDS["sam"])  # another user is not locked out
    assert status == 200 and "Sign in to Blastwall" not in body


def _get(url: str, host: str) -> int:
    req = urllib.request.Request(url + "/", headers={"Host": host})
    try:
        return urllib.request.urlopen(req, timeout=10).status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_unknown_host_headers_are_refused(auth_app: dict, tmp_path: Path) -> None:
    from analyzer.app import create_app

    port = auth_app["url"].rsplit(":", 1)[1]
    assert _get(auth_app["url"], f"127.0.0.1:{port}") == 200
    assert _get(auth_app["url"], "evil.example") == 400
    # the read-only app too (DNS rebinding reads whatever the app shows)
    url, server = _serve(create_app(auth_app["uri"]))
    assert _get(url, "attacker.example:80") == 400 and _get(url, "localhost") == 200
    server.shutdown()  # type: ignore[attr-defined]


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


def test_users_file_holds_no_passwords_and_no_roles(auth_app: dict) -> None:
    text = auth_app["users"].read_text()
    assert all(p not in text for p in PASSWORDS.values())
    entry = json.loads(text)["users"]["priya"]
    assert entry["scheme"].startswith("scrypt") and "roles" not in entry
    assert (auth_app["users"].stat().st_mode & 0o077) == 0


def test_users_mode_refuses_to_start_without_a_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from analyzer.app import create_app
    from analyzer.errors import BlastwallError

    monkeypatch.delenv("BLASTWALL_APP_SECRET", raising=False)
    with pytest.raises(BlastwallError, match="BLASTWALL_APP_SECRET"):
        create_app(str(tmp_path / "s"), "users", tmp_path / "u.json")
