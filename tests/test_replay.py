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
from impact.recording import record
from impact.settings import Settings
from processors.consumer import Processor
from processors.quality import QualityGate
from schemas.events import EVENT_ADAPTER, StoredEvent
from schemas.readmodels import Attendance, Change, DeadLetter, ParkedEvent
from tests.conftest import process_all
from tests.test_crash_safety import environment, snapshot

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
    events = demo_events(today=datetime.now(UTC).date())
    half = len(events) // 2
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


def test_the_log_clock_ends_the_wait_when_events_keep_coming(
    log_settings: Callable[[str], Settings], engine_factory: Callable[[str], Engine], gate: QualityGate
) -> None:
    """An event recorded more than the wait after the waiting one shows the reference is not coming."""
    settings = log_settings("embedded").model_copy(update={"reference_wait_seconds": 60})
    engine = engine_factory("sqlite")
    with open_event_log(settings) as event_log:
        early = [
            StoredEvent.accept(e, recorded_by="a", recorded_at=datetime.now(UTC) - timedelta(minutes=10))
            for e in [*setting_up(), attendance("p1")]
        ]
        later = [StoredEvent.accept(registered("p1"), recorded_by="b")]
        event_log.append(settings.topic, [Record(e.org_id, e.to_bytes()) for e in early])
        process_all(settings, engine, gate)
        event_log.append(settings.topic, [Record(e.org_id, e.to_bytes()) for e in later])
    process_all(settings, engine, gate)
    # The registration came 10 minutes after the attendance, beyond the 60 s wait: the attendance is refused.
    assert states(engine) == (set(), set(), {"participant_registered"})
