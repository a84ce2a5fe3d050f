"""The consume loop: micro-batches from the log, validated, folded, written with their positions.

A batch flows one way: decode -> triage -> validate -> fold -> write. The decisions are pure (triage.py,
frame.py, projection.py); this module does the reading (store.py), the quality gate (quality.py), the
writing and the loop. At-least-once delivery plus idempotent effects: positions are stored with the rows,
and an event_id already processed is skipped, so redelivery after a crash changes nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError

from impact.eventlog import EventLog, LogConsumer, LogUnavailable, Message, Record
from impact.settings import Settings
from processors import triage
from processors.frame import Decoded, Register, creates, quality_frame, reference_order, referenced
from processors.projection import Projection, project
from processors.quality import Failure, QualityGate
from processors.records import DeadLetterRecord, ProcessedRecord
from processors.store import Effects, PositionConflict, ReadModelStore
from schemas.events import ParticipantErased, StoredEvent

log = logging.getLogger(__name__)
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
        failure = Failure("storable", f"The database could not store this event ({detail}).")
        letter = DeadLetterRecord.of(message, event, failure, dead_at=datetime.now(UTC))
        self.event_log.append(self.dead_letter_topic, [Record(letter.key, letter.to_json())])
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
        """Decode, triage, validate, fold and store one batch, with the positions after it, in one transaction.

        Events parked by earlier batches, waiting for a reference, are tried again with it (or `only`
        those given); triage.judge says when a waiting event's deadline has passed (`now`: the wall
        clock, once the processor has caught up with the log).
        """
        dead_at = datetime.now(UTC)
        decoding = triage.decode(messages, dead_at=dead_at)
        parked = self._waiting(with_parked=with_parked, only=only)
        done, waiting_already = self.store.settled([str(event.event_id) for _, event in decoding.events] + list(parked))
        fresh = triage.unsettled(decoding.events, done | waiting_already)
        waited = [(m, StoredEvent.from_bytes(m.value)) for eid, m in parked.items() if eid not in done]
        keys = self.store.keys([event for _, event in fresh + waited])
        candidates = triage.read(fresh, keys) + triage.read(waited, keys, waited=True)

        batch = [(c.event, c.payload) for c in candidates]
        known = self.store.known(referenced(batch))
        order = reference_order(batch, [c.waited for c in candidates], known, self.reference_wait)
        failures = self._check([batch[index] for index in order], known)
        verdicts = triage.judge(
            candidates,
            order,
            failures,
            clock=triage.log_clock(fresh),
            now=now,
            wait=self.reference_wait,
            dead_at=dead_at,
        )

        dead = decoding.dead + verdicts.dead
        report = BatchReport(
            accepted=len(verdicts.accepted),
            rejected=len(dead),
            duplicates=decoding.duplicates + len(decoding.events) - len(fresh),
            waiting=len(verdicts.parked),
        )
        for letter in dead:
            report.reasons[letter.expectation] = report.reasons.get(letter.expectation, 0) + 1
        if dead:  # at least once: a replayed batch may append a dead letter twice; readers key on event_id
            self.event_log.append(self.dead_letter_topic, [Record(letter.key, letter.to_json()) for letter in dead])
        finished = [event for event, _ in verdicts.accepted] + verdicts.dead_events
        self._write(
            projection=project(verdicts.accepted),
            accepted=[ProcessedRecord.of(event) for event, _ in verdicts.accepted],
            dead_letters=dead,
            messages=messages,
            effects=Effects(
                parked=verdicts.parked,
                unparked=list(parked),
                # An erasure request destroys the key whatever else is wrong with it: the person asked.
                erased=[(e.org_id, str(p.participant_id)) for e, p in batch if isinstance(p, ParticipantErased)],
                corrected=[(e.org_id, str(e.corrects), str(e.event_id)) for e in finished if e.corrects],
            ),
        )
        self.health.events_processed += len(messages)
        return report

    def _waiting(self, *, with_parked: bool, only: Sequence[Message] | None) -> dict[str, Message]:
        """The parked events to try again with this batch, by event id (the oldest first, a bounded number)."""
        if only is not None:
            return {str(StoredEvent.from_bytes(m.value).event_id): m for m in only}
        if not with_parked:
            return {}
        return {eid: message for eid, (message, _) in self.store.parked(PARKED_PER_BATCH).items()}

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
        accepted: list[ProcessedRecord],
        dead_letters: list[DeadLetterRecord],
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


def _sum(first: BatchReport, second: BatchReport) -> BatchReport:
    return BatchReport(
        accepted=first.accepted + second.accepted,
        rejected=first.rejected + second.rejected,
        duplicates=first.duplicates + second.duplicates,
        waiting=first.waiting + second.waiting,
        reasons={k: first.reasons.get(k, 0) + second.reasons.get(k, 0) for k in first.reasons | second.reasons},
    )
