"""The Dash app: ``create_app(store_uri)``. Pages live in ``pages/``, one module each; nothing is
computed at import time (layouts are functions that read the store per request)."""

from __future__ import annotations

from pathlib import Path

import dash
from dash import html

from analyzer.app import ids
from analyzer.app.data import CONFIG_KEY


def create_app(store_uri: str) -> dash.Dash:
    app = dash.Dash(
        __name__,
        use_pages=True,
        pages_folder=str(Path(__file__).parent / "pages"),
        title="Blastwall",
        suppress_callback_exceptions=True,
    )
    app.server.config[CONFIG_KEY] = store_uri
    app.layout = html.Div(
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
                    html.Span(
                        "what this fix will break, who depends on it, who must authorize it",
                        style={"color": "#666", "marginLeft": "1em"},
                    ),
                ],
                id=ids.NAV,
                style={"padding": "0.6em 1em", "borderBottom": "1px solid #ccc", "fontFamily": "sans-serif"},
            ),
            html.Main(dash.page_container, style={"padding": "1em", "fontFamily": "sans-serif"}),
        ]
    )
    return app
