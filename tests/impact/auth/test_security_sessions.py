"""Sessions and credentials end to end, through the real pages of both web services (issue 7):

- session fixation: signing in issues a new session cookie that keeps nothing of the one from before
  (nor its CSRF secret), and a cookie planted before sign-in, replayed afterwards, is still signed out;
- signing out ends every copy of the session cookie;
- a session cookie signed with another key, or altered, opens nothing;
- parallel wrong passwords through the sign-in page make at most PER_ADDRESS_LIMIT checks of the account's
  password (one per (address, client)), and one hash check each;
- a revoked API token is refused at once, by every process that shares the database.

What is covered elsewhere is not repeated here: CSRF on every form (tests/system/test_isolation.py), the lock and
its parallel claims at the function level (tests/impact/auth/test_accounts.py), cookie flags and safe redirects
(tests/impact/auth/test_sign_in.py, tests/dashboard/app/test_access.py), participants' links
(tests/dashboard/test_participant_page.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from dashboard import create_app as create_dashboard
from impact.auth import accounts
from impact.auth import tokens as api_tokens
from impact.auth.accounts import SIGN_IN_REFUSED, StaffAccount
from impact.auth.sessions import session_version
from impact.auth.throttle import PER_ADDRESS_LIMIT
from impact.auth.tokens import revoke_token
from impact.eventlog import open_event_log
from impact.settings import Settings
from ingest import create_app
from tests.dashboard.app.helpers import sign_out_token
from tests.factories import PASSWORD, add_organisation, csrf_from, issue_token, sign_in

ORG = "mind-leeds"


@pytest.fixture
def settings_(log_settings: Callable[[str], Settings], engine: Engine) -> Settings:
    add_organisation(engine, ORG)
    return log_settings("embedded")


def _ingest(settings: Settings, engine: Engine) -> Flask:
    return create_app(settings, open_event_log(settings), test_config={"TESTING": True}, engine=engine)


def _service(which: str, settings: Settings, engine: Engine) -> tuple[Flask, str]:
    """The app and a page only a signed-in person of the role may open."""
    if which == "ingest":
        return _ingest(settings, engine), "/staff/"
    return create_dashboard(settings, engine).server, "/report"


def _cookie_name(client: FlaskClient) -> str:
    return str(client.application.config["SESSION_COOKIE_NAME"])


def _cookie(client: FlaskClient) -> str | None:
    found = client.get_cookie(_cookie_name(client))
    return found.value if found is not None else None


def _opens(client: FlaskClient, private: str) -> bool:
    response = client.get(private)
    assert response.status_code in (200, 302), (private, response.status_code)
    return response.status_code == 200


# --- Session fixation ----------------------------------------------------------------------------


def _decoded(app: Flask, cookie: str) -> dict[str, Any]:
    """What a session cookie holds, read with the service's own key."""
    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    assert serializer is not None
    return dict(serializer.loads(cookie))


def _set_session_cookie(response: Any, name: str) -> str | None:
    """The session cookie a response sets (its Set-Cookie header), if it sets one."""
    for header in response.headers.getlist("Set-Cookie"):
        cookie_name, _, rest = header.partition("=")
        if cookie_name == name:
            return str(rest.split(";", 1)[0])
    return None


@pytest.mark.parametrize("which", ["ingest", "dashboard"])
def test_signing_in_starts_a_fresh_session_and_a_planted_cookie_stays_signed_out(
    settings_: Settings, engine: Engine, which: str
) -> None:
    """Session fixation: signing in answers with a new session cookie that carries nothing of the one
    from before (its CSRF secret in particular, so a token read from the planted session is refused), and
    the planted cookie, replayed after the victim has signed in, is still signed out."""
    app, private = _service(which, settings_, engine)
    email = f"{'staff' if which == 'ingest' else 'leadership'}@{ORG}.example.org"
    victim = app.test_client()
    old_token = csrf_from(victim, "/login")  # the sign-in page starts a session (it holds the CSRF secret)
    planted = _cookie(victim)
    assert planted, "a session existed before sign-in"
    before = _decoded(app, planted)
    assert before.get("csrf_token") and "_user_id" not in before, before

    # An attacker who obtained (or planted) that cookie keeps a copy of it.
    attacker = app.test_client()
    attacker.set_cookie(_cookie_name(attacker), planted)

    response = victim.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": old_token})
    assert response.status_code == 302
    issued = _set_session_cookie(response, _cookie_name(victim))
    assert issued and issued != planted, "signing in answers with a new session cookie"
    after = _decoded(app, issued)
    assert after.get("_user_id"), "the new cookie is the signed-in session"
    assert after.get("csrf_token") != before["csrf_token"], "nothing from before sign-in carries over"
    assert _cookie(victim) == issued and _opens(victim, private)

    # The planted cookie, replayed now that the victim is signed in, is still signed out.
    assert _cookie(attacker) == planted
    assert not _opens(attacker, private), "the cookie from before sign-in is still signed out"
    # Nor does a CSRF token from before sign-in (which the attacker could read from the planted session)
    # work in the new session: sign-in started it afresh.
    forged = victim.post("/logout", data={"csrf_token": old_token})
    assert forged.status_code == 400, "the CSRF token of the session before sign-in is no longer valid"
    assert _opens(victim, private), "the victim is still signed in"


@pytest.mark.parametrize("which", ["ingest", "dashboard"])
def test_a_session_cookie_signed_with_another_key_or_altered_opens_nothing(
    settings_: Settings, engine: Engine, which: str
) -> None:
    app, private = _service(which, settings_, engine)
    signed_in = app.test_client()
    sign_in(signed_in, f"admin@{ORG}.example.org")
    genuine = _cookie(signed_in)
    assert genuine and _opens(signed_in, private)
    with Session(engine) as session:
        admin = session.exec(select(StaffAccount).where(StaffAccount.email == f"admin@{ORG}.example.org")).one()
        claims: dict[str, Any] = {"_user_id": f"{admin.id}.{session_version(admin)}", "_fresh": True}

    other = Flask("forger")
    other.secret_key = "not the service's key " * 2
    forged = SecureCookieSessionInterface().get_signing_serializer(other)
    assert forged is not None
    payload, _, signature = genuine.rpartition(".")
    altered = payload + "." + ("A" if signature[0] != "A" else "B") + signature[1:]
    for cookie in (forged.dumps(claims), altered, genuine[: len(genuine) // 2]):
        client = app.test_client()
        client.set_cookie(_cookie_name(client), cookie)
        assert not _opens(client, private), cookie[:40]


@pytest.mark.parametrize("which", ["ingest", "dashboard"])
def test_a_copy_of_a_session_cookie_ends_when_its_owner_signs_out(
    settings_: Settings, engine: Engine, which: str
) -> None:
    """Sessions are signed cookies: signing out must end a copy too (a shared computer, a stolen cookie)."""
    app, private = _service(which, settings_, engine)
    owner = app.test_client()
    sign_in(owner, f"admin@{ORG}.example.org")
    copied = app.test_client()
    copied.set_cookie(_cookie_name(copied), _cookie(owner) or "")
    assert _opens(copied, private), "the copy works while its owner is signed in"
    token = csrf_from(owner, "/account/password") if which == "ingest" else sign_out_token(owner)
    assert owner.post("/logout", data={"csrf_token": token}).status_code == 302
    assert not _opens(owner, private)
    assert not _opens(copied, private), "the copy ended with the session"
    again = app.test_client()
    sign_in(again, f"admin@{ORG}.example.org")
    assert _opens(again, private), "signing in again works"


# --- Throttling through the sign-in page ----------------------------------------------------------

PARALLEL = 12


def test_parallel_wrong_passwords_through_the_page_make_at_most_the_allowed_checks(
    settings_: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _ingest(settings_, engine)
    email = f"staff@{ORG}.example.org"
    checks: list[str] = []
    real_check = accounts.check_password_hash

    def counted(password_hash: str, password: str) -> bool:
        checks.append(password_hash)
        return real_check(password_hash, password)

    clients = [app.test_client() for _ in range(PARALLEL)]
    tokens = [csrf_from(client, "/login") for client in clients]
    monkeypatch.setattr(accounts, "check_password_hash", counted)
    start = threading.Barrier(PARALLEL)
    statuses: list[int] = []
    crashes: list[BaseException] = []

    def attempt(client: FlaskClient, token: str) -> None:
        try:
            start.wait(timeout=30)
            data = {"email": email, "password": "a wrong guess", "csrf_token": token}
            statuses.append(client.post("/login", data=data).status_code)
        except BaseException as exc:  # reported by the assertion below
            crashes.append(exc)

    threads = [threading.Thread(target=attempt, args=pair) for pair in zip(clients, tokens, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not crashes, crashes
    assert statuses == [401] * PARALLEL
    # One hash check per attempt (the same time for all); at most the limit against the account's own hash
    # (the others against the dummy one): the limit is per (address, client), and these share one client.
    assert len(checks) == PARALLEL, "every attempt makes one hash check"
    with Session(engine) as db:
        real_hash = db.exec(select(StaffAccount).where(StaffAccount.email == email)).one().password_hash
    real_checks = [checked for checked in checks if checked == real_hash]
    assert 1 <= len(real_checks) <= PER_ADDRESS_LIMIT, f"{len(real_checks)} checks of the account's password"

    late = clients[0].post("/login", data={"email": email, "password": PASSWORD, "csrf_token": tokens[0]})
    assert late.status_code == 401 and SIGN_IN_REFUSED in late.get_data(as_text=True)
    assert not _opens(clients[0], "/staff/")


# --- API tokens ------------------------------------------------------------------------------------


def _erased() -> dict[str, Any]:
    return {
        "type": "participant.erased",
        "org_id": ORG,
        "occurred_at": "2025-01-01T00:00:00Z",
        "payload": {"participant_id": "p-1"},
    }


def test_a_revoked_token_is_refused_at_once_by_every_process(settings_: Settings, engine: Engine) -> None:
    """Two ingest processes on one database (gunicorn's workers): no process keeps a token it once accepted."""
    secret = issue_token(engine, ORG)
    first, second = _ingest(settings_, engine).test_client(), _ingest(settings_, engine).test_client()
    bearer = {"Authorization": f"Bearer {secret}"}
    assert first.post("/api/v1/events", json=_erased(), headers=bearer).status_code == 202
    assert second.post("/api/v1/events", json=_erased(), headers=bearer).status_code == 202
    with Session(engine) as session:
        token = api_tokens.token_for(session=session, secret=secret)
        assert token is not None and token.id is not None
        revoke_token(session=session, org_id=ORG, token_id=token.id)
        session.commit()
    for client in (first, second):
        refused = client.post("/api/v1/events", json=_erased(), headers=bearer)
        assert refused.status_code == 401, refused.get_data(as_text=True)
        assert "revoked" in refused.get_json()["error"]
        assert refused.headers["WWW-Authenticate"].startswith("Bearer")


HEADERS = [
    "",
    "Bearer",
    "Bearer ",
    "Basic dXNlcjpwYXNz",
    "Bearer ii_",
    "Bearer ii_" + "A" * 43,
    "bearer  {secret}x",
    "Bearer {secret}",
    "bearer {secret} ",  # the scheme is not case-sensitive; the token is stripped
]


def test_only_the_exact_live_token_is_accepted(settings_: Settings, engine: Engine) -> None:
    secret = issue_token(engine, ORG)
    client = _ingest(settings_, engine).test_client()
    for header in HEADERS:
        value = header.format(secret=secret)
        response = client.post("/api/v1/events", json=_erased(), headers={"Authorization": value} if value else {})
        expected = 202 if value.strip().lower() == f"bearer {secret}".lower() else 401
        assert response.status_code == expected, (value, response.status_code)
