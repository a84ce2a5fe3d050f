"""Staff print letters in batches and mark them posted: exactly the printed batch closes, once, and never a
letter whose reader withdrew consent since it was printed (real read models, log and processor).
"""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine

from impact.eventlog import EventLog
from impact.eventlog.recording import record
from impact.feedback import links
from impact.feedback.outbox import State
from impact.settings import Settings
from processors.quality import QualityGate
from tests.factories import csrf_from
from tests.ingest.feedback_world import (
    ANN_SAID,
    BEA_SAID,
    ORG,
    World,
    build_world,
    event,
    notice,
    page,
    post,
)


@pytest.fixture
def world(settings: Settings, engine: Engine, event_log: EventLog, gate: QualityGate) -> World:
    return build_world(settings, engine, event_log, gate)


@pytest.fixture
def staff(world: World) -> FlaskClient:
    return world.client(f"staff@{ORG}.example.org")


def _items_on(body: str) -> list[str]:
    return re.findall(r'name="item" value="([^"]+)"', body)


def test_letters_are_printed_in_a_batch_and_marking_posted_closes_exactly_that_batch(
    world: World, staff: FlaskClient
) -> None:
    world.add_item("p-bea", "ch-1", State.letter, channel="post")
    listing = page(staff, "/staff/feedback/letters")
    assert "Bea Post" in listing and "Online &lt;b&gt;respite&lt;/b&gt; booking" in listing
    assert _items_on(listing) == ["p-bea|ch-1"]
    with world.engine.connect() as conn:
        assert links.live(conn, org_id=ORG, participant_id="p-bea") == 0, "listing makes no links"

    printed = post(
        staff, "/staff/feedback/letters/print", {"item": _items_on(listing)}, form_on="/staff/feedback/letters"
    )
    assert printed.status_code == 200
    batch = printed.get_data(as_text=True)
    assert printed.headers["Cache-Control"] == "no-store"
    assert batch.count('<article class="letter"') == 1
    assert "1 High Street\nLeeds\nLS1 1AA" in batch and BEA_SAID in batch and "fewer forms" in batch
    assert "Ann Email" not in batch and ANN_SAID not in batch, "nobody else's words"
    assert f"{world.settings.public_url}/you/" in batch, "the letter carries their private link"
    assert "letters.css" in batch and "Mark this letter as posted" in batch
    with world.engine.connect() as conn:
        assert links.live(conn, org_id=ORG, participant_id="p-bea") == 1

    world.add_item("p-bea", "ch-2", State.letter, channel="post")  # found after the batch was printed
    response = staff.post(
        "/staff/feedback/letters/posted",
        data={"csrf_token": csrf_from(staff, "/staff/"), "item": _items_on(batch)},
    )
    assert notice(staff, response).startswith("success: 1 letter marked as posted")
    assert world.item("p-bea", "ch-1").state == "sent" and world.item("p-bea", "ch-2").state == "letter"
    [sent] = world.logged("feedback.sent")
    assert sent.payload == {"participant_id": "p-bea", "change_ids": ["ch-1"], "channel": "post"}
    again = staff.post(
        "/staff/feedback/letters/posted", data={"csrf_token": csrf_from(staff, "/staff/"), "item": _items_on(batch)}
    )
    assert notice(staff, again).startswith("error: These letters were already marked as posted")
    assert len(world.logged("feedback.sent")) == 1
    assert _items_on(page(staff, "/staff/feedback/letters")) == ["p-bea|ch-2"]


def test_a_printed_letter_is_not_marked_posted_once_its_reader_withdrew_consent(
    world: World, staff: FlaskClient
) -> None:
    world.add_item("p-bea", "ch-1", State.letter, channel="post")
    listing = page(staff, "/staff/feedback/letters")
    printed = post(
        staff, "/staff/feedback/letters/print", {"item": _items_on(listing)}, form_on="/staff/feedback/letters"
    )
    batch = printed.get_data(as_text=True)
    withdrawn = event("participant.consent_changed", {"participant_id": "p-bea", "consent": False})
    record(world.event_log, world.settings.topic, [withdrawn], recorded_by="test", engine=world.engine)
    world.process()
    response = staff.post(
        "/staff/feedback/letters/posted",
        data={"csrf_token": csrf_from(staff, "/staff/"), "item": _items_on(batch)},
    )
    assert notice(staff, response).startswith("error: Do not post the letter to Bea Post")
    assert world.item("p-bea", "ch-1").state == "letter"
    assert world.logged("feedback.sent") == []


def test_one_letter_covers_everything_a_person_waits_to_hear_by_post(world: World, staff: FlaskClient) -> None:
    world.add_item("p-bea", "ch-1", State.letter, channel="post")
    world.add_item("p-bea", "ch-2", State.letter, channel="post")
    world.add_item("p-ann", "ch-theirs", State.letter, channel="post")  # not owed in our organisation
    listing = page(staff, "/staff/feedback/letters")
    assert _items_on(listing) == ["p-bea|ch-1", "p-bea|ch-2"]
    forged = [*_items_on(listing), "p-ann|ch-1"]
    batch = post(staff, "/staff/feedback/letters/print", {"item": forged}).get_data(as_text=True)
    assert batch.count('<article class="letter"') == 1 and "Large-print letters" in batch
    response = staff.post(
        "/staff/feedback/letters/posted",
        data={"csrf_token": csrf_from(staff, "/staff/"), "item": [*_items_on(batch), "p-ann|ch-1"]},
    )
    assert "1 letter marked as posted (telling people about 2 changes)" in notice(staff, response)
    assert world.item("p-ann", "ch-1") is None, "only letters are marked posted"
    [sent] = world.logged("feedback.sent")
    assert sent.payload["change_ids"] == ["ch-1", "ch-2"]
