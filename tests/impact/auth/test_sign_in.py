"""Signing in and out of the staff pages: sessions, cookies, CSRF, throttling, safe redirects."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from sqlalchemy import Engine
from sqlmodel import Session, select

from impact.auth.accounts import SIGN_IN_REFUSED, StaffAccount
from impact.auth.throttle import PER_ADDRESS_LIMIT
from impact.settings import Settings
from ingest import create_app
from tests.factories import PASSWORD, add_organisation, csrf_from, sign_in

ORG = "mind-leeds"
STAFF = f"staff@{ORG}.example.org"


@pytest.fixture
def app(log_settings: Callable[[str], Settings], engine: Engine) -> Flask:
    add_organisation(engine, ORG)
    settings = log_settings("embedded")
    return create_app(settings, test_config={"TESTING": True}, engine=engine)


def attempt(client: object, email: str, password: str, **extra: str) -> object:
    token = csrf_from(client, "/login")  # type: ignore[arg-type]
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token, **extra})  # type: ignore[attr-defined]


def test_signing_in_opens_the_staff_pages_and_signing_out_closes_them(app: Flask) -> None:
    client = app.test_client()
    response = attempt(client, STAFF.upper(), PASSWORD)  # e-mail addresses are not case-sensitive
    assert response.status_code == 302 and response.headers["Location"] == "/staff/"  # type: ignore[attr-defined]
    cookie = response.headers["Set-Cookie"]  # type: ignore[attr-defined]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert client.get("/staff/").status_code == 200
    assert client.post("/logout").status_code == 400, "signing out is a form, with CSRF protection"
    assert client.post("/logout", data={"csrf_token": csrf_from(client, "/staff/")}).status_code == 302
    assert client.get("/staff/").status_code == 302


def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(app: Flask) -> None:
    client = app.test_client()
    wrong = attempt(client, STAFF, "not the password")
    unknown = attempt(client, "nobody@example.org", PASSWORD)
    assert wrong.status_code == unknown.status_code == 401  # type: ignore[attr-defined]
    for response in (wrong, unknown):
        page = response.get_data(as_text=True)  # type: ignore[attr-defined]
        assert SIGN_IN_REFUSED in page and "<title>Error: Sign in" in page
    assert client.get("/staff/").status_code == 302


def test_repeated_failures_pause_that_client_even_against_the_right_password(app: Flask, engine: Engine) -> None:
    client = app.test_client()
    for _ in range(PER_ADDRESS_LIMIT):
        assert attempt(client, STAFF, "guess").status_code == 401  # type: ignore[attr-defined]
    paused = attempt(client, STAFF, PASSWORD)
    assert paused.status_code == 401  # type: ignore[attr-defined]
    assert SIGN_IN_REFUSED in paused.get_data(as_text=True)  # type: ignore[attr-defined]
    assert client.get("/staff/").status_code == 302, "not signed in"
    with Session(engine) as session:
        account = session.exec(select(StaffAccount).where(StaffAccount.email == STAFF)).one()
        assert account.locked_until is None and account.failed_logins == 0, "the account itself is never locked"
    owner = app.test_client()
    signed_in = owner.post(
        "/login",
        data={"email": STAFF, "password": PASSWORD, "csrf_token": csrf_from(owner, "/login")},
        environ_base={"REMOTE_ADDR": "198.51.100.4"},
    )
    assert signed_in.status_code == 302, "the owner, from another client, signs in"


def test_a_nul_in_the_e_mail_address_is_a_clear_400(app: Flask) -> None:
    response = attempt(app.test_client(), "staff\x00@mind-leeds.example.org", PASSWORD)
    assert response.status_code == 400  # type: ignore[attr-defined]


def test_signing_in_needs_the_form_s_csrf_token(app: Flask) -> None:
    client = app.test_client()
    response = client.post("/login", data={"email": STAFF, "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/staff/").status_code == 302, "not signed in"


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:alert(1)"]
)
def test_after_signing_in_only_pages_of_this_site_are_followed(app: Flask, target: str) -> None:
    response = attempt(app.test_client(), STAFF, PASSWORD, next=target)
    assert response.headers["Location"] == "/staff/"  # type: ignore[attr-defined]


def test_after_signing_in_the_page_asked_for_is_shown(app: Flask) -> None:
    client = app.test_client()
    asked = client.get("/staff/changes/new")
    assert asked.status_code == 302 and asked.headers["Location"] == "/login?next=%2Fstaff%2Fchanges%2Fnew"
    response = attempt(client, STAFF, PASSWORD, next="/staff/changes/new")
    assert response.headers["Location"] == "/staff/changes/new"  # type: ignore[attr-defined]


def test_deactivating_an_account_ends_its_sessions(app: Flask, engine: Engine) -> None:
    client = app.test_client()
    sign_in(client, STAFF)
    assert client.get("/staff/").status_code == 200
    with Session(engine) as session:
        account = session.exec(select(StaffAccount).where(StaffAccount.email == STAFF)).one()
        account.active = False
        session.add(account)
        session.commit()
    assert client.get("/staff/").status_code == 302, "a deactivated account's session is over"


def test_leadership_is_pointed_at_the_dashboard(app: Flask) -> None:
    client = app.test_client()
    response = attempt(client, f"leadership@{ORG}.example.org", PASSWORD)
    assert response.headers["Location"] == "/"  # type: ignore[attr-defined]
    page = client.get("/").get_data(as_text=True)
    assert "Open the dashboard" in page and "Record involvement" not in page


def test_a_temporary_password_must_be_replaced_before_anything_else(app: Flask, engine: Engine) -> None:
    with Session(engine) as session:
        account = session.exec(select(StaffAccount).where(StaffAccount.email == STAFF)).one()
        account.must_change_password = True
        session.add(account)
        session.commit()
    client = app.test_client()
    sign_in(client, STAFF)
    for path in ("/", "/staff/", "/staff/participants/new", "/staff/import/"):
        response = client.get(path)
        assert response.status_code == 302 and response.headers["Location"].startswith("/account/password"), path
    page = "/account/password?next=/staff/participants/new"
    token = csrf_from(client, page)
    wrong = client.post(page, data={"csrf_token": token, "current_password": "nope", "new_password": "x" * 12})
    assert wrong.status_code == 422 and "current password is not right" in wrong.get_data(as_text=True)
    same = client.post(page, data={"csrf_token": token, "current_password": PASSWORD, "new_password": PASSWORD})
    assert same.status_code == 422 and "different from your current one" in same.get_data(as_text=True)
    chosen = "my own long passphrase"
    done = client.post(page, data={"csrf_token": token, "current_password": PASSWORD, "new_password": chosen})
    assert done.status_code == 302 and done.headers["Location"] == "/staff/participants/new"
    assert client.get("/staff/participants/new").status_code == 200, "still signed in, free to go on"
    with Session(engine) as session:
        assert session.exec(select(StaffAccount).where(StaffAccount.email == STAFF)).one().must_change_password is False
    fresh = app.test_client()
    sign_in(fresh, STAFF, chosen)
    assert fresh.get("/staff/").status_code == 200
