"""Records that need attention: dead letters staff can see, correct and resubmit, on their organisation only.

Events are sent as a client would (the API, with a token) or through the staff forms, to a real embedded
log; the real processor with the real quality gate turns the bad ones into dead letters (SQLite and
PostgreSQL). The correction form is posted as a browser would, with its CSRF token and submission id.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from impact.eventlog import EventLog
from impact.settings import Settings
from processors.quality import QualityGate
from schemas.events import WITHHELD
from schemas.readmodels import Attendance, ChangeLink, DeadLetter, Participant
from tests.factories import csrf_from, issue_token, logged, process_all, sign_in
from tests.factories import summary_fields as summary

ORG, OTHER = "mind-leeds", "south-voices"
YESTERDAY = datetime.now(UTC) - timedelta(days=1)
HOSTILE = "<script>alert('x')</script>"
SECRET = "THEIRS-SECRET"
LIST = "/staff/problems/"


@pytest.fixture
def send(app: Flask, engine: Engine) -> Callable[..., None]:
    """Send (type, payload) events for ORG through the API, as a client with a token would."""
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {issue_token(engine, ORG)}"

    def send_events(*events: tuple[str, dict[str, Any]]) -> None:
        body = [
            {"type": type_, "org_id": ORG, "occurred_at": YESTERDAY.isoformat(), "payload": payload}
            for type_, payload in events
        ]
        response = client.post("/api/v1/events", json=body)
        assert response.status_code == 202, response.get_data(as_text=True)

    return send_events


def form_of(client: FlaskClient, path: str) -> dict[str, str]:
    """The CSRF token and submission id of the form on the page at `path`."""
    page = client.get(path).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    submission = re.search(r'name="submission" value="([^"]+)"', page)
    assert token and submission, f"{path} has a CSRF token and a submission id"
    return {"csrf_token": token.group(1), "submission": submission.group(1)}


def open_letters(engine: Engine, org: str = ORG) -> list[DeadLetter]:
    with Session(engine) as session:
        rows = session.exec(select(DeadLetter).where(DeadLetter.org_id == org)).all()
    return [row for row in rows if row.resolved_by is None]


def dead_attendance(send: Callable[..., None], settings: Settings, engine: Engine, gate: QualityGate) -> DeadLetter:
    """An activity, and an attendance at it by someone who is not registered: processed, so dead-lettered."""
    activity = {
        "activity_id": "a-panel",
        "title": "Carers' panel",
        "area": "support",
        "level": "co_production",
        "date": YESTERDAY.date().isoformat(),
        "duration_hours": 2,
    }
    attended = {"activity_id": "a-panel", "participant_id": "p-kim", "hours": 1.5, "session_role": "speaker"}
    send(("activity.held", activity), ("session.attended", attended))
    process_all(settings, engine, gate)
    [letter] = open_letters(engine)
    assert (letter.type, letter.expectation) == ("session.attended", "participant_registered")
    return letter


ATTENDANCE = {"activity_id": "a-panel", "hours": "1.5", "session_role": "speaker"}


# --- The list and the whole cycle -------------------------------------------------------------


def test_a_rejected_attendance_is_listed_corrected_and_accepted(
    staff: FlaskClient,
    send: Callable[..., None],
    event_log: EventLog,
    settings: Settings,
    engine: Engine,
    gate: QualityGate,
) -> None:
    assert "Nothing needs attention" in staff.get(LIST).get_data(as_text=True)
    letter = dead_attendance(send, settings, engine, gate)

    page = staff.get(LIST).get_data(as_text=True)
    assert "Records that need attention" in page and "Attendance" in page
    assert letter.reason in page, "the sentence staff can act on"
    assert f'href="/staff/problems/{letter.event_id}"' in page
    assert "Needs attention (1" in page, "the navigation counts what needs attention"

    detail = staff.get(f"/staff/problems/{letter.event_id}").get_data(as_text=True)
    assert letter.reason in detail
    assert re.search(r'<input type="text" id="participant_id" name="participant_id" value="p-kim"', detail), re.findall(
        r"<input[^>]*participant_id[^>]*>", detail
    )
    assert 'value="a-panel"' in detail and 'value="1.5"' in detail
    assert '<option value="speaker" selected>' in detail, "a vocabulary is a select, with the stored choice"
    assert f'value="{YESTERDAY.date().isoformat()}"' in detail, "the date it happened"

    # Register the person (through the staff form), then correct the attendance to name them.
    person = {"display_name": "Kim Jones", "participant_id": "p-kim-jones", "role": "carer"}
    fields = form_of(staff, "/staff/participants/new") | person | {"consent_to_contact": "no"}
    assert staff.post("/staff/participants/new", data=fields).status_code == 302
    process_all(settings, engine, gate)

    before = len(logged(event_log, settings))
    path = f"/staff/problems/{letter.event_id}"
    correction = form_of(staff, path) | ATTENDANCE | {"participant_id": "p-kim-jones"}
    correction["occurred_on"] = YESTERDAY.date().isoformat()
    response = staff.post(path, data=correction)
    assert response.status_code == 302 and response.headers["Location"] == LIST
    assert "Correction sent" in staff.get(LIST).get_data(as_text=True)
    assert staff.post(path, data=correction).status_code == 302, "a double submission"
    other_tab = form_of(staff, path) | ATTENDANCE | {"participant_id": "p-kim-jones", "hours": "1"}
    other_tab["occurred_on"] = YESTERDAY.date().isoformat()
    refused = staff.post(path, data=other_tab)
    assert refused.status_code == 422 and "already sent" in refused.get_data(as_text=True), "one correction only"
    events = logged(event_log, settings)
    assert len(events) == before + 1, "recorded once"
    sent = events[-1]
    assert (sent.type, sent.org_id, str(sent.corrects)) == ("session.attended", ORG, letter.event_id)
    assert str(sent.event_id) != letter.event_id, "a correction is a new fact with its own id"
    assert sent.payload["participant_id"] == "p-kim-jones" and sent.payload["hours"] == 1.5
    assert sent.payload["session_role"] == "speaker"
    assert sent.recorded_by.startswith("account:")

    process_all(settings, engine, gate)
    with Session(engine) as session:
        [attendance] = session.exec(select(Attendance).where(Attendance.org_id == ORG)).all()
        assert (attendance.participant_id, attendance.hours) == ("p-kim-jones", 1.5)
        resolved = session.get(DeadLetter, letter.event_id)
        assert resolved is not None and resolved.resolved_by == str(sent.event_id), "the processor resolved it"
    page = staff.get(LIST).get_data(as_text=True)
    assert letter.event_id not in page and "Nothing needs attention" in page
    assert staff.post(path, data=correction).status_code == 302, "a late resend of the same form records nothing"
    assert len(logged(event_log, settings)) == before + 1
    assert "has been corrected already" in staff.get(path).get_data(as_text=True)


def test_a_correction_with_invalid_values_shows_every_problem_and_records_nothing(
    staff: FlaskClient,
    send: Callable[..., None],
    event_log: EventLog,
    settings: Settings,
    engine: Engine,
    gate: QualityGate,
) -> None:
    letter = dead_attendance(send, settings, engine, gate)
    before = len(logged(event_log, settings))
    path = f"/staff/problems/{letter.event_id}"
    bad = {"activity_id": "a-panel", "participant_id": "", "hours": "lots", "session_role": "astronaut"}
    response = staff.post(path, data=form_of(staff, path) | bad | {"occurred_on": "2999-01-01"})
    assert response.status_code == 422
    assert summary(response) == ["participant_id", "hours", "session_role", "occurred_on"], "in the page's order"
    page = response.get_data(as_text=True)
    assert "<title>Error: " in page and 'role="alert"' in page and 'id="hours-error"' in page
    assert 'value="lots"' in page, "what was typed is kept"
    assert "Enter hours as a number" in page and "Choose their role in the session." in page
    assert "The date cannot be in the future." in page
    assert len(logged(event_log, settings)) == before, "nothing was recorded"
    assert [d.event_id for d in open_letters(engine)] == [letter.event_id]


def test_a_withheld_registration_is_typed_again_and_a_change_s_links_are_lines(
    staff: FlaskClient,
    send: Callable[..., None],
    event_log: EventLog,
    settings: Settings,
    engine: Engine,
    gate: QualityGate,
) -> None:
    """Personal fields are not kept with a dead letter: they start empty; links are "reference strength" lines."""
    ann = {"participant_id": "p-ann", "display_name": "Ann Example", "role": "carer"}
    twice = ann | {"display_name": "Annie Other", "contact": {"email": "annie@example.org"}}
    said = {"contribution_id": "c-1", "participant_ids": ["p-ann"], "area": "support", "text": HOSTILE}
    change = {
        "change_id": "ch-1",
        "area": "support",
        "title": "Evening sessions",
        "description": "We now meet in the evening.",
        "links": [{"contribution_id": "c-missing", "strength": "major"}],
    }
    send(("participant.registered", ann))
    send(("participant.registered", twice), ("contribution.made", said), ("change.recorded", change))
    process_all(settings, engine, gate)
    letters = {d.type: d for d in open_letters(engine)}
    assert set(letters) == {"participant.registered", "change.recorded"}, [d.reason for d in letters.values()]

    path = f"/staff/problems/{letters['participant.registered'].event_id}"
    page = staff.get(path).get_data(as_text=True)
    assert "Annie Other" not in page and "annie@example.org" not in page and WITHHELD not in page
    assert re.search(r'id="display_name" name="display_name" value=""', page)
    assert "withheld to protect personal data: type it again" in page
    assert "<legend>Contact details (optional)</legend>" in page and "<legend>Equality monitoring" in page
    fields = {"participant_id": "p-ann", "role": "carer", "occurred_on": YESTERDAY.date().isoformat()}
    response = staff.post(path, data=form_of(staff, path) | fields)
    assert response.status_code == 422 and summary(response) == ["display_name"], re.findall(
        r"error-message[^<]*<span[^<]*</span>[^<]*", response.get_data(as_text=True)
    )
    fields |= {"participant_id": "p-annie", "display_name": "Annie Other", "contact-email": "annie@example.org"}
    assert staff.post(path, data=form_of(staff, path) | fields).status_code == 302

    path = f"/staff/problems/{letters['change.recorded'].event_id}"
    page = staff.get(path).get_data(as_text=True)
    assert ">c-missing major</textarea>" in page
    day = {"occurred_on": YESTERDAY.date().isoformat()}
    fields = {"change_id": "ch-1", "area": "support", "title": "Evening sessions", "status": "proposed"} | day
    fields["description"] = "We now meet in the evening."
    response = staff.post(path, data=form_of(staff, path) | fields | {"links": "c-1 huge"})
    assert response.status_code == 422 and summary(response) == ["links"]
    assert "must be one of major, minor, moderate" in response.get_data(as_text=True)
    assert staff.post(path, data=form_of(staff, path) | fields | {"links": "c-1 major\n"}).status_code == 302

    process_all(settings, engine, gate)
    with Session(engine) as session:
        annie = session.get(Participant, (ORG, "p-annie"))
        assert annie is not None and (annie.display_name, annie.email) == ("Annie Other", "annie@example.org")
        [link] = session.exec(select(ChangeLink).where(ChangeLink.org_id == ORG)).all()
        assert (link.change_id, link.contribution_id, link.strength) == ("ch-1", "c-1", "major")
    assert open_letters(engine) == [], "both corrections resolved their dead letters"


def test_typed_markup_in_a_dead_letter_is_escaped(
    staff: FlaskClient, send: Callable[..., None], settings: Settings, engine: Engine, gate: QualityGate
) -> None:
    said = {"contribution_id": "c-x", "participant_ids": ["p-nobody"], "area": "support", "text": HOSTILE}
    send(("contribution.made", said))
    process_all(settings, engine, gate)
    [letter] = open_letters(engine)
    for path in (LIST, f"/staff/problems/{letter.event_id}"):
        page = staff.get(path).get_data(as_text=True)
        assert HOSTILE not in page, path
    page = staff.get(f"/staff/problems/{letter.event_id}").get_data(as_text=True)
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;</textarea>" in page
    assert 'name="participant_ids"' in page and ">p-nobody</textarea>" in page, "a list is one per line"


# --- Isolation and roles ----------------------------------------------------------------------


def their_dead_letter(engine: Engine) -> str:
    event_id = str(uuid.uuid4())
    with Session(engine) as session:
        session.add(
            DeadLetter(
                event_id=event_id,
                org_id=OTHER,
                type="session.attended",
                expectation="participant_registered",
                reason=f"{SECRET} reason",
                event_json=f'{{"type": "session.attended", "payload": {{"participant_id": "{SECRET}"}}}}',
                log_partition=0,
                log_offset=0,
                recorded_on=YESTERDAY.date(),
                dead_at=datetime.now(UTC),
            )
        )
        session.commit()
    return event_id


def test_another_organisations_dead_letter_is_not_found(
    staff: FlaskClient, engine: Engine, event_log: EventLog, settings: Settings
) -> None:
    theirs = their_dead_letter(engine)
    page = staff.get(LIST).get_data(as_text=True)
    assert SECRET not in page and "Nothing needs attention" in page and "Needs attention (" not in page
    token = csrf_from(staff, LIST)
    for path in (f"/staff/problems/{theirs}", f"/staff/problems/{uuid.uuid4()}", "/staff/problems/nothing"):
        response = staff.get(path)
        assert response.status_code == 404 and SECRET not in response.get_data(as_text=True), path
        data = {"csrf_token": token, "participant_id": "p-1", "activity_id": "a-1", "hours": "1", "occurred_on": ""}
        assert staff.post(path, data=data).status_code == 404, f"POST {path}"
    assert logged(event_log, settings) == []

    theirs_staff = staff.application.test_client()
    sign_in(theirs_staff, f"staff@{OTHER}.example.org")
    assert SECRET in theirs_staff.get(LIST).get_data(as_text=True), "their own staff see it"
    assert theirs_staff.get(f"/staff/problems/{theirs}").status_code == 200


def test_leadership_cannot_see_or_correct_dead_letters(app: Flask, engine: Engine) -> None:
    ours = their_dead_letter(engine)
    with Session(engine) as session:
        letter = session.get(DeadLetter, ours)
        assert letter is not None
        letter.org_id = ORG
        session.add(letter)
        session.commit()
    client = app.test_client()
    sign_in(client, f"leadership@{ORG}.example.org")
    token = csrf_from(client, "/")
    assert client.get(LIST).status_code == 403
    assert client.get(f"/staff/problems/{ours}").status_code == 403
    assert client.post(f"/staff/problems/{ours}", data={"csrf_token": token}).status_code == 403
    assert "Needs attention" not in client.get("/").get_data(as_text=True), "no link to a page they cannot use"


def test_signed_out_people_are_sent_to_sign_in_and_a_post_needs_its_csrf_token(app: Flask, staff: FlaskClient) -> None:
    response = app.test_client().get(LIST)
    assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=")
    assert staff.post(f"/staff/problems/{uuid.uuid4()}", data={"hours": "1"}).status_code == 400
