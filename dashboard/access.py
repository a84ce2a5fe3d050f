"""Who may see the dashboard: sign-in, CSRF on its two forms, and one guard in front of everything else.

Leadership and admins (CAN_READ) of an organisation see that organisation's figures and nothing else. The
guard runs before every request: only the sign-in page, sign-out, the health check, the files that are
the same for everyone (Dash's scripts, the assets folder, the favicon) and a participant's own page (its
private link is its key: dashboard/participant.py) are public. A signed-out visitor's
page requests go to `/login?next=...` and Dash's JSON requests get a 401 (assets/session.js then opens the
sign-in page); a signed-in person whose role may not read the dashboard gets a 403, with a link to the staff
pages. The session is the staff pages' too (impact/auth/sessions.py): signing in on either opens both.
"""

from __future__ import annotations

import logging
from typing import Any, cast

import dash
from flask import (
    Flask,
    Response,
    current_app,
    g,
    has_request_context,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import Forbidden, RequestEntityTooLarge, Unauthorized

from dashboard import participant
from impact.auth.sessions import CAN_LOG, CAN_READ, STAFF_PAGES, SignedIn, address_of, init_sign_in
from impact.settings import Settings

logger = logging.getLogger(__name__)

SIGN_IN_HEADER = "X-Sign-In"  # on a 401 to a Dash request: the sign-in page, for assets/session.js
SIGN_IN_TO_CONTINUE = "Sign in to see the dashboard."
CHOOSE_OWN_FIRST = (
    "Your password was set by someone else: choose your own password first, on the staff pages, where you are "
    "already signed in. Then come back here."
)
CHOOSE_OWN_PAGE = "/account/password"  # on the staff pages
NOT_FOR_YOUR_ROLE = (
    "The dashboard is for your organisation's leadership and admins. Ask an admin of your organisation "
    "if you need to see it."
)
UNAVAILABLE = "The dashboard cannot be used right now. Please try again in a few minutes."
FORM_EXPIRED = "This form had expired or did not come from this site. Please try again."
NOT_A_CALLBACK = "This request does not match a callback of the dashboard."

# Request bodies (bytes). Nothing on the dashboard is an upload: the largest body a browser sends is the
# callback's JSON, about 1 KB for the longest bookmark a browser keeps (see docs/operations/security.md).
MAX_BODY_BYTES = 256 * 1024  # any route: Flask's MAX_CONTENT_LENGTH, also for routes added later
CALLBACK_BODY_BYTES = 64 * 1024  # the callback's JSON: the page's address and three filters
FORM_BODY_BYTES = 16 * 1024  # the sign-in, sign-out and short-code forms: a few short fields
TOO_LARGE_FORM = "This form sent far more than its fields can hold, so it was not read. Go back and try again."
TOO_LARGE_CALLBACK = f"The dashboard's request was larger than {CALLBACK_BODY_BYTES:,} bytes, so it was not read."


def _signed_in_person() -> SignedIn | None:
    """Whoever is signed in, whatever their role; None when nobody is, or their account cannot be loaded.

    Raises SQLAlchemyError when the accounts database does not answer; the rest of the request then counts
    as signed out, so that pages (whose templates read `current_user`) can still say what happened.
    """
    try:
        person = cast(Any, current_user)._get_current_object()
    except SQLAlchemyError:
        g._login_user = cast(Any, current_app).login_manager.anonymous_user()
        raise
    return person if isinstance(person, SignedIn) else None


def current_reader() -> SignedIn | None:
    """The signed-in person if they may read the dashboard; None outside a request, and for anyone else."""
    if not has_request_context():
        return None  # Dash builds the layout once at start-up to check it: nobody is signed in then
    try:
        person = _signed_in_person()
    except SQLAlchemyError:
        logger.warning("dashboard: the signed-in account could not be loaded", exc_info=True)
        return None
    return person if person is not None and person.may(CAN_READ) else None


def reader() -> SignedIn:
    """The signed-in reader, for callbacks: the organisation always comes from here, never from the browser.

    The guard has already turned everyone else away; this refuses them again should a callback ever be
    reached another way.
    """
    person = current_reader()
    if person is None:
        raise Unauthorized(SIGN_IN_TO_CONTINUE)
    return person


def init_access(app: dash.Dash, engine: Engine, settings: Settings) -> None:
    """Sign-in, CSRF protection, the guard and security headers on the dashboard's Flask server."""
    server: Flask = app.server
    prefix = app.config.routes_pathname_prefix
    server.extensions["impact.settings"] = settings
    _limit_bodies(app)  # first: before sign-in's NUL check, CSRF protection or the guard read a body

    # Signing in here leads to the dashboard, whoever signs in: its page says what a person whose role does not
    # read it may do, with a link to the staff pages (already signed in). Never a redirect to them: the
    # Content-Security-Policy's form-action 'self' stops a sign-in form's redirect to another origin (port).
    init_sign_in(server, engine, template="login.html", home=lambda _person: app.config.requests_pathname_prefix)

    # CSRF: every POST (PUT, PATCH, DELETE) needs the session's token, which the login and logout forms
    # carry, except Dash's one POST endpoint, `_dash-update-component`. Exempting it is safe: it only reads
    # figures; it takes nothing but a JSON body, which an HTML form cannot send and a script on another site
    # can send only after a CORS preflight that this server never grants; and the session cookie is
    # SameSite=Lax, so a cross-site POST does not carry it anyway. Exempting that one view, by the function
    # Dash registered, keeps every other POST route (any added later too) protected by default.
    csrf = CSRFProtect(server)
    callback_endpoint = prefix + "_dash-update-component"
    csrf.exempt(server.view_functions[callback_endpoint])

    public = _public_endpoints(app)

    def is_dash_request() -> bool:
        return request.path.startswith(prefix + "_")  # Dash's own JSON routes: _dash-layout, _dash-update-...

    @server.before_request
    def guard() -> ResponseReturnValue | None:
        if request.endpoint in public:
            return None
        try:
            person = _signed_in_person()
        except SQLAlchemyError:
            logger.warning("dashboard: the accounts database is unreachable", exc_info=True)
            return _refuse(503, "The dashboard is unavailable", UNAVAILABLE, as_json=is_dash_request())
        if person is None:
            return _sign_in_first(as_json=is_dash_request())
        if person.must_change:
            return _refuse(403, "Choose your password first", CHOOSE_OWN_FIRST, as_json=is_dash_request())
        if not person.may(CAN_READ):
            return _refuse(403, "You cannot use the dashboard", NOT_FOR_YOUR_ROLE, as_json=is_dash_request())
        if request.endpoint == callback_endpoint and not _matches_a_callback(app.callback_map):
            return _refuse(400, "That did not work", NOT_A_CALLBACK, as_json=True)
        return None

    @server.errorhandler(Unauthorized)
    def unauthorized(_error: Unauthorized) -> ResponseReturnValue:
        return _sign_in_first(as_json=is_dash_request())

    @server.errorhandler(Forbidden)
    def forbidden(_error: Forbidden) -> ResponseReturnValue:
        return _refuse(403, "You cannot use the dashboard", NOT_FOR_YOUR_ROLE, as_json=is_dash_request())

    @server.errorhandler(CSRFError)
    def form_expired(error: CSRFError) -> ResponseReturnValue:
        logger.info("dashboard: refused a form without a valid CSRF token: %s", error.description)
        if request.endpoint == "sign_in.login":  # show the form again, with a fresh token
            email, next_url = request.form.get("email", "").strip(), request.form.get("next", "")
            page = render_template("login.html", error=FORM_EXPIRED, form_expired=True, email=email, next_url=next_url)
            return page, 400
        return _refuse(400, "The form could not be sent", FORM_EXPIRED, as_json=False)

    @server.after_request
    def security_headers(response: Response) -> Response:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if request.endpoint not in public or request.endpoint == "sign_in.login":
            # an organisation's figures, or a form with a CSRF token: never kept by a shared cache
            response.headers["Cache-Control"] = "no-store"
            response.vary.add("Cookie")
        return response

    @server.context_processor
    def page_resources() -> dict[str, str]:
        """The look of the sign-in and message pages: the dashboard's own stylesheet and icon."""
        return {
            "stylesheet": app.get_asset_url("dashboard.css"),
            "favicon": f"{app.config.requests_pathname_prefix}_favicon.ico",
            "dashboard_url": app.config.requests_pathname_prefix,
        }


def _limit_bodies(app: dash.Dash) -> None:
    """A ceiling on every request body, lower on the routes that take only a short form or the callback's JSON.

    A body over its route's limit is refused with a 413 before anything reads it (with no Content-Length, the
    stream stops at the limit): a page for a form, JSON for Dash's requests.
    """
    server: Flask = app.server
    prefix = app.config.routes_pathname_prefix
    server.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    limits = {
        prefix + "_dash-update-component": CALLBACK_BODY_BYTES,
        "sign_in.login": FORM_BODY_BYTES,
        "sign_in.logout": FORM_BODY_BYTES,
        participant.ENDPOINT: FORM_BODY_BYTES,
    }

    @server.before_request
    def limit_body() -> None:
        limit = limits.get(request.endpoint or "", MAX_BODY_BYTES)
        request.max_content_length = limit
        if request.content_length is not None and request.content_length > limit:
            raise RequestEntityTooLarge()
        # A chunked body: read it now, at most `limit` bytes (the stream stops there), so that one cut off at the
        # limit is a 413 rather than a truncated form answered as if it had been sent that way.
        chunked = request.content_length is None and request.environ.get("wsgi.input_terminated")
        if chunked and len(request.get_data(cache=True)) >= limit:
            raise RequestEntityTooLarge()

    @server.errorhandler(RequestEntityTooLarge)
    def too_large(_error: RequestEntityTooLarge) -> ResponseReturnValue:
        logger.info("dashboard: refused a %s-byte body to %s", request.content_length, request.path)
        if request.path.startswith(prefix + "_"):  # Dash's own JSON routes
            response = jsonify(status=413, message=TOO_LARGE_CALLBACK)
            response.status_code = 413
            return response
        page = render_template("message.html", title="The form was too large", message=TOO_LARGE_FORM, signed_in=False)
        return page, 413


def _public_endpoints(app: dash.Dash) -> frozenset[str | None]:
    """Endpoints anyone may use: sign-in, sign-out, the health check, files that are the same for all, and a
    participant's own page (no account: its signed, expiring link is the key, checked by the page itself)."""
    prefix = app.config.routes_pathname_prefix
    shared_files = (prefix + "_dash-component-suites/", prefix + app.config.assets_url_path.strip("/") + "/")
    dash_files = {
        rule.endpoint
        for rule in app.server.url_map.iter_rules()
        if rule.rule.startswith(shared_files) or rule.rule == prefix + "_favicon.ico"
    }
    return frozenset({"sign_in.login", "sign_in.logout", "healthz", "static", participant.ENDPOINT, *dash_files})


def _matches_a_callback(callbacks: dict[str, Any]) -> bool:
    """Does this callback request name one of our callbacks, with exactly its inputs and state?

    Dash hands the inputs and state the browser sent to the callback by position, unchecked. Our callbacks
    never take the organisation from them; refusing a request shaped unlike its callback also turns what
    would be an exception in the callback into a plain 400. (Our callbacks use plain string ids only.)
    """
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("output"), str):
        return False
    registered = callbacks.get(body["output"])
    if registered is None:
        return False

    def sent(items: Any) -> list[tuple[Any, Any]] | None:
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            return None
        return [(item.get("id"), item.get("property")) for item in items]

    def expected(items: list[dict[str, Any]]) -> list[tuple[Any, Any]]:
        return [(item["id"], item["property"]) for item in items]

    inputs_match = sent(body.get("inputs", [])) == expected(registered["inputs"])
    return inputs_match and sent(body.get("state", [])) == expected(registered["state"])


def _sign_in_first(*, as_json: bool) -> ResponseReturnValue:
    """A 401 for Dash's requests; for a page, the sign-in page, coming back here afterwards."""
    if as_json:
        response = jsonify(status=401, message=SIGN_IN_TO_CONTINUE)
        response.status_code = 401
        response.headers[SIGN_IN_HEADER] = url_for("sign_in.login")
        return response
    here = request.full_path if request.query_string else request.path
    return redirect(url_for("sign_in.login", next=here))


def _refuse(code: int, title: str, message: str, *, as_json: bool) -> ResponseReturnValue:
    if as_json:
        response = jsonify(status=code, message=message)
        response.status_code = code
        return response
    try:
        person = _signed_in_person()
    except SQLAlchemyError:
        person = None  # and the request now counts as signed out (see _signed_in_person)
    # a way on to the staff pages, in the same session: the password form, or the records the role keeps
    if person is not None and (person.must_change or (person.may(CAN_LOG) and not person.may(CAN_READ))):
        link = (
            ("Choose your own password", address_of(STAFF_PAGES, CHOOSE_OWN_PAGE))
            if person.must_change
            else ("Go to the staff pages", address_of(STAFF_PAGES))
        )
        return render_template("refused.html", title=title, message=message, link=link), code
    page = render_template("message.html", title=title, message=message, signed_in=person is not None)
    return page, code
