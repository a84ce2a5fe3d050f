"""Stamp validated client events with the server's fields and append them durably to the log.

Every accepted event leaves a receipt (its id, organisation and a digest of its content). A retry
with the same `event_id` and the same content gets the same answer and appends nothing; the same
`event_id` with different content is refused, so one id never names two facts.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, insert, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlmodel import Field, SQLModel, select

from impact.eventlog import EventLog, Record
from impact.eventlog.sealing import seal
from schemas.events import Envelope, StoredEvent

logger = logging.getLogger(__name__)


class Receipt(SQLModel, table=True):
    """An event ingest has taken (ingest's own table; not a read model).

    A receipt is written before its event is appended ("claimed") and confirmed after, so two requests
    racing with one event_id cannot both be accepted with different content, and a claim whose append
    failed is appended again by the retry.
    """

    event_id: uuid.UUID = Field(primary_key=True)
    org_id: str = Field(max_length=40)
    digest: str = Field(max_length=64)
    recorded_at: datetime
    confirmed: bool = False


class ReusedEventId(ValueError):
    """An event_id already names a different fact."""

    def __init__(self, event_ids: list[str]) -> None:
        self.event_ids = event_ids
        super().__init__(
            f"event_id {', '.join(event_ids)} already names a different event; a new fact needs a new event_id "
            "(a retry must send exactly the same event)."
        )


@dataclass(frozen=True)
class Recorded:
    event_ids: list[str]  # every event of the request, in order (the same answer on a retry)
    appended: int  # how many were new to the log


def digest(event: Envelope) -> str:
    return hashlib.sha256(event.model_dump_json().encode()).hexdigest()


def record(
    event_log: EventLog,
    topic: str,
    events: Sequence[Envelope],
    *,
    recorded_by: str,
    engine: Engine | None = None,
    received: Sequence[datetime] | None = None,
) -> Recorded:
    """Append the events not yet recorded, keyed by org_id; returns once durable (raises LogUnavailable).

    With `engine`, receipts make retries idempotent at the door (raises ReusedEventId), and personal
    fields are sealed under their participant's key before they reach the log (impact.eventlog.sealing). Every
    service passes one; without it (tests, benchmarks) events go to the log as they are, and the
    processor's own event-id check still keeps a repeated event from counting twice.

    `received` (one instant per event) stamps each with when it was received instead of now: only the demo,
    which plays a year of a charity's records as if received over that year, passes it.
    """
    now = datetime.now(UTC)
    at = dict(zip((e.event_id for e in events), received, strict=True)) if received is not None else {}
    digests = {event.event_id: digest(event) for event in events}
    pending = set(digests)
    if engine is not None and digests:
        pending = _claim(engine, {e.event_id: (e.org_id, digests[e.event_id]) for e in events}, now)
    stored = [
        StoredEvent.accept(event, recorded_by=recorded_by, recorded_at=at.get(event.event_id, now))
        for event in events
        if event.event_id in pending
    ]
    if engine is not None:
        stored = seal(engine, stored)
    if stored:
        event_log.append(topic, [Record(event.org_id, event.to_bytes()) for event in stored])
    if engine is not None and stored:
        _confirm(engine, [event.event_id for event in stored])
    return Recorded([str(event.event_id) for event in events], len(stored))


def _claim(engine: Engine, wanted: dict[uuid.UUID, tuple[str, str]], now: datetime) -> set[uuid.UUID]:
    """Claim a receipt for each event id; the ids still to append (new, or claimed but never confirmed).

    Raises ReusedEventId, before anything is appended, if an id already names a different event.
    """
    table = Receipt.__table__  # type: ignore[attr-defined]
    ids = list(wanted)
    known: dict[uuid.UUID, tuple[str, bool]] = {}
    with engine.begin() as connection:
        for first in range(0, len(ids), 500):
            query = select(table.c.event_id, table.c.digest, table.c.confirmed).where(
                table.c.event_id.in_(ids[first : first + 500])
            )
            known.update({event_id: (known_digest, done) for event_id, known_digest, done in connection.execute(query)})
        _refuse_reuse(wanted, known)
        fresh: list[dict[str, Any]] = [
            {"event_id": i, "org_id": wanted[i][0], "digest": wanted[i][1], "recorded_at": now, "confirmed": False}
            for i in ids
            if i not in known
        ]
        try:
            if fresh:
                with connection.begin_nested():
                    connection.execute(insert(table), fresh)
        except IntegrityError:  # a concurrent request claimed some of these ids between our read and our write
            for row in fresh:
                try:
                    with connection.begin_nested():
                        connection.execute(insert(table), [row])
                except IntegrityError:
                    found = connection.execute(
                        select(table.c.digest, table.c.confirmed).where(table.c.event_id == row["event_id"])
                    ).one()
                    known[row["event_id"]] = (found.digest, found.confirmed)
            _refuse_reuse(wanted, known)
    return {i for i in ids if not known.get(i, ("", False))[1]}


def _refuse_reuse(wanted: dict[uuid.UUID, tuple[str, str]], known: dict[uuid.UUID, tuple[str, bool]]) -> None:
    reused = [str(i) for i, (known_digest, _done) in known.items() if known_digest != wanted[i][1]]
    if reused:
        raise ReusedEventId(reused)


def _confirm(engine: Engine, event_ids: list[uuid.UUID]) -> None:
    """Best effort: the events are durable; an unconfirmed receipt only means a retry appends them again."""
    table = Receipt.__table__  # type: ignore[attr-defined]
    try:
        with engine.begin() as connection:
            for first in range(0, len(event_ids), 500):
                chunk = event_ids[first : first + 500]
                connection.execute(update(table).where(table.c.event_id.in_(chunk)).values(confirmed=True))
    except SQLAlchemyError:
        logger.warning("could not confirm receipts of %d appended events", len(event_ids), exc_info=True)
