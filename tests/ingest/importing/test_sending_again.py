"""Spreadsheet import: safe to send twice, after a failed save, a cut-short one, or on another day."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from impact.eventlog import EventLog, LogConsumer, LogUnavailable, Record, StartPositions
from impact.eventlog.recording import Receipt
from impact.settings import Settings
from ingest import create_app, importing
from ingest.importing import read_table
from processors.quality import QualityGate
from schemas.events import StoredEvent
from schemas.readmodels import Attendance, Participant
from tests.factories import process_all, sign_in
from tests.ingest.importing.helpers import (
    ATTENDANCE_HEADER,
    ORG,
    PEOPLE,
    PEOPLE_HEADER,
    as_csv,
    imported,
    no_dead_letters,
    rows_of,
    send,
    stored,
)

# --- Sending the same file twice ------------------------------------------------------------------


@pytest.mark.twins  # receipts and processed ids looked up by event id (a uuid column on PostgreSQL)
def test_the_same_file_twice_appends_nothing_the_second_time(
    staff: FlaskClient, engine: Engine, settings: Settings, event_log: EventLog, gate: QualityGate
) -> None:
    data = as_csv(PEOPLE_HEADER, PEOPLE)
    imported(staff, data, "members.csv")
    assert len(stored(event_log, settings)) == 3
    page = imported(staff, data, "members.csv")  # before processing: the receipts know its events
    assert "members.csv was already imported: there was nothing new to add." in page
    process_all(settings, engine, gate)
    page = imported(staff, data, "members.csv")  # after processing too
    assert "was already imported" in page
    assert len(stored(event_log, settings)) == 3

    # A different file naming the same people is refused: it would register them twice.
    edited = as_csv(PEOPLE_HEADER, [*PEOPLE, ["P4", "Dee", "carer", "", "", "", ""]])
    response = send(staff, edited, "members-v2.csv")
    assert response.status_code == 422
    assert "Line 2: participant_id: &#39;P1&#39; is already registered — was this file imported before?" in (
        response.get_data(as_text=True)
    )
    assert len(stored(event_log, settings)) == 3
    assert len(rows_of(engine, Participant)) == 3


class FailingLog(EventLog):
    """The embedded log, except that append number `fail_on` does not confirm (like a Kafka timeout)."""

    def __init__(self, inner: EventLog, fail_on: int) -> None:
        self.inner, self.fail_on, self.appends = inner, fail_on, 0

    def append(self, topic: str, records: Sequence[Record]) -> None:
        self.appends += 1
        if self.appends == self.fail_on:
            raise LogUnavailable("the log did not confirm the write")
        self.inner.append(topic, records)

    def consumer(self, topic: str, group: str, start_positions: StartPositions | None = None) -> LogConsumer:
        return self.inner.consumer(topic, group, start_positions)

    def end_positions(self, topic: str) -> dict[int, int]:
        return self.inner.end_positions(topic)

    def ping(self) -> None:
        self.inner.ping()

    def close(self) -> None:
        self.inner.close()


def importer(log: EventLog, settings: Settings, engine: Engine, emails: dict[str, str]) -> FlaskClient:
    client = create_app(settings, log, test_config={"TESTING": True}, engine=engine).test_client()
    sign_in(client, emails["staff"])
    return client


def receipts(engine: Engine) -> list[Receipt]:
    with Session(engine) as session:
        return list(session.exec(select(Receipt).where(Receipt.org_id == ORG)).all())


BIG = [[f"P{i:04}", f"Person {i}", "carer", "", "", "", ""] for i in range(1500)]  # more than one API batch


def test_a_failed_save_stores_nothing_and_the_same_file_again_imports_it_whole(
    engine: Engine, emails: dict[str, str], settings: Settings, event_log: EventLog, gate: QualityGate
) -> None:
    failing = FailingLog(event_log, fail_on=1)
    client = importer(failing, settings, engine, emails)
    data = as_csv(PEOPLE_HEADER, BIG)
    response = send(client, data, "big.csv")
    assert response.status_code == 503
    html = response.get_data(as_text=True)
    assert "Send the same file again in a minute, unchanged: nothing in it is saved twice." in html
    assert "in part" not in html
    assert failing.appends == 1  # the whole file in one append: one embedded-log transaction
    assert stored(event_log, settings) == []
    assert not any(r.confirmed for r in receipts(engine))  # claimed before the append, never confirmed
    process_all(settings, engine, gate, batch_size=500)
    assert rows_of(engine, Participant) == []

    page = imported(client, data, "big.csv")
    assert "Imported 1,500 participants from big.csv." in page
    assert "earlier sending" not in page  # nothing of the first sending was kept
    assert failing.appends == 2
    events = stored(event_log, settings)
    assert len(events) == len({e.event_id for e in events}) == 1500
    assert len(receipts(engine)) == 1500 and all(r.confirmed for r in receipts(engine))
    process_all(settings, engine, gate, batch_size=500)
    assert len(rows_of(engine, Participant)) == 1500
    no_dead_letters(engine)


class PartialLog(FailingLog):
    """Like Kafka, where a list is not atomic: the first append keeps `kept` records, then does not confirm."""

    def __init__(self, inner: EventLog, kept: int) -> None:
        super().__init__(inner, fail_on=1)
        self.kept = kept

    def append(self, topic: str, records: Sequence[Record]) -> None:
        self.appends += 1
        if self.appends == self.fail_on:
            self.inner.append(topic, records[: self.kept])
            raise LogUnavailable("the log did not confirm the write")
        self.inner.append(topic, records)


def test_on_a_log_without_atomic_lists_the_same_file_again_completes_a_cut_short_import(
    engine: Engine, emails: dict[str, str], settings: Settings, event_log: EventLog, gate: QualityGate
) -> None:
    client = importer(PartialLog(event_log, kept=1000), settings, engine, emails)
    data = as_csv(PEOPLE_HEADER, BIG)
    assert send(client, data, "big.csv").status_code == 503
    assert len(stored(event_log, settings)) == 1000  # what Kafka delivered without confirming
    process_all(settings, engine, gate, batch_size=500)

    page = imported(client, data, "big.csv")
    assert "Imported 500 participants from big.csv." in page
    assert "1,000 records from an earlier sending of this file were already saved." in page
    events = stored(event_log, settings)
    assert len(events) == len({e.event_id for e in events}) == 1500
    process_all(settings, engine, gate, batch_size=500)
    assert len(rows_of(engine, Participant)) == 1500
    no_dead_letters(engine)


def test_sent_again_before_processing_an_event_the_log_holds_twice_counts_once(
    engine: Engine, emails: dict[str, str], settings: Settings, event_log: EventLog, gate: QualityGate
) -> None:
    client = importer(PartialLog(event_log, kept=1000), settings, engine, emails)
    data = as_csv(PEOPLE_HEADER, BIG)
    assert send(client, data, "big.csv").status_code == 503
    imported(client, data, "big.csv")  # no receipts and nothing processed yet: the whole file again
    events = stored(event_log, settings)
    assert (len(events), len({e.event_id for e in events})) == (2500, 1500)
    process_all(settings, engine, gate, batch_size=500)
    assert len(rows_of(engine, Participant)) == 1500
    no_dead_letters(engine)


@pytest.mark.twins  # an unconfirmed claim's time read back: naive on SQLite, aware on PostgreSQL
def test_a_file_sent_again_another_day_after_a_failed_save_is_saved_as_first_claimed(
    engine: Engine, emails: dict[str, str], settings: Settings, event_log: EventLog, gate: QualityGate
) -> None:
    """A failed append leaves its receipts claimed with the events' digests; the resend must match them."""

    def send_at(data: bytes, filename: str, now: datetime, log: EventLog) -> int:
        checked = importing.check(read_table(data, filename), org_id=ORG, engine=engine, now=now)
        assert checked.ok, checked.errors
        return importing.append(checked, log, settings.topic, recorded_by="import:test", engine=engine)

    def claimed_at(when: datetime) -> None:  # the failed sending happened at `when`
        with Session(engine) as session:
            for receipt in session.exec(select(Receipt).where(Receipt.confirmed == False)).all():  # noqa: E712
                receipt.recorded_at = when
                session.add(receipt)
            session.commit()

    def new_events(before: int) -> list[StoredEvent]:
        return stored(event_log, settings)[before:]

    today = datetime.now(UTC)
    earlier = datetime.combine(today.date() - timedelta(days=3), time(10), tzinfo=UTC)
    people = as_csv(PEOPLE_HEADER, PEOPLE)
    with pytest.raises(LogUnavailable):
        send_at(people, "members.csv", earlier, FailingLog(event_log, fail_on=1))
    claimed_at(earlier)
    assert len(receipts(engine)) == 3 and stored(event_log, settings) == []
    # Registrations are dated by the day a file is sent: today's would differ from the claims, and be refused.
    assert send_at(people, "members.csv", today, event_log) == 3
    assert {e.occurred_at for e in new_events(0)} == {earlier.replace(hour=0)}
    process_all(settings, engine, gate)

    # Across midday: a row dated yesterday is at 00:00 when sent yesterday morning, at 12:00 from the afternoon.
    yesterday = today.date() - timedelta(days=1)
    row = ["A9", "Evening forum", "Support", "Co-production", yesterday.isoformat(), "2", "P1", "", ""]
    forum = as_csv(ATTENDANCE_HEADER, [row])
    morning = datetime.combine(yesterday, time(11), tzinfo=UTC)
    with pytest.raises(LogUnavailable):
        send_at(forum, "forum.csv", morning, FailingLog(event_log, fail_on=1))
    claimed_at(morning)
    assert send_at(forum, "forum.csv", today, event_log) == 2
    assert {e.occurred_at for e in new_events(3)} == {datetime.combine(yesterday, time(0), tzinfo=UTC)}
    assert all(r.confirmed for r in receipts(engine))
    process_all(settings, engine, gate)
    assert [(a.activity_id, a.participant_id) for a in rows_of(engine, Attendance)] == [("A9", "P1")]
    no_dead_letters(engine)
