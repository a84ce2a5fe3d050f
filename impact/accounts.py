"""Organisations, staff accounts and API tokens: who may record and read, for which organisation.

Passwords are hashed with scrypt (Werkzeug's default); API tokens are random secrets stored only
as SHA-256 hashes. Repeated failed logins lock an account for a while, so guessing is slow.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from sqlmodel import Field, Session, SQLModel, select
from werkzeug.security import check_password_hash, generate_password_hash

MIN_PASSWORD_LENGTH = 12
LOCK_AFTER_FAILURES = 5
LOCK_FOR = timedelta(minutes=15)
TOKEN_PREFIX = "ii_"  # noqa: S105 (a label that marks our tokens in logs and scanners, not a secret)
# Checked when no account matches, so a wrong e-mail address takes as long as a wrong password.
_DUMMY_HASH = generate_password_hash("not a password of anyone's")


class Role(StrEnum):
    staff = "staff"  # log involvement
    leadership = "leadership"  # read the dashboard
    admin = "admin"  # manage the organisation's accounts and API tokens (and log involvement)


class AccountError(ValueError):
    """A request about accounts that cannot be met, with a message a person can act on."""


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime) -> datetime:
    """SQLite returns naive datetimes; everything here is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Organisation(SQLModel, table=True):
    org_id: str = Field(primary_key=True, max_length=40)
    name: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=_now)


class StaffAccount(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    org_id: str = Field(index=True, max_length=40, foreign_key="organisation.org_id")
    email: str = Field(unique=True, max_length=320)
    name: str = Field(max_length=120)
    role: str = Field(max_length=20)
    password_hash: str = Field(max_length=300)
    failed_logins: int = 0
    locked_until: datetime | None = None
    active: bool = True
    created_at: datetime = Field(default_factory=_now)


class ApiToken(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    org_id: str = Field(index=True, max_length=40, foreign_key="organisation.org_id")
    name: str = Field(max_length=120)
    prefix: str = Field(max_length=16)  # the first characters, so people can tell tokens apart
    token_hash: str = Field(unique=True, max_length=64)
    created_at: datetime = Field(default_factory=_now)
    revoked_at: datetime | None = None


_ORG_ID = re.compile(r"[a-z0-9][a-z0-9-]{1,39}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def create_organisation(*, session: Session, org_id: str, name: str) -> Organisation:
    if not _ORG_ID.fullmatch(org_id):
        raise AccountError("Use 2 to 40 lower-case letters, digits or hyphens for the organisation's short name.")
    if session.get(Organisation, org_id):
        raise AccountError(f"An organisation called '{org_id}' already exists.")
    if not name.strip():
        raise AccountError("Enter the organisation's name.")
    organisation = Organisation(org_id=org_id, name=name.strip())
    session.add(organisation)
    session.flush()
    return organisation


def create_account(
    *, session: Session, org_id: str, email: str, name: str, role: Role | str, password: str
) -> StaffAccount:
    email = email.strip().lower()
    if not session.get(Organisation, org_id):
        raise AccountError(f"There is no organisation called '{org_id}'.")
    if not _EMAIL.fullmatch(email):
        raise AccountError("Enter an e-mail address like name@example.org.")
    if session.exec(select(StaffAccount).where(StaffAccount.email == email)).first():
        raise AccountError("An account with that e-mail address already exists.")
    if role not in set(Role):
        raise AccountError(f"Choose a role: {', '.join(Role)}.")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"Use a password of at least {MIN_PASSWORD_LENGTH} characters.")
    account = StaffAccount(
        org_id=org_id,
        email=email,
        name=name.strip() or email,
        role=str(role),
        password_hash=generate_password_hash(password),
    )
    session.add(account)
    session.flush()
    return account


def authenticate(*, session: Session, email: str, password: str, now: datetime | None = None) -> StaffAccount:
    """The account these credentials open, or AccountError; failures count towards a lock."""
    now = now or _now()
    account = session.exec(select(StaffAccount).where(StaffAccount.email == email.strip().lower())).first()
    if account is None or not account.active:
        check_password_hash(_DUMMY_HASH, password)
        raise AccountError("The e-mail address or password is not right.")
    if account.locked_until and _aware(account.locked_until) > now:
        minutes = max(1, int((_aware(account.locked_until) - now).total_seconds() // 60))
        raise AccountError(f"Too many attempts: try again in {minutes} minute{'s' if minutes != 1 else ''}.")
    if not check_password_hash(account.password_hash, password):
        account.failed_logins += 1
        if account.failed_logins >= LOCK_AFTER_FAILURES:
            account.locked_until = now + LOCK_FOR
            account.failed_logins = 0
        session.add(account)
        session.flush()
        raise AccountError("The e-mail address or password is not right.")
    account.failed_logins, account.locked_until = 0, None
    session.add(account)
    session.flush()
    return account


def _hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def issue_token(*, session: Session, org_id: str, name: str) -> tuple[ApiToken, str]:
    """A new API token for the organisation; the secret is shown once and never stored."""
    if not session.get(Organisation, org_id):
        raise AccountError(f"There is no organisation called '{org_id}'.")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        org_id=org_id, name=name.strip() or "API token", prefix=secret[:10], token_hash=_hash_token(secret)
    )
    session.add(token)
    session.flush()
    return token, secret


def token_for(*, session: Session, secret: str) -> ApiToken | None:
    """The live token this secret belongs to, or None (unknown or revoked)."""
    token = session.exec(select(ApiToken).where(ApiToken.token_hash == _hash_token(secret))).first()
    return token if token is not None and token.revoked_at is None else None


def revoke_token(*, session: Session, org_id: str, token_id: int) -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None or token.org_id != org_id:  # another organisation's token does not exist for you
        raise AccountError("There is no such token.")
    token.revoked_at = token.revoked_at or _now()
    session.add(token)
    session.flush()
    return token
