"""Spreadsheet import: whole files or nothing, every bad row with its line, safe to send twice.

Real SQLite and PostgreSQL read models (the `engine` fixture), a real embedded event log, the real
processor, and CSRF kept on.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import Workbook
from sqlalchemy import Engine
from sqlmodel import Session, select

from impact.cli import main
from impact.eventlog import EventLog, LogConsumer, LogUnavailable, Record, StartPositions, open_event_log
from impact.eventlog.embedded import EmbeddedLog
from impact.eventlog.recording import Receipt
from impact.settings import Settings
from ingest import create_app, importing
from ingest.importing import FileProblem, Kind, detect_kind, read_table
from processors.quality import QualityGate
from schemas.events import StoredEvent
from schemas.readmodels import Activity, Attendance, Contribution, ContributionParticipant, DeadLetter, Participant
from tests.conftest import add_organisation, csrf_from, process_all, sign_in

ORG = "mind-leeds"
PAGE = "/staff/import/"
PEOPLE_HEADER = [
    "participant_id",
    "display_name",
    "role",
    "email",
    "consent_to_contact",
    "preferred_channel",
    "age_band",
]
ATTENDANCE_HEADER = [
    "activity_id",
    "activity_title",
    "area",
    "level",
    "date",
    "duration_hours",
    "participant_id",
    "hours",
    "session_role",
]
CONTRIBUTION_HEADER = ["contribution_id", "participant_ids", "activity_id", "area", "date", "text"]
PEOPLE = [
    ["P1", "Ann Carter", "Carer", "ann@example.org", "yes", "Email", "45 to 54"],
    ["P2", "Bilal Shah", "service_user", "", "no", "", "prefer_not_to_say"],
    ["P3", "Chris O'Neill", "patient", "", "", "", ""],
]
ATTENDANCE = [
    ["A1", "Carers' forum", "Support", "Co-production", "27/03/2026", "2", "P1", "", "Speaker"],
    ["A1", "", "", "", "", "", "P2", "1.5", ""],
    ["A2", "Board meeting", "governance", "user_led", "2026-04-02", "3", "P1", "3", "panel_member"],
    ["A2", "Board meeting", "Governance", "User led", "02/04/2026", "3", "P3", "", ""],
]
CONTRIBUTIONS = [
    ["C1", "P1; P2", "A1", "Support", "27/03/2026", "Evening meetings would let working carers come."],
    ["", "P3", "", "Strategy, policy and planning", "2026-04-02", "Put the plan in plain English."],
]


def as_csv(header: Sequence[str], rows: Sequence[Sequence[Any]], encoding: str = "utf-8") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def as_xlsx(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


# --- Fixtures -------------------------------------------------------------------------------------


@pytest.fixture
def settings(log_settings: Callable[[str], Settings]) -> Settings:
    return log_settings("embedded")


@pytest.fixture
def event_log(settings: Settings) -> Iterator[EventLog]:
    log = open_event_log(settings)
    yield log
    log.close()


@pytest.fixture
def emails(engine: Engine) -> dict[str, str]:
    return add_organisation(engine, ORG)


@pytest.fixture
def app(settings: Settings, event_log: EventLog, engine: Engine, emails: dict[str, str]) -> Flask:
    return create_app(settings, event_log, test_config={"TESTING": True}, engine=engine)


@pytest.fixture
def staff(app: Flask, emails: dict[str, str]) -> FlaskClient:
    client = app.test_client()
    sign_in(client, emails["staff"])
    return client


def send(client: FlaskClient, data: bytes, filename: str, kind: str = "detect") -> Any:
    token = csrf_from(client, PAGE)
    return client.post(
        PAGE,
        data={"csrf_token": token, "kind": kind, "file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )


def imported(client: FlaskClient, data: bytes, filename: str, kind: str = "detect") -> str:
    """Send a file that must import; the confirmation page's text."""
    response = send(client, data, filename, kind)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client.get(response.headers["Location"]).get_data(as_text=True)


def stored(event_log: EventLog, settings: Settings) -> list[StoredEvent]:
    assert isinstance(event_log, EmbeddedLog)
    return [StoredEvent.from_bytes(m.value) for m in event_log.read(settings.topic, 0, 100_000)]


def rows_of(engine: Engine, model: type, *order: Any) -> list[Any]:
    with Session(engine) as session:
        return list(session.exec(select(model).where(model.org_id == ORG).order_by(*order)).all())  # type: ignore[attr-defined]


def no_dead_letters(engine: Engine) -> None:
    with Session(engine) as session:
        dead = session.exec(select(DeadLetter)).all()
    assert not dead, [(d.expectation, d.reason) for d in dead]


# --- Whole files in, read models hold exactly the rows -------------------------------------------


def test_participants_then_attendance_then_contributions_import_whole(
    staff: FlaskClient, engine: Engine, settings: Settings, event_log: EventLog, gate: QualityGate
) -> None:
    page = imported(staff, as_csv(PEOPLE_HEADER, PEOPLE), "members.csv", kind="participants")
    assert "Imported 3 participants from members.csv." in page
    assert "within a few seconds" in page
    assert {e.recorded_by for e in stored(event_log, settings)} == {f"account:{staff_account_id(engine)}"}
    process_all(settings, engine, gate)
    people = rows_of(engine, Participant, Participant.participant_id)
    assert [(p.participant_id, p.display_name, p.role) for p in people] == [
        ("P1", "Ann Carter", "carer"),
        ("P2", "Bilal Shah", "service_user"),
        ("P3", "Chris O'Neill", "patient"),
    ]
    ann, bilal, _ = people
    assert (ann.email, ann.consent_to_contact, ann.preferred_channel, ann.age_band) == (
        "ann@example.org",
        True,
        "email",
        "45_54",
    )
    assert (bilal.consent_to_contact, bilal.age_band) == (False, "prefer_not_to_say")

    page = imported(staff, as_csv(ATTENDANCE_HEADER, ATTENDANCE), "forum.csv")  # kind told from the header
    assert "Imported 4 attendances and 2 new activities from forum.csv." in page
    process_all(settings, engine, gate)
    activities = rows_of(engine, Activity, Activity.activity_id)
    assert [(a.activity_id, a.title, a.area, a.level, a.held_on, a.duration_hours) for a in activities] == [
        ("A1", "Carers' forum", "support", "co_production", date(2026, 3, 27), 2.0),
        ("A2", "Board meeting", "governance", "user_led", date(2026, 4, 2), 3.0),
    ]
    attendances = rows_of(engine, Attendance, Attendance.activity_id, Attendance.participant_id)
    assert [(a.activity_id, a.participant_id, a.hours, a.session_role, a.attended_on) for a in attendances] == [
        ("A1", "P1", 2.0, "speaker", date(2026, 3, 27)),
        ("A1", "P2", 1.5, "attendee", date(2026, 3, 27)),
        ("A2", "P1", 3.0, "panel_member", date(2026, 4, 2)),
        ("A2", "P3", 3.0, "attendee", date(2026, 4, 2)),
    ]

    page = imported(staff, as_csv(CONTRIBUTION_HEADER, CONTRIBUTIONS), "said.csv", kind="contributions")
    assert "Imported 2 contributions from said.csv." in page
    process_all(settings, engine, gate)
    said = rows_of(engine, Contribution, Contribution.made_on)
    assert [(c.activity_id, c.area, c.made_on, c.text) for c in said] == [
        ("A1", "support", date(2026, 3, 27), "Evening meetings would let working carers come."),
        (None, "strategy_policy", date(2026, 4, 2), "Put the plan in plain English."),
    ]
    assert said[0].contribution_id == "C1" and said[1].contribution_id.startswith("c-")
    links = rows_of(engine, ContributionParticipant, ContributionParticipant.participant_id)
    assert {(link.contribution_id, link.participant_id) for link in links} == {
        ("C1", "P1"),
        ("C1", "P2"),
        (said[1].contribution_id, "P3"),
    }
    no_dead_letters(engine)
    assert len(stored(event_log, settings)) == 3 + 2 + 4 + 2


def staff_account_id(engine: Engine) -> int:
    from impact.auth.accounts import StaffAccount

    with Session(engine) as session:
        account = session.exec(select(StaffAccount).where(StaffAccount.email == f"staff@{ORG}.example.org")).one()
    return int(account.id or 0)


def test_an_excel_workbook_imports_the_same(
    staff: FlaskClient, engine: Engine, settings: Settings, gate: QualityGate
) -> None:
    people: list[list[Any]] = [
        [101, "Ann Carter", "Carer", None, False, None, None],
        ["P2", "Bilal Shah", "Patient", None, None, None],
    ]
    imported(staff, as_xlsx(PEOPLE_HEADER, people), "members.xlsx")
    process_all(settings, engine, gate)
    attendance: list[list[Any]] = [
        ["A1", "Carers' forum", "Support", "co_production", datetime(2026, 3, 27), 2, 101, 1.5, None],
        ["A1", None, None, None, None, None, "P2", None, "lead"],
    ]
    page = imported(staff, as_xlsx([h.upper() for h in ATTENDANCE_HEADER], attendance), "forum.xlsx")
    assert "Imported 2 attendances and 1 new activity from forum.xlsx." in page
    process_all(settings, engine, gate)
    assert [p.participant_id for p in rows_of(engine, Participant, Participant.participant_id)] == ["101", "P2"]
    [activity] = rows_of(engine, Activity)
    assert (activity.held_on, activity.duration_hours, activity.level) == (date(2026, 3, 27), 2.0, "co_production")
    attendances = rows_of(engine, Attendance, Attendance.participant_id)
    assert [(a.participant_id, a.hours, a.session_role) for a in attendances] == [
        ("101", 1.5, "attendee"),
        ("P2", 2.0, "lead"),
    ]
    no_dead_letters(engine)


def test_a_workbook_reports_the_sheets_own_line_numbers(staff: FlaskClient, engine: Engine) -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["display_name", "role"])
    sheet.append(["Ann", "carer"])
    sheet.append([])  # a blank line 3 is skipped but still counted
    sheet.append(["Bo", "volunteer"])
    out = io.BytesIO()
    workbook.save(out)
    response = send(staff, out.getvalue(), "people.xlsx")
    assert response.status_code == 422
    assert "Line 4: role: &#39;volunteer&#39; is not one of: Service user, Patient, Carer, Other" in response.get_data(
        as_text=True
    )


# --- Bad rows: every one reported, nothing appended ----------------------------------------------


def test_every_bad_row_is_reported_with_its_line_and_nothing_is_appended(
    staff: FlaskClient, engine: Engine, settings: Settings, event_log: EventLog
) -> None:
    rows = [
        ["P1", "Ann Carter", "carer", "", "", "", ""],  # line 2
        ["P2", "Bo", "volunteer", "", "", "", ""],  # line 3: bad role
        ["P3", "Cy", "patient", "", "", "", ""],  # line 4
        ["P4", "Di", "patient", "not-an-address", "", "", ""],  # line 5: bad e-mail
        ["P1", "Ann again", "carer", "", "", "", ""],  # line 6: P1 is on line 2 already
        ["P5", "Ed", "patient", "", "yes", "Email", ""],  # line 7: consents by e-mail, no e-mail
    ]
    response = send(staff, as_csv(PEOPLE_HEADER, rows), "members.csv", kind="participants")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "nothing was imported, because 4 rows have problems" in html
    assert 'href="#file"' in html and 'aria-invalid="true"' in html
    assert "Line 3: role: &#39;volunteer&#39; is not one of: Service user, Patient, Carer, Other" in html
    assert "Line 5: email: is not a valid e-mail address" in html
    assert "Line 6: participant_id: &#39;P1&#39; is also on line 2; list each person once" in html
    assert "Line 7: preferred_channel: is E-mail, so email needs filling in" in html
    assert "Line 2:" not in html and "Line 4:" not in html
    assert stored(event_log, settings) == []


def test_attendance_and_contribution_references_are_checked_at_the_door(
    staff: FlaskClient, engine: Engine, settings: Settings, event_log: EventLog, gate: QualityGate
) -> None:
    imported(staff, as_csv(PEOPLE_HEADER, PEOPLE), "members.csv")
    process_all(settings, engine, gate)
    before = len(stored(event_log, settings))
    future = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()
    rows = [
        ["A1", "Forum", "support", "consultation", "27/03/2026", "2", "P1", "", ""],  # line 2: fine
        ["A1", "Forum", "support", "consultation", "28/03/2026", "2", "P2", "", ""],  # line 3: another date
        ["A1", "", "", "", "", "", "P9", "", ""],  # line 4: nobody registered as P9
        ["A1", "", "", "", "", "", "P3", "5", ""],  # line 5: longer than the activity
        ["A2", "Panel", "research", "", "", "1", "P1", "", ""],  # line 6: a new activity without level and date
        ["A3", "Later", "research", "user_led", future, "1", "P1", "", "boss"],  # line 7: future, bad role
        ["A1", "", "", "", "", "", "P1", "", ""],  # line 8: P1 is on line 2 for A1
        ["A4", "Old", "media", "user_led", "03/04/1926", "1", "P2", "", ""],  # line 9: a typing slip
    ]
    response = send(staff, as_csv(ATTENDANCE_HEADER, rows), "forum.csv", kind="attendance")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    for expected in (
        "Line 3: date: differs from activity &#39;A1&#39; on line 2 (27/03/2026)",
        "Line 4: participant_id: &#39;P9&#39; is not registered with your organisation",
        "Line 5: hours: is more than the activity lasted (2 hours)",
        "Line 6: level: is empty; activity &#39;A2&#39; is new, so it needs one",
        "Line 6: date: is empty; activity &#39;A2&#39; is new, so it needs one",
        "Line 7: date: is in the future; check the date",
        "Line 7: session_role: &#39;boss&#39; is not one of: Attendee, Speaker, Panel member, Co-facilitator, Lead",
        "Line 8: participant_id: &#39;P1&#39; is also on line 2 for this activity",
        "Line 9: date: is before 2000; is the year a typing slip?",
    ):
        assert expected in html, expected
    assert "Line 2:" not in html

    bad = [["C1", "P1, P7", "A9", "Suport", "27/03/2026", "  "]]
    response = send(staff, as_csv(CONTRIBUTION_HEADER, bad), "said.csv")
    html = response.get_data(as_text=True)
    for expected in (
        "Line 2: participant_ids: &#39;P7&#39; is not registered with your organisation",
        "Line 2: activity_id: &#39;A9&#39; is not a recorded activity of your organisation",
        "Line 2: area: &#39;Suport&#39; is not one of: Campaigning,",
        "Line 2: text: is empty; fill it in",
    ):
        assert expected in html, expected
    assert len(stored(event_log, settings)) == before


def test_header_problems_are_reported_on_line_1(staff: FlaskClient, settings: Settings, event_log: EventLog) -> None:
    data = as_csv(["display_name", "role", "emial", "role"], [["Ann", "carer", "a@example.org", "carer"]])
    html = send(staff, data, "members.csv", kind="participants").get_data(as_text=True)
    assert "Line 1: emial: is not a column of a participants file" in html
    assert "Line 1: role: this heading appears twice" in html
    html = send(staff, as_csv(["participant_ids", "text"], [["P1", "x"]]), "said.csv", kind="contributions").get_data(
        as_text=True
    )
    assert "Line 1: area: this column is missing; a contributions file needs it" in html
    assert "Line 1: date: this column is missing" in html
    assert stored(event_log, settings) == []


def test_many_problems_are_all_counted_and_the_page_shows_the_first_200(
    staff: FlaskClient, settings: Settings, event_log: EventLog
) -> None:
    rows = [[f"P{i}", f"Person {i}", "volunteer", "", "", "", ""] for i in range(250)]
    response = send(staff, as_csv(PEOPLE_HEADER, rows), "members.csv")
    html = response.get_data(as_text=True)
    assert "because 250 rows have problems" in html
    assert "Line 201: role:" in html and "Line 202: role:" not in html
    assert "And 50 more problems" in html
    assert stored(event_log, settings) == []


# --- Sending the same file twice ------------------------------------------------------------------


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


# --- Templates -------------------------------------------------------------------------------------


def test_templates_download_and_import_cleanly_once_filled(
    staff: FlaskClient, engine: Engine, settings: Settings, gate: QualityGate
) -> None:
    extra = {
        Kind.participants: ["P0002", "Alex Doe", "Service user", "", "", "", "no", "", "", "", "", "", ""],
        Kind.attendance: ["A0001", "", "", "", "", "", "P0002", "1", ""],
        Kind.contributions: ["", "P0001;P0002", "", "Training", "2026-03-28", "More breaks, please."],
    }
    for kind in Kind:
        response = staff.get(f"/staff/import/templates/{kind.value}.csv")
        assert response.status_code == 200
        assert response.mimetype == "text/csv"
        assert response.headers["Content-Disposition"] == f'attachment; filename="{kind.value}-template.csv"'
        text = response.get_data().decode("utf-8-sig")
        header, example = list(csv.reader(io.StringIO(text)))
        assert header == [column.name for column in importing.COLUMNS[kind]]
        assert len(example) == len(header)
        filled = response.get_data() + as_csv(extra[kind], [])  # the template, with one more row
        imported(staff, filled, f"{kind.value}.csv")
        process_all(settings, engine, gate)
    assert len(rows_of(engine, Participant)) == 2
    assert len(rows_of(engine, Attendance)) == 2
    assert len(rows_of(engine, Contribution)) == 2
    no_dead_letters(engine)
    assert staff.get("/staff/import/templates/nonsense.csv").status_code == 404


def test_the_page_describes_every_column_and_links_the_templates(staff: FlaskClient) -> None:
    html = staff.get(PAGE).get_data(as_text=True)
    for kind in Kind:
        assert f'href="/staff/import/templates/{kind.value}.csv"' in html
        for column in importing.COLUMNS[kind]:
            assert f"<code>{column.name}</code>" in html
    assert "<legend>What does the file hold?</legend>" in html
    assert 'enctype="multipart/form-data"' in html and 'accept=".csv,.xlsx' in html
    assert 'aria-describedby="file-hint"' in html
    assert "Promoting diversity" in html  # the allowed values are spelled out


def test_the_page_says_a_long_upload_is_under_way_with_its_own_script(staff: FlaskClient) -> None:
    response = staff.get(PAGE)
    html = response.get_data(as_text=True)
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]  # no inline script allowed
    assert '<script src="/static/import.js" defer></script>' in html
    assert "data-import-form" in html
    assert '<p class="hint" id="import-status" role="status"></p>' in html  # empty until JS fills it
    script = staff.get("/static/import.js")
    assert script.status_code == 200 and "javascript" in (script.mimetype or "")
    text = script.get_data(as_text=True)
    script.close()
    assert "Checking and importing\\u2026 this can take a minute for large files." in text
    assert "button.disabled = true" in text and 'getElementById("import-status")' in text


# --- Escaping, encodings, kinds ---------------------------------------------------------------------


def test_markup_is_stored_as_typed_and_shown_escaped(
    staff: FlaskClient, engine: Engine, settings: Settings, gate: QualityGate
) -> None:
    script = "<script>alert(1)</script>"
    bad = as_csv(["display_name", "role"], [[script, "carer"], ["Bo", script]])
    html = send(staff, bad, "<i>members.csv").get_data(as_text=True)
    assert script not in html and "<i>members" not in html
    assert "Line 3: role: &#39;&lt;script&gt;alert(1)&lt;/script&gt;&#39; is not one of" in html
    assert "&lt;i&gt;members.csv" in html

    page = imported(staff, as_csv(["display_name", "role"], [[script, "carer"]]), "<i>members.csv")
    assert "Imported 1 participant from &lt;i&gt;members.csv." in page
    assert script not in page and "<i>" not in page
    process_all(settings, engine, gate)
    [person] = rows_of(engine, Participant)
    assert person.display_name == script


@pytest.mark.parametrize("encoding", ["utf-8-sig", "cp1252"])
def test_a_bom_or_a_windows_1252_file_reads_correctly(
    staff: FlaskClient, engine: Engine, settings: Settings, gate: QualityGate, encoding: str
) -> None:
    data = as_csv(["Display Name", "Role"], [["Renée Brontë", "Carer"], ["Zoë £ Øster", "Patient"]], encoding)
    assert data.startswith(b"\xef\xbb\xbf") == (encoding == "utf-8-sig")
    imported(staff, data, "members.csv")
    process_all(settings, engine, gate)
    assert sorted(p.display_name for p in rows_of(engine, Participant)) == ["Renée Brontë", "Zoë £ Øster"]
    assert read_table(data, "m.csv").encoding == ("UTF-8" if encoding == "utf-8-sig" else "Windows-1252")


@pytest.mark.parametrize(
    ("header", "kind"),
    [
        (["participant_id", "display_name", "role"], Kind.participants),
        (["Display name", "ROLE"], Kind.participants),
        (["activity_id", "participant_id", "hours"], Kind.attendance),
        (ATTENDANCE_HEADER, Kind.attendance),
        (CONTRIBUTION_HEADER, Kind.contributions),
    ],
)
def test_the_kind_is_told_from_the_header(header: list[str], kind: Kind) -> None:
    table = read_table(as_csv(header, [["x"] * len(header)]), "f.csv")
    assert detect_kind(table.header) == kind


def test_a_header_that_fits_no_kind_or_several_asks_for_the_kind(staff: FlaskClient) -> None:
    with pytest.raises(FileProblem, match="Could not tell"):
        detect_kind(["name", "notes"])
    with pytest.raises(FileProblem, match="more than one kind of file"):
        detect_kind(["display_name", "role", "activity_id", "participant_id"])
    html = send(staff, as_csv(["name", "notes"], [["a", "b"]]), "x.csv").get_data(as_text=True)
    assert "choose the kind" in html and "Nothing was imported." in html
    # Choosing the kind overrides what the header suggests.
    html = send(staff, as_csv(["display_name", "role"], [["a", "carer"]]), "x.csv", kind="attendance").get_data(
        as_text=True
    )
    assert "Line 1: display_name: is not a column of a attendance file" in html


@pytest.mark.parametrize(
    ("data", "filename", "message"),
    [
        (b"", "empty.csv", "The file is empty."),
        (b"\n\n", "blank.csv", "The file is empty."),
        (b"display_name,role\n", "members.txt", "must be a CSV file (.csv) or an Excel workbook (.xlsx)"),
        (b"\xd0\xcf\x11\xe0rest", "old.xls", "Older Excel files (.xls) cannot be read"),
        (b"PK\x03\x04broken", "broken.xlsx", "could not be read as an Excel workbook"),
    ],
)
def test_unreadable_files_are_refused_with_a_reason(
    staff: FlaskClient, settings: Settings, event_log: EventLog, data: bytes, filename: str, message: str
) -> None:
    response = send(staff, data, filename)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert stored(event_log, settings) == []


def test_no_file_is_asked_for(staff: FlaskClient) -> None:
    token = csrf_from(staff, PAGE)
    response = staff.post(PAGE, data={"csrf_token": token, "kind": "detect"}, content_type="multipart/form-data")
    assert response.status_code == 422
    assert "Choose a CSV or Excel file to import." in response.get_data(as_text=True)


def test_too_many_rows_and_too_many_bytes_are_refused(
    staff: FlaskClient, settings: Settings, event_log: EventLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importing.read, "MAX_ROWS", 5)
    data = as_csv(["display_name", "role"], [[f"P {i}", "carer"] for i in range(6)])
    assert "more than 5 rows: split it into several files" in send(staff, data, "m.csv").get_data(as_text=True)
    # A body over the limit is refused before it is read (sent raw: the test client would spool a file upload).
    big = b"--x\r\n" + b"x" * (settings.max_body_bytes + 10)
    response = staff.post(PAGE, data=big, content_type="multipart/form-data; boundary=x")
    assert response.status_code == 413
    assert "The file is too large" in response.get_data(as_text=True)
    assert stored(event_log, settings) == []


def workbook(fill: Callable[[Any], object]) -> bytes:
    """A workbook whose first sheet `fill` writes (openpyxl records the sheet's extent in <dimension>)."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    fill(sheet)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_a_tiny_workbook_with_a_cell_at_row_1000000_is_refused_at_the_row_limit(
    staff: FlaskClient, settings: Settings, event_log: EventLog
) -> None:
    def fill(sheet: Any) -> None:
        sheet.append(["display_name", "role"])
        sheet.append(["Ann", "carer"])
        sheet.cell(row=1_000_000, column=1, value="far down")

    data = workbook(fill)
    assert len(data) < 10_000
    # Reading stops one line past the limit: openpyxl never fills in the 999,997 empty rows.
    with pytest.raises(FileProblem, match="more than 50,000 rows: split it into several files"):
        read_table(data, "far.xlsx")
    response = send(staff, data, "far.xlsx")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "The file has more than 50,000 rows: split it into several files." in html
    assert "Rows below line 50,001 count too, even ones that look empty" in html
    assert stored(event_log, settings) == []


def test_a_workbook_is_read_only_as_wide_as_its_header(
    staff: FlaskClient, engine: Engine, settings: Settings, gate: QualityGate
) -> None:
    def fill(sheet: Any) -> None:
        sheet.append(["display_name", "role"])
        sheet.append(["Ann", "carer"])
        sheet["XFD2"] = "a note far to the right"  # the sheet's <dimension> becomes A1:XFD3
        sheet.append(["Bo", "patient"])

    data = workbook(fill)
    table = read_table(data, "members.xlsx")
    assert table.header == ["display_name", "role"]
    assert table.rows == [(2, ["Ann", "carer"]), (3, ["Bo", "patient"])]  # two cells each, not 16,384
    # The note has no heading, so no column it could go in: it is not read, and the rows import.
    assert "Imported 2 participants from members.xlsx." in imported(staff, data, "members.xlsx")
    process_all(settings, engine, gate)
    assert [p.display_name for p in rows_of(engine, Participant, Participant.display_name)] == ["Ann", "Bo"]
    no_dead_letters(engine)


def test_a_header_wider_than_100_columns_is_refused(staff: FlaskClient) -> None:
    wide = workbook(lambda sheet: sheet.append(["display_name", "role", *(f"extra {i}" for i in range(99))]))
    message = "Line 1: the header row has more than 100 columns; a file needs at most 13"
    with pytest.raises(FileProblem, match=message):
        read_table(wide, "wide.xlsx")
    assert message in send(staff, wide, "wide.xlsx").get_data(as_text=True)
    csv_wide = as_csv(["display_name", "role", *(f"extra {i}" for i in range(99))], [["Ann", "carer"]])
    with pytest.raises(FileProblem, match=message):
        read_table(csv_wide, "wide.csv")
    # 100 columns are read; a heading past them (here at XFD) is not, so it does not make the header wider.
    far = workbook(lambda sheet: (sheet.append(["display_name", "role"]), sheet.cell(row=1, column=16384, value="x")))
    assert read_table(far, "far.xlsx").header == ["display_name", "role"]


def test_the_row_limit_counts_lines_after_the_header_and_stops_reading_there(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(importing.read, "MAX_ROWS", 5)
    people = [[f"P {i}", "carer"] for i in range(5)]
    assert len(read_table(as_csv(["display_name", "role"], people), "m.csv").rows) == 5
    ok = workbook(lambda sheet: [sheet.append(row) for row in [["display_name", "role"], *people]])
    assert len(read_table(ok, "m.xlsx").rows) == 5
    # A blank line below the limit counts: it may be a gap before more rows.
    with pytest.raises(FileProblem, match=r"more than 5 rows.*Rows below line 6 count too"):
        read_table(as_csv(["display_name", "role"], [*people, ["", ""]]), "m.csv")
    # Blank lines before the header do not use up the limit.
    assert len(read_table(b"\r\n\r\n" + as_csv(["display_name", "role"], people), "m.csv").rows) == 5
    # Nothing after the limit is read: a field that would make the CSV reader fail is never reached.
    broken = as_csv(["display_name", "role"], [*people, ["Extra", "carer"], ["x" * 200_000, "carer"]])
    with pytest.raises(FileProblem, match=r"more than 5 rows: split it into several files\.$"):
        read_table(broken, "m.csv")
    monkeypatch.setattr(importing.read, "MAX_ROWS", 10)
    with pytest.raises(FileProblem, match="Line 8: the CSV could not be read"):  # as it would be if read
        read_table(broken, "m.csv")


def test_a_csv_value_right_of_the_last_heading_is_reported_not_kept(
    staff: FlaskClient, settings: Settings, event_log: EventLog
) -> None:
    # An unquoted comma in the text shifts the end of the row one column to the right.
    data = b"display_name,role\r\nAnn,carer\r\nBo,patient" + b"," * 5000 + b"shifted\r\n"
    table = read_table(data, "members.csv")
    assert [cells for _, cells in table.rows] == [["Ann", "carer"], ["Bo", "patient"]]  # not 5,002 cells
    assert table.strays == {3: 5002}  # Bo, patient, 4,999 empty cells, shifted
    html = send(staff, data, "members.csv").get_data(as_text=True)
    assert "Line 3: column 5002: has a value but no heading in the header row; add one or clear it" in html
    assert stored(event_log, settings) == []


def test_csrf_is_required(staff: FlaskClient, event_log: EventLog, settings: Settings) -> None:
    response = staff.post(
        PAGE,
        data={"kind": "detect", "file": (io.BytesIO(as_csv(["display_name", "role"], [["A", "carer"]])), "m.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert stored(event_log, settings) == []


def test_only_staff_and_admins_may_import(
    app: Flask, emails: dict[str, str], settings: Settings, event_log: EventLog
) -> None:
    anonymous = app.test_client()
    assert anonymous.get(PAGE).status_code == 302
    leader = app.test_client()
    sign_in(leader, emails["leadership"])
    assert leader.get(PAGE).status_code == 403
    assert leader.get("/staff/import/templates/participants.csv").status_code == 403
    # A valid token (from a page leadership may see), so it is the role that refuses, not CSRF.
    token = csrf_from(leader, "/")
    response = leader.post(
        PAGE,
        data={"csrf_token": token, "kind": "detect", "file": (io.BytesIO(as_csv(PEOPLE_HEADER, PEOPLE)), "m.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 403
    assert stored(event_log, settings) == []
    admin = app.test_client()
    sign_in(admin, emails["admin"])
    assert admin.get(PAGE).status_code == 200


def test_the_register_read_is_the_signed_in_persons_organisation_only(
    app: Flask, staff: FlaskClient, engine: Engine, settings: Settings, event_log: EventLog, gate: QualityGate
) -> None:
    york = app.test_client()
    sign_in(york, add_organisation(engine, "mind-york")["staff"])
    imported(york, as_csv(PEOPLE_HEADER, PEOPLE), "members.csv")
    process_all(settings, engine, gate)
    assert {e.org_id for e in stored(event_log, settings)} == {"mind-york"}
    assert rows_of(engine, Participant) == []  # nothing in mind-leeds
    # York's people are not Leeds's: Leeds cannot record their attendance, and may use the same IDs.
    response = send(staff, as_csv(ATTENDANCE_HEADER, ATTENDANCE[:1]), "forum.csv")
    assert "Line 2: participant_id: &#39;P1&#39; is not registered with your organisation" in response.get_data(
        as_text=True
    )
    imported(staff, as_csv(PEOPLE_HEADER, PEOPLE), "members.csv")  # the same IDs are free in Leeds
    process_all(settings, engine, gate)
    assert len(rows_of(engine, Participant)) == 3
    no_dead_letters(engine)


# --- The command line -------------------------------------------------------------------------------


@pytest.fixture
def cli_env(settings: Settings, engine: Engine, emails: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("IMPACT_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("IMPACT_ENV", "test")
    monkeypatch.setenv("IMPACT_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("IMPACT_SECRET_KEY", settings.secret_key)
    monkeypatch.setenv("IMPACT_TOPIC", settings.topic)
    monkeypatch.setenv("IMPACT_DATABASE_URL", engine.url.render_as_string(hide_password=False))


def test_the_command_imports_a_file_with_a_progress_bar(
    cli_env: None, tmp_path: Any, engine: Engine, settings: Settings, event_log: EventLog, gate: QualityGate
) -> None:
    path = tmp_path / "members.csv"
    path.write_bytes(as_csv(PEOPLE_HEADER, PEOPLE))
    result = CliRunner().invoke(main, ["import", str(path), "--org", ORG])
    assert result.exit_code == 0, result.output
    assert "Checking rows" in result.stderr
    assert "Imported 3 participants from members.csv." in result.stdout
    assert {e.recorded_by for e in stored(event_log, settings)} == {"import:cli"}
    process_all(settings, engine, gate)
    assert len(rows_of(engine, Participant)) == 3

    path = tmp_path / "forum.xlsx"
    path.write_bytes(as_xlsx(ATTENDANCE_HEADER, ATTENDANCE))
    result = CliRunner().invoke(main, ["import", str(path), "--org", ORG, "--kind", "attendance"])
    assert result.exit_code == 0, result.output
    assert "Imported 4 attendances and 2 new activities from forum.xlsx." in result.stdout
    again = CliRunner().invoke(main, ["import", str(path), "--org", ORG])
    assert again.exit_code == 0 and "was already imported" in again.stdout
    assert len(stored(event_log, settings)) == 3 + 6


def test_the_command_exits_1_with_line_numbered_errors_and_imports_nothing(
    cli_env: None, tmp_path: Any, settings: Settings, event_log: EventLog
) -> None:
    path = tmp_path / "members.csv"
    rows = [["P1", "Ann", "carer", "", "", "", ""], ["P2", "Bo", "volunteer", "", "", "", ""], ["P3", "", "carer"]]
    path.write_bytes(as_csv(PEOPLE_HEADER, rows))
    result = CliRunner().invoke(main, ["import", str(path), "--org", ORG])
    assert result.exit_code == 1
    assert "Line 3: role: 'volunteer' is not one of" in result.stderr
    assert "Line 4: display_name: is empty; fill it in" in result.stderr
    assert "members.csv: 2 rows have problems; nothing was imported." in result.stderr
    assert stored(event_log, settings) == []

    unknown = CliRunner().invoke(main, ["import", str(path), "--org", "nobody-here"])
    assert unknown.exit_code == 1 and "there is no organisation 'nobody-here'" in unknown.stderr
    (tmp_path / "notes.csv").write_text("name,notes\na,b\n")
    unclear = CliRunner().invoke(main, ["import", str(tmp_path / "notes.csv"), "--org", ORG])
    assert unclear.exit_code == 1 and "Nothing was imported." in unclear.stderr


def test_a_workbook_that_would_unpack_to_a_huge_size_is_refused_unread() -> None:
    """A zip bomb: a few hundred kilobytes that would unpack to 200 MB of shared strings."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/sharedStrings.xml", b"<sst>" + b"a" * (200 * 1024 * 1024) + b"</sst>")
    assert len(buffer.getvalue()) < 1024 * 1024
    with pytest.raises(FileProblem, match="more than 100 MB"):
        read_table(buffer.getvalue(), "bomb.xlsx")
