"""The staff forms: one per kind of involvement, on the signed-in person's organisation, recorded once.

Each form is posted as a browser would (with its CSRF token) to a real embedded log and real read
models (SQLite and PostgreSQL); processing runs the real processor.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from impact.eventlog import EventLog
from impact.eventlog.sealing import keys_for, opened
from impact.settings import Settings
from ingest import create_app
from processors.quality import QualityGate
from schemas.readmodels import Attendance, Change, ChangeLink, Contribution, Participant
from tests.factories import add_organisation, csrf_from, logged, process_all, sign_in
from tests.factories import post_form as post
from tests.factories import summary_fields as summary

ORG = "mind-leeds"
YESTERDAY = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
HOSTILE = "<script>alert('x')</script>"


@pytest.fixture
def app(settings: Settings, event_log: EventLog, engine: Engine) -> Flask:
    add_organisation(engine, ORG)
    return create_app(settings, event_log, test_config={"TESTING": True}, engine=engine)


@pytest.fixture
def staff(app: Flask) -> FlaskClient:
    client = app.test_client()
    sign_in(client, f"staff@{ORG}.example.org")
    return client


PERSON = {
    "display_name": "Ann Example",
    "participant_id": "p-ann",
    "role": "carer",
    "email": "ann@example.org",
    "consent_to_contact": "yes",
    "preferred_channel": "email",
    "age_band": "prefer_not_to_say",
    "region": "yorkshire_humber",
}


def test_registering_a_participant_records_one_event_for_the_signed_in_organisation(
    staff: FlaskClient, event_log: EventLog, settings: Settings, engine: Engine
) -> None:
    response = post(staff, "/staff/participants/new", PERSON | {"org_id": "someone-else"})
    assert response.status_code == 302
    assert "Ann Example is registered" in staff.get(response.headers["Location"]).get_data(as_text=True)
    [event] = logged(event_log, settings)
    assert (event.type, event.org_id) == ("participant.registered", ORG), "the organisation comes from the account"
    assert event.recorded_by.startswith("account:")
    assert b"ann@example.org" not in event.to_bytes() and b"Ann Example" not in event.to_bytes(), "sealed in the log"
    with engine.connect() as conn:
        payload = opened(event, keys_for(conn, [event]))
    assert payload is not None and payload["display_name"] == "Ann Example"
    assert payload["contact"] == {"email": "ann@example.org", "phone": None, "postal_address": None}
    assert payload["demographics"]["age_band"] == "prefer_not_to_say"
    assert payload["demographics"]["gender"] is None, "a question not asked stays unanswered"


@pytest.mark.parametrize(
    ("change", "fields"),
    [
        ({"display_name": "", "role": ""}, ["display_name", "role"]),
        ({"consent_to_contact": ""}, ["consent_to_contact"]),
        ({"email": ""}, ["preferred_channel"]),  # e-mail chosen, but no address to write to
        ({"email": "not-an-address"}, ["email"]),
        ({"gender": "unicorn"}, ["gender"]),
    ],
    ids=["name-and-role", "consent", "channel-unreachable", "bad-email", "unknown-answer"],
)
def test_a_participant_form_with_problems_links_each_and_keeps_the_values(
    staff: FlaskClient, event_log: EventLog, settings: Settings, change: dict[str, str], fields: list[str]
) -> None:
    response = post(staff, "/staff/participants/new", PERSON | change)
    assert response.status_code == 422
    assert summary(response) == fields
    page = response.get_data(as_text=True)
    assert "<title>Error: " in page and f'id="{fields[0]}-error"' in page
    if change.get("display_name") != "":
        assert 'value="Ann Example"' in page, "what was typed is kept"
    assert logged(event_log, settings) == []


def test_a_double_submission_records_once(staff: FlaskClient, event_log: EventLog, settings: Settings) -> None:
    page = staff.get("/staff/participants/new").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    submission = re.search(r'name="submission" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    for _ in range(3):
        response = staff.post("/staff/participants/new", data=PERSON | {"csrf_token": token, "submission": submission})
        assert response.status_code == 302
    assert len(logged(event_log, settings)) == 1


def test_the_whole_cycle_through_the_forms(
    staff: FlaskClient, event_log: EventLog, settings: Settings, engine: Engine, gate: QualityGate
) -> None:
    """Register two people, record an activity and their attendance, what one said, a change, its status."""
    assert post(staff, "/staff/participants/new", PERSON).status_code == 302
    other = PERSON | {"display_name": HOSTILE, "participant_id": "p-bo", "consent_to_contact": "no", "email": ""}
    assert post(staff, "/staff/participants/new", other).status_code == 302
    activity = {"title": "Carers' panel", "area": "support", "level": "co_production", "date": YESTERDAY}
    response = post(staff, "/staff/activities/new", activity | {"duration_hours": "2", "activity_id": "a-panel"})
    assert response.status_code == 302
    attendance = response.headers["Location"]
    assert attendance.startswith("/staff/activities/a-panel/attendance?new=")
    page = staff.get(attendance).get_data(as_text=True)
    assert "Carers&#39; panel" in page, "the attendance page opens before the activity is processed"
    process_all(settings, engine, gate)

    page = staff.get("/staff/activities/a-panel/attendance").get_data(as_text=True)
    assert "Ann Example" in page and HOSTILE not in page and "&lt;script&gt;" in page
    assert post(staff, attendance, {"hours": "1.5", "session_role": "attendee"}).status_code == 422
    response = post(staff, attendance, {"participants": ["p-ann", "p-bo"], "hours": "1.5", "session_role": "speaker"})
    assert response.status_code == 302

    said = {"participants": ["p-ann"], "activity_id": "a-panel", "area": "support", "made_on": YESTERDAY}
    assert (
        post(staff, "/staff/contributions/new", said | {"text": "Let carers book respite online."}).status_code == 302
    )
    process_all(settings, engine, gate)
    with Session(engine) as session:
        [contribution] = session.exec(select(Contribution).where(Contribution.org_id == ORG)).all()
        assert {a.participant_id for a in session.exec(select(Attendance)).all()} == {"p-ann", "p-bo"}

    picker = staff.get("/staff/changes/new").get_data(as_text=True)
    assert "Let carers book respite online." in picker and "Ann Example" in picker
    change = {"title": "Online respite booking", "area": "support", "description": "Carers can book online now."}
    link = {"links": [contribution.contribution_id]}
    response = post(staff, "/staff/changes/new", change | {"status": "agreed", "decided_on": YESTERDAY} | link)
    assert response.status_code == 422 and summary(response) == ["links"], "a ticked contribution needs a strength"
    strength = {f"strength-{contribution.contribution_id}": "major"}
    response = post(
        staff, "/staff/changes/new", change | {"status": "agreed", "decided_on": YESTERDAY} | link | strength
    )
    assert response.status_code == 302
    process_all(settings, engine, gate)
    with Session(engine) as session:
        [recorded] = session.exec(select(Change).where(Change.org_id == ORG)).all()
        [linked] = session.exec(select(ChangeLink)).all()
        assert (recorded.status, linked.contribution_id, linked.strength) == (
            "agreed",
            contribution.contribution_id,
            "major",
        )

    status_page = f"/staff/changes/{recorded.change_id}/status"
    response = post(staff, status_page, {"status": "declined", "decided_on": "", "note": ""})
    assert response.status_code == 422 and summary(response) == ["decided_on", "note"]
    declining = {"status": "declined", "decided_on": YESTERDAY, "note": "The booking system cannot do it yet."}
    assert post(staff, status_page, declining).status_code == 302
    assert post(staff, "/staff/participants/p-ann/consent", {"consent": "no"}).status_code == 302
    process_all(settings, engine, gate)
    with Session(engine) as session:
        declined = session.get(Change, (ORG, recorded.change_id))
        assert declined is not None and (declined.status, declined.status_note, declined.decided_on.isoformat()) == (
            "declined",
            "The booking system cannot do it yet.",
            YESTERDAY,  # the status form sends version 2, which names the day of the decision
        )
        ann = session.get(Participant, (ORG, "p-ann"))
        assert ann is not None and ann.consent_to_contact is False
    assert {e.type for e in logged(event_log, settings)} == {
        "participant.registered",
        "activity.held",
        "session.attended",
        "contribution.made",
        "change.recorded",
        "change.status_changed",
        "participant.consent_changed",
    }
    for path in ("/staff/participants", "/staff/participants/p-bo", "/staff/changes", "/staff/activities/a-panel"):
        body = staff.get(path).get_data(as_text=True)
        assert HOSTILE not in body, f"{path} shows typed markup escaped"


def test_the_error_summary_is_announced_and_linked(staff: FlaskClient) -> None:
    response = post(staff, "/staff/activities/new", {"title": "", "date": "2999-01-01", "duration_hours": "30"})
    page = response.get_data(as_text=True)
    assert summary(response) == ["title", "area", "level", "date", "duration_hours"], "in the order of the page"
    assert 'role="alert"' in page and 'id="error-summary"' in page
    for field in ("title", "date", "area", "duration_hours"):
        assert f'id="{field}"' in page and f'id="{field}-error"' in page
    assert 'id="level"' in page, "a radio group's first option carries the id the summary links to"


def test_leadership_cannot_record(app: Flask, event_log: EventLog, settings: Settings) -> None:
    client = app.test_client()
    sign_in(client, f"leadership@{ORG}.example.org")
    token = csrf_from(client, "/")
    for path in ("/staff/", "/staff/participants/new", "/staff/changes/new", "/staff/import/"):
        assert client.get(path).status_code == 403, path
    for path in ("/staff/participants/new", "/staff/activities/new", "/staff/contributions/new", "/staff/changes/new"):
        assert client.post(path, data=PERSON | {"csrf_token": token}).status_code == 403, f"POST {path}"
    assert logged(event_log, settings) == []


def test_a_forged_or_foreign_just_recorded_link_is_not_found(staff: FlaskClient, app: Flask) -> None:
    """The attendance page of an activity not yet processed opens only from the signed link its recording gave."""
    forged = "/staff/activities/a-x/attendance?new=1&date=2026-01-01&title=Theirs&hours=1"
    assert staff.get(forged).status_code == 404
    activity = {"title": "Ours", "area": "support", "level": "consultation", "date": YESTERDAY}
    link = post(staff, "/staff/activities/new", activity | {"duration_hours": "1", "activity_id": "a-ours"})
    location = link.headers["Location"]
    assert staff.get(location).status_code == 200
    assert staff.get(location.replace("/a-ours/", "/a-other/")).status_code == 404, "the link names one activity"
    elsewhere = app.test_client()
    add_organisation(app.extensions["impact.engine"], "elsewhere")
    sign_in(elsewhere, "staff@elsewhere.example.org")
    assert elsewhere.get(location).status_code == 404, "and one organisation"


@pytest.mark.parametrize(
    "path", ["/staff/participants/a%00b", "/staff/activities/a%00b/attendance", "/staff/changes?q=%00"]
)
def test_a_nul_character_is_a_clear_400(staff: FlaskClient, path: str) -> None:
    response = staff.get(path)
    assert response.status_code == 400 and "NUL" in response.get_data(as_text=True)


def test_signed_out_people_are_sent_to_sign_in(app: Flask) -> None:
    response = app.test_client().get("/staff/participants/new")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_a_record_of_another_organisation_is_not_found_from_the_forms(staff: FlaskClient, engine: Engine) -> None:
    with Session(engine) as session:
        session.add(
            Change(
                org_id="elsewhere",
                change_id="ch-x",
                area="support",
                title="Theirs",
                description="d",
                status="proposed",
                recorded_on=datetime.now(UTC).date(),
            )
        )
        session.commit()
    assert staff.get("/staff/changes/ch-x").status_code == 404
    assert staff.get("/staff/changes/ch-x/status").status_code == 404
    token = csrf_from(staff, "/staff/")
    response = staff.post("/staff/changes/ch-x/status", data={"csrf_token": token, "status": "agreed"})
    assert response.status_code == 404
