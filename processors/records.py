"""What a batch leaves besides projections, as typed records: dead letters, parked events, processed ids.

Built from a log message and its event, and turned into dicts only at the SQL edge (`row`) and, for a
dead letter, into the JSON the dead-letter topic carries (`to_json`). No I/O here.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any

from impact.eventlog import Message
from processors.quality import Failure
from schemas.events import StoredEvent, without_personal_data


@dataclass(frozen=True)
class DeadLetterRecord:
    """An event the processors could not accept (a DeadLetter row, and a message on the dead-letter topic)."""

    event_id: str  # `offset:<partition>:<offset>` when the bytes were not an event at all
    org_id: str
    type: str
    expectation: str
    reason: str
    event_json: str  # personal fields withheld
    log_partition: int
    log_offset: int
    recorded_on: date | None
    dead_at: datetime

    @classmethod
    def of(
        cls, message: Message, event: StoredEvent | None, failure: Failure, *, dead_at: datetime
    ) -> DeadLetterRecord:
        return cls(
            event_id=str(event.event_id) if event else f"offset:{message.partition}:{message.offset}",
            org_id=event.org_id if event else "",
            type=event.type if event else "",
            expectation=failure.expectation,
            reason=failure.reason,
            event_json=redacted(message.value),
            log_partition=message.partition,
            log_offset=message.offset,
            recorded_on=event.recorded_at.date() if event else None,
            dead_at=dead_at,
        )

    def row(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def key(self) -> str:
        """The dead-letter topic's message key: its organisation (`-` when unknown)."""
        return self.org_id or "-"

    def to_json(self) -> bytes:
        return json.dumps(
            {
                key: (value.isoformat() if isinstance(value, date | datetime) else value)
                for key, value in self.row().items()
            }
        ).encode()


@dataclass(frozen=True)
class ParkedRecord:
    """An event waiting for a reference that may still arrive (a ParkedEvent row)."""

    event_id: str
    org_id: str
    event_json: str  # as stored in the log (personal fields sealed)
    log_partition: int
    log_offset: int
    deadline: datetime
    expectation: str  # what it waits for

    @classmethod
    def of(cls, message: Message, event: StoredEvent, deadline: datetime, failure: Failure) -> ParkedRecord:
        return cls(
            event_id=str(event.event_id),
            org_id=event.org_id,
            event_json=message.value.decode(),
            log_partition=message.partition,
            log_offset=message.offset,
            deadline=deadline,
            expectation=failure.expectation,
        )

    def row(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ProcessedRecord:
    """An event folded into the read models (a ProcessedEvent row: its id is never folded again)."""

    event_id: str
    org_id: str
    type: str
    recorded_on: date

    @classmethod
    def of(cls, event: StoredEvent) -> ProcessedRecord:
        return cls(str(event.event_id), event.org_id, event.type, event.recorded_at.date())

    def row(self) -> dict[str, Any]:
        return asdict(self)


def redacted(raw: bytes) -> str:
    """The event as JSON with personal fields withheld (unreadable bytes are kept as they are)."""
    try:
        document = json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", errors="replace")[:4000]
    return json.dumps(without_personal_data(document) if isinstance(document, dict) else document)
