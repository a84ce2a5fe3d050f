"""Appending a checked file to the log: one call, with receipts, so the same file sent again is safe."""

from __future__ import annotations

from sqlalchemy import Engine

from impact.eventlog import EventLog
from impact.eventlog.recording import record
from ingest.importing.check import Checked, Progress


def append(
    checked: Checked,
    event_log: EventLog,
    topic: str,
    *,
    recorded_by: str,
    engine: Engine,
    progress: Progress | None = None,
) -> int:
    """Append a checked file's events in ONE call to the log (receipts kept); returns how many were new.

    One call, because the embedded log appends a list in one SQLite transaction: there the file goes in
    whole or not at all. Kafka has no transaction across records, so a failed call may leave part of
    the file in the log; the events are the same whenever the same file is sent, so sending it again
    appends what is missing (and perhaps again what went in unconfirmed, which the processor counts
    once). `progress` gets one step, once the log confirms.

    Raises LogUnavailable (send the same file again) or ReusedEventId.
    """
    if checked.errors:
        raise ValueError("a file with problems is never appended")
    if not checked.events:
        return 0
    appended = record(event_log, topic, checked.events, recorded_by=recorded_by, engine=engine).appended
    if progress:
        progress(1)
    return appended
