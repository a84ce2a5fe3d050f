"""Replay rebuilds exactly what incremental processing built; old and new versions of an event are
processed side by side (upcast on read); events whose reference arrives later wait for it.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import Engine, select

from impact.demo import demo_events
from impact.eventlog import Record, open_event_log
from impact.eventlog.recording import record
from impact.settings import Settings
from processors.consumer import Processor
from processors.quality import QualityGate
from schemas.events import EVENT_ADAPTER, StoredEvent
from schemas.readmodels import Attendance, Change, DeadLetter, ParkedEvent, Participant
from tests.factories import process_all
from tests.faults.runs import environment, snapshot

# Replays, parking and version upcasting write through the store, whose SQL differs between SQLite and
# PostgreSQL: those tests name both databases (db_kind, kinds); the pure checks use none.
pytestmark = pytest.mark.timeout(300)
START = datetime.now(UTC) - timedelta(days=30)


def event(type_: str, payload: dict[str, Any], day: int = 0, version: int = 1) -> Any:
    return EVENT_ADAPTER.validate_python(
        {
            "type": type_,
            "schema_version": version,
            "org_id": "org-a",
            "occurred_at": (START + timedelta(days=day)).isoformat(),
            "payload": payload,
        }
    )


def change(change_id: str) -> Any:
    return event(
        "change.recorded",
        {"change_id": change_id, "area": "research", "title": "Forms", "description": "Shorter forms"},
    )


def corrections(events: list[Any]) -> list[Any]:
    """One correction of each kind, of the first records of its kind among `events` (the latest versions a
    replay must rebuild)."""
    first = {e.type: e for e in reversed(events)}
    person, held, attended = first["participant.registered"], first["activity.held"], first["session.attended"]
    said, did = first["contribution.made"], first["change.recorded"]
    fixes = [
        (
            person,
            "participant.details_changed",
            {
                "participant_id": person.payload.participant_id,
                "display_name": "Corrected Name",
                "role": person.payload.role.value,
                "fields": ["display_name"],
                "reason": "Spelling",
            },
        ),
        (held, "activity.corrected", {**held.payload.model_dump(mode="json"), "title": "New title", "reason": "Typo"}),
        (
            attended,
            "attendance.withdrawn",
            {
                "attendance_id": str(attended.event_id),
                "activity_id": attended.payload.activity_id,
                "participant_id": attended.payload.participant_id,
                "reason": "Wrong person",
            },
        ),
        (
            said,
            "contribution.corrected",
            {
                **said.payload.model_dump(mode="json"),
                "text": "New words",
                "made_on": START.date().isoformat(),
                "reason": "x",
            },
        ),
        (
            did,
            "change.corrected",
            {
                **did.payload.model_dump(mode="json", exclude={"status", "decided_on"}),
                "links": [],
                "reason": "Linked wrongly",
            },
        ),
    ]
    now = datetime.now(UTC).isoformat()
    return [
        EVENT_ADAPTER.validate_python({"type": type_, "org_id": source.org_id, "occurred_at": now, "payload": payload})
        for source, type_, payload in fixes
    ]


@pytest.mark.parametrize(
    "kinds", [("embedded", "sqlite"), ("kafka", "postgres")], ids=["embedded+sqlite", "kafka+postgres"]
)
def test_replay_rebuilds_exactly_what_incremental_processing_built(
    kinds: tuple[str, str],
    log_settings: Callable[[str], Settings],
    engine_factory: Callable[[str], Engine],
    gate: QualityGate,
) -> None:
    log_kind, db_kind = kinds
    settings = log_settings(log_kind).model_copy(update={"batch_size": 97})
    engine = engine_factory(db_kind)
    events = demo_events(today=datetime.now(UTC).date())[:3000]  # months of three charities, in time order
    half = len(events) // 2
    events += corrections(events[:half])  # the latest version of each kind of record is what a replay rebuilds
    with open_event_log(settings) as event_log:  # processed in two goes, as a live processor would
        record(event_log, settings.topic, events[:half], recorded_by="test", engine=engine)
        process_all(settings, engine, gate, batch_size=40)
        record(event_log, settings.topic, events[half:], recorded_by="test", engine=engine)
    process_all(settings, engine, gate, batch_size=40)
    incremental = snapshot(engine)

    env = environment(settings.model_copy(update={"database_url": engine.url.render_as_string(hide_password=False)}))
    replayed = subprocess.run(
        [sys.executable, "-m", "impact.cli", "replay"],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert replayed.returncode == 0, replayed.stderr[-2000:]
    assert "Replaying events" in replayed.stderr, "a progress bar shows how far it has got"
    assert f"replayed {len(events):,} events" in replayed.stdout
    assert snapshot(engine) == incremental
    assert {row[4] for row in incremental["record_version"]} >= {
        "participant.details_changed",
        "activity.corrected",
        "attendance.withdrawn",
        "contribution.corrected",
        "change.corrected",
    }, "every correction was accepted, not dead-lettered"


@pytest.mark.parametrize("db_kind", ["sqlite", "postgres"])
def test_version_1_and_2_status_changes_are_processed_side_by_side(
    db_kind: str, log_settings: Callable[[str], Settings], engine_factory: Callable[[str], Engine], gate: QualityGate
) -> None:
    settings, engine = log_settings("embedded"), engine_factory(db_kind)
    decided = (START + timedelta(days=2)).date()
    events = [
        change("old"),
        change("new"),
        change("undone"),
        event("change.status_changed", {"change_id": "old", "status": "agreed"}, day=5),  # version 1
        event(
            "change.status_changed",
            {"change_id": "new", "status": "implemented", "decided_on": decided.isoformat()},
            day=5,
            version=2,
        ),
        event(
            "change.status_changed",
            {"change_id": "undone", "status": "agreed", "decided_on": decided.isoformat()},
            day=5,
            version=2,
        ),
        event("change.status_changed", {"change_id": "undone", "status": "proposed"}, day=6, version=2),
    ]
    with open_event_log(settings) as event_log:
        record(event_log, settings.topic, events, recorded_by="test", engine=engine)
    process_all(settings, engine, gate)
    with engine.connect() as conn:
        rows = {row.change_id: (row.status, row.decided_on) for row in conn.execute(select(Change))}  # type: ignore[arg-type]
    assert rows == {
        "old": ("agreed", (START + timedelta(days=5)).date()),  # version 1: the day it was recorded as decided
        "new": ("implemented", decided),  # version 2: the day it names
        "undone": ("proposed", None),
    }


@pytest.mark.parametrize(
    ("version", "payload", "problem"),
    [
        (1, {"change_id": "c", "status": "agreed", "decided_on": "2026-01-02"}, "decided_on needs schema_version 2"),
        (2, {"change_id": "c", "status": "agreed"}, "needs decided_on"),
        (2, {"change_id": "c", "status": "proposed", "decided_on": "2026-01-02"}, "no decided_on yet"),
        (3, {"change_id": "c", "status": "agreed"}, "schema_version"),
        (2, {"change_id": "c", "status": "agreed", "decided_on": "2999-01-01"}, "must not be in the future"),
    ],
)
def test_each_version_is_checked_at_the_door(version: int, payload: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        event("change.status_changed", payload, version=version)


def test_the_upcaster_reads_version_1_as_version_2() -> None:
    stored = StoredEvent.accept(
        event("change.status_changed", {"change_id": "c", "status": "declined", "note": "No budget"}, day=3),
        recorded_by="test",
    )
    assert stored.schema_version == 1 and "decided_on" not in stored.payload, "the log keeps what was sent"
    upcast = stored.typed_payload()
    assert upcast.decided_on == (START + timedelta(days=3)).date()  # type: ignore[attr-defined]
    proposed = StoredEvent.accept(
        event("change.status_changed", {"change_id": "c", "status": "proposed"}), recorded_by="t"
    )
    assert proposed.typed_payload().decided_on is None  # type: ignore[attr-defined]
    unknown = stored.model_copy(update={"schema_version": 7})
    with pytest.raises(ValueError, match=r"schema_version 7 of change\.status_changed is unknown"):
        unknown.typed_payload()


# --- Order across producers: an event whose reference is not known yet waits -----------------------


def attendance(participant: str, day: int = 1) -> Any:
    return event("session.attended", {"activity_id": "a1", "participant_id": participant, "hours": 1}, day=day)


def setting_up() -> list[Any]:
    held = {
        "activity_id": "a1",
        "title": "Panel",
        "area": "research",
        "level": "consultation",
        "date": START.date().isoformat(),
        "duration_hours": 2,
    }
    return [event("activity.held", held)]


def registered(participant: str) -> Any:
    return event("participant.registered", {"participant_id": participant, "display_name": "Ann", "role": "carer"})


def states(engine: Engine) -> tuple[set[str], set[str], set[str]]:
    with engine.connect() as conn:
        attended = set(conn.execute(select(Attendance.participant_id)).scalars())  # type: ignore[call-overload]
        waiting = set(conn.execute(select(ParkedEvent.expectation)).scalars())  # type: ignore[call-overload]
        dead = set(conn.execute(select(DeadLetter.expectation)).scalars())  # type: ignore[call-overload]
    return attended, waiting, dead


@pytest.mark.parametrize("db_kind", ["sqlite", "postgres"])
def test_an_attendance_before_its_registration_waits_for_it_then_counts(
    db_kind: str, log_settings: Callable[[str], Settings], engine_factory: Callable[[str], Engine], gate: QualityGate
) -> None:
    settings = log_settings("embedded").model_copy(update={"reference_wait_seconds": 600})
    engine = engine_factory(db_kind)
    with open_event_log(settings) as event_log:
        record(event_log, settings.topic, [*setting_up(), attendance("p1")], recorded_by="producer-a", engine=engine)
        process_all(settings, engine, gate)
        assert states(engine) == (set(), {"participant_registered"}, set()), "it waits, it is not rejected"

        record(event_log, settings.topic, [registered("p1")], recorded_by="producer-b", engine=engine)
        process_all(settings, engine, gate)
    assert states(engine) == ({"p1"}, set(), set()), "once the participant is registered, the attendance counts"
    incremental = snapshot(engine)

    with open_event_log(settings) as event_log:
        Processor.for_settings(settings, engine=engine, event_log=event_log, gate=gate).replay(
            batch_size=1, poll_timeout_ms=200
        )
    assert snapshot(engine) == incremental, "a replay, one event per batch, ends the same"


@pytest.mark.parametrize("db_kind", ["sqlite", "postgres"])
def test_a_reference_that_never_comes_is_dead_lettered_after_the_wait(
    db_kind: str, log_settings: Callable[[str], Settings], engine_factory: Callable[[str], Engine], gate: QualityGate
) -> None:
    settings = log_settings("embedded").model_copy(update={"reference_wait_seconds": 600})
    engine = engine_factory(db_kind)
    with open_event_log(settings) as event_log:
        record(
            event_log,
            settings.topic,
            [*setting_up(), attendance("p1"), attendance("p2")],
            recorded_by="a",
            engine=engine,
        )
        processor = Processor.for_settings(settings, engine=engine, event_log=event_log, gate=gate)
        processor.run(threading.Event(), batch_size=10, poll_timeout_ms=100, until_caught_up=True)
        assert states(engine)[1] == {"participant_registered"}
        record(event_log, settings.topic, [registered("p2")], recorded_by="b", engine=engine)

        with engine.connect() as conn:
            deadline = max(conn.execute(select(ParkedEvent.deadline)).scalars()).replace(tzinfo=UTC)  # type: ignore[call-overload]
        report = processor.retry_parked(now=deadline - timedelta(seconds=1))  # the log is idle: the wall clock counts
        assert (report.accepted, report.rejected, report.waiting) == (0, 0, 2), "p2's registration is not read yet"
        processor.run(threading.Event(), batch_size=10, poll_timeout_ms=100, until_caught_up=True)
        assert states(engine) == ({"p2"}, {"participant_registered"}, set())

        report = processor.retry_parked(now=deadline + timedelta(seconds=1))
    assert (report.accepted, report.rejected, report.waiting) == (0, 1, 0)
    with engine.connect() as conn:
        letter = conn.execute(select(DeadLetter)).one()  # type: ignore[call-overload]
    assert letter.expectation == "participant_registered" and "register them first" in letter.reason
    assert states(engine) == ({"p2"}, set(), {"participant_registered"})


def appended(settings: Settings, events: list[Any], minutes_ago: float) -> None:
    """Events as they came to the log (recorded `minutes_ago`), without any check at the door."""
    at = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    stored = [StoredEvent.accept(e, recorded_by="a", recorded_at=at) for e in events]
    with open_event_log(settings) as event_log:
        event_log.append(settings.topic, [Record(e.org_id, e.to_bytes()) for e in stored])


@pytest.mark.parametrize("batch_size", [1, 500])
@pytest.mark.parametrize(("late_by", "outcome"), [(0.5, "accepted"), (2, "dead-lettered")])
def test_the_log_decides_whether_a_reference_came_in_time(
    batch_size: int,
    late_by: float,
    outcome: str,
    log_settings: Callable[[str], Settings],
    engine_factory: Callable[[str], Engine],
    gate: QualityGate,
) -> None:
    """Within the wait (60 s) by the log's clock, the registration counts, however long ago all this was
    recorded and however the log splits into batches; later than that, it does not."""
    settings = log_settings("embedded").model_copy(update={"reference_wait_seconds": 60})
    engine = engine_factory("sqlite")
    appended(settings, [*setting_up(), attendance("p1")], minutes_ago=10)
    appended(settings, [registered("p1")], minutes_ago=10 - late_by)
    process_all(settings, engine, gate, batch_size=batch_size)
    expected = ({"p1"}, set(), set()) if outcome == "accepted" else (set(), set(), {"participant_registered"})
    assert states(engine) == expected


def status_changed(change_id: str, status: str, day: int) -> Any:
    decided = {} if status == "proposed" else {"decided_on": (START + timedelta(days=day)).date().isoformat()}
    payload = {"change_id": change_id, "status": status, **decided}
    return event("change.status_changed", payload, day=day, version=2)


@pytest.mark.parametrize("batch_size", [1, 2, 500])
def test_a_late_reference_gives_what_the_log_in_order_would_have_given(
    batch_size: int, log_settings: Callable[[str], Settings], engine_factory: Callable[[str], Engine], gate: QualityGate
) -> None:
    """A status change that waited for its change lands before that change's next status, and a consent
    change that waited for its registration lands before the erasure that follows it."""
    settings = log_settings("embedded").model_copy(update={"reference_wait_seconds": 600})
    engine = engine_factory("sqlite")
    consent = event("participant.consent_changed", {"participant_id": "p1", "consent": True, "channel": "in_person"})
    with open_event_log(settings) as event_log:
        first = [status_changed("ch1", "agreed", 1), consent]
        record(event_log, settings.topic, first, recorded_by="producer-a", engine=engine)
        process_all(settings, engine, gate, batch_size=batch_size)
        assert states(engine)[1] == {"change_recorded", "participant_registered"}
        later = [change("ch1"), status_changed("ch1", "implemented", 3), registered("p1")]
        later.append(event("participant.erased", {"participant_id": "p1"}))
        record(event_log, settings.topic, later, recorded_by="producer-b", engine=engine)
    process_all(settings, engine, gate, batch_size=batch_size)
    with engine.connect() as conn:
        status = conn.execute(select(Change.status, Change.decided_on)).one()  # type: ignore[call-overload]
        person = conn.execute(select(Participant.erased, Participant.consent_to_contact)).one()  # type: ignore[call-overload]
    assert tuple(status) == ("implemented", (START + timedelta(days=3)).date())
    assert tuple(person) == (True, False), "erased last: no consent comes back"
    assert states(engine)[1:] == (set(), set())


def test_an_event_seen_twice_waits_once_and_counts_once(
    log_settings: Callable[[str], Settings], engine_factory: Callable[[str], Engine], gate: QualityGate
) -> None:
    settings = log_settings("embedded").model_copy(update={"reference_wait_seconds": 600})
    engine = engine_factory("sqlite")
    waiting = StoredEvent.accept(attendance("p1"), recorded_by="a")
    with open_event_log(settings) as event_log:  # a producer's retry: the same event twice in the log
        record(event_log, settings.topic, setting_up(), recorded_by="a", engine=engine)
        event_log.append(settings.topic, [Record("org-a", waiting.to_bytes())] * 2)
        process_all(settings, engine, gate, batch_size=1)
        event_log.append(settings.topic, [Record("org-a", waiting.to_bytes())])
        record(event_log, settings.topic, [registered("p1")], recorded_by="b", engine=engine)
        event_log.append(settings.topic, [Record("org-a", waiting.to_bytes())])
    process_all(settings, engine, gate, batch_size=1)
    with engine.connect() as conn:
        attended = conn.execute(select(Attendance.event_id)).scalars().all()  # type: ignore[call-overload]
    assert attended == [str(waiting.event_id)]
    assert states(engine) == ({"p1"}, set(), set())


def test_a_dead_letter_seen_again_stays_dead(
    log_settings: Callable[[str], Settings], engine_factory: Callable[[str], Engine], gate: QualityGate
) -> None:
    """Its correction may already count: a redelivered copy of the original must not count as well."""
    settings = log_settings("embedded")  # no wait
    engine = engine_factory("sqlite")
    late = StoredEvent.accept(attendance("p1"), recorded_by="a")
    with open_event_log(settings) as event_log:
        record(event_log, settings.topic, setting_up(), recorded_by="a", engine=engine)
        event_log.append(settings.topic, [Record("org-a", late.to_bytes())])
        process_all(settings, engine, gate)
        record(event_log, settings.topic, [registered("p1")], recorded_by="b", engine=engine)
        event_log.append(settings.topic, [Record("org-a", late.to_bytes())])
    process_all(settings, engine, gate)
    assert states(engine) == (set(), set(), {"participant_registered"})


def test_a_version_2_status_change_from_another_producer_is_held_to_its_rule() -> None:
    """The door checks `decided_on` against the status; what is read from the log is checked again."""
    agreed = StoredEvent.accept(status_changed("ch1", "agreed", 2), recorded_by="t")
    broken = agreed.model_copy(update={"payload": {"change_id": "ch1", "status": "agreed"}})
    assert agreed.typed_payload().decided_on is not None  # type: ignore[attr-defined]
    with pytest.raises(ValidationError, match="decided_on is needed exactly when the change is decided"):
        broken.typed_payload()
