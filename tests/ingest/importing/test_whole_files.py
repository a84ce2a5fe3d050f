"""Spreadsheet import: whole files or nothing, every bad row with its line.

Real read models (the `engine` fixture), a real embedded event log, the real processor, and CSRF kept on.
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from openpyxl import Workbook
from sqlalchemy import Engine

from impact.eventlog import EventLog
from impact.settings import Settings
from processors.quality import QualityGate
from schemas.readmodels import Activity, Attendance, Contribution, ContributionParticipant, Participant
from tests.factories import process_all
from tests.ingest.importing.helpers import (
    ATTENDANCE,
    ATTENDANCE_HEADER,
    CONTRIBUTION_HEADER,
    CONTRIBUTIONS,
    PEOPLE,
    PEOPLE_HEADER,
    as_csv,
    as_xlsx,
    imported,
    no_dead_letters,
    rows_of,
    send,
    staff_account_id,
    stored,
)

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


@pytest.mark.twins  # the register's IN look-ups, in chunks, per organisation
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
