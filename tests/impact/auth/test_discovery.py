"""Accounts cannot be found out (issue 17, item 10): by the sign-in page's answer, its time, or the admin form.

Timing is tested by what makes it, never by a timed test: every attempt, whatever the case, makes exactly one
password-hash check (the tests hash cheaply, so a timed comparison would measure noise).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from impact.auth import accounts
from impact.auth.accounts import SIGN_IN_REFUSED, StaffAccount, deactivate_account
from impact.auth.throttle import FIRST_PAUSE, MAX_PAUSE, PER_ADDRESS_LIMIT, PER_CLIENT_LIMIT, Throttle, client_of
from impact.settings import Settings
from ingest import create_app
from tests.factories import PASSWORD, add_organisation, csrf_from, sign_in

ORG, OTHER = "mind-leeds", "carers-east"
STAFF = f"staff@{ORG}.example.org"
STRANGER, OWNER = "203.0.113.9", "198.51.100.4"
TRIES = 20


@pytest.fixture
def app(log_settings: Callable[[str], Settings], engine: Engine) -> Flask:
    add_organisation(engine, ORG)
    add_organisation(engine, OTHER)
    with Session(engine) as db:  # a deactivated account: refused like any other
        leader = db.exec(select(StaffAccount).where(StaffAccount.email == f"leadership@{ORG}.example.org")).one()
        admin = db.exec(select(StaffAccount).where(StaffAccount.email == f"admin@{ORG}.example.org")).one()
        deactivate_account(session=db, org_id=ORG, account_id=leader.id or 0, by_account_id=admin.id or 0)
        db.commit()
    return create_app(log_settings("embedded"), test_config={"TESTING": True}, engine=engine)


def attempt(client: FlaskClient, email: str, password: str, remote: str = STRANGER) -> tuple[int, str]:
    token = csrf_from(client, "/login")
    response = client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token},
        environ_base={"REMOTE_ADDR": remote},
    )
    return response.status_code, response.get_data(as_text=True)


def neutral(page: str) -> str:
    """The page without what the person sent or the form's token."""
    page = re.sub(r'name="csrf_token" value="[^"]*"', 'name="csrf_token" value=""', page)
    return re.sub(r'(<input[^>]*name="email"[^>]*value=")[^"]*"', r'\1"', page)


def test_a_real_a_throttled_an_unknown_and_a_deactivated_address_get_the_same_answer_and_one_check_each(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks: list[str] = []
    real_check = accounts.check_password_hash

    def counted(password_hash: str, password: str) -> bool:
        checks.append(password_hash)
        return real_check(password_hash, password)

    monkeypatch.setattr(accounts, "check_password_hash", counted)
    cases = {
        "wrong password": (STAFF, "not the password", "192.0.2.1"),
        "unknown address": ("nobody@example.org", PASSWORD, "192.0.2.2"),
        "deactivated": (f"leadership@{ORG}.example.org", PASSWORD, "192.0.2.3"),
        "throttled, right password": (f"admin@{ORG}.example.org", PASSWORD, STRANGER),
    }
    client = app.test_client()
    for _ in range(PER_ADDRESS_LIMIT):  # the stranger uses up the admin's tries from its own client
        assert attempt(client, f"admin@{ORG}.example.org", "a guess", STRANGER)[0] == 401
    answers: dict[str, set[tuple[int, str]]] = {}
    for name, (email, password, remote) in cases.items():
        answers[name] = set()
        for _ in range(TRIES):
            before = len(checks)
            status, page = attempt(client, email, password, remote)
            assert len(checks) == before + 1, f"{name}: one hash check per attempt, so the same time"
            answers[name].add((status, neutral(page)))
    distinct = set().union(*answers.values())
    assert len(distinct) == 1, "one answer for every case"
    ((status, page),) = distinct
    assert status == 401 and SIGN_IN_REFUSED in page
    assert "Too many attempts" not in page


def test_a_strangers_guesses_never_keep_the_owner_out(app: Flask) -> None:
    stranger, owner = app.test_client(), app.test_client()
    for _ in range(3 * PER_ADDRESS_LIMIT):  # beyond the limit, again and again
        assert attempt(stranger, STAFF, "a guess", STRANGER)[0] == 401
    assert attempt(stranger, STAFF, PASSWORD, STRANGER)[0] == 401, "the stranger's client is paused"
    assert attempt(owner, STAFF, PASSWORD, OWNER)[0] == 302, "the owner, from their own client, signs in"


def test_pauses_grow_but_never_last() -> None:
    throttle, moment, step = Throttle(), datetime.now(UTC), timedelta(seconds=15)
    pauses = []
    for round_ in range(8):
        for _ in range(PER_ADDRESS_LIMIT if round_ == 0 else PER_ADDRESS_LIMIT - 1):
            assert throttle.claim(STAFF, STRANGER, moment)
            throttle.failed(STAFF, STRANGER, moment)
        assert not throttle.claim(STAFF, STRANGER, moment), "paused"
        wait = step
        while not throttle.claim(STAFF, STRANGER, moment + wait):  # the first try after the pause is allowed
            wait += step
        pauses.append(wait)
        moment += wait
        throttle.failed(STAFF, STRANGER, moment)  # ... and is wrong too
    assert FIRST_PAUSE <= pauses[0] <= FIRST_PAUSE + step
    assert pauses == sorted(pauses) and pauses[1] > pauses[0], "each pause longer than the one before"
    assert MAX_PAUSE <= pauses[-1] <= MAX_PAUSE + step, "never longer than MAX_PAUSE: never a lock for good"
    assert throttle.claim(STAFF, OWNER, moment), "another client is not paused"


def test_one_client_guessing_many_addresses_is_paused_too() -> None:
    throttle, now = Throttle(), datetime.now(UTC)
    for number in range(PER_CLIENT_LIMIT):
        assert throttle.claim(f"person{number}@example.org", STRANGER, now)
        throttle.failed(f"person{number}@example.org", STRANGER, now)
    assert not throttle.claim("someone.else@example.org", STRANGER, now)
    assert throttle.claim("someone.else@example.org", OWNER, now)
    assert throttle.claim("someone.else@example.org", STRANGER, now + FIRST_PAUSE + timedelta(seconds=1))


def test_the_client_is_the_socket_unless_a_local_proxy_names_it() -> None:
    assert client_of("93.184.216.34", None) == "93.184.216.34"
    assert client_of("93.184.216.34", "198.51.100.4") == "93.184.216.34", "a header from outside is not believed"
    assert client_of("127.0.0.1", "198.51.100.4") == "198.51.100.4", "the reverse proxy on this host"
    assert client_of("172.18.0.1", "10.9.9.9, 198.51.100.4") == "198.51.100.4", "the proxy's own entry is last"
    assert client_of("127.0.0.1", "not an address") == "127.0.0.1"
    assert client_of(None, None) == "unknown"


def test_an_admin_cannot_tell_another_organisations_account_from_one_of_their_own(app: Flask) -> None:
    admin = app.test_client()
    sign_in(admin, f"admin@{ORG}.example.org")
    answers = []
    for email in (f"staff@{ORG}.example.org", f"staff@{OTHER}.example.org"):
        token = csrf_from(admin, "/admin/accounts/new")
        form = {"email": email, "name": "Cy Twin", "role": "staff", "password": "a new long passphrase"}
        response = admin.post("/admin/accounts/new", data={"csrf_token": token, **form})
        answers.append((response.status_code, neutral(response.get_data(as_text=True))))
    assert answers[0] == answers[1], "the same refusal, whichever organisation has the address"
    status, page = answers[1]
    assert status == 422 and "An account with that e-mail address already exists." in page
    assert OTHER not in page and "Carers East" not in page, "nothing names the other organisation"
