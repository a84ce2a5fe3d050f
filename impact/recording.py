"""Stamp validated client events with the server's fields and append them durably to the log."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from impact.eventlog import EventLog, Record
from schemas.events import Envelope, StoredEvent


def record(event_log: EventLog, topic: str, events: Sequence[Envelope], *, recorded_by: str) -> list[StoredEvent]:
    """Append `events` keyed by org_id; returns only once they are durable (raises LogUnavailable)."""
    now = datetime.now(UTC)
    stored = [StoredEvent.accept(event, recorded_by=recorded_by, recorded_at=now) for event in events]
    event_log.append(topic, [Record(event.org_id, event.to_bytes()) for event in stored])
    return stored
