"""The leadership dashboard (Dash): impact figures read from the read models, never from the event log.

Everything but sign-in, the health check, shared static files and a participant's own page (opened from
their private link: dashboard/participant.py) needs a signed-in reader (leadership or admin), who sees
their own organisation's figures only: see dashboard/access.py.
"""

from __future__ import annotations

import logging
from datetime import date

import dash
from dash import html
from dash.exceptions import DependencyException
from flask import Flask, Response, jsonify, request, url_for
from flask_wtf.csrf import generate_csrf
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from dashboard import access, exports, participant, shell
from impact.db import create_tables, engine_for
from impact.settings import Environment, Settings

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
    """Build the dashboard on `engine` (or the one the settings name), creating missing tables."""
    settings = settings or Settings()
    if engine is None:
        engine = engine_for(settings)
    create_tables(engine)

    app = dash.Dash(
        __name__,  # Flask("dashboard"): templates come from dashboard/templates
        title=TITLE,
        update_title="",  # a title flickering to "Updating..." is read out by screen readers
        serve_locally=True,  # the scripts come from this server: no CDN, works offline
    )
    app.server.url_map.strict_slashes = False  # rules added from here on answer with and without a trailing slash
    app.server.config.update(
        SECRET_KEY=settings.signing_key,
        # the session cookie is the staff pages' too (one sign-in for both): impact/auth/sessions.py sets it
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.env == Environment.production,
        WTF_CSRF_TIME_LIMIT=None,  # the sign-out token lives as long as the session: a page left open works
    )
    app.index_string = INDEX_STRING
    access.init_access(app, engine, settings)

    def layout() -> html.Div:
        person = access.current_reader()
        if person is None:  # Dash's check of the layout at start-up; the guard serves it to readers only
            return shell.layout(engine, None, date.today())
        reader = shell.Reader(person, sign_out_url=url_for("sign_in.logout"), csrf_token=generate_csrf())
        return shell.layout(engine, reader, date.today())

    app.layout = layout
    shell.register_callbacks(app, engine)
    exports.register(app, engine, settings)
    participant.register(app, engine, secret_key=settings.signing_key)
    _add_health_check(app.server, engine)
    _add_unknown_script_answer(app.server)
    _add_content_security_policy(app)
    return app


def _add_content_security_policy(app: dash.Dash) -> None:
    """Scripts only from this server, plus Dash's own inline start-up script by its hash; no frames, no plugins.

    Styles may be inline: Dash and Plotly set element styles at run time.
    """
    scripts = " ".join(app.csp_hashes())  # each already quoted: 'sha256-...'
    policy = (
        f"default-src 'self'; script-src 'self' {scripts}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    )

    @app.server.after_request
    def content_security_policy(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", policy)
        return response


NO_SUCH_SCRIPT = "There is no such script on this dashboard."


def _add_unknown_script_answer(server: Flask) -> None:
    """A 404 for a file under `_dash-component-suites/` that Dash does not serve (a stale or made-up address);
    Dash raises an exception for it, which would otherwise be a 500 with a traceback in the log."""

    @server.errorhandler(DependencyException)
    def unknown_script(_error: DependencyException) -> Response:
        logger.info("dashboard: no such script: %s", request.path)
        return Response(NO_SUCH_SCRIPT, status=404, mimetype="text/plain")


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
