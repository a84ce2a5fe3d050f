"""Participants' private links: signed, expiring, revocable, with nothing personal in the URL.

A link is `/you/<token>`. The token signs (HMAC, itsdangerous) a random link id and the day the link
expires; the `participant_link` table maps the id to its participant and records revocation. A
tampered token fails its signature, an expired one fails on its own date, and a revoked or erased
participant's link fails in the table, each before any read model is read.

A printed letter's link also has a short code (`letter_link`): ten characters from an alphabet without
look-alikes (no 0/O, 1/I/L), typed in any case at `/you/` by someone who would rather not type the whole
link. The code is the link's id, derived (HMAC) from the signing key, the batch of letters and the person, so
opening the same batch again gives the same link and code, not another one; 31^10 (about 8 x 10^14) codes
and a limit on tries make guessing one hopeless.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import cast

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import Connection, Table, and_, select, update
from sqlalchemy.dialects import postgresql, sqlite
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
    return _token(secret_key, link_id, expires_at), expires_at


CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 10


def _token(secret_key: str, link_id: str, expires_at: datetime) -> str:
    return str(_serializer(secret_key).dumps([link_id, int(_aware(expires_at).timestamp())]))


def letter_code(*, secret_key: str, org_id: str, batch_id: str, participant_id: str) -> str:
    """The short code (and link id) of one person's letter in one batch: the same every time it is asked for."""
    message = "\x1f".join(("letter-code", org_id, batch_id, participant_id)).encode()
    number = int.from_bytes(hmac.new(secret_key.encode(), message, hashlib.sha256).digest(), "big")
    code = ""
    for _ in range(CODE_LENGTH):
        number, digit = divmod(number, len(CODE_ALPHABET))
        code += CODE_ALPHABET[digit]
    return code


def show_code(code: str) -> str:
    """A code as printed: two groups of five, easier to read aloud and to type."""
    return f"{code[:5]}-{code[5:]}"


def typed_code(typed: str) -> str | None:
    """The code someone typed, in any case, with any spaces or hyphens; None if it cannot be one of ours."""
    code = "".join(typed.split()).replace("-", "").upper()
    if len(code) != CODE_LENGTH or any(character not in CODE_ALPHABET for character in code):
        return None
    return code


def letter_link(
    conn: Connection,
    *,
    secret_key: str,
    org_id: str,
    participant_id: str,
    batch_id: str,
    days: int,
    now: datetime | None = None,
) -> tuple[str, datetime, str]:
    """The link, its expiry and its short code for one person's letter in one batch.

    Made the first time it is asked for, then the same link every time (a reload, a reprint of the batch).
    """
    now = now or datetime.now(UTC)
    code = letter_code(secret_key=secret_key, org_id=org_id, batch_id=batch_id, participant_id=participant_id)
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    conn.execute(
        insert(LINKS)
        .values(
            link_id=code,
            org_id=org_id,
            participant_id=participant_id,
            created_at=now,
            expires_at=now + timedelta(days=days),
        )
        .on_conflict_do_nothing()
    )
    row = conn.execute(select(LINKS).where(LINKS.c.link_id == code)).one()
    if (row.org_id, row.participant_id) != (org_id, participant_id):  # 1 in 10^14: never hand over another's
        raise RuntimeError("a letter code collided with another person's; print the batch again")
    return _token(secret_key, code, row.expires_at), _aware(row.expires_at), code


def open_code(conn: Connection, typed: str, *, secret_key: str) -> str | Refusal:
    """The link token for a typed short code, or why it does not open (a code we never made is `tampered`)."""
    code = typed_code(typed)
    if code is None:
        return Refusal.tampered
    row = conn.execute(select(LINKS).where(LINKS.c.link_id == code)).first()
    if row is None:
        return Refusal.tampered
    return _token(secret_key, code, row.expires_at)


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
