"""The ingest service: checks the shape of involvement events and appends them to the event log.

It never reads read models: a 202 means "durably in the log", nothing more.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, jsonify
from flask_wtf.csrf import CSRFProtect
from werkzeug.exceptions import HTTPException

from impact.eventlog import EventLog, LogUnavailable, open_event_log
from impact.settings import Environment, Settings

csrf = CSRFProtect()


def create_app(
    settings: Settings | None = None, event_log: EventLog | None = None, test_config: dict[str, Any] | None = None
) -> Flask:
    """The ingest app; the event log is opened lazily on first use, never at import."""
    settings = settings or Settings()
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.signing_key,
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.env == Environment.production,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
    )
    if test_config:
        app.config.update(test_config)
    app.extensions["impact.settings"] = settings
    app.extensions["impact.event_log"] = event_log or open_event_log(settings)
    csrf.init_app(app)

    from ingest import api, forms

    app.register_blueprint(api.bp)
    csrf.exempt(api.bp)  # the JSON API is not cookie-authenticated, so cross-site forms cannot ride it
    app.register_blueprint(forms.bp)

    @app.get("/healthz")
    def healthz() -> Any:
        try:
            get_event_log().ping()
        except LogUnavailable as exc:
            return jsonify(status="unavailable", detail=str(exc)), 503
        return jsonify(status="ok")

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        if api.wants_json():
            if exc.code == 413:
                limit = settings.max_body_bytes
                return api.problem(413, f"The request is larger than {limit:,} bytes; send fewer events per request.")
            return api.problem(exc.code or 500, exc.description or exc.name)
        return exc

    @app.after_request
    def security_headers(response: Any) -> Any:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'")
        return response

    return app


def get_event_log() -> EventLog:
    log: EventLog = current_app.extensions["impact.event_log"]
    return log


def get_settings() -> Settings:
    settings: Settings = current_app.extensions["impact.settings"]
    return settings
