"""API tokens: one organisation's credentials for the JSON API. Random, shown once, stored only as a
SHA-256 hash, revocable at once."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime

from sqlmodel import Field, Session, SQLModel, col, select

from impact.auth.accounts import MAX_NAME, AccountError, NoSuchRecord, Organisation

TOKEN_PREFIX = "ii_"  # noqa: S105 (a label that marks our tokens in logs and scanners, not a secret)


def _now() -> datetime:
    return datetime.now(UTC)


class ApiToken(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    org_id: str = Field(index=True, max_length=40, foreign_key="organisation.org_id")
    name: str = Field(max_length=120)
    prefix: str = Field(max_length=16)  # the first characters, so people can tell tokens apart
    token_hash: str = Field(unique=True, max_length=64)
    created_at: datetime = Field(default_factory=_now)
    revoked_at: datetime | None = None


def _hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def token_name_problem(name: str, *, required: bool = True) -> str | None:
    if required and not name.strip():
        return "Enter a name for the token, so you can tell it apart from others."
    if len(name.strip()) > MAX_NAME:
        return f"Use at most {MAX_NAME} characters for the token's name."
    return None


def issue_token(*, session: Session, org_id: str, name: str) -> tuple[ApiToken, str]:
    """A new API token for the organisation; the secret is shown once and never stored."""
    if not session.get(Organisation, org_id):
        raise AccountError(f"There is no organisation called '{org_id}'.", field="org_id")
    if problem := token_name_problem(name, required=False):
        raise AccountError(problem, field="name")
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


def tokens_of(*, session: Session, org_id: str) -> list[ApiToken]:
    """The organisation's API tokens, newest first (revoked ones too, so people can see what was revoked)."""
    query = select(ApiToken).where(ApiToken.org_id == org_id)
    return list(session.exec(query.order_by(col(ApiToken.created_at).desc(), col(ApiToken.id).desc())).all())


def token_in(*, session: Session, org_id: str, token_id: int) -> ApiToken:
    """One of the organisation's tokens; another organisation's token does not exist for you."""
    token = session.get(ApiToken, token_id)
    if token is None or token.org_id != org_id:
        raise NoSuchRecord("There is no such token.")
    return token


def revoke_token(*, session: Session, org_id: str, token_id: int) -> ApiToken:
    token = token_in(session=session, org_id=org_id, token_id=token_id)
    token.revoked_at = token.revoked_at or _now()
    session.add(token)
    session.flush()
    return token
