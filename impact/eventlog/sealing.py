"""Personal data sealed per participant: erasure destroys the key, so no copy of the log brings it back.

`participant.registered` carries a name, contact details and demographics, and each
`participant.details_changed` a corrected version of them. Before such an event is appended, ingest
encrypts those fields (AES-256-GCM) with a key of that participant's own, kept in the `personal_key`
table of the database and never in the log. `participant.erased` destroys the key (the processor does it
in the transaction that blanks the read models). From then on every version of those fields, in the log,
its replicas and backups, and in any replay, is unreadable.

The ciphertext is bound to the organisation, the participant and the event id, so it cannot be moved
onto another event. A registration for a participant whose key was destroyed is sealed with a key
that is thrown away at once: an erased person stays erased.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, cast

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Engine, LargeBinary, Table, and_, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlmodel import Column, Field, SQLModel

from schemas.events import (
    PERSONAL_FIELDS,
    SEALED,
    Demographics,
    ParticipantDetailsChanged,
    ParticipantRegistered,
    Payload,
    StoredEvent,
)
from schemas.vocab import ParticipantRole

REGISTERED = "participant.registered"
SEALED_TYPES = frozenset(PERSONAL_FIELDS)  # every event type that carries personal fields
ALGORITHM = "A256GCM"
ParticipantKey = tuple[str, str]  # (org_id, participant_id)


class PersonalKey(SQLModel, table=True):
    """One participant's key for their personal fields in the log; `key` is None once erased."""

    __tablename__ = "personal_key"

    org_id: str = Field(primary_key=True, max_length=40)
    participant_id: str = Field(primary_key=True, max_length=64)
    key: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    created_at: datetime
    erased_at: datetime | None = None


KEYS = cast(Table, PersonalKey.__table__)  # type: ignore[attr-defined]


def _owner(event: StoredEvent) -> ParticipantKey:
    return event.org_id, str(event.payload.get("participant_id", ""))


def _aad(event: StoredEvent) -> bytes:
    org_id, participant_id = _owner(event)
    return f"{org_id}\x1f{participant_id}\x1f{event.event_id}".encode()


def seal(engine: Engine, events: Sequence[StoredEvent]) -> list[StoredEvent]:
    """The events with the personal fields of each that has some encrypted under its participant's key."""
    owners = {_owner(e) for e in events if _unsealed(e)}
    if not owners:
        return list(events)
    with engine.begin() as conn:
        keys = _keys_creating(conn, owners)
    return [_sealed(e, keys[_owner(e)]) if _unsealed(e) else e for e in events]


def _unsealed(event: StoredEvent) -> bool:
    return event.type in SEALED_TYPES and SEALED not in event.payload


def _sealed(event: StoredEvent, key: bytes | None) -> StoredEvent:
    personal_fields = PERSONAL_FIELDS[event.type]
    personal = {name: event.payload[name] for name in personal_fields if name in event.payload}
    nonce = os.urandom(12)
    # A destroyed key: seal under a key nobody keeps, so the fields are unreadable from the start.
    cipher = AESGCM(key or AESGCM.generate_key(bit_length=256))
    data = nonce + cipher.encrypt(nonce, json.dumps(personal).encode(), _aad(event))
    rest = {name: value for name, value in event.payload.items() if name not in personal_fields}
    sealed = {ALGORITHM: base64.b64encode(data).decode()}
    return event.model_copy(update={"payload": {**rest, SEALED: sealed}})


def _keys_creating(conn: Connection, owners: set[ParticipantKey]) -> dict[ParticipantKey, bytes | None]:
    """Each owner's key, creating the missing ones (concurrent creators agree on the first one written)."""
    found = _read(conn, owners)
    missing = owners - found.keys()
    if missing:
        insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        now = datetime.now(UTC)
        rows = [
            {"org_id": o, "participant_id": p, "key": AESGCM.generate_key(bit_length=256), "created_at": now}
            for o, p in sorted(missing)
        ]
        conn.execute(insert(KEYS).on_conflict_do_nothing(), rows)
        found.update(_read(conn, missing))
    return found


def _read(conn: Connection, owners: Iterable[ParticipantKey]) -> dict[ParticipantKey, bytes | None]:
    found: dict[ParticipantKey, bytes | None] = {}
    wanted = sorted(owners)
    for first in range(0, len(wanted), 500):
        chunk = wanted[first : first + 500]
        query = select(KEYS.c.org_id, KEYS.c.participant_id, KEYS.c.key).where(
            tuple_(KEYS.c.org_id, KEYS.c.participant_id).in_(chunk)
        )
        found.update({(org, pid): key for org, pid, key in conn.execute(query)})
    return found


def keys_for(conn: Connection, events: Iterable[StoredEvent]) -> dict[ParticipantKey, bytes | None]:
    """The keys needed to open the sealed events among `events` (None: destroyed or never made)."""
    return _read(conn, {_owner(e) for e in events if e.type in SEALED_TYPES and SEALED in e.payload})


def opened(event: StoredEvent, keys: dict[ParticipantKey, bytes | None]) -> dict[str, Any] | None:
    """The payload with its personal fields decrypted; None when they can no longer be read (erased)."""
    sealed = event.payload.get(SEALED)
    if not isinstance(sealed, dict):
        return event.payload
    key = keys.get(_owner(event))
    if key is None:
        return None
    try:
        data = base64.b64decode(str(sealed.get(ALGORITHM, "")))
        plain = AESGCM(key).decrypt(data[:12], data[12:], _aad(event))
    except (InvalidTag, ValueError):
        return None
    rest = {name: value for name, value in event.payload.items() if name != SEALED}
    return {**rest, **json.loads(plain)}


def destroy(conn: Connection, owners: Iterable[ParticipantKey]) -> None:
    """Erase: destroy each owner's key (kept as a row, so a later registration cannot make a new one)."""
    wanted = sorted(set(owners))
    if not wanted:
        return
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    now = datetime.now(UTC)
    conn.execute(
        insert(KEYS).on_conflict_do_nothing(),
        [{"org_id": o, "participant_id": p, "key": None, "created_at": now, "erased_at": now} for o, p in wanted],
    )
    for org_id, participant_id in wanted:
        mine = and_(KEYS.c.org_id == org_id, KEYS.c.participant_id == participant_id, KEYS.c.key.is_not(None))
        conn.execute(update(KEYS).where(mine).values(key=None, erased_at=now))


def erased_version(event: StoredEvent) -> Payload:
    """A sealed event whose personal fields can no longer be read: no name, contact or demographics (a
    correction of them then changes nothing)."""
    if event.type == REGISTERED:
        return erased_registration(event.payload)
    return ParticipantDetailsChanged.model_construct(
        participant_id=str(event.payload["participant_id"]),
        display_name=None,
        role=ParticipantRole(event.payload["role"]),
        contact=None,
        demographics=Demographics(),
        fields=list(event.payload.get("fields", [])),
        reason=str(event.payload.get("reason", "")),
    )


def erased_registration(payload: dict[str, Any]) -> ParticipantRegistered:
    """A registration whose personal fields can no longer be read: no name, contact or demographics."""
    return ParticipantRegistered.model_construct(
        participant_id=str(payload["participant_id"]),
        display_name=None,
        role=ParticipantRole(payload["role"]),
        contact=None,
        consent_to_contact=False,
        preferred_channel=None,
        demographics=Demographics(),
    )
