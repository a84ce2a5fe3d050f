"""Staff tools for the feedback loop: who is waiting, previews, telling people in person, retries, private
links, how often people hear, and who may use the pages (letters: test_feedback_letters.py).

Against real read models, the real embedded event log and the real processor:
the involvement is recorded as events, processed, and the pages are used as a browser would (signed in,
with CSRF tokens). The outbox rows the feedback sender would add are added with `impact.feedback.outbox.add`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, select

from impact.eventlog import EventLog
from impact.eventlog.embedded import EmbeddedLog
from impact.feedback import links, outbox
from impact.feedback.outbox import State
from impact.feedback.outcomes import Person
from impact.settings import Settings
from ingest import create_app
from ingest.forms.feedback import in_words
from processors.quality import QualityGate
from schemas.readmodels import Feedback, Participant
from tests.factories import csrf_from, post_form, sign_in
from tests.ingest.feedback_world import (
    ANN_SAID,
    BEA_SAID,
    HOSTILE,
    ORG,
    OTHER,
    THEIRS,
    World,
    build_world,
    closure,
    notice,
    page,
    post,
    waiting_rows,
)


@pytest.fixture
def world(settings: Settings, engine: Engine, event_log: EventLog, gate: QualityGate) -> World:
    return build_world(settings, engine, event_log, gate)


@pytest.fixture
def staff(world: World) -> FlaskClient:
    return world.client(f"staff@{ORG}.example.org")


# --- The waiting list -----------------------------------------------------------------------------


def test_the_waiting_page_lists_exactly_the_consenting_people_oldest_decision_first(staff: FlaskClient) -> None:
    body = page(staff, "/staff/feedback/")
    # Oldest decision first, then by name ("<script>…" sorts before "Ann").
    assert waiting_rows(body) == [("p-cal", "ch-1"), ("p-ann", "ch-1"), ("p-bea", "ch-1"), ("p-bea", "ch-2")]
    assert "Dee Noconsent" not in body, "no consent, no feedback"
    assert "<strong>4 waiting</strong>, of which <strong>0 failed</strong>" in body
    assert "<td>10</td>" in body and "<td>9</td>" in body, "days waiting since each decision"
    assert body.count("waiting for the sender") == 4
    assert {"e-mail", "letter", "staff: phone"} <= set(re.findall(r"<td>(e-mail|letter|staff: [a-z ]+)</td>", body))
    assert HOSTILE not in body and "&lt;script&gt;" in body, "typed markup is shown, never run"
    assert "<b>respite</b>" not in body and "Online &lt;b&gt;respite&lt;/b&gt; booking" in body
    assert THEIRS not in body
    assert "Feedback (4<span" in body, "the navigation counts who is waiting"


def test_the_preview_shows_the_summary_with_their_words_and_nobody_else_s(staff: FlaskClient) -> None:
    body = page(staff, "/staff/feedback/preview/p-ann/ch-1")
    assert ANN_SAID in body and "fewer forms" in body, "what they said, alone or with others"
    assert 'class="plain-text"' in body and "Subject" in body
    assert BEA_SAID not in body and "Bea Post" not in body and "p-bea" not in body
    assert THEIRS not in body
    assert "<b>respite</b>" not in body, "the change's title is escaped in the summary"
    assert staff.get("/staff/feedback/preview/p-ann/ch-theirs").status_code == 404, "their change"
    assert staff.get("/staff/feedback/preview/p-ann/ch-2").status_code == 404, "not linked to what Ann said"
    assert staff.get("/staff/feedback/preview/p-nobody/ch-1").status_code == 404


def test_marking_someone_told_in_person_records_feedback_sent_once(world: World, staff: FlaskClient) -> None:
    before = closure(world.engine)
    response = post(staff, "/staff/feedback/told/p-cal/ch-1", {"how": "in_person"})
    message = notice(staff, response)
    assert message.startswith("success: Recorded:") and "in person" in message and HOSTILE not in message
    [sent] = world.logged("feedback.sent")
    assert sent.org_id == ORG and sent.payload == {
        "participant_id": "p-cal",
        "change_ids": ["ch-1"],
        "channel": "in_person",
    }
    item = world.item("p-cal", "ch-1")
    assert (item.state, item.channel, item.recorded, item.done_by) == (
        "given",
        "in_person",
        True,
        f"staff@{ORG}.example.org",
    )
    body = page(staff, "/staff/feedback/")
    assert ("p-cal", "ch-1") not in waiting_rows(body), "closed: off the list before the processors catch up"

    again = post(staff, "/staff/feedback/told/p-cal/ch-1", {"how": "phone"})
    assert "already" in notice(staff, again)
    assert len(world.logged("feedback.sent")) == 1, "a second click appends nothing"

    world.process()
    with world.engine.connect() as conn:
        rows = conn.execute(select(Feedback.__table__).where(Feedback.__table__.c.participant_id == "p-cal")).all()  # type: ignore[attr-defined]
    assert [(r.org_id, r.change_id, r.channel) for r in rows] == [(ORG, "ch-1", "in_person")]
    assert closure(world.engine) == before + 1, "it counts towards the closure rate"
    body = page(staff, "/staff/feedback/")
    assert ("p-cal", "ch-1") not in waiting_rows(body)
    told = body.split('<h2 id="told-title">Told in the last 30 days</h2>')[1]
    assert "p-cal" in told and "in person" in told and f"staff@{ORG}.example.org" in told and HOSTILE not in told
    third = post(staff, "/staff/feedback/told/p-cal/ch-1", {"how": "in_person"})
    assert notice(staff, third).startswith("error: They have already been told")
    assert len(world.logged("feedback.sent")) == 1
    profile = page(staff, "/staff/participants/p-cal")
    assert "What they have been told" in profile and "Online &lt;b&gt;respite&lt;/b&gt; booking" in profile


def test_marking_told_needs_how_and_a_waiting_pair(world: World, staff: FlaskClient) -> None:
    response = post(staff, "/staff/feedback/told/p-ann/ch-1", {"how": "by pigeon"})
    assert notice(staff, response).startswith("error: Choose whether you told them")
    assert world.item("p-ann", "ch-1") is None and world.logged("feedback.sent") == []
    assert post(staff, "/staff/feedback/told/p-dee/ch-1", {"how": "phone"}).status_code == 404, "not waiting"
    assert post(staff, "/staff/feedback/told/p-ann/ch-theirs", {"how": "phone"}).status_code == 404
    world.add_item("p-bea", "ch-1", State.sending, channel="email")  # the sender claimed it a moment ago
    message = notice(staff, post(staff, "/staff/feedback/told/p-bea/ch-1", {"how": "phone"}))
    assert message == "error: Bea Post could not be marked as told: e-mail being sent now."
    assert world.item("p-bea", "ch-1").state == "sending"
    assert world.logged("feedback.sent") == []


def test_when_the_log_is_down_the_item_stays_closed_and_is_recorded_later(
    world: World, settings: Settings, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the log's folder should be")
    broken = create_app(
        settings, EmbeddedLog(blocker / "events.db"), test_config={"TESTING": True}, engine=world.engine
    )
    client = broken.test_client()
    sign_in(client, f"staff@{ORG}.example.org")
    message = notice(client, post(client, "/staff/feedback/told/p-ann/ch-1", {"how": "phone"}))
    assert "recorded automatically" in message
    item = world.item("p-ann", "ch-1")
    assert (item.state, item.recorded) == ("given", False)
    assert world.logged("feedback.sent") == []
    assert outbox.record(world.engine, world.event_log, settings.topic, org_id=ORG) == 1, "the sender's retry"
    [sent] = world.logged("feedback.sent")
    assert sent.payload["channel"] == "phone" and sent.payload["participant_id"] == "p-ann"


def test_a_failed_e_mail_is_explained_and_can_be_tried_again(world: World, staff: FlaskClient) -> None:
    world.add_item("p-ann", "ch-1", State.failed, channel="email", attempts=6, last_error="550 <b>mailbox</b> unknown")
    body = page(staff, "/staff/feedback/")
    assert "e-mail failed: 550 &lt;b&gt;mailbox&lt;/b&gt; unknown, tried 6 times" in body
    assert "<strong>4 waiting</strong>, of which <strong>1 failed</strong>" in body
    assert body.count("Try again") == 1
    message = notice(staff, post(staff, "/staff/feedback/retry/p-ann/ch-1"))
    assert message.startswith("success: The e-mail to Ann Email will be tried again")
    item = world.item("p-ann", "ch-1")
    assert (item.state, item.attempts, item.last_error) == ("queued", 0, None)
    assert "e-mail queued" in page(staff, "/staff/feedback/")
    assert notice(staff, post(staff, "/staff/feedback/retry/p-ann/ch-1")).startswith("error: The e-mail to Ann")
    assert post(staff, "/staff/feedback/retry/p-bea/ch-1").status_code == 404, "no item to try again"


# --- Letters --------------------------------------------------------------------------------------


# --- Participant page, links, forms ------------------------------------------------------------------


def test_revoking_a_participant_s_private_links(world: World, staff: FlaskClient) -> None:
    with world.engine.begin() as conn:
        for _ in range(2):
            links.create(conn, secret_key="k" * 40, org_id=ORG, participant_id="p-ann", days=30)
        links.create(conn, secret_key="k" * 40, org_id=OTHER, participant_id="p-ann", days=30)
    profile = page(staff, "/staff/participants/p-ann")
    assert "2 private links to their own page still work" in profile
    assert "/staff/participants/p-ann/export.json" in profile and "/staff/participants/p-ann/export.csv" in profile
    response = post(staff, "/staff/participants/p-ann/links/revoke")
    assert notice(staff, response).startswith("success: 2 private links revoked")
    with world.engine.connect() as conn:
        assert links.live(conn, org_id=ORG, participant_id="p-ann") == 0
        assert links.live(conn, org_id=OTHER, participant_id="p-ann") == 1, "their p-ann is another person"
    assert "No private link to their own page is working now" in page(staff, "/staff/participants/p-ann")
    again = post(staff, "/staff/participants/p-ann/links/revoke")
    assert notice(staff, again).startswith("info: They had no private link")


def test_how_often_they_hear_round_trips_through_both_forms(world: World, staff: FlaskClient) -> None:
    form = page(staff, "/staff/participants/new")
    assert "How often would they like to hear?" in form
    assert re.search(r'value="each_change" checked', form), "each change is the default"
    person = {
        "display_name": "Eve Monthly",
        "participant_id": "p-eve",
        "role": "patient",
        "email": "eve@example.org",
        "consent_to_contact": "yes",
        "preferred_channel": "email",
    }
    assert post_form(staff, "/staff/participants/new", person | {"feedback_frequency": "monthly"}).status_code == 302
    assert post_form(staff, "/staff/participants/new", person | {"feedback_frequency": "yearly"}).status_code == 422
    world.process()
    with world.engine.connect() as conn:
        row = conn.execute(select(Participant.__table__).where(Participant.__table__.c.participant_id == "p-eve")).one()  # type: ignore[attr-defined]
    assert row.feedback_frequency == "monthly"
    assert "Once a month, all together" in page(staff, "/staff/participants/p-eve")
    consent = page(staff, "/staff/participants/p-eve/consent")
    assert re.search(r'value="monthly" checked', consent), "the consent form starts from what they chose"
    changed = {"consent": "yes", "channel": "email", "feedback_frequency": "each_change"}
    assert post_form(staff, "/staff/participants/p-eve/consent", changed).status_code == 302
    world.process()
    with world.engine.connect() as conn:
        row = conn.execute(select(Participant.__table__).where(Participant.__table__.c.participant_id == "p-eve")).one()  # type: ignore[attr-defined]
    assert (row.feedback_frequency, row.consent_to_contact) == ("each_change", True)
    [_, consent_event] = [e for e in world.logged() if e.payload.get("participant_id") == "p-eve"]
    assert consent_event.payload["feedback_frequency"] == "each_change"


def _person(frequency: str = "each_change") -> Person:
    return Person(ORG, "p-x", "X", "x@example.org", None, None, True, "email", frequency, False)


NOW = datetime(2026, 11, 14, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("values", "frequency", "words"),
    [
        (None, "each_change", "waiting for the sender"),
        ({"state": "queued"}, "each_change", "e-mail queued"),
        (
            {"state": "queued", "due_at": datetime(2026, 12, 1, 9, tzinfo=UTC)},
            "monthly",
            "monthly digest on 1 Dec 2026",
        ),
        (
            {"state": "queued", "attempts": 2, "due_at": datetime(2026, 11, 14, 12, 4, tzinfo=UTC)},
            "each_change",
            "e-mail queued: tried 2 times, trying again at 12:04 on 14 Nov 2026",
        ),
        (
            {"state": "failed", "attempts": 1, "last_error": "refused"},
            "each_change",
            "e-mail failed: refused, tried 1 time",
        ),
        ({"state": "unsure"}, "each_change", "may have been sent — the system stopped while sending"),
        ({"state": "letter"}, "each_change", "letter to print"),
        ({"state": "stopped"}, "each_change", "stopped: consent withdrawn"),
        ({"state": "given", "channel": "phone"}, "each_change", "told by phone"),
    ],
)
def test_where_an_item_is_in_plain_words(values: dict[str, Any] | None, frequency: str, words: str) -> None:
    item = None
    if values is not None:
        item = type("Item", (), {"attempts": 0, "last_error": None, "channel": None, "due_at": NOW} | values)()
    assert in_words(item, _person(frequency), NOW) == words


# --- Who may use the pages -------------------------------------------------------------------------

POSTS = [
    ("/staff/feedback/told/p-cal/ch-1", {"how": "in_person"}),
    ("/staff/feedback/retry/p-ann/ch-1", {}),
    ("/staff/feedback/letters/print", {"item": "p-bea|ch-1"}),
    ("/staff/feedback/letters/posted", {"item": "p-bea|ch-1"}),
    ("/staff/participants/p-ann/links/revoke", {}),
]
GETS = ["/staff/feedback/", "/staff/feedback/preview/p-ann/ch-1", "/staff/feedback/letters"]


def test_a_post_without_its_csrf_token_is_refused(world: World, staff: FlaskClient) -> None:
    world.add_item("p-bea", "ch-1", State.letter, channel="post")
    world.add_item("p-ann", "ch-1", State.failed, channel="email", attempts=6)
    for path, data in POSTS:
        assert staff.post(path, data=data).status_code == 400, path
    assert world.logged("feedback.sent") == []
    assert (world.item("p-bea", "ch-1").state, world.item("p-ann", "ch-1").state) == ("letter", "failed")


def test_another_organisation_s_staff_cannot_see_or_act_on_our_people(world: World) -> None:
    world.add_item("p-bea", "ch-1", State.letter, channel="post")
    world.add_item("p-ann", "ch-1", State.failed, channel="email", attempts=6)
    theirs = world.client(f"staff@{OTHER}.example.org")
    body = page(theirs, "/staff/feedback/")
    assert waiting_rows(body) == [("p-ann", "ch-theirs")], "only their own participant, who shares a reference"
    assert "Bea Post" not in body and ANN_SAID not in body and "Ann Email" not in body
    assert "Bea Post" not in page(theirs, "/staff/feedback/letters")
    for path in ("/staff/feedback/preview/p-cal/ch-1", "/staff/feedback/preview/p-ann/ch-1"):
        assert theirs.get(path).status_code == 404, path
    for path, data in POSTS[:2] + POSTS[4:]:
        response = post(theirs, path.replace("p-ann", "p-cal") if "revoke" in path else path, data)
        assert response.status_code == 404, path
    for path, data in POSTS[2:4]:  # a batch naming our items prints and closes nothing of ours
        response = post(theirs, path, data)
        assert response.status_code == 303 and "Bea Post" not in notice(theirs, response)
    assert world.logged("feedback.sent") == []
    assert (world.item("p-bea", "ch-1").state, world.item("p-ann", "ch-1").state) == ("letter", "failed")


def test_leadership_cannot_use_the_feedback_pages(world: World) -> None:
    leader = world.client(f"leadership@{ORG}.example.org")
    token = csrf_from(leader, "/")
    for path in GETS:
        assert leader.get(path).status_code == 403, path
    for path, data in POSTS:
        assert leader.post(path, data={"csrf_token": token, **data}).status_code == 403, path
    assert world.logged("feedback.sent") == []


def test_signed_out_people_are_sent_to_sign_in(world: World) -> None:
    response = world.app.test_client().get("/staff/feedback/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
