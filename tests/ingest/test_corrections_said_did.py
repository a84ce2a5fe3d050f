"""Correcting "you said, we did" from the staff pages: a contribution's words, people, place, day and area; a
change's title, area, "what we did" text and links. Each correction goes from the form (with its CSRF token)
through a real embedded log and the real processor to the read models, the record pages and what a
participant reads; it never tells anyone again by itself, but a person newly linked to a decided change is
owed feedback like anyone else (sent here through a real SMTP server).
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from impact.eventlog import EventLog
from impact.eventlog.recording import record
from impact.feedback import outcomes, summaries
from impact.settings import Settings
from ingest import create_app
from processors.feedback import FeedbackSender
from processors.mail import mailer_for
from processors.quality import QualityGate
from schemas.events import EVENT_ADAPTER
from schemas.readmodels import Change, ChangeLink, Contribution, ContributionParticipant, Feedback, RecordVersion
from tests.factories import add_organisation, csrf_from, free_port, logged, process_all, sign_in
from tests.factories import post_form as post
from tests.factories import summary_fields as summary
from tests.faults.runs import environment, snapshot

ORG = "mind-leeds"
YESTERDAY = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
LAST_WEEK = (datetime.now(UTC) - timedelta(days=7)).date().isoformat()
HOSTILE = "<script>alert('x')</script>"


@pytest.fixture
def app(settings: Settings, event_log: EventLog, engine: Engine) -> Flask:
    add_organisation(engine, ORG, name="Mind in Leeds")
    return create_app(settings, event_log, test_config={"TESTING": True}, engine=engine)


@pytest.fixture
def staff(app: Flask) -> FlaskClient:
    client = app.test_client()
    sign_in(client, f"staff@{ORG}.example.org")
    return client


def text(response: Any) -> str:
    return str(response.get_data(as_text=True))


def person(pid: str, name: str) -> dict[str, str]:
    return {
        "display_name": name,
        "participant_id": pid,
        "role": "carer",
        "email": f"{pid}@people.example.org",
        "consent_to_contact": "yes",
        "preferred_channel": "email",
    }


def contribution_ids(engine: Engine) -> dict[str, str]:
    """{text: contribution_id} of the organisation's contributions."""
    with Session(engine) as session:
        return {c.text: c.contribution_id for c in session.exec(select(Contribution).where(Contribution.org_id == ORG))}


def involvement(staff: FlaskClient, settings: Settings, engine: Engine, gate: QualityGate) -> tuple[str, str, str]:
    """Ann said one thing and Bo another; a change, agreed, is linked to Ann's. Returns (ann's, bo's, change)."""
    for pid, name in (("p-ann", "Ann Example"), ("p-bo", "Bo Brook")):
        assert post(staff, "/staff/participants/new", person(pid, name)).status_code == 302
    process_all(settings, engine, gate)
    for pid, words in (("p-ann", "Please open in the evenings."), ("p-bo", "Weekends would help carers.")):
        said = {"participants": [pid], "area": "support", "made_on": LAST_WEEK, "text": words}
        assert post(staff, "/staff/contributions/new", said).status_code == 302
    process_all(settings, engine, gate)
    ids = contribution_ids(engine)
    ann, bo = ids["Please open in the evenings."], ids["Weekends would help carers."]
    change = {
        "title": "Evening opening",
        "area": "support",
        "description": "We open until 9pm on Thursdays.",
        "status": "agreed",
        "decided_on": YESTERDAY,
        "links": [ann],
        f"strength-{ann}": "major",
    }
    assert post(staff, "/staff/changes/new", change).status_code == 302
    process_all(settings, engine, gate)
    with Session(engine) as session:
        [recorded] = session.exec(select(Change).where(Change.org_id == ORG)).all()
    return ann, bo, recorded.change_id


def test_the_contribution_page_shows_the_words_who_where_the_changes_and_the_history(
    staff: FlaskClient, settings: Settings, engine: Engine, gate: QualityGate
) -> None:
    ann, _bo, change_id = involvement(staff, settings, engine, gate)
    page = text(staff.get(f"/staff/contributions/{ann}"))
    assert "Please open in the evenings." in page
    assert '<a href="/staff/participants/p-ann">Ann Example</a>' in page
    assert f'<a href="/staff/changes/{change_id}">Evening opening</a>' in page
    assert f'href="/staff/contributions/{ann}/correct">Correct this contribution</a>' in page
    assert "<strong>Recorded</strong> on" in page and "History" in page, "its first version is in its history"
    change_page = text(staff.get(f"/staff/changes/{change_id}"))
    assert f'<a href="/staff/contributions/{ann}">' in change_page, "the change links to what influenced it"
    assert f'href="/staff/changes/{change_id}/correct">Correct this change</a>' in change_page


def test_correcting_a_contribution_reaches_the_read_models_the_page_and_what_the_person_reads(
    staff: FlaskClient, event_log: EventLog, settings: Settings, engine: Engine, gate: QualityGate
) -> None:
    ann, _bo, _change = involvement(staff, settings, engine, gate)
    form = text(staff.get(f"/staff/contributions/{ann}/correct"))
    assert "Please open in the evenings.</textarea>" in form, "the form starts from what is recorded"
    assert 'value="p-ann" checked' in form and f'value="{LAST_WEEK}"' in form
    corrected = {
        "participants": ["p-ann", "p-bo"],
        "area": "support",
        "made_on": YESTERDAY,
        "text": f"Please open in the evenings, {HOSTILE}",
        "reason": "Typo in the quote; Bo said it too",
    }
    response = post(staff, f"/staff/contributions/{ann}/correct", corrected)
    assert response.status_code == 302 and response.headers["Location"] == f"/staff/contributions/{ann}"
    [event] = [e for e in logged(event_log, settings) if e.type == "contribution.corrected"]
    assert event.org_id == ORG and event.recorded_by.startswith("account:")
    process_all(settings, engine, gate)
    with Session(engine) as session:
        said = session.get(Contribution, (ORG, ann))
        assert said is not None and (said.text, said.made_on.isoformat()) == (corrected["text"], YESTERDAY)
        people = session.exec(
            select(ContributionParticipant.participant_id).where(col(ContributionParticipant.contribution_id) == ann)
        )
        assert sorted(people.all()) == ["p-ann", "p-bo"]
        assert len(session.exec(select(RecordVersion).where(RecordVersion.record_id == ann)).all()) == 2
    page = text(staff.get(f"/staff/contributions/{ann}"))
    assert HOSTILE not in page and "&lt;script&gt;" in page, "typed markup is escaped"
    assert "Contribution corrected" in page and "Reason: Typo in the quote; Bo said it too" in page
    assert '<a href="/staff/participants/p-bo">Bo Brook</a>' in page
    with engine.connect() as conn:
        stories = {story.said.contribution_id: story for story in outcomes.stories(conn, ORG, "p-bo")}
    assert stories[ann].said.text == corrected["text"], "Bo's own page now lists what they said"


@pytest.mark.twins
def test_correcting_a_change_reaches_the_read_models_the_page_and_the_summary(
    staff: FlaskClient, settings: Settings, engine: Engine, gate: QualityGate
) -> None:
    ann, bo, change_id = involvement(staff, settings, engine, gate)
    path = f"/staff/changes/{change_id}/correct"
    form = text(staff.get(path))
    assert 'value="Evening opening"' in form and "We open until 9pm on Thursdays.</textarea>" in form
    assert f'value="{ann}" checked' in form and 'value="major" selected' in form
    assert 'name="status"' not in form, "the status has its own form"
    corrected = {
        "title": "Evening and weekend opening",
        "area": "support",
        "description": "We open until 9pm on Thursdays and 10am to 4pm on Saturdays.",
        "links": [ann, bo],
        f"strength-{ann}": "moderate",
        f"strength-{bo}": "major",
        "reason": "Saturdays were left out",
    }
    response = post(staff, path, corrected)
    assert response.status_code == 302 and response.headers["Location"] == f"/staff/changes/{change_id}"
    process_all(settings, engine, gate)
    with Session(engine) as session:
        change = session.get(Change, (ORG, change_id))
        assert change is not None
        assert (change.title, change.description, change.status) == (
            corrected["title"],
            corrected["description"],
            "agreed",
        ), "the text is corrected; the status is untouched"
        links = session.exec(select(ChangeLink).where(ChangeLink.change_id == change_id)).all()
        assert {link.contribution_id: link.strength for link in links} == {ann: "moderate", bo: "major"}
    page = text(staff.get(f"/staff/changes/{change_id}"))
    assert "Saturdays" in page and "Change corrected" in page and "Reason: Saturdays were left out" in page
    assert f'<a href="/staff/contributions/{bo}">' in page
    with engine.connect() as conn:
        ann_person = outcomes.person(conn, ORG, "p-ann")
        news = outcomes.news(conn, ORG, "p-ann", [change_id])
    assert ann_person is not None
    told = summaries.compose(ann_person, news, organisation="Mind in Leeds", link=None, link_expires=None)
    assert corrected["description"] in told.text and "9pm on Thursdays." not in told.text.replace(
        corrected["description"], ""
    ), "what Ann reads is the corrected 'what we did'"


def test_unlinking_every_contribution_is_a_correction_too(
    staff: FlaskClient, settings: Settings, engine: Engine, gate: QualityGate
) -> None:
    _ann, _bo, change_id = involvement(staff, settings, engine, gate)
    fields = {"title": "Evening opening", "area": "support", "description": "We open until 9pm on Thursdays."}
    response = post(staff, f"/staff/changes/{change_id}/correct", fields | {"reason": "Linked by mistake"})
    assert response.status_code == 302
    process_all(settings, engine, gate)
    with Session(engine) as session:
        assert session.exec(select(ChangeLink).where(ChangeLink.change_id == change_id)).all() == []
    assert "No contributions are linked." in text(staff.get(f"/staff/changes/{change_id}"))


@pytest.mark.parametrize(
    ("change", "fields"),
    [
        ({"reason": ""}, ["reason"]),
        ({"reason": "   "}, ["reason"]),
        ({"reason": "x" * 501}, ["reason"]),
        ({"participants": [], "text": "", "made_on": "2999-01-01"}, ["participants", "made_on", "text"]),
        ({"area": "astrology"}, ["area"]),
        ({"text": "Escape\x1bhere"}, ["text"]),
    ],
    ids=["no-reason", "blank-reason", "long-reason", "people-day-words", "unknown-area", "control-character"],
)
def test_a_contribution_correction_with_problems_names_each_and_records_nothing(
    staff: FlaskClient,
    event_log: EventLog,
    settings: Settings,
    engine: Engine,
    gate: QualityGate,
    change: dict[str, Any],
    fields: list[str],
) -> None:
    ann, _bo, _change = involvement(staff, settings, engine, gate)
    before = len(logged(event_log, settings))
    good = {"participants": ["p-ann"], "area": "support", "made_on": LAST_WEEK, "text": "Open evenings, please."}
    response = post(staff, f"/staff/contributions/{ann}/correct", good | {"reason": "Typo"} | change)
    assert response.status_code == 422
    assert summary(response) == fields
    page = text(response)
    assert "<title>Error: Correct a contribution" in page and f'id="{fields[0]}-error"' in page
    if "reason" in fields and not change.get("reason", "").strip():
        assert "Say why you are correcting it: staff will read it in the record&#39;s history." in page
    if "text" not in change:
        assert "Open evenings, please.</textarea>" in page, "what was typed is kept"
    assert len(logged(event_log, settings)) == before


def test_nothing_to_correct_records_nothing(
    staff: FlaskClient, event_log: EventLog, settings: Settings, engine: Engine, gate: QualityGate
) -> None:
    ann, _bo, change_id = involvement(staff, settings, engine, gate)
    before = len(logged(event_log, settings))
    same = {"participants": ["p-ann"], "area": "support", "made_on": LAST_WEEK, "text": "Please open in the evenings. "}
    response = post(staff, f"/staff/contributions/{ann}/correct", same | {"reason": "Checking"})
    assert response.status_code == 422 and "Nothing to correct: the values are the same." in text(response)
    same_change = {
        "title": "Evening opening",
        "area": "support",
        "description": "We open until 9pm on Thursdays.",
        "links": [ann],
        f"strength-{ann}": "major",
        "reason": "Checking",
    }
    response = post(staff, f"/staff/changes/{change_id}/correct", same_change)
    assert response.status_code == 422 and "Nothing to correct: the values are the same." in text(response)
    response = post(staff, f"/staff/changes/{change_id}/correct", same_change | {f"strength-{ann}": "minor"})
    assert response.status_code == 302, "a strength alone is a correction"
    assert len(logged(event_log, settings)) == before + 1


def test_a_change_correction_with_problems_names_each_and_records_nothing(
    staff: FlaskClient, event_log: EventLog, settings: Settings, engine: Engine, gate: QualityGate
) -> None:
    ann, bo, change_id = involvement(staff, settings, engine, gate)
    before = len(logged(event_log, settings))
    fields = {"title": "", "area": "", "description": "", "links": [ann, bo], f"strength-{ann}": "major", "reason": ""}
    response = post(staff, f"/staff/changes/{change_id}/correct", fields)
    assert response.status_code == 422
    assert summary(response) == ["title", "area", "description", "links", "reason"]
    assert "(1 without)" in text(response) and "<title>Error: Correct a change" in text(response)
    assert len(logged(event_log, settings)) == before


def test_another_organisations_records_are_not_found(
    app: Flask, staff: FlaskClient, settings: Settings, engine: Engine, gate: QualityGate
) -> None:
    ann, _bo, change_id = involvement(staff, settings, engine, gate)
    add_organisation(engine, "elsewhere")
    other = app.test_client()
    sign_in(other, "staff@elsewhere.example.org")
    token = csrf_from(other, "/staff/")
    for path in (
        f"/staff/contributions/{ann}",
        f"/staff/contributions/{ann}/correct",
        f"/staff/changes/{change_id}/correct",
    ):
        assert other.get(path).status_code == 404, path
    for path in (f"/staff/contributions/{ann}/correct", f"/staff/changes/{change_id}/correct"):
        response = other.post(path, data={"csrf_token": token, "text": "Theirs", "title": "Theirs", "reason": "x"})
        assert response.status_code == 404, f"POST {path}"
    assert staff.get("/staff/contributions/c-unknown").status_code == 404


def test_leadership_cannot_correct(
    app: Flask, staff: FlaskClient, event_log: EventLog, settings: Settings, engine: Engine, gate: QualityGate
) -> None:
    ann, _bo, change_id = involvement(staff, settings, engine, gate)
    before = len(logged(event_log, settings))
    client = app.test_client()
    sign_in(client, f"leadership@{ORG}.example.org")
    token = csrf_from(client, "/")
    for path in (f"/staff/contributions/{ann}/correct", f"/staff/changes/{change_id}/correct"):
        assert client.get(path).status_code == 403, path
        assert client.post(path, data={"csrf_token": token, "reason": "x", "text": "y"}).status_code == 403, path
    assert client.get(f"/staff/contributions/{ann}").status_code == 403
    assert len(logged(event_log, settings)) == before


def test_a_correction_without_its_csrf_token_is_refused(
    staff: FlaskClient, settings: Settings, engine: Engine, gate: QualityGate
) -> None:
    ann, _bo, _change = involvement(staff, settings, engine, gate)
    response = staff.post(f"/staff/contributions/{ann}/correct", data={"text": "Forged", "reason": "x"})
    assert response.status_code == 400


def test_a_declined_change_shows_what_was_proposed_and_why_not(
    staff: FlaskClient, settings: Settings, engine: Engine, gate: QualityGate
) -> None:
    _ann, _bo, change_id = involvement(staff, settings, engine, gate)
    note = "The building closes at 6pm."
    declining = {"status": "declined", "decided_on": YESTERDAY, "note": note}
    assert post(staff, f"/staff/changes/{change_id}/status", declining).status_code == 302
    process_all(settings, engine, gate)
    page = text(staff.get(f"/staff/changes/{change_id}"))
    assert "What was proposed" in page and "What the organisation" not in page
    assert "Why it was declined" in page and note in page


# --- Feedback: a correction tells nobody again; a newly linked person is owed word like anyone else ----------


class Inbox:
    def __init__(self) -> None:
        self.recipients: list[str] = []
        self.bodies: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        self.recipients += list(envelope.rcpt_tos)
        self.bodies.append(str(message.get_body(("plain",)).get_content()))  # type: ignore[union-attr]
        return "250 Message accepted"


@pytest.mark.twins  # the outbox's plan and claims, and the record pages' joins, are SQL that can differ
def test_a_newly_linked_person_is_owed_feedback_and_nobody_is_told_again(
    staff: FlaskClient, event_log: EventLog, settings: Settings, engine: Engine, gate: QualityGate
) -> None:
    ann, bo, change_id = involvement(staff, settings, engine, gate)
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        mail = settings.model_copy(
            update={
                "smtp_host": "127.0.0.1",
                "smtp_port": port,
                "smtp_security": "none",
                "smtp_timeout_seconds": 5.0,
                "mail_from": "Mind in Leeds <feedback@impact.example.org>",
                "public_url": "https://impact.example.org",
            }
        )

        def tick() -> None:
            FeedbackSender(engine=engine, event_log=event_log, settings=mail, mailer=mailer_for(mail)).tick()
            process_all(settings, engine, gate)  # fold the feedback.sent the sender recorded

        tick()
        assert inbox.recipients == ["p-ann@people.example.org"], "the decision told Ann"
        with engine.connect() as conn:
            assert outcomes.owed(conn, org_id=ORG) == []

        # A typo fixed in the words and in "what we did": nobody is told again.
        fixed = {"participants": ["p-ann"], "area": "support", "made_on": LAST_WEEK, "text": "Please open evenings."}
        assert post(staff, f"/staff/contributions/{ann}/correct", fixed | {"reason": "Typo"}).status_code == 302
        links = {"links": [ann], f"strength-{ann}": "major", "reason": "Typo"}
        change = {"title": "Evening opening", "area": "support", "description": "We open until 9pm on Thursday."}
        assert post(staff, f"/staff/changes/{change_id}/correct", change | links).status_code == 302
        process_all(settings, engine, gate)
        tick()
        assert inbox.recipients == ["p-ann@people.example.org"], "a correction alone re-sends nothing"

        # Bo's contribution linked to the decided change: Bo is owed word, Ann is not told again.
        both = change | {"links": [ann, bo], f"strength-{ann}": "major", f"strength-{bo}": "minor"}
        assert post(staff, f"/staff/changes/{change_id}/correct", both | {"reason": "Bo's idea too"}).status_code == 302
        process_all(settings, engine, gate)
        with engine.connect() as conn:
            owed = outcomes.owed(conn, org_id=ORG)
        assert [(o.person.participant_id, o.change_id) for o in owed] == [("p-bo", change_id)]
        tick()
        assert inbox.recipients == ["p-ann@people.example.org", "p-bo@people.example.org"]
        assert "Weekends would help carers." in inbox.bodies[1] and "9pm on Thursday." in inbox.bodies[1]
        tick()
        assert len(inbox.recipients) == 2, "and nobody twice"
    finally:
        controller.stop()
    with Session(engine) as session:
        told = session.exec(select(Feedback.participant_id).where(Feedback.change_id == change_id)).all()
    assert sorted(told) == ["p-ann", "p-bo"]


# --- Replay ---------------------------------------------------------------------------------------------


def test_replay_with_corrections_of_both_kinds_rebuilds_the_same_read_models(
    staff: FlaskClient, event_log: EventLog, settings: Settings, engine: Engine, gate: QualityGate
) -> None:
    ann, bo, change_id = involvement(staff, settings, engine, gate)
    said = {"participants": ["p-bo"], "area": "training", "made_on": YESTERDAY, "text": "Weekends help carers."}
    assert post(staff, f"/staff/contributions/{bo}/correct", said | {"reason": "Wrong area"}).status_code == 302
    change = {"title": "Opening hours", "area": "support", "description": "Open later.", "links": [bo]}
    links = {f"strength-{bo}": "moderate", "reason": "Linked the wrong one"}
    assert post(staff, f"/staff/changes/{change_id}/correct", change | links).status_code == 302
    process_all(settings, engine, gate, batch_size=1)  # one event at a time, as a live processor may
    again = change | {"title": "Opening hours again", "links": [ann, bo], f"strength-{ann}": "minor"}
    assert post(staff, f"/staff/changes/{change_id}/correct", again | links).status_code == 302
    process_all(settings, engine, gate, batch_size=1)
    incremental = snapshot(engine)
    assert len(incremental["record_version"]) >= 6

    env = environment(settings.model_copy(update={"database_url": engine.url.render_as_string(hide_password=False)}))
    replayed = subprocess.run(
        [sys.executable, "-m", "impact.cli", "replay"],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert replayed.returncode == 0, replayed.stderr[-2000:]
    assert snapshot(engine) == incremental


def test_a_picker_search_without_javascript_comes_back_to_the_correction_with_what_was_ticked(
    staff: FlaskClient, settings: Settings, engine: Engine, gate: QualityGate
) -> None:
    ann, bo, change_id = involvement(staff, settings, engine, gate)
    path = f"/staff/changes/{change_id}/correct"
    token = csrf_from(staff, path)
    back = staff.post(
        "/staff/search/pick",
        data={
            "csrf_token": token,
            "picker-back": path,
            "picker-search": "links",
            "links": [bo],
            "find-links": "Weekends",
        },
    )
    assert back.status_code == 303 and back.headers["Location"].startswith(f"{path}?")
    form = text(staff.get(back.headers["Location"]))
    assert f'value="{bo}" checked' in form and f'value="{ann}" checked' not in form, (
        "Ann was unticked before the search"
    )
    people = text(staff.get(f"/staff/contributions/{ann}/correct?participants=p-bo&picked=1"))
    assert 'value="p-bo" checked' in people and 'value="p-ann" checked' not in people


def test_an_erased_person_shows_as_erased_and_stays_linked_through_a_correction(
    staff: FlaskClient, event_log: EventLog, settings: Settings, engine: Engine, gate: QualityGate
) -> None:
    ann, _bo, _change = involvement(staff, settings, engine, gate)
    both = {"participants": ["p-ann", "p-bo"], "area": "support", "made_on": LAST_WEEK}
    said = both | {"text": "Please open in the evenings.", "reason": "Bo said it too"}
    assert post(staff, f"/staff/contributions/{ann}/correct", said).status_code == 302
    process_all(settings, engine, gate)
    erased = EVENT_ADAPTER.validate_python(
        {
            "type": "participant.erased",
            "org_id": ORG,
            "occurred_at": datetime.now(UTC).isoformat(),
            "payload": {"participant_id": "p-bo"},
        }
    )
    record(event_log, settings.topic, [erased], recorded_by="test", engine=engine)
    process_all(settings, engine, gate)
    page = text(staff.get(f"/staff/contributions/{ann}"))
    assert "(erased)" in page and "Bo Brook" not in page and "/staff/participants/p-bo" not in page
    form = text(staff.get(f"/staff/contributions/{ann}/correct"))
    assert "1 person whose details were erased stays linked." in form and 'value="p-bo"' not in form
    fixed = {"participants": ["p-ann"], "area": "support", "made_on": LAST_WEEK, "text": "Please open evenings."}
    assert post(staff, f"/staff/contributions/{ann}/correct", fixed | {"reason": "Typo"}).status_code == 302
    [corrected, *_] = [e for e in reversed(logged(event_log, settings)) if e.type == "contribution.corrected"]
    assert sorted(corrected.payload["participant_ids"]) == ["p-ann", "p-bo"], "the erased person stays linked"


def test_a_contribution_just_recorded_is_being_saved_before_it_is_folded(
    staff: FlaskClient, event_log: EventLog, settings: Settings, engine: Engine, gate: QualityGate
) -> None:
    assert post(staff, "/staff/participants/new", person("p-ann", "Ann Example")).status_code == 302
    process_all(settings, engine, gate)
    said = {"participants": ["p-ann"], "area": "support", "made_on": LAST_WEEK, "text": "Open on Sundays."}
    assert post(staff, "/staff/contributions/new", said).status_code == 302
    [made] = [e for e in logged(event_log, settings) if e.type == "contribution.made"]
    page = staff.get(f"/staff/contributions/{made.payload['contribution_id']}")
    assert page.status_code == 200 and "Being saved" in text(page), "not yet folded: never 'not found'"
    process_all(settings, engine, gate)
    assert "Open on Sundays." in text(staff.get(f"/staff/contributions/{made.payload['contribution_id']}"))
