"""Staff print letters in batches and mark them posted: exactly the printed batch closes, once, and never a
letter whose reader withdrew consent since it was printed (real read models, log and processor).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlmodel import Session

from dashboard import create_app as create_dashboard
from dashboard.participant import Tries
from impact.eventlog import EventLog
from impact.eventlog.recording import record
from impact.feedback import contact, links
from impact.feedback.outbox import State
from impact.settings import Settings
from processors.quality import QualityGate
from tests.factories import csrf_from
from tests.ingest.feedback_world import (
    ANN_SAID,
    BEA_SAID,
    ORG,
    OTHER,
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


def _print(staff: FlaskClient, items: list[str], *, form_on: str = "/staff/") -> tuple[str, Any]:
    """Post the batch as the list's button does: a redirect to the batch's own page (GET after POST)."""
    response = post(staff, "/staff/feedback/letters/print", {"item": items}, form_on=form_on)
    assert response.status_code == 303, response.get_data(as_text=True)[:300]
    where = response.headers["Location"]
    assert re.fullmatch(r"/staff/feedback/letters/batch/[0-9a-f-]{36}", where), where
    return where, staff.get(where)


def test_letters_are_printed_in_a_batch_and_marking_posted_closes_exactly_that_batch(
    world: World, staff: FlaskClient
) -> None:
    world.add_item("p-bea", "ch-1", State.letter, channel="post")
    listing = page(staff, "/staff/feedback/letters")
    assert "Bea Post" in listing and "Online &lt;b&gt;respite&lt;/b&gt; booking" in listing
    assert _items_on(listing) == ["p-bea|ch-1"]
    with world.engine.connect() as conn:
        assert links.live(conn, org_id=ORG, participant_id="p-bea") == 0, "listing makes no links"

    _where, printed = _print(staff, _items_on(listing), form_on="/staff/feedback/letters")
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
    _where, printed = _print(staff, _items_on(listing), form_on="/staff/feedback/letters")
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
    batch = _print(staff, forged)[1].get_data(as_text=True)
    assert batch.count('<article class="letter"') == 1 and "Large-print letters" in batch
    response = staff.post(
        "/staff/feedback/letters/posted",
        data={"csrf_token": csrf_from(staff, "/staff/"), "item": [*_items_on(batch), "p-ann|ch-1"]},
    )
    assert "1 letter marked as posted (telling people about 2 changes)" in notice(staff, response)
    assert world.item("p-ann", "ch-1") is None, "only letters are marked posted"
    [sent] = world.logged("feedback.sent")
    assert sent.payload["change_ids"] == ["ch-1", "ch-2"]


# --- One link per person per batch; a page that survives a reload; the short code ----------------


def _set_contact(world: World) -> None:
    with Session(world.engine) as db:
        contact.set_contact(
            session=db,
            org_id=ORG,
            values={
                "phone": "0113 496 0000",
                "postal_address": "12 Example Street\nLeeds LS1 1AA",
                "reply_email": "hello@mind-leeds.example.org",
                "website": "",
            },
        )
        db.commit()


def _code_on(batch: str) -> str:
    found = re.search(r"Your code: <strong>([A-Z0-9]{5}-[A-Z0-9]{5})</strong>", batch)
    assert found, "the letter shows its short code"
    return found.group(1)


def test_reopening_a_batch_shows_the_same_letters_links_and_codes(world: World, staff: FlaskClient) -> None:
    world.add_item("p-bea", "ch-1", State.letter, channel="post")
    where, first = _print(staff, _items_on(page(staff, "/staff/feedback/letters")))
    batch = first.get_data(as_text=True)
    again = page(staff, where)  # a reload, or the page opened again from the browser's history
    assert again.count('<article class="letter"') == 1 and "That did not work" not in again
    link = re.findall(r"/you/[A-Za-z0-9._-]{20,}", batch)
    assert link and re.findall(r"/you/[A-Za-z0-9._-]{20,}", again) == link, "the same link"
    assert _code_on(again) == _code_on(batch), "the same code"
    with world.engine.connect() as conn:
        assert links.live(conn, org_id=ORG, participant_id="p-bea") == 1, "one link per person per batch"

    posted = staff.post(
        "/staff/feedback/letters/posted", data={"csrf_token": csrf_from(staff, "/staff/"), "item": _items_on(batch)}
    )
    assert notice(staff, posted).startswith("success: 1 letter marked as posted")
    after_posting = staff.get(where)
    assert notice(staff, after_posting).startswith("info: Every letter of that batch has been marked as posted")


def test_a_batch_of_another_organisation_or_a_made_up_one_shows_nothing(world: World, staff: FlaskClient) -> None:
    world.add_item("p-bea", "ch-1", State.letter, channel="post")
    where, _first = _print(staff, _items_on(page(staff, "/staff/feedback/letters")))
    theirs = world.client(f"staff@{OTHER}.example.org")
    response = theirs.get(where)
    assert response.status_code == 303 and "Bea Post" not in response.get_data(as_text=True)
    assert staff.get("/staff/feedback/letters/batch/not-a-batch").status_code == 404


def test_a_letter_carries_the_charitys_contact_details_and_how_to_stop(world: World, staff: FlaskClient) -> None:
    _set_contact(world)
    world.add_item("p-bea", "ch-1", State.letter, channel="post")
    _where, printed = _print(staff, _items_on(page(staff, "/staff/feedback/letters")))
    batch = printed.get_data(as_text=True)
    top = batch.split('<address class="letter-address">')[0].split('<address class="letter-from">')[1]
    assert "12 Example Street" in top and "Leeds LS1 1AA" in top and "Phone: 0113 496 0000" in top
    assert "To ask us anything, or to stop these updates, get in touch." in batch
    assert "Phone: 0113 496 0000" in batch.split('class="letter-text"')[1]
    assert f"Or go to {world.settings.public_url}/you/" in batch and "and type this code: " in batch


def test_the_code_on_a_letter_opens_the_persons_page(world: World, staff: FlaskClient) -> None:
    world.add_item("p-bea", "ch-1", State.letter, channel="post")
    _where, printed = _print(staff, _items_on(page(staff, "/staff/feedback/letters")))
    code = _code_on(printed.get_data(as_text=True))
    dashboard = create_dashboard(world.settings, world.engine).server.test_client()

    def typed(value: str) -> Any:
        form = dashboard.get("/you/").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert token
        return dashboard.post("/you/", data={"csrf_token": token.group(1), "code": value})

    wrong = typed("ABCDE-FGHJK")
    assert wrong.status_code == 422 and "That code does not open a page" in wrong.get_data(as_text=True)
    assert "Bea" not in wrong.get_data(as_text=True)
    opened = typed(f"  {code.lower()} ")  # any case, with spaces
    assert opened.status_code == 303 and opened.headers["Location"].startswith("/you/")
    mine = dashboard.get(opened.headers["Location"])
    assert mine.status_code == 200 and "Hello Bea Post" in mine.get_data(as_text=True)
    assert dashboard.post("/you/", data={"code": code}).status_code == 400, "the form's CSRF token is needed"


def test_typing_codes_is_limited(world: World) -> None:
    tries = Tries(limit=3, total=100, window=600)
    assert [tries.allow("1.2.3.4", now=t) for t in range(4)] == [True, True, True, False]
    assert tries.allow("5.6.7.8", now=4), "another address has its own tries"
    assert tries.allow("1.2.3.4", now=601), "the tries come back after the window"
    everyone = Tries(limit=10, total=2, window=600)
    assert [everyone.allow(f"10.0.0.{n}", now=n) for n in range(3)] == [True, True, False]

    dashboard = create_dashboard(world.settings, world.engine).server.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', dashboard.get("/you/").get_data(as_text=True))
    assert token
    statuses = [
        dashboard.post("/you/", data={"csrf_token": token.group(1), "code": "ABCDE-FGHJK"}).status_code
        for _ in range(11)
    ]
    assert statuses[:10] == [422] * 10 and statuses[10] == 429
