"""The Dash app: ``create_app(store_uri)``. Pages live in ``pages/``, one module each; nothing is
computed at import time (layouts are functions that read the store per request)."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import dash
import flask
from dash import html

from analyzer.app import ids
from analyzer.app.auth import configure
from analyzer.app.data import APP_KEYS_KEY, CONFIG_KEY, TRUST_ROOT_KEY
from analyzer.app.proxy_identity import ProxyConfig
from analyzer.governance.trust_root import TrustRoot


def layout() -> html.Div:
    """Built per request, so the navigation shows who is signed in."""
    from analyzer.app.auth import current_user
    from analyzer.app.data import roles_of

    user = current_user()
    mode = flask.current_app.config.get("BLASTWALL_AUTH", "none")
    if user:
        who: list[Any] = [f"{user.name} ({', '.join(roles_of(user.name)) or 'no role in the ledger'})"]
        if mode == "users":
            who += [" ", html.A("sign out", href="/logout")]
    elif mode == "users":
        who = [html.A("sign in", href="/login")]
    else:
        who = ["read-only"]
    return html.Div(
        [
            html.Nav(
                [
                    html.A("Blastwall", href="/", style={"fontWeight": "bold", "marginRight": "1.5em"}),
                    *[
                        html.A(name, href=href, style={"marginRight": "1em"})
                        for name, href in (
                            ("Queue", "/"),
                            ("Explorer", "/explorer"),
                            ("Audit", "/audit"),
                            ("Review", "/review"),
                        )
                    ],
                    html.Span(who, id=ids.USER, style={"float": "right"}),
                ],
                id=ids.NAV,
                style={"padding": "0.6em 1em", "borderBottom": "1px solid #ccc", "fontFamily": "sans-serif"},
            ),
            html.Main(dash.page_container, style={"padding": "1em", "fontFamily": "sans-serif"}),
        ]
    )


def create_app(
    store_uri: str,
    auth: str = "none",
    users_file: Path | None = None,
    *,
    allowed_hosts: list[str] | None = None,
    proxy: ProxyConfig | None = None,
    trust_root: TrustRoot | None = None,
    app_key_dir: Path | None = None,
    warm: bool = True,
) -> dash.Dash:
    """The app over ``store_uri``. ``auth``: none (read-only), users (a users file) or header (a reverse
    proxy's signed identity); see ``analyzer.app.auth``. ``allowed_hosts``: the Host names it answers
    (default: loopback). ``trust_root``: the organization's, to verify the ledger the app shows and
    decides on. ``app_key_dir``: where the app's own identity key (``blastwall-app``) is. ``warm``: build
    the queue and the undocumented list in the background as it starts."""
    app = dash.Dash(
        __name__,
        use_pages=True,
        pages_folder=str(Path(__file__).parent / "pages"),
        title="Blastwall",
        suppress_callback_exceptions=True,
    )
    app.server.config[CONFIG_KEY] = store_uri
    app.server.config[TRUST_ROOT_KEY] = trust_root
    app.server.config[APP_KEYS_KEY] = app_key_dir or Path(
        os.environ.get("BLASTWALL_APP_KEYS") or Path.home() / ".blastwall" / "app-keys"
    )
    configure(app.server, auth, users_file, allowed_hosts=allowed_hosts, proxy=proxy)
    app.layout = layout
    ready = threading.Event()

    @app.server.route("/readyz")
    def readyz() -> flask.Response:
        """200 once the queue and the undocumented list are built (a load balancer's readiness probe);
        503 while they are (the app answers meanwhile, more slowly)."""
        return flask.Response("ready" if ready.is_set() else "warming", status=200 if ready.is_set() else 503)

    if warm:
        _warm(app.server, ready)
    else:
        ready.set()
    return app


def _warm(server: flask.Flask, ready: threading.Event) -> None:
    """Build the queue's rows and the undocumented list in the background as the app starts, so the first
    visitor does not wait for them (each is then kept per store generation)."""
    from analyzer.app import data

    def run() -> None:
        with server.app_context():
            try:
                data.queue()
                data.undocumented()
            except Exception:  # a page computes it again and shows what went wrong
                server.logger.exception("warming the app's caches failed")
            finally:
                ready.set()

    threading.Thread(target=run, name="blastwall-warm", daemon=True).start()
