"""The ingest service: checks the shape of involvement events and appends them to the event log.

The JSON API never reads read models: a 202 means "durably in the log", nothing more, and references
("is this participant registered?") are the processors' to check. The staff pages do read them, each
for a reason, always scoped to the signed-in person's organisation:

- lists, search and pickers (`lookups`, `forms.search`): the organisation's records, found and offered;
- record pages (`history`, `records`): a record with what it links to, and its versions (`record_version`);
- corrections (`forms.*`): a correction form starts from the record's current values, and records the whole
  new version;
- what became of a save (`forms.saving`): the processed, parked and dead-lettered event ids of the staff
  member's own save, to say "saved", "being saved" or "not saved" (never to decide whether to accept it);
- another organisation's records: a page naming one answers 404 (`lookups.*_or_404`), as if it did not exist;
- import's reference check (`importing.register`): a file goes in whole or not at all, so its references
  are checked against the read models before anything is appended;
- letters (`forms.letters`): the batch to print is the owed feedback of people who hear by post;
- "mark told" (`forms.feedback`): closing an owed pair needs the pair, and records `feedback.sent` once;
- problems (`problems.queries`): the organisation's dead letters, listed and corrected;
- subject access (`subject_access`): everything held about one participant is what the read models hold.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, current_app, jsonify, render_template
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy import Engine
from werkzeug.exceptions import HTTPException

from impact.auth.sessions import CAN_LOG, CAN_MANAGE, CAN_READ, SignedIn, init_sign_in
from impact.db import create_tables, engine_for
from impact.eventlog import EventLog, LogUnavailable, open_event_log
from impact.settings import Environment, Settings
from schemas.vocab import label

csrf = CSRFProtect()


def create_app(
    settings: Settings | None = None,
    event_log: EventLog | None = None,
    test_config: dict[str, Any] | None = None,
    engine: Engine | None = None,
) -> Flask:
    """The ingest app: the JSON API, staff pages and sign-in, on the accounts database (`engine`)."""
    settings = settings or Settings()
    if engine is None:
        engine = engine_for(settings)
        create_tables(engine)
    app = Flask(__name__)
    # Every address answers with and without its trailing slash (rules added from here on; static has no twin).
    app.url_map.strict_slashes = False
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
    init_sign_in(app, engine, template="login.html", home=_home)
    app.jinja_env.globals.update(CAN_LOG=CAN_LOG, CAN_READ=CAN_READ, CAN_MANAGE=CAN_MANAGE, label=label)

    @app.get("/favicon.ico")
    def favicon() -> Response:
        # Browsers ask for it beside every first page. Answered without the session: a 404 page would load the
        # signed-in person, and its Set-Cookie, sent in parallel with a sign-in, could replace the new session.
        response = Response(status=204)
        response.headers["Cache-Control"] = "public, max-age=86400"
        return response

    from ingest import admin, api, forms, pages, problems, subject_access
    from ingest.forms import feedback as forms_feedback
    from ingest.forms import letters
    from ingest.importing import views as imports

    app.register_blueprint(api.bp)
    csrf.exempt(api.bp)  # the JSON API takes bearer tokens, never cookies, so cross-site forms cannot ride it
    app.register_blueprint(pages.bp)
    app.register_blueprint(forms.bp)
    app.register_blueprint(imports.bp)
    app.register_blueprint(problems.bp)
    app.register_blueprint(forms_feedback.bp)
    app.register_blueprint(letters.bp)
    app.register_blueprint(subject_access.bp)
    app.register_blueprint(admin.bp)

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
        if isinstance(exc, CSRFError):
            message = "This form had expired or did not come from this site. Go back, reload the page and try again."
            return render_template("error.html", code=400, title="The form could not be sent", message=message), 400
        if exc.code in ERROR_PAGES:
            title, message = ERROR_PAGES[exc.code]
            return render_template("error.html", code=exc.code, title=title, message=message), exc.code
        return exc

    @app.after_request
    def security_headers(response: Any) -> Any:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'")
        return response

    return app


ERROR_PAGES = {
    403: ("You cannot use this page", "Your role does not include this. Ask an admin of your organisation."),
    404: ("Page not found", "There is nothing here, or it belongs to another organisation."),
    405: ("That did not work", "This page cannot be used that way. Go back and use its form."),
    413: ("The file is too large", "Send a smaller file, or split it into several."),
}


def _home(person: SignedIn) -> str:
    from flask import url_for

    return url_for("forms.index") if person.may(CAN_LOG) else url_for("pages.home")


def get_event_log() -> EventLog:
    log: EventLog = current_app.extensions["impact.event_log"]
    return log


def get_settings() -> Settings:
    settings: Settings = current_app.extensions["impact.settings"]
    return settings
