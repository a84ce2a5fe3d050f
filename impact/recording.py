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

from sqlalchemy import Engine, insert
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlmodel import Field, SQLModel, col, select

from impact.eventlog import EventLog, Record
from schemas.events import Envelope, StoredEvent

logger = logging.getLogger(__name__)


class Receipt(SQLModel, table=True):
    """An event ingest has appended to the log (ingest's own table; not a read model)."""

    event_id: uuid.UUID = Field(primary_key=True)
    org_id: str = Field(max_length=40)
    digest: str = Field(max_length=64)
    recorded_at: datetime


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
) -> Recorded:
    """Append the events not yet recorded, keyed by org_id; returns once durable (raises LogUnavailable).

    With `engine`, receipts make retries idempotent at the door (raises ReusedEventId); without it, the
    processor's own event-id check still keeps a repeated event from counting twice.
    """
    now = datetime.now(UTC)
    digests = {event.event_id: digest(event) for event in events}
    seen: dict[uuid.UUID, str] = {}
    if engine is not None and digests:
        ids = list(digests)
        with engine.connect() as connection:
            for first in range(0, len(ids), 500):
                chunk = ids[first : first + 500]
                query = select(col(Receipt.event_id), col(Receipt.digest)).where(col(Receipt.event_id).in_(chunk))
                seen.update({event_id: known for event_id, known in connection.execute(query)})
    reused = [str(event_id) for event_id, known in seen.items() if known != digests[event_id]]
    if reused:
        raise ReusedEventId(reused)
    new = [event for event in events if event.event_id not in seen]
    stored = [StoredEvent.accept(event, recorded_by=recorded_by, recorded_at=now) for event in new]
    if stored:
        event_log.append(topic, [Record(event.org_id, event.to_bytes()) for event in stored])
    if engine is not None and new:
        rows = [
            {"event_id": e.event_id, "org_id": e.org_id, "digest": digests[e.event_id], "recorded_at": now} for e in new
        ]
        _keep_receipts(engine, rows)
    return Recorded([str(event.event_id) for event in events], len(stored))


def _keep_receipts(engine: Engine, rows: list[dict[str, Any]]) -> None:
    """Best effort: the events are already durable; a missing receipt only weakens the reuse check."""
    table = Receipt.__table__  # type: ignore[attr-defined]
    try:
        with engine.begin() as connection:
            connection.execute(insert(table), rows)
    except IntegrityError:  # a concurrent identical request got there first: keep the rest one by one
        for row in rows:
            try:
                with engine.begin() as connection:
                    connection.execute(insert(table), [row])
            except IntegrityError:
                continue
    except SQLAlchemyError:
        logger.warning("could not keep receipts for %d appended events", len(rows), exc_info=True)
