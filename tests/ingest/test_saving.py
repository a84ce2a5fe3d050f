"""Read your writes: after a staff form saves, the next page says what it saved, and whether the processor
has it yet (saved), not yet (being saved, followed through GET /staff/saving), or refused it (with a link to
Needs attention); never a page that contradicts what was just done. Real apps, a real log and processor."""

from __future__ import annotations

import html
import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine

from impact.eventlog import EventLog
from impact.settings import Settings
from ingest import create_app
from processors.consumer import Processor
from processors.quality import QualityGate
from tests.factories import add_organisation, process_all, sign_in
from tests.factories import post_form as post

ORG, OTHER = "mind-leeds", "age-uk-york"
YESTERDAY = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
ACTIVITY = {"title": "Carers' panel", "area": "support", "level": "co_production", "date": YESTERDAY}
PERSON = {"display_name": "Ann Example", "participant_id": "p-ann", "role": "carer", "consent_to_contact": "no"}


@pytest.fixture
def app(settings: Settings, event_log: EventLog, engine: Engine) -> Flask:
    add_organisation(engine, ORG)
    add_organisation(engine, OTHER)
    return create_app(settings, event_log, test_config={"TESTING": True}, engine=engine)


def staff_of(app: Flask, org: str) -> FlaskClient:
    client = app.test_client()
    sign_in(client, f"staff@{org}.example.org")
    return client


@pytest.fixture
def staff(app: Flask) -> FlaskClient:
    return staff_of(app, ORG)


def notices(page: str) -> list[str]:
    """Each notice of the page: its classes, then its text (tags left out, entities read)."""
    found = re.findall(r'<div class="(notice[^"]*)"[^>]*>(.*?)</div>', page, re.DOTALL)
    return [f"{classes}|{html.unescape(re.sub(r'<[^>]+>', '', text)).strip()}" for classes, text in found]


def followed(page: str) -> str:
    """The signed token of the save a "being saved" notice follows."""
    token = re.search(r'data-saving="([^"]+)"', page)
    assert token, "the notice carries what it follows"
    return html.unescape(token.group(1))


def status(client: FlaskClient, token: str) -> Any:
    return client.get("/staff/saving", query_string={"ids": token})


@pytest.mark.twins  # the read models' queries on PostgreSQL too
def test_a_save_not_yet_processed_says_so_and_the_page_can_follow_it_until_saved(
    staff: FlaskClient, settings: Settings, engine: Engine, gate: QualityGate
) -> None:
    response = post(staff, "/staff/activities/new", ACTIVITY | {"duration_hours": "2", "activity_id": "a-panel"})
    assert response.status_code == 302
    page = staff.get(response.headers["Location"]).get_data(as_text=True)
    [shown] = notices(page)
    assert shown == (
        "notice notice-info notice-saving|Activity recorded: Carers' panel (reference a-panel). You can now mark "
        "who attended. It is being saved and will show here in a moment. Reload the page in a moment to see it."
    )
    assert "<noscript>" in page and 'src="/static/saving.js"' in page
    token = followed(page)
    answer = status(staff, token)
    assert (answer.status_code, answer.json["state"], answer.json["problem_url"]) == (200, "saving", None)
    assert answer.headers["Cache-Control"] == "no-store"

    process_all(settings, engine, gate)
    answer = status(staff, token)
    assert (answer.json["state"], answer.json["message"]) == ("saved", "Saved.")
    assert notices(staff.get("/staff/activities/a-panel").get_data(as_text=True)) == [], "the notice was shown once"


def test_a_page_that_records_nothing_new_confirms_as_before(staff: FlaskClient) -> None:
    """Signing out and other confirmations that follow no save are plain success notices, unchanged."""
    response = staff.post("/logout", data={"csrf_token": _csrf(staff)})
    page = staff.get(response.headers["Location"]).get_data(as_text=True)
    assert '<div class="notice notice-success" role="status">You have signed out.</div>' in page


def _csrf(client: FlaskClient) -> str:
    page = client.get("/staff/").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    return token.group(1)


@pytest.mark.twins  # the read models' queries on PostgreSQL too
def test_a_refused_save_says_not_saved_with_a_link_to_needs_attention(
    staff: FlaskClient, settings: Settings, engine: Engine, gate: QualityGate
) -> None:
    assert post(staff, "/staff/participants/new", PERSON).status_code == 302
    assert post(staff, "/staff/activities/new", ACTIVITY | {"duration_hours": "1", "activity_id": "a-1"}).status_code
    process_all(settings, engine, gate)
    staff.get("/staff/")  # the notices so far are shown

    # Three hours at a one-hour activity: the form takes it (0 to 24), the processor refuses it.
    response = post(
        staff, "/staff/activities/a-1/attendance", {"participants": ["p-ann"], "hours": "3", "session_role": "attendee"}
    )
    assert response.status_code == 302
    page = staff.get(response.headers["Location"]).get_data(as_text=True)
    assert "Attendance recorded: 1 person" in page and "It is being saved" in page
    token = followed(page)
    process_all(settings, engine, gate)

    answer = status(staff, token).json
    assert answer["state"] == "rejected"
    assert (
        answer["message"] == "Not saved: the hours recorded for this person are longer than the activity itself lasted."
    )
    assert re.fullmatch(r"/staff/problems/[0-9a-f-]{36}", answer["problem_url"])
    assert staff.get(answer["problem_url"]).status_code == 200, "the link opens the record in Needs attention"


def test_another_organisations_token_and_a_tampered_one_are_refused(
    app: Flask, staff: FlaskClient, settings: Settings, engine: Engine, gate: QualityGate
) -> None:
    response = post(staff, "/staff/participants/new", PERSON)
    token = followed(staff.get(response.headers["Location"]).get_data(as_text=True))
    process_all(settings, engine, gate)
    assert status(staff, token).json["state"] == "saved"

    other = staff_of(app, OTHER)
    refused = status(other, token)
    assert refused.status_code == 404 and "state" not in refused.json, "nothing about another organisation's saves"
    for tampered in (token[:-2] + ("AA" if not token.endswith("AA") else "BB"), "x", "a.b", "%00" * 5, "é" * 3000):
        answer = status(staff, tampered)
        assert answer.status_code == 404 and answer.is_json, tampered[:20]
    assert staff.get("/staff/saving").status_code == 400
    assert staff.get("/staff/saving?ids=").status_code == 400
    signed_out = FlaskClient(app)
    assert status(signed_out, token).status_code in (302, 401), "signed out: sign in first"


def test_a_record_page_can_say_what_this_browser_has_just_saved(
    app: Flask, staff: FlaskClient, settings: Settings, engine: Engine, gate: QualityGate
) -> None:
    from ingest.forms.saving import being_saved, just_saved

    assert post(staff, "/staff/participants/new", PERSON).status_code == 302
    with staff.session_transaction() as stored:
        kept = stored["just_saved"]
    assert [entry[:3] for entry in kept] == [[ORG, "participant", "p-ann"]]
    assert "ann@" not in str(kept) and len(str(kept)) < 300, "references and the notice's text only"
    staff.get("/staff/")  # the notice is shown
    with staff:  # the request's context stays open: a record page's view would call just_saved there
        staff.get("/staff/")
        assert just_saved("participant", "p-ann") == "Ann Example is registered (reference p-ann)."
        assert just_saved("participant", "p-bo") is None
        assert just_saved("activity", "p-ann") is None
        assert being_saved("participant", "p-bo") is None, "not saved here: the page is not found"
        shown = being_saved("participant", "p-ann")
        assert shown is not None and shown[1] == 200
        assert notices(shown[0]) == [
            "notice notice-info notice-saving|Being saved: Ann Example is registered (reference p-ann). "
            "It is being saved and will show here in a moment. Reload the page in a moment to see it."
        ]
        assert "<h1>Being saved</h1>" in shown[0]
        token = followed(shown[0])
    assert status(staff, token).json["state"] == "saving"
    process_all(settings, engine, gate)
    assert status(staff, token).json["state"] == "saved", "the page follows the record's own event"

    other = staff_of(app, OTHER)
    with other.session_transaction() as stored:
        stored["just_saved"] = kept  # even carried into another organisation's session
    with other:
        other.get("/staff/")
        assert just_saved("participant", "p-ann") is None, "only for the organisation that saved it"


# --- With a processor running: the form waits for it --------------------------------------------------------


@pytest.fixture
def processing(settings: Settings, engine: Engine, gate: QualityGate) -> Iterator[None]:
    """The real processor, consuming in a thread as `impact process` does."""
    from impact.eventlog import open_event_log

    stop = threading.Event()
    with open_event_log(settings) as log:
        processor = Processor.for_settings(settings, engine=engine, event_log=log, gate=gate)
        thread = threading.Thread(
            target=processor.run, args=(stop,), kwargs={"batch_size": 100, "poll_timeout_ms": 50}, daemon=True
        )
        thread.start()
        yield
        stop.set()
        thread.join(timeout=30)


def test_with_a_processor_running_the_form_waits_and_says_saved(
    settings: Settings, event_log: EventLog, engine: Engine, processing: None
) -> None:
    add_organisation(engine, ORG)
    waiting = settings.model_copy(update={"save_wait_seconds": 10.0})
    app = create_app(waiting, event_log, test_config={"TESTING": True}, engine=engine)
    staff = staff_of(app, ORG)
    started = time.monotonic()
    response = post(staff, "/staff/participants/new", PERSON)
    waited = time.monotonic() - started
    page = staff.get(response.headers["Location"]).get_data(as_text=True)
    assert notices(page) == ["notice notice-success|Ann Example is registered (reference p-ann)."]
    assert "Ann Example" in staff.get("/staff/participants/p-ann").get_data(as_text=True)
    assert waited < 10, f"the form waited {waited:.1f} s: only until the processor had it"


def test_a_record_waiting_for_what_it_refers_to_is_being_saved_with_a_note(
    staff: FlaskClient, settings: Settings, event_log: EventLog, engine: Engine, gate: QualityGate
) -> None:
    """Attendance at an activity not recorded yet is parked (not refused) while the processor waits for it."""
    from impact.eventlog.recording import record
    from ingest.forms.saving import progress
    from schemas.events import EVENT_ADAPTER

    assert post(staff, "/staff/participants/new", PERSON).status_code == 302  # known: only the activity is not
    raw = {"type": "session.attended", "org_id": ORG, "occurred_at": datetime.now(UTC).isoformat()}
    event = EVENT_ADAPTER.validate_python(
        raw | {"payload": {"activity_id": "a-later", "participant_id": "p-ann", "hours": 1}}
    )
    record(event_log, settings.topic, [event], recorded_by="test:api", engine=engine)
    waiting = settings.model_copy(update={"reference_wait_seconds": 600})
    process_all(waiting, engine, gate)

    found = progress(engine, ORG, [str(event.event_id)])
    assert (found.state, found.waiting_for) == ("saving", "the activity")
    assert found.notice() == (
        "It is being saved: it is waiting for the activity it refers to, which has not arrived yet."
    )
    assert progress(engine, OTHER, [str(event.event_id)]).state == "saving", "another organisation learns nothing"


def test_when_the_read_models_cannot_answer_the_page_keeps_asking(staff: FlaskClient, engine: Engine) -> None:
    """A fault of the read-model database is "being saved" (the page asks again), never a 5xx."""
    from sqlalchemy import text

    response = post(staff, "/staff/participants/new", PERSON)
    token = followed(staff.get(response.headers["Location"]).get_data(as_text=True))
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE processedevent RENAME TO processedevent_away"))
    try:
        answer = status(staff, token)
        assert (answer.status_code, answer.json["state"]) == (200, "saving")
        again = post(staff, "/staff/participants/new", PERSON | {"participant_id": "p-two"})
        assert again.status_code == 302, "the save is durable in the log: the form confirms it as being saved"
        assert "It is being saved" in staff.get(again.headers["Location"]).get_data(as_text=True)
    finally:
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE processedevent_away RENAME TO processedevent"))
