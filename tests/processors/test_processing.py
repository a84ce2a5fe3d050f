"""The processor's outcome depends on the log alone: not on batch sizes, and later facts patch earlier rows."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from impact.eventlog import Record, open_event_log
from impact.eventlog.recording import record
from impact.settings import Settings
from processors.consumer import Processor
from processors.quality import QualityGate
from processors.store import PositionConflict
from schemas.events import EVENT_ADAPTER, StoredEvent
from schemas.readmodels import Activity, Attendance, Change, Contribution, DeadLetter, ParkedEvent, Participant
from tests.factories import process_all
from tests.faults.runs import snapshot

# The store's writes, refusals and position compare-and-set differ between SQLite and PostgreSQL: those tests
# name both databases (db_kind); the rest use no database-specific SQL.

DAY = datetime.now(UTC) - timedelta(days=20)


def event(type_: str, payload: dict[str, Any], minute: int) -> Any:
    when = (DAY + timedelta(minutes=minute)).isoformat()
    return EVENT_ADAPTER.validate_python({"type": type_, "org_id": "org-a", "occurred_at": when, "payload": payload})


def awkward_log() -> list[Any]:
    """Facts in an awkward order: references before creations, repeats, late corrections."""
    held = {
        "activity_id": "a1",
        "title": "Panel",
        "area": "research",
        "level": "consultation",
        "date": DAY.date().isoformat(),
        "duration_hours": 2,
    }
    return [
        event(
            "participant.registered",
            {
                "participant_id": "p1",
                "display_name": "Ann",
                "role": "carer",
                "consent_to_contact": True,
                "preferred_channel": "in_person",
            },
            0,
        ),
        event("session.attended", {"activity_id": "a1", "participant_id": "p1", "hours": 1}, 1),  # before a1
        event("activity.held", held, 2),
        event("session.attended", {"activity_id": "a1", "participant_id": "p1", "hours": 2}, 3),
        event("activity.held", held | {"area": "media"}, 4),  # a second a1: refused
        event(
            "contribution.made",
            {"contribution_id": "c1", "participant_ids": ["p1"], "area": "research", "text": "Shorter forms"},
            5,
        ),
        event("change.status_changed", {"change_id": "ch1", "status": "agreed"}, 6),  # before ch1
        event(
            "change.recorded",
            {
                "change_id": "ch1",
                "area": "research",
                "title": "Forms",
                "description": "Shorter",
                "links": [{"contribution_id": "c1", "strength": "major"}],
            },
            7,
        ),
        event("participant.consent_changed", {"participant_id": "p1", "consent": False}, 8),
        event("change.status_changed", {"change_id": "ch1", "status": "implemented"}, 9),
    ]


@pytest.mark.parametrize("db_kind", ["sqlite", "postgres"])
def test_batch_size_never_changes_the_outcome(
    db_kind: str,
    log_settings: Callable[[str], Settings],
    engine_factory: Callable[[str], Engine],
    gate: QualityGate,
) -> None:
    settings = log_settings("embedded")
    with open_event_log(settings) as event_log:
        record(event_log, settings.topic, awkward_log(), recorded_by="test")
    outcomes = []
    for batch_size in (1, 3, 500):
        engine = engine_factory(db_kind)
        process_all(settings.model_copy(update={"consumer_group": f"g{batch_size}"}), engine, gate, batch_size)
        outcomes.append(snapshot(engine))
        with Session(engine) as session:
            reasons = sorted(letter.expectation for letter in session.exec(select(DeadLetter)))
            participant = session.get(Participant, ("org-a", "p1"))
            change = session.get(Change, ("org-a", "ch1"))
            facts = tuple(len(session.exec(select(t).where(t.org_id == "org-a")).all()) for t in (Attendance, Activity))
        assert reasons == ["activity_recorded", "change_recorded", "not_already_recorded"], batch_size
        assert participant is not None and participant.consent_to_contact is False  # a patch from a later batch
        assert change is not None and change.status == "implemented"
        assert facts == (1, 1)
    assert outcomes[0] == outcomes[1] == outcomes[2]


@pytest.mark.parametrize("db_kind", ["sqlite", "postgres"])
def test_an_event_the_database_refuses_is_dead_lettered_and_the_rest_go_on(
    db_kind: str,
    log_settings: Callable[[str], Settings],
    engine_factory: Callable[[str], Engine],
    gate: QualityGate,
) -> None:
    settings = log_settings("embedded")
    engine = engine_factory(db_kind)
    with engine.begin() as conn:  # a real refusal by the database, as a NUL byte would be on PostgreSQL
        conn.exec_driver_sql(
            "CREATE TRIGGER refuse_boom BEFORE INSERT ON contribution FOR EACH ROW "
            "WHEN (NEW.text = 'boom') BEGIN SELECT RAISE(ABORT, 'boom refused'); END"
            if db_kind == "sqlite"
            else "ALTER TABLE contribution ADD CONSTRAINT refuse_boom CHECK (text <> 'boom')"
        )
    said = [
        event(
            "contribution.made",
            {
                "contribution_id": f"c{i}",
                "participant_ids": ["p1"],
                "area": "media",
                "text": "boom" if i == 3 else f"idea {i}",
            },
            i + 1,
        )
        for i in range(6)
    ]
    with open_event_log(settings) as event_log:
        record(event_log, settings.topic, [awkward_log()[0], *said], recorded_by="test")
    process_all(settings, engine, gate, batch_size=500)
    with Session(engine) as session:
        letters = session.exec(select(DeadLetter)).all()
        contributions = session.exec(select(Contribution).where(Contribution.org_id == "org-a")).all()
    assert [(letter.expectation, letter.event_id) for letter in letters] == [("storable", str(said[3].event_id))]
    assert "could not store" in letters[0].reason
    assert len(contributions) == 5


def test_dead_letters_withhold_personal_data(
    log_settings: Callable[[str], Settings], engine_factory: Callable[[str], Engine], gate: QualityGate
) -> None:
    settings = log_settings("embedded")
    person = {
        "participant_id": "p1",
        "display_name": "Ann Example",
        "role": "carer",
        "contact": {"email": "ann@example.org"},
    }
    twice = [event("participant.registered", person, 0), event("participant.registered", person, 1)]
    with open_event_log(settings) as event_log:
        record(event_log, settings.topic, twice, recorded_by="test")
    engine = engine_factory("sqlite")
    process_all(settings, engine, gate)
    with Session(engine) as session:
        [letter] = session.exec(select(DeadLetter)).all()
    assert letter.expectation == "not_already_recorded"
    with open_event_log(settings) as event_log, event_log.consumer(settings.dead_letter_topic, "check") as consumer:
        in_topic = b"".join(m.value for m in consumer.poll(10, 500))
    for copy in (letter.event_json, in_topic.decode()):
        assert "Ann Example" not in copy and "ann@example.org" not in copy
        assert "withheld" in copy and '"participant_id": "p1"' in copy.replace('\\"', '"')


@pytest.mark.parametrize("db_kind", ["sqlite", "postgres"])
def test_a_second_processor_on_the_same_group_cannot_apply_a_batch_twice(
    db_kind: str, log_settings: Callable[[str], Settings], engine_factory: Callable[[str], Engine], gate: QualityGate
) -> None:
    settings = log_settings("embedded")
    engine = engine_factory(db_kind)
    with open_event_log(settings) as event_log:
        record(event_log, settings.topic, awkward_log()[:4], recorded_by="test")
        first = Processor.for_settings(settings, engine=engine, event_log=event_log, gate=gate)
        second = Processor.for_settings(settings, engine=engine, event_log=event_log, gate=gate)
        with first.open_consumer() as one, second.open_consumer() as two:
            batch_one, batch_two = one.poll(10, 500), two.poll(10, 500)
            assert batch_one == batch_two  # both were started at the same stored positions
            first.handle(batch_one)
            before = snapshot(engine)
            with pytest.raises(PositionConflict):
                second.handle(batch_two)
    assert snapshot(engine) == before


@pytest.mark.parametrize("log_kind", ["embedded", "kafka"])
def test_events_another_producer_put_in_the_log_are_checked_by_the_suite(
    log_kind: str, log_settings: Callable[[str], Settings], engine_factory: Callable[[str], Engine], gate: QualityGate
) -> None:
    """Ingest is not the only way into the log: the suite checks each event's own fields as well."""
    settings = log_settings(log_kind)
    good = StoredEvent.accept(awkward_log()[2], recorded_by="test")  # activity a1, research
    bad: list[tuple[dict[str, Any], str]] = [
        ({**good.payload, "activity_id": "a2", "area": "gardening"}, "area_in_vocabulary"),
        ({"activity_id": "a3", "title": "Panel"}, "required_fields"),
        ({**good.payload, "activity_id": "a4", "duration_hours": 25}, "hours_in_range"),
        ({**good.payload, "activity_id": "a5", "title": "x" * 201}, "schema"),  # the model's own limits
    ]
    events = [good] + [good.model_copy(update={"event_id": uuid.uuid4(), "payload": p}) for p, _ in bad]
    with open_event_log(settings) as event_log:
        event_log.append(settings.topic, [Record(e.org_id, e.to_bytes()) for e in events])
    engine = engine_factory("postgres" if log_kind == "kafka" else "sqlite")
    process_all(settings, engine, gate, batch_size=500)
    with Session(engine) as session:
        letters = {letter.event_id: letter for letter in session.exec(select(DeadLetter)).all()}
        activities = [a.activity_id for a in session.exec(select(Activity)).all()]
    assert activities == ["a1"]
    assert {eid: letter.expectation for eid, letter in letters.items()} == {
        str(e.event_id): name for e, (_, name) in zip(events[1:], bad, strict=True)
    }
    assert (
        letters[str(events[1].event_id)].reason
        == "The area is not one of the sixteen activity areas; choose one of them."
    )
    assert "title" in letters[str(events[4].event_id)].reason


@pytest.mark.parametrize("db_kind", ["sqlite", "postgres"])
def test_a_waiting_event_the_database_refuses_is_dead_lettered_alone(
    db_kind: str, log_settings: Callable[[str], Settings], engine_factory: Callable[[str], Engine], gate: QualityGate
) -> None:
    """The refusal must land on the waiting event, never on the registration that let it through."""
    settings = log_settings("embedded").model_copy(update={"reference_wait_seconds": 600})
    engine = engine_factory(db_kind)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TRIGGER refuse_boom BEFORE INSERT ON contribution FOR EACH ROW "
            "WHEN (NEW.text = 'boom') BEGIN SELECT RAISE(ABORT, 'boom refused'); END"
            if db_kind == "sqlite"
            else "ALTER TABLE contribution ADD CONSTRAINT refuse_boom CHECK (text <> 'boom')"
        )
    said = event(
        "contribution.made", {"contribution_id": "c1", "participant_ids": ["p1"], "area": "media", "text": "boom"}, 1
    )
    with open_event_log(settings) as event_log:
        record(event_log, settings.topic, [said], recorded_by="test")
        process_all(settings, engine, gate, batch_size=500)  # waits for p1
        record(event_log, settings.topic, [awkward_log()[0]], recorded_by="test")  # p1's registration
    process_all(settings, engine, gate, batch_size=500)
    with Session(engine) as session:
        letters = [(letter.event_id, letter.expectation) for letter in session.exec(select(DeadLetter)).all()]
        people = [p.participant_id for p in session.exec(select(Participant)).all()]
        waiting = session.exec(select(ParkedEvent)).all()
    assert letters == [(str(said.event_id), "storable")]
    assert people == ["p1"] and not waiting
