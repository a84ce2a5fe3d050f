"""The consume loop: micro-batches from the log, validated, folded, written with their positions.

At-least-once delivery plus idempotent effects: positions are stored with the rows (store.py),
and an event_id already processed is skipped, so redelivery after a crash changes nothing.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Engine
from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError

from impact.eventlog import EventLog, LogConsumer, LogUnavailable, Message, Record
from impact.settings import Settings
from processors.frame import Decoded, creates, quality_frame, referenced
from processors.projection import Projection, project
from processors.quality import Failure, QualityGate
from processors.store import PositionConflict, ReadModelStore
from schemas.events import StoredEvent, without_personal_data
from schemas.quality import SCHEMA_REASON

log = logging.getLogger(__name__)


@dataclass
class BatchReport:
    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0
    reasons: dict[str, int] = field(default_factory=dict)


@dataclass
class Health:
    """What the processor's /healthz reports."""

    started_at: float = field(default_factory=time.time)
    last_poll_at: float = 0.0
    last_error: str | None = None
    events_processed: int = 0

    def beat(self) -> None:
        self.last_poll_at = time.time()


def _dead_letter(message: Message, event_id: str, org_id: str, type_: str, failure: Failure) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "org_id": org_id,
        "type": type_,
        "expectation": failure.expectation,
        "reason": failure.reason,
        "event_json": _redacted(message.value),
        "log_partition": message.partition,
        "log_offset": message.offset,
        "dead_at": datetime.now(UTC),
    }


class Processor:
    """Handles one micro-batch at a time; `run` drives it from a log consumer."""

    def __init__(
        self,
        *,
        engine: Engine,
        event_log: EventLog,
        topic: str,
        dead_letter_topic: str,
        group: str,
        gate: QualityGate | None = None,
    ) -> None:
        self.event_log, self.topic, self.dead_letter_topic, self.group = event_log, topic, dead_letter_topic, group
        self.store = ReadModelStore(engine, group, topic)
        self.gate = gate or QualityGate()
        self.health = Health()
        self._expected: dict[int, int] = {}

    @classmethod
    def for_settings(
        cls, settings: Settings, *, engine: Engine, event_log: EventLog, gate: QualityGate | None = None
    ) -> Processor:
        """A processor on the topics and consumer group the settings name."""
        return cls(
            engine=engine,
            event_log=event_log,
            topic=settings.topic,
            dead_letter_topic=settings.dead_letter_topic,
            group=settings.consumer_group,
            gate=gate,
        )

    def handle(self, messages: Sequence[Message]) -> BatchReport:
        """Handle a batch; if the database refuses its data, find the refused events and dead-letter them.

        A refusal (DataError, IntegrityError) is about an event, not a fault: retrying the batch would
        stall every organisation behind it. Splitting in halves finds the culprits in log2(n) steps.
        """
        try:
            return self._handle(messages)
        except (DataError, IntegrityError) as exc:
            if len(messages) == 1:
                return self._refuse(messages[0], exc)
        middle = len(messages) // 2
        first, second = self.handle(messages[:middle]), self.handle(messages[middle:])
        return BatchReport(
            accepted=first.accepted + second.accepted,
            rejected=first.rejected + second.rejected,
            duplicates=first.duplicates + second.duplicates,
            reasons={k: first.reasons.get(k, 0) + second.reasons.get(k, 0) for k in first.reasons | second.reasons},
        )

    def _refuse(self, message: Message, exc: Exception) -> BatchReport:
        try:
            event = StoredEvent.from_bytes(message.value)
            event_id, org_id, type_ = str(event.event_id), event.org_id, event.type
        except ValueError:
            event_id, org_id, type_ = f"offset:{message.partition}:{message.offset}", "", ""
        detail = str(getattr(exc, "orig", exc)).splitlines()[0][:200]
        failure = Failure("storable", f"The database could not store this event ({detail}).")
        letter = _dead_letter(message, event_id, org_id, type_, failure)
        self.event_log.append(self.dead_letter_topic, [Record(org_id or "-", _dead_letter_record(letter))])
        self._write(projection=project([]), accepted=[], dead_letters=[letter], messages=[message])
        return BatchReport(rejected=1, reasons={"storable": 1})

    def _handle(self, messages: Sequence[Message]) -> BatchReport:
        """Validate, fold and store one batch, with the positions after it, in one transaction."""
        report = BatchReport()
        decoded: list[tuple[Message, StoredEvent, Any]] = []
        dead: list[dict[str, Any]] = []
        seen_in_batch: set[str] = set()
        for message in messages:
            try:
                event = StoredEvent.from_bytes(message.value)
                payload = event.typed_payload()
            except (ValidationError, KeyError, ValueError) as exc:
                unreadable = Failure("schema", f"{SCHEMA_REASON} ({str(exc).splitlines()[0][:200]})")
                dead.append(_dead_letter(message, f"offset:{message.partition}:{message.offset}", "", "", unreadable))
                continue
            if str(event.event_id) in seen_in_batch:
                report.duplicates += 1
                continue
            seen_in_batch.add(str(event.event_id))
            decoded.append((message, event, payload))

        already = self.store.processed([str(event.event_id) for _, event, _ in decoded])
        fresh = [item for item in decoded if str(item[1].event_id) not in already]
        report.duplicates += len(decoded) - len(fresh)

        batch: list[Decoded] = [(event, payload) for _, event, payload in fresh]
        failures = self._check(batch)

        accepted: list[Decoded] = []
        for message, event, payload in fresh:
            failure = failures.get(str(event.event_id))
            if failure is None:
                accepted.append((event, payload))
            else:
                dead.append(_dead_letter(message, str(event.event_id), event.org_id, event.type, failure))
        for letter in dead:
            report.reasons[letter["expectation"]] = report.reasons.get(letter["expectation"], 0) + 1
        report.accepted, report.rejected = len(accepted), len(dead)

        if dead:  # at least once: a replayed batch may append a dead letter twice; readers key on event_id
            self.event_log.append(
                self.dead_letter_topic,
                [Record(letter["org_id"] or "-", _dead_letter_record(letter)) for letter in dead],
            )
        self._write(
            projection=project(accepted),
            accepted=[(str(event.event_id), event.org_id) for event, _ in accepted],
            dead_letters=dead,
            messages=messages,
        )
        self.health.events_processed += len(messages)
        return report

    def _check(self, batch: list[Decoded]) -> dict[str, Failure]:
        """The batch's data-quality failures; a refused creation then creates nothing for later events."""
        known = self.store.known(referenced(batch))
        creating = {str(event.event_id) for event, payload in batch if not creates(event, payload).empty()}
        refused: frozenset[str] = frozenset()
        while True:  # a fixed point: refusals only ever add refusals, so this ends
            failures = self.gate.check(quality_frame(batch, known, refused))
            newly = frozenset(failures.keys() & creating) - refused
            if not newly:
                return failures
            refused |= newly

    def _write(
        self,
        *,
        projection: Projection,
        accepted: list[tuple[str, str]],
        dead_letters: list[dict[str, Any]],
        messages: Sequence[Message],
    ) -> None:
        positions: dict[int, int] = {}
        for message in messages:
            positions[message.partition] = max(positions.get(message.partition, 0), message.offset + 1)
        self.store.write_batch(
            projection=projection,
            accepted=accepted,
            dead_letters=dead_letters,
            positions=positions,
            expected=self._expected,
        )
        self._expected.update(positions)

    def open_consumer(self) -> LogConsumer:
        """A consumer that starts where the database says; those positions are what the next write expects."""
        self._expected = {}

        def start_positions(partitions: list[int]) -> dict[int, int]:
            positions = self.store.positions(partitions)
            self._expected.update(positions)
            return positions

        return self.event_log.consumer(self.topic, self.group, start_positions=start_positions)

    def caught_up(self) -> bool:
        """Whether the stored positions have reached the end of the log."""
        end = self.event_log.end_positions(self.topic)
        stored = self.store.positions(list(end))
        return all(stored.get(p, 0) >= offset for p, offset in end.items())

    def run(
        self, stop: threading.Event, *, batch_size: int, poll_timeout_ms: int, until_caught_up: bool = False
    ) -> None:
        """Consume until `stop` is set; on a log or database fault, back off and resume from stored positions."""
        backoff = 0.5
        while not stop.is_set():
            try:
                with self.open_consumer() as consumer:
                    while not stop.is_set():
                        messages = consumer.poll(batch_size, poll_timeout_ms)
                        self.health.beat()
                        if messages:
                            report = self.handle(messages)
                            # The positions just written are already in memory: no second read of the database.
                            consumer.commit({m.partition: self._expected[m.partition] for m in messages})
                            log.info(
                                "batch accepted=%d rejected=%d duplicates=%d",
                                report.accepted,
                                report.rejected,
                                report.duplicates,
                            )
                        elif until_caught_up and self.caught_up():
                            return
                        backoff = 0.5
                        self.health.last_error = None
            except PositionConflict as exc:
                # Another processor got there first: drop this batch and resume from the stored positions.
                log.warning("processor resuming from stored positions: %s", exc)
                stop.wait(backoff)
            except (LogUnavailable, SQLAlchemyError) as exc:
                self.health.last_error = str(exc).splitlines()[0]
                log.warning("processor paused %.1fs: %s", backoff, self.health.last_error)
                stop.wait(backoff)
                backoff = min(backoff * 2, 30.0)


def _redacted(raw: bytes) -> str:
    """The event as JSON with personal fields withheld (unreadable bytes are kept as they are)."""
    try:
        document = json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", errors="replace")[:4000]
    return json.dumps(without_personal_data(document) if isinstance(document, dict) else document)


def _dead_letter_record(letter: dict[str, Any]) -> bytes:
    return json.dumps(
        {key: (value.isoformat() if isinstance(value, datetime) else value) for key, value in letter.items()}
    ).encode()
