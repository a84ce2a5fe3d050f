"""The consume loop: micro-batches from the log, validated, folded, written with their positions.

At-least-once delivery plus idempotent effects: positions are stored with the rows (store.py),
and an event_id already processed is skipped, so redelivery after a crash changes nothing.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Engine
from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError

from impact.eventlog import EventLog, LogConsumer, LogUnavailable, Message, Record
from impact.eventlog.sealing import erased_registration, opened
from impact.settings import Settings
from processors.frame import Decoded, Register, creates, quality_frame, reference_order, referenced
from processors.projection import Projection, project
from processors.quality import Failure, QualityGate
from processors.store import Effects, PositionConflict, ReadModelStore
from schemas.events import ParticipantErased, Payload, StoredEvent, error_path, without_personal_data
from schemas.quality import SCHEMA_REASON, WAIT_FOR

log = logging.getLogger(__name__)
ERASED = "participant.erased"
PARKED_PER_BATCH = 2000  # waiting events retried with each batch: the rest wait for the next (bounded memory)
IDLE_RETRY_S = 1.0
LOG_CHECK_S = 5.0  # while idle, how often to ask the log how far it goes (so an unreachable broker shows)


@dataclass
class BatchReport:
    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0
    waiting: int = 0
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


def _dead_letter(message: Message, event: StoredEvent | None, failure: Failure) -> dict[str, Any]:
    return {
        "event_id": str(event.event_id) if event else f"offset:{message.partition}:{message.offset}",
        "org_id": event.org_id if event else "",
        "type": event.type if event else "",
        "expectation": failure.expectation,
        "reason": failure.reason,
        "event_json": _redacted(message.value),
        "log_partition": message.partition,
        "log_offset": message.offset,
        "recorded_on": event.recorded_at.date() if event else None,
        "dead_at": datetime.now(UTC),
    }


def _unreadable(message: Message, exc: Exception, event: StoredEvent | None = None) -> dict[str, Any]:
    if isinstance(exc, ValidationError) and exc.errors():
        first = exc.errors()[0]
        detail = f"{error_path(tuple(first['loc']))}: {first['msg']}"
    else:
        detail = str(exc).splitlines()[0]
    return _dead_letter(message, event, Failure("schema", f"{SCHEMA_REASON} ({detail[:200]})"))


def _parked(message: Message, event: StoredEvent, deadline: datetime, failure: Failure) -> dict[str, Any]:
    return {
        "event_id": str(event.event_id),
        "org_id": event.org_id,
        "event_json": message.value.decode(),
        "log_partition": message.partition,
        "log_offset": message.offset,
        "deadline": deadline,
        "expectation": failure.expectation,
    }


def _processed(event: StoredEvent) -> dict[str, Any]:
    return {
        "event_id": str(event.event_id),
        "org_id": event.org_id,
        "type": event.type,
        "recorded_on": event.recorded_at.date(),
    }


def _payload(event: StoredEvent, keys: dict[tuple[str, str], bytes | None]) -> Payload:
    """The typed payload at its latest version, with sealed personal fields opened (or gone, once erased)."""
    document = opened(event, keys)
    if document is None:
        return erased_registration(event.payload)
    return event.typed_payload(document)


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
        reference_wait_seconds: float = 0.0,
    ) -> None:
        self.event_log, self.topic, self.dead_letter_topic, self.group = event_log, topic, dead_letter_topic, group
        self.store = ReadModelStore(engine, group, topic)
        self.gate = gate or QualityGate()
        self.reference_wait = timedelta(seconds=reference_wait_seconds)
        self.health = Health()
        self._expected: dict[int, int] = {}
        self._check_log_at = 0.0
        self._retry_parked_at = 0.0  # monotonic time of the next retry of parked events while the log is idle

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
            reference_wait_seconds=settings.reference_wait_seconds,
        )

    def handle(self, messages: Sequence[Message], *, with_parked: bool = True) -> BatchReport:
        """Handle a batch; if the database refuses its data, find the refused events and dead-letter them.

        A refusal (DataError, IntegrityError) is about an event, not a fault: retrying the batch would
        stall every organisation behind it. The batch is tried again without the parked events, then
        split in halves to find the culprits in log2(n) steps; the parked events are retried one by one.
        """
        try:
            return self._handle(messages, with_parked=with_parked)
        except (DataError, IntegrityError) as exc:
            if with_parked:
                report = self.handle(messages, with_parked=False)
                self._retry_parked_one_by_one()
                return report
            if len(messages) == 1:
                return self._refuse(messages[0], exc)
        middle = len(messages) // 2
        return _sum(
            self.handle(messages[:middle], with_parked=False), self.handle(messages[middle:], with_parked=False)
        )

    def _retry_parked_one_by_one(self) -> None:
        for message, _event in self.store.parked(PARKED_PER_BATCH).values():
            try:
                self._handle([], only=[message])
            except (DataError, IntegrityError) as exc:
                self._refuse(message, exc, from_log=False)

    def _refuse(self, message: Message, exc: Exception, *, from_log: bool = True) -> BatchReport:
        try:
            event: StoredEvent | None = StoredEvent.from_bytes(message.value)
        except ValueError:
            event = None
        detail = str(getattr(exc, "orig", exc)).splitlines()[0][:200]
        letter = _dead_letter(
            message, event, Failure("storable", f"The database could not store this event ({detail}).")
        )
        self.event_log.append(self.dead_letter_topic, [Record(letter["org_id"] or "-", _dead_letter_record(letter))])
        self._write(
            projection=project([]),
            accepted=[],
            dead_letters=[letter],
            messages=[message] if from_log else [],
            effects=Effects(unparked=[str(event.event_id)] if event else []),
        )
        return BatchReport(rejected=1, reasons={"storable": 1})

    def _handle(
        self,
        messages: Sequence[Message],
        *,
        now: datetime | None = None,
        with_parked: bool = True,
        only: Sequence[Message] | None = None,
    ) -> BatchReport:
        """Validate, fold and store one batch, with the positions after it, in one transaction.

        Events parked by earlier batches, waiting for a reference, are tried again with it (or `only`
        those given). An event that fails only for want of a reference waits until the log shows its
        deadline has passed: an event of its partition recorded after it, or, when the processor has
        caught up with the log, the wall clock `now`. The log alone decides, so a replay agrees.
        """
        report = BatchReport()
        stored: list[tuple[Message, StoredEvent]] = []
        dead: list[dict[str, Any]] = []
        dead_events: list[StoredEvent] = []
        seen_in_batch: set[str] = set()
        for message in messages:
            try:
                event = StoredEvent.from_bytes(message.value)
            except ValueError as exc:
                dead.append(_unreadable(message, exc))
                continue
            if str(event.event_id) in seen_in_batch:
                report.duplicates += 1
                continue
            seen_in_batch.add(str(event.event_id))
            stored.append((message, event))

        if only is not None:
            parked = {str(StoredEvent.from_bytes(m.value).event_id): m for m in only}
        else:
            parked = {eid: m for eid, (m, _) in self.store.parked(PARKED_PER_BATCH).items()} if with_parked else {}
        done, waiting_already = self.store.settled([str(event.event_id) for _, event in stored] + list(parked))
        skip = done | waiting_already
        fresh = [item for item in stored if str(item[1].event_id) not in skip]
        report.duplicates += len(stored) - len(fresh)
        waited = [(m, StoredEvent.from_bytes(m.value)) for eid, m in parked.items() if eid not in done]
        clock: dict[int, datetime] = {}  # the log's clock, per partition: the newest recorded_at read
        for message, event in fresh:
            clock[message.partition] = max(clock.get(message.partition, event.recorded_at), event.recorded_at)

        candidates = fresh + waited
        keys = self.store.keys([event for _, event in candidates])
        decoded: list[tuple[Message, StoredEvent, Payload | None]] = []
        unreadable: dict[int, Exception] = {}  # payloads their model refuses: the suite names why, or `schema`
        for message, event in candidates:
            try:
                decoded.append((message, event, _payload(event, keys)))
            except (ValidationError, KeyError, ValueError) as exc:
                unreadable[len(decoded)] = exc
                decoded.append((message, event, None))
        batch = [(event, payload) for _, event, payload in decoded]
        known = self.store.known(referenced(batch))
        order = reference_order(
            batch, [index >= len(fresh) for index in range(len(decoded))], known, self.reference_wait
        )
        failures = self._check([batch[index] for index in order], known)

        accepted: list[tuple[StoredEvent, Payload]] = []
        waiting: list[dict[str, Any]] = []
        for place in order:
            message, event, payload = decoded[place]
            failure = failures.get(str(event.event_id))
            deadline = event.recorded_at + self.reference_wait
            if failure is None:
                if payload is None:
                    dead.append(_unreadable(message, unreadable[place], event))
                    dead_events.append(event)
                else:
                    accepted.append((event, payload))
            elif failure.expectation in WAIT_FOR and not _expired(
                deadline, clock.get(message.partition), now, self.reference_wait
            ):
                waiting.append(_parked(message, event, deadline, failure))
            else:
                dead.append(_dead_letter(message, event, failure))
                dead_events.append(event)
        accepted_events = [event for event, _ in accepted]
        for letter in dead:
            report.reasons[letter["expectation"]] = report.reasons.get(letter["expectation"], 0) + 1
        report.accepted, report.rejected, report.waiting = len(accepted), len(dead), len(waiting)

        if dead:  # at least once: a replayed batch may append a dead letter twice; readers key on event_id
            self.event_log.append(
                self.dead_letter_topic,
                [Record(letter["org_id"] or "-", _dead_letter_record(letter)) for letter in dead],
            )
        finished = accepted_events + dead_events
        self._write(
            projection=project(accepted),
            accepted=[_processed(event) for event in accepted_events],
            dead_letters=dead,
            messages=messages,
            effects=Effects(
                parked=waiting,
                unparked=list(parked),
                # An erasure request destroys the key whatever else is wrong with it: the person asked.
                erased=[(e.org_id, str(p.participant_id)) for e, p in batch if isinstance(p, ParticipantErased)],
                corrected=[(e.org_id, str(e.corrects), str(e.event_id)) for e in finished if e.corrects],
            ),
        )
        self.health.events_processed += len(messages)
        return report

    def _check(self, batch: list[Decoded], known: Register) -> dict[str, Failure]:
        """The batch's data-quality failures; a refused creation then creates nothing for later events."""
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
        accepted: list[dict[str, Any]],
        dead_letters: list[dict[str, Any]],
        messages: Sequence[Message],
        effects: Effects,
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
            effects=effects,
        )
        self._expected.update(positions)

    def retry_parked(self, now: datetime | None = None) -> BatchReport:
        """Once caught up with the log: retry the waiting events, and dead-letter those past their deadline."""
        try:
            return self._handle([], now=now or datetime.now(UTC))
        except (DataError, IntegrityError):
            self._retry_parked_one_by_one()
            return BatchReport()

    def open_consumer(self) -> LogConsumer:
        """A consumer that starts where the database says; those positions are what the next write expects."""
        self._expected = {}

        def start_positions(partitions: list[int]) -> dict[int, int]:
            positions = self.store.positions(partitions)
            self._expected.update(positions)
            return positions

        return self.event_log.consumer(self.topic, self.group, start_positions=start_positions)

    def _idle(self) -> None:
        """Retry parked events now and then while nothing new arrives (a no-op when none wait)."""
        if time.monotonic() < self._retry_parked_at:
            return
        self._retry_parked_at = time.monotonic() + IDLE_RETRY_S
        if self.store.has_parked() and self.caught_up():  # mid-log, only the log's own clock counts
            report = self.retry_parked()
            log.info(
                "parked events retried: accepted=%d rejected=%d waiting=%d",
                report.accepted,
                report.rejected,
                report.waiting,
            )

    def caught_up(self) -> bool:
        """Whether the stored positions have reached the end of the log."""
        end = self.event_log.end_positions(self.topic)
        stored = self.store.positions(list(end))
        return all(stored.get(p, 0) >= offset for p, offset in end.items())

    def replay(self, *, batch_size: int, poll_timeout_ms: int, progress: Callable[[int], None] | None = None) -> None:
        """Empty every read model and rebuild it from the start of the log (stop other processors first)."""
        self.store.empty()
        self._retry_parked_at = 0.0
        self.run(
            threading.Event(),
            batch_size=batch_size,
            poll_timeout_ms=poll_timeout_ms,
            until_caught_up=True,
            progress=progress,
        )

    def run(
        self,
        stop: threading.Event,
        *,
        batch_size: int,
        poll_timeout_ms: int,
        until_caught_up: bool = False,
        progress: Callable[[int], None] | None = None,
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
                            if progress is not None:
                                progress(len(messages))
                            log.info(
                                "batch accepted=%d rejected=%d duplicates=%d",
                                report.accepted,
                                report.rejected,
                                report.duplicates,
                            )
                        else:
                            self._idle()
                            if until_caught_up and self.caught_up():
                                return
                            if time.monotonic() >= self._check_log_at:  # a poll waits quietly while a broker is down
                                self._check_log_at = time.monotonic() + LOG_CHECK_S
                                self.event_log.end_positions(self.topic)  # raises LogUnavailable: unhealthy, back off
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


def _expired(deadline: datetime, clock: datetime | None, now: datetime | None, wait: timedelta) -> bool:
    """Whether a waiting event's reference can no longer come: the log has moved past its deadline."""
    if not wait:
        return True
    if clock is not None:
        return clock > deadline
    return now is not None and now > deadline


def _sum(first: BatchReport, second: BatchReport) -> BatchReport:
    return BatchReport(
        accepted=first.accepted + second.accepted,
        rejected=first.rejected + second.rejected,
        duplicates=first.duplicates + second.duplicates,
        waiting=first.waiting + second.waiting,
        reasons={k: first.reasons.get(k, 0) + second.reasons.get(k, 0) for k in first.reasons | second.reasons},
    )


def _redacted(raw: bytes) -> str:
    """The event as JSON with personal fields withheld (unreadable bytes are kept as they are)."""
    try:
        document = json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", errors="replace")[:4000]
    return json.dumps(without_personal_data(document) if isinstance(document, dict) else document)


def _dead_letter_record(letter: dict[str, Any]) -> bytes:
    return json.dumps(
        {key: (value.isoformat() if isinstance(value, date | datetime) else value) for key, value in letter.items()}
    ).encode()
