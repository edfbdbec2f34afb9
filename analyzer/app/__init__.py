"""The Dash app: ``create_app(store_uri)``. Pages live in ``pages/``, one module each; nothing is
computed at import time (layouts are functions that read the store per request)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dash
import flask
from dash import html

from analyzer.app import ids
from analyzer.app.auth import configure
from analyzer.app.data import CONFIG_KEY


def layout() -> html.Div:
    """Built per request, so the navigation shows who is signed in."""
    from analyzer.app.auth import current_user

    user = current_user()
    mode = flask.current_app.config.get("BLASTWALL_AUTH", "none")
    if user:
        who: list[Any] = [f"{user.name} ({', '.join(user.roles) or 'no role'})"]
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


def create_app(store_uri: str, auth: str = "none", users_file: Path | None = None) -> dash.Dash:
    """The app over ``store_uri``. ``auth``: none (read-only), users (a users file) or header (a trusted
    reverse proxy); see ``analyzer.app.auth``."""
    app = dash.Dash(
        __name__,
        use_pages=True,
        pages_folder=str(Path(__file__).parent / "pages"),
        title="Blastwall",
        suppress_callback_exceptions=True,
    )
    app.server.config[CONFIG_KEY] = store_uri
    configure(app.server, auth, users_file)
    app.layout = layout
    return app
