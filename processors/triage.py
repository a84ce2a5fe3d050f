"""Triage of one micro-batch: which events are new, which were seen before, which wait, which are dead. No I/O.

The consumer (consumer.py) reads the store and runs the quality gate; everything it then decides about
each event is decided here, from what it hands in: the decoded messages, what the store has settled,
the quality failures, and the clocks (the log's, per partition, and the wall clock once caught up).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pydantic import ValidationError

from impact.eventlog import Message
from impact.eventlog.sealing import erased_version, opened
from processors.quality import Failure
from processors.records import DeadLetterRecord, ParkedRecord
from schemas.events import Payload, StoredEvent, error_path
from schemas.quality import SCHEMA_REASON, WAIT_FOR

Keys = dict[tuple[str, str], bytes | None]  # the participants' keys that open sealed registrations


@dataclass(frozen=True)
class Decoding:
    """A batch's messages as events: the first of each event id, in log order, and the bytes that are none."""

    events: list[tuple[Message, StoredEvent]]
    dead: list[DeadLetterRecord]
    duplicates: int  # repeated within the batch


@dataclass(frozen=True)
class Candidate:
    """An event to judge, with its typed payload (None when its model refuses it, and why)."""

    message: Message
    event: StoredEvent
    payload: Payload | None
    error: Exception | None = None
    waited: bool = False  # parked by an earlier batch


@dataclass
class Verdicts:
    accepted: list[tuple[StoredEvent, Payload]] = field(default_factory=list)
    dead: list[DeadLetterRecord] = field(default_factory=list)
    dead_events: list[StoredEvent] = field(default_factory=list)  # the events behind `dead`
    parked: list[ParkedRecord] = field(default_factory=list)


def unreadable(message: Message, exc: Exception, event: StoredEvent | None, *, dead_at: datetime) -> DeadLetterRecord:
    """The dead letter of bytes, or a payload, that do not match the schema, naming the first error."""
    if isinstance(exc, ValidationError) and exc.errors():
        first = exc.errors()[0]
        detail = f"{error_path(tuple(first['loc']))}: {first['msg']}"
    else:
        detail = str(exc).splitlines()[0]
    return DeadLetterRecord.of(message, event, Failure("schema", f"{SCHEMA_REASON} ({detail[:200]})"), dead_at=dead_at)


def decode(messages: Sequence[Message], *, dead_at: datetime) -> Decoding:
    """Parse each message; bytes that are no event are dead, and an event id repeated in the batch counts once."""
    events: list[tuple[Message, StoredEvent]] = []
    dead: list[DeadLetterRecord] = []
    seen: set[str] = set()
    duplicates = 0
    for message in messages:
        try:
            event = StoredEvent.from_bytes(message.value)
        except ValueError as exc:
            dead.append(unreadable(message, exc, None, dead_at=dead_at))
            continue
        if str(event.event_id) in seen:
            duplicates += 1
            continue
        seen.add(str(event.event_id))
        events.append((message, event))
    return Decoding(events, dead, duplicates)


def unsettled(events: Sequence[tuple[Message, StoredEvent]], settled: set[str]) -> list[tuple[Message, StoredEvent]]:
    """The events not already folded, dead-lettered or waiting (a redelivery changes nothing)."""
    return [item for item in events if str(item[1].event_id) not in settled]


def log_clock(events: Sequence[tuple[Message, StoredEvent]]) -> dict[int, datetime]:
    """The log's clock, per partition: the newest `recorded_at` read in this batch."""
    clock: dict[int, datetime] = {}
    for message, event in events:
        clock[message.partition] = max(clock.get(message.partition, event.recorded_at), event.recorded_at)
    return clock


def payload(event: StoredEvent, keys: Keys) -> Payload:
    """The typed payload at its latest version, with sealed personal fields opened (or gone, once erased)."""
    document = opened(event, keys)
    if document is None:
        return erased_version(event)
    return event.typed_payload(document)


def read(events: Sequence[tuple[Message, StoredEvent]], keys: Keys, *, waited: bool = False) -> list[Candidate]:
    """Each event with its typed payload; a payload its model refuses is kept, with the reason, to be judged."""
    candidates = []
    for message, event in events:
        try:
            candidates.append(Candidate(message, event, payload(event, keys), waited=waited))
        except (ValidationError, KeyError, ValueError) as exc:
            candidates.append(Candidate(message, event, None, exc, waited=waited))
    return candidates


def expired(deadline: datetime, clock: datetime | None, now: datetime | None, wait: timedelta) -> bool:
    """Whether a waiting event's reference can no longer come: the log has moved past its deadline."""
    if not wait:
        return True
    if clock is not None:
        return clock > deadline
    return now is not None and now > deadline


def judge(
    candidates: Sequence[Candidate],
    order: Sequence[int],
    failures: Mapping[str, Failure],
    *,
    clock: Mapping[int, datetime],
    now: datetime | None,
    wait: timedelta,
    dead_at: datetime,
) -> Verdicts:
    """Accept, park or dead-letter each candidate, in `order` (references first).

    An event that fails only for want of a reference waits until the log shows its deadline has passed:
    an event of its partition recorded after it (`clock`), or, when the processor has caught up with the
    log, the wall clock `now`. The log alone decides, so a replay agrees.
    """
    verdicts = Verdicts()
    for place in order:
        candidate = candidates[place]
        message, event = candidate.message, candidate.event
        failure = failures.get(str(event.event_id))
        deadline = event.recorded_at + wait
        if failure is None:
            if candidate.payload is None:
                assert candidate.error is not None  # noqa: S101 (read keeps the reason with every refusal)
                verdicts.dead.append(unreadable(message, candidate.error, event, dead_at=dead_at))
                verdicts.dead_events.append(event)
            else:
                verdicts.accepted.append((event, candidate.payload))
        elif failure.expectation in WAIT_FOR and not expired(deadline, clock.get(message.partition), now, wait):
            verdicts.parked.append(ParkedRecord.of(message, event, deadline, failure))
        else:
            verdicts.dead.append(DeadLetterRecord.of(message, event, failure, dead_at=dead_at))
            verdicts.dead_events.append(event)
    return verdicts
