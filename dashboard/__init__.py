"""The leadership dashboard (Dash): impact figures read from the read models, never from the event log."""

from __future__ import annotations

import logging
from functools import partial

import dash
from flask import Flask, Response, jsonify
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from dashboard import overview
from impact.db import create_tables, engine_for
from impact.settings import Settings

TITLE = "Involvement Impact"

logger = logging.getLogger(__name__)

# Dash's default page with lang="en-GB" for screen readers, and without its footer element, which would
# add an empty contentinfo landmark around the scripts.
INDEX_STRING = """<!DOCTYPE html>
<html lang="en-GB">
    <head>
        {%metas%}
        <title>{%title%}</title>
        {%favicon%}
        {%css%}
    </head>
    <body>
        <noscript>This dashboard needs JavaScript to show its figures.</noscript>
        {%app_entry%}
        {%config%}
        {%scripts%}
        {%renderer%}
    </body>
</html>"""


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> dash.Dash:
    """Build the dashboard on `engine` (or the one the settings name), creating missing read-model tables."""
    if engine is None:
        engine = engine_for(settings or Settings())
    create_tables(engine)

    app = dash.Dash(
        __name__,
        title=TITLE,
        update_title="",  # a title flickering to "Updating..." is read out by screen readers
        serve_locally=True,  # the scripts come from this server: no CDN, works offline
    )
    app.index_string = INDEX_STRING
    app.layout = partial(overview.layout, engine)
    overview.register_callbacks(app, engine)
    _add_health_check(app.server, engine)
    return app


def _add_health_check(server: Flask, engine: Engine) -> None:
    """`GET /healthz`: 200 when the read-model database answers, 503 otherwise, for orchestrators."""

    @server.get("/healthz")
    def healthz() -> tuple[Response, int]:
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except SQLAlchemyError:
            logger.warning("health check failed: read-model database unreachable", exc_info=True)
            return jsonify(status="unavailable", message="The read-model database is unreachable."), 503
        return jsonify(status="ok"), 200
