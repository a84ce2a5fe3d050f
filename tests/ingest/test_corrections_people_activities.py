"""Corrections from the staff pages: a participant's details, an activity, attendance withdrawn, and erasure.

Each form is posted as a browser would, to a real embedded log and real read models; the real processor folds
the events; what every surface reads (record pages, the feedback summaries' names, a replay) is the latest version.
"""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from impact.eventlog import EventLog
from impact.settings import Settings
from ingest import create_app
from processors.quality import QualityGate
from schemas.readmodels import Activity, Attendance, Participant, RecordVersion
from tests.factories import add_organisation, logged, process_all, sign_in
from tests.factories import post_form as post
from tests.factories import summary_fields as summary
from tests.ingest.test_staff_forms import ORG, PERSON, YESTERDAY


@pytest.fixture
def app(settings: Settings, event_log: EventLog, engine: Engine) -> Flask:
    add_organisation(engine, ORG)
    return create_app(settings, event_log, test_config={"TESTING": True}, engine=engine)


@pytest.fixture
def staff(app: Flask) -> FlaskClient:
    client = app.test_client()
    sign_in(client, f"staff@{ORG}.example.org")
    return client


ACTIVITY = {"title": "Carers panle", "area": "support", "level": "co_production", "date": YESTERDAY}


def _world(staff: FlaskClient, settings: Settings, engine: Engine, gate: QualityGate) -> None:
    assert post(staff, "/staff/participants/new", PERSON).status_code == 302
    other = PERSON | {"display_name": "Bo Other", "participant_id": "p-bo", "consent_to_contact": "no", "email": ""}
    assert post(staff, "/staff/participants/new", other).status_code == 302
    assert (
        post(staff, "/staff/activities/new", ACTIVITY | {"duration_hours": "2", "activity_id": "a-1"}).status_code
        == 302
    )
    process_all(settings, engine, gate)
    attended = {"participants": ["p-ann", "p-bo"], "hours": "2", "session_role": "attendee"}
    assert post(staff, "/staff/activities/a-1/attendance", attended).status_code == 302
    process_all(settings, engine, gate)


def test_a_participants_details_are_corrected_with_a_reason_and_the_history_names_only_the_fields(
    staff: FlaskClient, settings: Settings, engine: Engine, gate: QualityGate
) -> None:
    _world(staff, settings, engine, gate)
    form = staff.get("/staff/participants/p-ann/details").get_data(as_text=True)
    assert 'value="Ann Example"' in form and 'value="ann@example.org"' in form, "filled with the current values"

    details = {
        "display_name": "Ann Example",
        "role": "carer",
        "email": "ann@example.org",
        "age_band": "prefer_not_to_say",
    }
    details |= {"region": "yorkshire_humber", "reason": "No change"}
    response = post(staff, "/staff/participants/p-ann/details", details)
    assert response.status_code == 422 and "Nothing to correct" in response.get_data(as_text=True)

    removed = post(staff, "/staff/participants/p-ann/details", details | {"email": "", "reason": "Left"})
    assert removed.status_code == 422 and summary(removed) == ["email"], "she hears by e-mail: the address stays"
    no_reason = post(staff, "/staff/participants/p-ann/details", details | {"display_name": "Ann Moved", "reason": ""})
    assert no_reason.status_code == 422 and summary(no_reason) == ["reason"]

    moved = details | {
        "display_name": "Ann Newhouse",
        "postal_address": "2 New Street\nLeeds",
        "reason": "Married; moved",
    }
    assert post(staff, "/staff/participants/p-ann/details", moved).status_code == 302
    process_all(settings, engine, gate)
    with Session(engine) as session:
        ann = session.get(Participant, (ORG, "p-ann"))
        assert ann is not None and (ann.display_name, ann.postal_address, ann.email) == (
            "Ann Newhouse",
            "2 New Street\nLeeds",
            "ann@example.org",
        )
        assert ann.consent_to_contact is True and ann.preferred_channel == "email", "consent is untouched"
    page = staff.get("/staff/participants/p-ann").get_data(as_text=True)
    assert "Ann Newhouse" in page and "Married; moved" in page
    assert "Name changed" in page and "Postal address changed" in page
    assert "Ann Example" not in page, "the history never shows an earlier name"
    assert "Yes, by e-mail" in page
    assert "Ann Newhouse" in staff.get("/staff/activities/a-1").get_data(as_text=True), "every page: the latest name"


def test_an_activity_is_corrected_and_the_history_shows_what_it_said_before(
    staff: FlaskClient, settings: Settings, engine: Engine, gate: QualityGate
) -> None:
    _world(staff, settings, engine, gate)
    form = staff.get("/staff/activities/a-1/correct").get_data(as_text=True)
    assert 'value="Carers panle"' in form and "at most 2 hours" in form, "current values, and the limit it checks"
    same = ACTIVITY | {"duration_hours": "2", "reason": "x"}
    assert "Nothing to correct" in post(staff, "/staff/activities/a-1/correct", same).get_data(as_text=True)
    shorter = post(staff, "/staff/activities/a-1/correct", same | {"duration_hours": "1"})
    assert shorter.status_code == 422 and summary(shorter) == ["duration_hours"]

    fixed = same | {"title": "Carers' panel", "duration_hours": "2.5", "reason": "Typo in the title"}
    assert post(staff, "/staff/activities/a-1/correct", fixed).status_code == 302
    process_all(settings, engine, gate)
    with Session(engine) as session:
        activity = session.get(Activity, (ORG, "a-1"))
        assert activity is not None and (activity.title, activity.duration_hours) == ("Carers' panel", 2.5)
        kinds = [v.type for v in session.exec(select(RecordVersion).where(RecordVersion.record_id == "a-1")).all()]
        assert sorted(kinds) == ["activity.corrected", "activity.held"]
    page = staff.get("/staff/activities/a-1").get_data(as_text=True)
    assert "Carers panle" in page and "Carers&#39; panel" in page and "Typo in the title" in page
    assert "Activity corrected" in page


def test_attendance_recorded_for_the_wrong_person_is_withdrawn_and_no_longer_counts(
    staff: FlaskClient, settings: Settings, engine: Engine, gate: QualityGate
) -> None:
    _world(staff, settings, engine, gate)
    with Session(engine) as session:
        bo = session.exec(select(Attendance).where(Attendance.participant_id == "p-bo")).one()
    path = f"/staff/activities/a-1/attendance/{bo.event_id}/withdraw"
    assert "Withdraw Bo Other" in staff.get(path).get_data(as_text=True)
    assert summary(post(staff, path, {"reason": ""})) == ["reason"]
    assert post(staff, path, {"reason": "Bo was not there"}).status_code == 302
    process_all(settings, engine, gate)
    with Session(engine) as session:
        assert [a.participant_id for a in session.exec(select(Attendance)).all()] == ["p-ann"]
    page = staff.get("/staff/activities/a-1").get_data(as_text=True)
    assert "Attendance of Bo Other withdrawn." in page and "Bo was not there" in page
    assert staff.get("/staff/activities/a-1/attendance/not-an-id/withdraw").status_code == 404


def test_only_admins_erase_and_the_confirmation_names_the_person(
    app: Flask, staff: FlaskClient, event_log: EventLog, settings: Settings, engine: Engine, gate: QualityGate
) -> None:
    _world(staff, settings, engine, gate)
    assert staff.get("/staff/participants/p-bo/erase").status_code == 403
    assert "Erase Bo" not in staff.get("/staff/participants/p-bo").get_data(as_text=True)
    admin = app.test_client()
    sign_in(admin, f"admin@{ORG}.example.org")
    page = admin.get("/staff/participants/p-bo/erase").get_data(as_text=True)
    assert "Erase Bo Other (p-bo)" in page and "cannot be undone" in page
    unconfirmed = post(admin, "/staff/participants/p-bo/erase", {})
    assert unconfirmed.status_code == 422 and summary(unconfirmed) == ["confirm"]
    assert post(admin, "/staff/participants/p-bo/erase", {"confirm": "yes"}).status_code == 302
    process_all(settings, engine, gate)
    with Session(engine) as session:
        bo = session.get(Participant, (ORG, "p-bo"))
        assert bo is not None and bo.erased and bo.display_name is None
    assert admin.get("/staff/participants/p-bo").status_code == 404
    assert [e.type for e in logged(event_log, settings)].count("participant.erased") == 1


def test_another_organisations_records_cannot_be_corrected(
    staff: FlaskClient, settings: Settings, engine: Engine, gate: QualityGate, app: Flask
) -> None:
    _world(staff, settings, engine, gate)
    add_organisation(engine, "other-org")
    other = app.test_client()
    sign_in(other, "staff@other-org.example.org")
    for path in (
        "/staff/participants/p-ann/details",
        "/staff/activities/a-1/correct",
        "/staff/participants/p-ann/erase",
    ):
        assert other.get(path).status_code in {403, 404}, path
    leadership = app.test_client()
    sign_in(leadership, f"leadership@{ORG}.example.org")
    assert leadership.get("/staff/activities/a-1/correct").status_code == 403
