"""Erasure: once `participant.erased` is processed, the person's name, e-mail and demographics are
nowhere readable, in any version (the registration and every correction of their details), not in the read
models, not in the log, and not after a replay.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlmodel import SQLModel

from impact.eventlog import open_event_log
from impact.eventlog.recording import record
from impact.eventlog.sealing import PersonalKey, keys_for, opened
from impact.settings import Settings
from processors.consumer import Processor
from processors.quality import QualityGate
from schemas.events import EVENT_ADAPTER, SEALED, StoredEvent
from schemas.readmodels import DeadLetter, Participant
from tests.factories import process_all

pytestmark = pytest.mark.timeout(240)

NAME = "Philippa Quennell-Marsh"
EMAIL = "philippa.quennell@example.org"
PHONE = "+44 7700 900123"
NEW_NAME = "Pippa Okonkwo-Reyes"  # a corrected version of their details
NEW_EMAIL = "pippa.okonkwo@example.org"
WHEN = datetime.now(UTC) - timedelta(days=3)


def event(type_: str, payload: dict[str, Any], minutes: int = 0) -> Any:
    when = (WHEN + timedelta(minutes=minutes)).isoformat()
    return EVENT_ADAPTER.validate_python({"type": type_, "org_id": "org-a", "occurred_at": when, "payload": payload})


def registration(participant_id: str, name: str, email: str, phone: str = PHONE) -> Any:
    return event(
        "participant.registered",
        {
            "participant_id": participant_id,
            "display_name": name,
            "role": "carer",
            "contact": {"email": email, "phone": phone},
            "consent_to_contact": True,
            "preferred_channel": "email",
            "demographics": {"age_band": "65_74", "region": "north_east"},
        },
    )


def database_text(engine: Engine) -> str:
    """Every value of every table, as text (what anyone with database access could read)."""
    values: list[str] = []
    with engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            for row in conn.execute(select(table)):
                values.extend(str(value) for value in row)
    return "\n".join(values)


def log_bytes(settings: Settings) -> bytes:
    """Every record of both topics as the log holds them, and on the embedded log the files themselves."""
    chunks: list[bytes] = []
    with open_event_log(settings) as event_log:
        for topic in (settings.topic, settings.dead_letter_topic):
            end = sum(event_log.end_positions(topic).values())
            with event_log.consumer(topic, "erasure-audit", start_positions=lambda ps: dict.fromkeys(ps, 0)) as c:
                read = 0
                while read < end:
                    messages = c.poll(500, 500)
                    read += len(messages)
                    chunks.extend(m.value for m in messages)
                    if not messages:
                        break
    if settings.event_log.value == "embedded":
        chunks.extend(
            path.read_bytes() for path in Path(settings.log_path).parent.glob(Path(settings.log_path).name + "*")
        )
    return b"\n".join(chunks)


def sqlite_files(engine: Engine) -> bytes:
    path = Path(str(engine.url.database))
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


@pytest.mark.parametrize(
    "kinds", [("embedded", "sqlite"), ("kafka", "postgres")], ids=["embedded+sqlite", "kafka+postgres"]
)
def test_an_erased_participant_is_nowhere_readable_even_after_a_replay(
    kinds: tuple[str, str],
    log_settings: Callable[[str], Settings],
    engine_factory: Callable[[str], Engine],
    gate: QualityGate,
) -> None:
    log_kind, db_kind = kinds
    settings = log_settings(log_kind)
    engine = engine_factory(db_kind)
    with open_event_log(settings) as event_log:
        record(
            event_log,
            settings.topic,
            [
                registration("p1", NAME, EMAIL),
                registration("p2", "Tomasz Wilde-Oduya", "tomasz@example.org", "+44 7700 900456"),
            ],
            recorded_by="test",
            engine=engine,
        )
    process_all(settings, engine, gate)
    with engine.connect() as conn:
        names = dict(conn.execute(select(Participant.participant_id, Participant.display_name)).all())  # type: ignore[call-overload]
    assert names == {"p1": NAME, "p2": "Tomasz Wilde-Oduya"}, "the register holds the names until erasure"
    assert NAME.encode() not in log_bytes(settings), "personal fields are sealed before they reach the log"

    with open_event_log(settings) as event_log:  # their details corrected: a second version, sealed the same way
        details = {
            "participant_id": "p1",
            "display_name": NEW_NAME,
            "role": "carer",
            "contact": {"email": NEW_EMAIL, "phone": PHONE},
            "demographics": {"age_band": "65_74", "region": "north_east"},
            "fields": ["display_name", "email"],
            "reason": "Prefers her new name",
        }
        record(
            event_log,
            settings.topic,
            [event("participant.details_changed", details, 2)],
            recorded_by="test",
            engine=engine,
        )
    process_all(settings, engine, gate)
    with engine.connect() as conn:
        latest = conn.execute(select(Participant).where(Participant.participant_id == "p1")).one()  # type: ignore[arg-type]
    assert (latest.display_name, latest.email) == (NEW_NAME, NEW_EMAIL), "the latest version is the one shown"
    assert NEW_NAME.encode() not in log_bytes(settings), "the corrected details are sealed too"
    assert NAME not in database_text(engine), "the earlier version is kept nowhere in the database"

    with open_event_log(settings) as event_log:
        erased = event("participant.erased", {"participant_id": "p1"}, 5)
        record(event_log, settings.topic, [erased], recorded_by="test", engine=engine)
    process_all(settings, engine, gate)

    def nothing_readable() -> None:
        text, raw = database_text(engine), log_bytes(settings)
        for secret in (NAME, EMAIL, PHONE, "Quennell", NEW_NAME, NEW_EMAIL, "Okonkwo"):
            assert secret not in text
            assert secret.encode() not in raw
            assert json.dumps(secret).encode() not in raw
        if db_kind == "sqlite":  # the file itself: deleted rows are overwritten, not left in free pages
            assert NAME.encode() not in sqlite_files(engine)
        assert "Tomasz Wilde-Oduya" in text, "only the erased person is forgotten"

    nothing_readable()
    with engine.connect() as conn:
        row = conn.execute(select(Participant).where(Participant.participant_id == "p1")).one()  # type: ignore[arg-type]
        key = conn.execute(select(PersonalKey.key).where(PersonalKey.participant_id == "p1")).scalar_one()  # type: ignore[arg-type]
    assert row.erased and row.display_name is None and row.email is None and row.age_band is None
    assert row.role == "carer", "what is not personal stays, so the figures still add up"
    assert key is None, "the key that sealed the person's details is destroyed"

    with open_event_log(settings) as event_log:
        Processor.for_settings(settings, engine=engine, event_log=event_log, gate=gate).replay(
            batch_size=10, poll_timeout_ms=200
        )
    nothing_readable()
    with engine.connect() as conn:
        replayed = conn.execute(select(Participant).where(Participant.participant_id == "p1")).one()  # type: ignore[arg-type]
    assert replayed == row, "a replay rebuilds the erased row exactly, and brings nothing back"

    with open_event_log(settings) as event_log:  # registering the same person again does not make a new key
        again = registration("p1", NAME, EMAIL)
        record(event_log, settings.topic, [again], recorded_by="test", engine=engine)
        [stored] = [StoredEvent.from_bytes(m.value) for m in read_all(event_log, settings.topic)[-1:]]
    assert stored.event_id == again.event_id and SEALED in stored.payload
    with engine.connect() as conn:
        assert opened(stored, keys_for(conn, [stored])) is None, "sealed under a key nobody keeps"
    process_all(settings, engine, gate)
    assert NAME not in database_text(engine)


def read_all(event_log: Any, topic: str) -> list[Any]:
    with event_log.consumer(topic, "erasure-read", start_positions=lambda ps: dict.fromkeys(ps, 0)) as consumer:
        messages: list[Any] = []
        while batch := consumer.poll(500, 500):
            messages.extend(batch)
    return messages


@pytest.mark.parametrize("db_kind", ["sqlite", "postgres"])
def test_an_erasure_that_fails_its_checks_still_destroys_the_key(
    db_kind: str, log_settings: Callable[[str], Settings], engine_factory: Callable[[str], Engine], gate: QualityGate
) -> None:
    """A registration refused by the suite is never in the register, but its sealed details are in the log."""
    settings, engine = log_settings("embedded"), engine_factory(db_kind)
    late = event("participant.registered", {"participant_id": "p1", "display_name": NAME, "role": "carer"})
    late = late.model_copy(update={"occurred_at": datetime(1999, 1, 1, tzinfo=UTC)})  # refused: implausible year
    with open_event_log(settings) as event_log:
        record(event_log, settings.topic, [late], recorded_by="test", engine=engine)
        process_all(settings, engine, gate)
        erased = event("participant.erased", {"participant_id": "p1"})
        record(event_log, settings.topic, [erased], recorded_by="test", engine=engine)
        process_all(settings, engine, gate)
        [sealed] = [StoredEvent.from_bytes(m.value) for m in read_all(event_log, settings.topic)[:1]]
    with engine.connect() as conn:
        letters = dict(conn.execute(select(DeadLetter.event_id, DeadLetter.expectation)).all())  # type: ignore[call-overload]
        assert opened(sealed, keys_for(conn, [sealed])) is None
    assert letters == {str(late.event_id): "plausible_year", str(erased.event_id): "participant_registered"}
