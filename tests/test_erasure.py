"""Erasure: once `participant.erased` is processed, the person's name, e-mail and demographics are
nowhere readable, not in the read models, not in the log, and not after a replay.
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
from impact.recording import record
from impact.sealing import PersonalKey
from impact.settings import Settings
from processors.consumer import Processor
from processors.quality import QualityGate
from schemas.events import EVENT_ADAPTER
from schemas.readmodels import Participant
from tests.conftest import process_all

pytestmark = pytest.mark.timeout(240)

NAME = "Philippa Quennell-Marsh"
EMAIL = "philippa.quennell@example.org"
PHONE = "+44 7700 900123"
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

    with open_event_log(settings) as event_log:
        erased = event("participant.erased", {"participant_id": "p1"}, 5)
        record(event_log, settings.topic, [erased], recorded_by="test", engine=engine)
    process_all(settings, engine, gate)

    def nothing_readable() -> None:
        text, raw = database_text(engine), log_bytes(settings)
        for secret in (NAME, EMAIL, PHONE, "Quennell"):
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

    with open_event_log(settings) as event_log:  # registering the same person again does not revive the old key
        record(event_log, settings.topic, [registration("p1", NAME, EMAIL)], recorded_by="test", engine=engine)
    process_all(settings, engine, gate)
    assert NAME not in database_text(engine)
