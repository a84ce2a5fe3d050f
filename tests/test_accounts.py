"""Accounts, roles, lockout and API tokens, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from impact.accounts import (
    LOCK_AFTER_FAILURES,
    LOCK_FOR,
    AccountError,
    Role,
    StaffAccount,
    authenticate,
    create_account,
    create_organisation,
    issue_token,
    revoke_token,
    token_for,
)

PASSWORD = "a long enough passphrase"


@pytest.fixture
def session(engine: Engine) -> Session:
    with Session(engine) as session:
        create_organisation(session=session, org_id="mind-leeds", name="Mind in Leeds")
        create_organisation(session=session, org_id="carers-east", name="Carers East")
        create_account(
            session=session,
            org_id="mind-leeds",
            email="Ann@Example.org",
            name="Ann",
            role=Role.staff,
            password=PASSWORD,
        )
        session.commit()
        yield session


def test_the_right_password_opens_the_account(session: Session) -> None:
    account = authenticate(session=session, email=" ann@example.org ", password=PASSWORD)
    assert (account.org_id, account.role) == ("mind-leeds", "staff")
    assert PASSWORD not in account.password_hash and account.password_hash.startswith("scrypt:")


@pytest.mark.parametrize("email", ["ann@example.org", "nobody@example.org"])
def test_wrong_credentials_get_one_message(session: Session, email: str) -> None:
    with pytest.raises(AccountError, match="e-mail address or password is not right"):
        authenticate(session=session, email=email, password="wrong password!")


def test_repeated_failures_lock_the_account_for_a_while(session: Session) -> None:
    now = datetime.now(UTC)
    for _ in range(LOCK_AFTER_FAILURES):
        with pytest.raises(AccountError, match="not right"):
            authenticate(session=session, email="ann@example.org", password="guess", now=now)
    with pytest.raises(AccountError, match="Too many attempts"):
        authenticate(session=session, email="ann@example.org", password=PASSWORD, now=now)
    later = now + LOCK_FOR + timedelta(seconds=1)
    assert authenticate(session=session, email="ann@example.org", password=PASSWORD, now=later).name == "Ann"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"org_id": "nowhere"}, "no organisation"),
        ({"email": "not-an-address"}, "e-mail address like"),
        ({"email": "ANN@example.org"}, "already exists"),
        ({"role": "owner"}, "Choose a role"),
        ({"password": "short"}, "at least 12"),
    ],
)
def test_bad_accounts_are_refused_with_a_reason(session: Session, fields: dict[str, str], message: str) -> None:
    values = {"org_id": "mind-leeds", "email": "bo@example.org", "name": "Bo", "role": "staff", "password": PASSWORD}
    with pytest.raises(AccountError, match=message):
        create_account(session=session, **(values | fields))  # type: ignore[arg-type]
    assert session.get(StaffAccount, 2) is None


def test_tokens_are_hashed_scoped_and_revocable(session: Session) -> None:
    token, secret = issue_token(session=session, org_id="mind-leeds", name="Case system")
    assert secret.startswith("ii_") and secret not in token.token_hash and token.prefix == secret[:10]
    assert token_for(session=session, secret=secret) == token
    assert token_for(session=session, secret=secret + "x") is None
    with pytest.raises(AccountError, match="no such token"):
        revoke_token(session=session, org_id="carers-east", token_id=token.id or 0)
    assert token_for(session=session, secret=secret) is not None, "another organisation cannot revoke it"
    revoke_token(session=session, org_id="mind-leeds", token_id=token.id or 0)
    assert token_for(session=session, secret=secret) is None
