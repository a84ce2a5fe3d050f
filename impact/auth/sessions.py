"""Sign-in for the web services (ingest's staff pages and the dashboard): sessions, roles, organisation scope.

Both Flask apps call `init_sign_in(app, engine, template)`: it registers `/login` and `/logout`, loads the
signed-in account on each request, and `roles_required(...)` guards a view. A session names the account
and a fragment of its password hash, so changing a password or deactivating an account ends its sessions.

One sign-in opens both services. They serve the same host on two ports, and a browser keeps cookies per host,
not per port: so both use one session cookie (`SESSION_COOKIE`), with the same name, key and flags, and the
same account loader. Signing in on either sets it for both; signing out on either clears it and moves the
account's session epoch on, which ends every copy on both. Each service links to the other on the host the
browser used (`address_of`), never another name for it (a cookie of `localhost` is not one of `127.0.0.1`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    has_request_context,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import LoginManager, current_user, login_user, logout_user
from sqlalchemy import Engine
from sqlalchemy.orm import object_session
from sqlmodel import Session

from impact.auth.accounts import AccountError, Organisation, Role, StaffAccount, authenticate, end_sessions
from impact.auth.throttle import Throttle, client_of
from impact.settings import Environment, Settings

CAN_LOG = frozenset({Role.staff, Role.admin})
CAN_READ = frozenset({Role.leadership, Role.admin})
CAN_MANAGE = frozenset({Role.admin})
ROLE_LABELS = {
    Role.staff: "Staff: records involvement",
    Role.leadership: "Leadership: reads the dashboard",
    Role.admin: "Admin: manages accounts and tokens, and records involvement",
}

F = TypeVar("F", bound=Callable[..., Any])

# One cookie for both web services (see the module's docstring): the same name on both is what shares it.
SESSION_COOKIE = "impact_session"
STAFF_PAGES, DASHBOARD = "ingest", "dashboard"  # the two web services, as `address_of` names them
# what may stand between a person's name and their organisation's, in an account's name
_NAME_SEPARATORS = (",", "·", "|", "-", "\u2013", "\u2014", " at", " of")


@dataclass(frozen=True)
class SignedIn:
    """The signed-in person, detached from any database session."""

    account_id: int
    org_id: str
    role: Role
    name: str
    email: str
    version: str  # a fragment of the password hash and the session epoch: a new password or signing out ends them
    org_name: str = ""
    must_change: bool = False  # someone else set the password: the person chooses their own before anything else

    is_authenticated = True
    is_active = True
    is_anonymous = False

    def get_id(self) -> str:
        return f"{self.account_id}.{self.version}"

    def may(self, roles: frozenset[Role]) -> bool:
        return self.role in roles

    @property
    def signed_in_as(self) -> str:
        """The header's words: the person, then their organisation by its name, once."""
        return signed_in_as(self.name, self.org_name or self.org_id)

    @classmethod
    def of(cls, account: StaffAccount) -> SignedIn:
        """The person signed in with `account` (still attached to its database session)."""
        db = object_session(account)
        organisation = db.get(Organisation, account.org_id) if db is not None else None
        return cls(
            int(account.id or 0),
            account.org_id,
            Role(account.role),
            account.name,
            account.email,
            session_version(account),
            organisation.name if organisation else account.org_id,
            account.must_change_password,
        )


def signed_in_as(name: str, organisation: str) -> str:
    """The header's words, e.g. "Signed in as Ann · Mind in Leeds": the organisation named once, even when the
    account's name already ends with it ("Demo admin (Mind in Leeds)") or is it."""
    person, org = name.strip(), organisation.strip()
    folded = org.casefold()
    if folded and len(person.casefold()) == len(person):  # cut where the folded ending starts
        endings = (f"({folded})", f"[{folded}]", *(f"{separator} {folded}" for separator in _NAME_SEPARATORS))
        for ending in endings:
            if person.casefold().endswith(ending) and len(person) > len(ending):
                person = person[: -len(ending)].rstrip()
                break
    if not org or person.casefold() == folded:
        return f"Signed in as {person or org}"
    return f"Signed in as {person} · {org}"


def session_version(account: StaffAccount) -> str:
    """What a session names besides the account: a new password, or signing out, changes it."""
    return f"{account.password_hash[-12:]}-{account.session_epoch}"


def get_engine() -> Engine:
    engine: Engine = current_app.extensions["impact.engine"]
    return engine


def signed_in() -> SignedIn:
    """The signed-in person (only inside a view guarded by `roles_required`)."""
    user = cast(Any, current_user)._get_current_object()
    if not isinstance(user, SignedIn):
        abort(401)
    return user


CHOOSE_OWN_PAGE = "pages.password"  # where a person with a temporary password chooses their own


def _refusal(roles: frozenset[Role]) -> Any:
    """None if the signed-in person has one of `roles`; else the way to sign in, a new password, or a 403."""
    user = cast(Any, current_user)
    if not user.is_authenticated:
        return current_app.login_manager.unauthorized()  # type: ignore[attr-defined]
    if user.must_change and request.endpoint != CHOOSE_OWN_PAGE:
        return redirect(url_for(CHOOSE_OWN_PAGE, next=request.full_path.rstrip("?")))
    if not user.may(roles):
        abort(403)
    return None


def roles_required(roles: frozenset[Role]) -> Callable[[F], F]:
    """Guard a view: sign in first (redirect to the login page), then the role must be one of `roles` (403)."""

    def decorate(view: F) -> F:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            return _refusal(roles) or view(*args, **kwargs)

        return cast(F, guarded)

    return decorate


def guard(bp: Blueprint, roles: frozenset[Role]) -> None:
    """Guard every view of `bp`, present and future, with `roles`; its pages are never kept in a cache
    (they show people's details, and a form restored from a cache would resend an old submission)."""

    @bp.before_request
    def _guarded() -> Any:
        return _refusal(roles)

    @bp.after_request
    def _not_cached(response: Response) -> Response:
        response.headers["Cache-Control"] = "no-store"
        return response


def _load(user_id: str) -> SignedIn | None:
    account_id, _, version = user_id.partition(".")
    if not account_id.isdigit():
        return None
    with Session(get_engine()) as db:
        account = db.get(StaffAccount, int(account_id))
        if account is None or not account.active or session_version(account) != version:
            return None
        return SignedIn.of(account)


NUL_REFUSED = "Remove the NUL character (\\0) from the address or the form: it is never part of a name or a reference."


def _refuse_nul() -> Any:
    """NUL is never meant, and PostgreSQL refuses it outright: answer 400 before it reaches a query."""
    values = [request.path, *request.args.values(), *(request.form.values() if request.form else ())]
    if any("\x00" in value for value in values):
        return Response(NUL_REFUSED, status=400, mimetype="text/plain")
    return None


def safe_next(target: str | None, fallback: str) -> str:
    """Only a path on this site: never an absolute URL an attacker could send someone to."""
    if not target:
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return fallback
    return target


def address_of(service: str, path: str = "/") -> str:
    """`path` on the other (or this) web service, on the host this request came to, so the session cookie goes
    with it. Scheme-relative (`//host:port/path`): behind a TLS proxy the browser keeps https."""
    settings: Settings = current_app.extensions["impact.settings"]
    port = settings.dashboard_port if service == DASHBOARD else settings.ingest_port
    hostname = urlsplit(f"//{request.host}").hostname or "localhost"
    host = f"[{hostname}]" if ":" in hostname else hostname  # an IPv6 address keeps its brackets
    return f"//{host}:{port}{path}"


def cross_links(person: SignedIn | None) -> dict[str, str]:
    """The other service's pages this person may open, by name: `dashboard`, `staff_pages`, `password`."""
    if person is None or not has_request_context() or "impact.settings" not in current_app.extensions:
        return {}
    links = {"password": address_of(STAFF_PAGES, "/account/password")}
    if person.may(CAN_READ):
        links["dashboard"] = address_of(DASHBOARD)
    if person.may(CAN_LOG):
        links["staff_pages"] = address_of(STAFF_PAGES)
    return links


def share_session_cookie(app: Flask, settings: Settings) -> None:
    """The one session cookie of both services: the same name, key, path and flags (see the module's docstring)."""
    app.config.update(
        SECRET_KEY=settings.signing_key,
        SESSION_COOKIE_NAME=SESSION_COOKIE,
        SESSION_COOKIE_PATH="/",
        SESSION_COOKIE_DOMAIN=None,  # host-only: the host the browser used, whichever port
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.env == Environment.production,
    )


# Production is served over HTTPS only (docs/deployment.md): the browser is told to keep to it for a year.
# Not includeSubDomains: other hosts of the charity's domain are not this service's to promise.
STRICT_TRANSPORT = "max-age=31536000"


def strict_transport(app: Flask, settings: Settings) -> None:
    """In production, every response of `app` (both web services) carries Strict-Transport-Security."""
    if settings.env != Environment.production:
        return

    @app.after_request
    def _strict_transport(response: Response) -> Response:
        response.headers.setdefault("Strict-Transport-Security", STRICT_TRANSPORT)
        return response


def init_sign_in(app: Flask, engine: Engine, *, template: str, home: Callable[[SignedIn], str]) -> None:
    """Add sign-in to `app`: `/login` (GET, POST) rendered with `template`, `/logout` (POST), and the session
    cookie shared with the other service, and HSTS in production.
    The app's settings are in `app.extensions["impact.settings"]`."""
    share_session_cookie(app, app.extensions["impact.settings"])
    strict_transport(app, app.extensions["impact.settings"])
    app.extensions["impact.engine"] = engine
    manager = LoginManager()
    manager.login_view = "sign_in.login"
    manager.login_message = "Sign in to continue."
    manager.login_message_category = "info"
    manager.session_protection = "basic"
    manager.user_loader(_load)
    manager.init_app(app)
    app.before_request(_refuse_nul)

    bp = Blueprint("sign_in", __name__)
    # Failed sign-ins pause the client that made them, never the account (impact/auth/throttle.py).
    throttle = app.extensions.setdefault("impact.sign_in_throttle", Throttle())

    @bp.route("/login", methods=["GET", "POST"])
    def login() -> Any:
        error, email, status = None, "", 200
        next_url = request.values.get("next")
        if request.method == "POST":
            email = request.form.get("email", "").strip()
            password = request.form.get("password", "")
            if not email or not password:
                error, status = "Enter your e-mail address and password.", 422
            else:
                client = client_of(request.remote_addr, request.headers.get("X-Forwarded-For"))
                with Session(get_engine()) as db:
                    try:
                        account = authenticate(
                            session=db, email=email, password=password, client=client, throttle=throttle
                        )
                    except AccountError as exc:  # the same words for every refusal (impact/auth/throttle.py)
                        error, status = str(exc), 401
                    else:
                        db.commit()
                        person = SignedIn.of(account)
                        session.clear()  # a fresh session: nothing from before sign-in carries over
                        login_user(person)
                        return redirect(safe_next(next_url, home(person)))
        return render_template(template, error=error, email=email, next_url=next_url or ""), status

    @bp.post("/logout")
    def logout() -> Any:
        person = cast(Any, current_user)._get_current_object()
        if isinstance(person, SignedIn):  # a copy of this session cookie must not outlive signing out
            with Session(get_engine()) as db:
                end_sessions(session=db, account_id=person.account_id)
                db.commit()
        logout_user()
        session.clear()
        return redirect(url_for("sign_in.login", signed_out=1))

    app.register_blueprint(bp)
