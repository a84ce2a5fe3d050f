"""Dead letters of one organisation: the open ones, how many, one by id, and what its stored event holds.

Every query names the organisation: another organisation's dead letter is never returned.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from schemas.events import PAYLOADS, UPCASTERS, StoredEvent
from schemas.readmodels import DeadLetter

LIST_LIMIT = 2000


def open_letters(org: str, *, engine: Engine) -> list[DeadLetter]:
    """The organisation's dead letters not yet corrected, newest first (at most LIST_LIMIT)."""
    with Session(engine) as session:
        query = (
            select(DeadLetter)
            .where(DeadLetter.org_id == org, col(DeadLetter.resolved_by).is_(None))
            .order_by(col(DeadLetter.dead_at).desc(), col(DeadLetter.event_id))
            .limit(LIST_LIMIT)
        )
        return list(session.exec(query).all())


def open_count(org: str, *, engine: Engine) -> int:
    """How many of the organisation's dead letters are not yet corrected."""
    with Session(engine) as session:
        query = (
            select(func.count())
            .select_from(DeadLetter)
            .where(DeadLetter.org_id == org, col(DeadLetter.resolved_by).is_(None))
        )
        return int(session.exec(query).one())


def find_letter(org: str, event_id: str, *, engine: Engine) -> DeadLetter | None:
    """The organisation's dead letter of that event id; None if there is none, or it is another's."""
    if not org:
        return None
    with Session(engine) as session:
        found = session.get(DeadLetter, event_id)
    if found is None or found.org_id != org:
        return None
    return found


@dataclass(frozen=True)
class Stored:
    """A dead letter's event as far as it can be read: None fields mean it cannot be corrected here."""

    letter: DeadLetter
    document: dict[str, Any] | None
    payload: dict[str, Any]
    occurred: datetime | None

    @property
    def correctable(self) -> bool:
        try:
            uuid.UUID(self.letter.event_id)
        except ValueError:
            return False
        return self.document is not None and self.letter.type in PAYLOADS


def read(letter: DeadLetter) -> Stored:
    """A dead letter's stored event, its payload upcast to the latest version of its type."""
    try:
        document = json.loads(letter.event_json)
    except ValueError:
        document = None
    if not isinstance(document, dict) or document.get("type") != letter.type:
        return Stored(letter, None, {}, None)
    payload = document.get("payload")
    try:
        occurred: datetime | None = datetime.fromisoformat(str(document.get("occurred_at")))
    except ValueError:
        occurred = None
    return Stored(letter, document, _latest(document, payload) if isinstance(payload, dict) else {}, occurred)


def _latest(document: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
    """The stored payload upcast to the latest version of its type, which is what the form shows and sends."""
    try:
        event = StoredEvent.model_validate(document)
    except ValueError:
        return payload
    version = event.schema_version
    while (event.type, version) in UPCASTERS:
        try:
            payload, version = UPCASTERS[(event.type, version)](event, payload), version + 1
        except (KeyError, TypeError, ValueError):
            break
    return payload
