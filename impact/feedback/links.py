"""Participants' private links: signed, expiring, revocable, with nothing personal in the URL.

A link is `/you/<token>`. The token signs (HMAC, itsdangerous) a random link id and the day the link
expires; the `participant_link` table maps the id to its participant and records revocation. A
tampered token fails its signature, an expired one fails on its own date, and a revoked or erased
participant's link fails in the table, each before any read model is read.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import cast

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import Connection, Table, and_, select, update
from sqlmodel import Field, SQLModel

SALT = "participant-link"


class ParticipantLink(SQLModel, table=True):
    """One private link a participant was given (not a read model: a replay keeps it)."""

    __tablename__ = "participant_link"

    link_id: str = Field(primary_key=True, max_length=32)
    org_id: str = Field(max_length=40)
    participant_id: str = Field(max_length=64, index=True)
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None


LINKS = cast(Table, ParticipantLink.__table__)  # type: ignore[attr-defined]


class Refusal(StrEnum):
    """Why a link does not open (each has its own page)."""

    tampered = "tampered"  # not a link we made, or altered
    expired = "expired"
    revoked = "revoked"  # revoked by staff, or the person's details were erased


@dataclass(frozen=True)
class Opened:
    org_id: str
    participant_id: str
    expires_at: datetime


def _serializer(secret_key: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt=SALT)


def create(
    conn: Connection, *, secret_key: str, org_id: str, participant_id: str, days: int, now: datetime | None = None
) -> tuple[str, datetime]:
    """A new link token for the participant and when it expires (the row is written on `conn`)."""
    now = now or datetime.now(UTC)
    link_id = secrets.token_urlsafe(16)
    expires_at = now + timedelta(days=days)
    conn.execute(
        LINKS.insert().values(
            link_id=link_id, org_id=org_id, participant_id=participant_id, created_at=now, expires_at=expires_at
        )
    )
    token = _serializer(secret_key).dumps([link_id, int(expires_at.timestamp())])
    return str(token), expires_at


def open_link(conn: Connection, token: str, *, secret_key: str, now: datetime | None = None) -> Opened | Refusal:
    """Whose link this is, or why it does not open."""
    now = now or datetime.now(UTC)
    try:
        link_id, expires = _serializer(secret_key).loads(token)
        link_id, expires = str(link_id), int(expires)
    except (BadSignature, TypeError, ValueError):
        return Refusal.tampered
    if expires <= now.timestamp():
        return Refusal.expired
    row = conn.execute(select(LINKS).where(LINKS.c.link_id == link_id)).first()
    if row is None:
        return Refusal.tampered  # signed with our key but never stored: a database restored from before it
    if row.revoked_at is not None:
        return Refusal.revoked
    return Opened(row.org_id, row.participant_id, _aware(row.expires_at))


def revoke(conn: Connection, *, org_id: str, participant_id: str, now: datetime | None = None) -> int:
    """Revoke every live link of the participant; returns how many were live."""
    mine = and_(LINKS.c.org_id == org_id, LINKS.c.participant_id == participant_id, LINKS.c.revoked_at.is_(None))
    return conn.execute(update(LINKS).where(mine).values(revoked_at=now or datetime.now(UTC))).rowcount


def live(conn: Connection, *, org_id: str, participant_id: str, now: datetime | None = None) -> int:
    """How many of the participant's links still open."""
    now = now or datetime.now(UTC)
    mine = and_(
        LINKS.c.org_id == org_id,
        LINKS.c.participant_id == participant_id,
        LINKS.c.revoked_at.is_(None),
        LINKS.c.expires_at > now,
    )
    return len(conn.execute(select(LINKS.c.link_id).where(mine)).all())


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
