"""Records that need attention name what they are about (titles and names beside references) and show the
limits their check used; the correction form puts those limits beside the field they are about.

The pure part (`named`, `limits`) is table-driven; the pages run on a real embedded log, the real processor
and quality gate, and real read models (SQLite and PostgreSQL for the look-ups).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from impact.settings import Settings
from ingest.problems.names import Named, Register, limits, named, register
from ingest.problems.queries import Stored, read
from processors.quality import QualityGate
from schemas.readmodels import Activity, Change, Contribution, DeadLetter, Participant
from tests.factories import issue_token, process_all

ORG, OTHER = "mind-leeds", "south-voices"
SECRET = "Theirs Secretname"
YESTERDAY = datetime.now(UTC) - timedelta(days=1)
LIST = "/staff/problems/"


def letter(expectation: str, type_: str, payload: dict[str, Any], org: str = ORG) -> DeadLetter:
    event_id = str(uuid.uuid4())
    document = {
        "event_id": event_id,
        "type": type_,
        "org_id": org,
        "occurred_at": YESTERDAY.isoformat(),
        "payload": payload,
    }
    return DeadLetter(
        event_id=event_id,
        org_id=org,
        type=type_,
        expectation=expectation,
        reason="What the check says.",
        event_json=json.dumps(document),
        log_partition=0,
        log_offset=0,
        recorded_on=date(2026, 3, 2),
        dead_at=datetime.now(UTC),
    )


PANEL = Activity(
    org_id=ORG,
    activity_id="a-1",
    title="Carers' panel",
    area="support",
    level="consultation",
    held_on=date(2026, 3, 1),
    duration_hours=2,
)
SAID = Contribution(org_id=ORG, contribution_id="c-1", area="support", text="Later buses.", made_on=date(2026, 2, 3))
KNOWN = Register(
    participants={"p-amira": "Amira Khan", "p-gone": ""},
    activities={"a-1": PANEL},
    contributions={"c-1": SAID},
    changes={},
)
ATTENDED = {"activity_id": "a-1", "participant_id": "p-amira", "hours": 5, "session_role": "attendee"}


NOT_HERE = {"participant_id": "p-x"}
LINKS = {"change_id": "ch-1", "links": [{"contribution_id": "c-1"}, {"contribution_id": "c-x"}]}
REGISTERED = "Every participant named must be registered with your organisation: p-x is not."
LIMITS = [
    ("hours_within_activity", "session.attended", ATTENDED, "at most the activity's length, 2 hours."),
    ("hours_within_activity", "session.attended", ATTENDED | {"activity_id": "a-x"}, "length (and at most 24)."),
    ("hours_in_range", "session.attended", ATTENDED | {"hours": 30}, "Hours must be more than 0 and at most 24."),
    ("plausible_year", "activity.held", {"activity_id": "a-2", "title": "Old"}, "Dates must be in 2000 or later."),
    ("dates_not_ahead", "activity.held", {"activity_id": "a-2"}, "the day it was recorded, 2 March 2026."),
    ("participant_registered", "session.attended", ATTENDED | NOT_HERE, REGISTERED),
    (
        "participant_registered",
        "contribution.made",
        {"participant_ids": ["p-x", "p-gone", "p-amira"]},
        "p-x and p-gone are not.",
    ),
    ("activity_recorded", "session.attended", ATTENDED | {"activity_id": "a-x"}, "organisation: a-x is not."),
    (
        "contributions_recorded",
        "change.recorded",
        LINKS,
        "Every contribution named must be recorded for your organisation: c-x is not.",
    ),
    ("change_recorded", "change.status_changed", {"change_id": "ch-x"}, "organisation: ch-x is not."),
    (
        "level_in_vocabulary",
        "activity.held",
        {"activity_id": "a-2"},
        "one of: Consultation, Co-production and User-led.",
    ),
    ("status_in_vocabulary", "change.recorded", {"change_id": "ch-1"}, "Proposed, Agreed, Implemented and Declined."),
    ("known_type", "thing.done", {}, ""),
]


@pytest.mark.parametrize(("expectation", "type_", "payload", "rule"), LIMITS)
def test_each_check_says_the_limits_it_used(expectation: str, type_: str, payload: dict[str, Any], rule: str) -> None:
    found = limits(read(letter(expectation, type_, payload)), KNOWN)
    assert (rule in found) if rule else found == "", found


def test_records_are_named_by_title_and_name_beside_their_reference() -> None:
    said = {"contribution_id": "c-new", "activity_id": "a-1", "participant_ids": ["p-amira", "p-gone", "p-x"]}
    stored = read(letter("participant_registered", "contribution.made", said))
    assert named(stored, KNOWN) == [
        Named("Activity", "a-1", "Carers' panel"),
        Named("Participant", "p-amira", "Amira Khan"),
        Named("Participant", "p-gone", note="erased"),
        Named("Participant", "p-x", note="not registered"),
        Named("Contribution", "c-new", note="new"),
    ]
    recorded = {"change_id": "ch-9", "title": "Evening café", "links": [{"contribution_id": "c-1"}]}
    change = read(letter("contributions_recorded", "change.recorded", recorded))
    assert named(change, KNOWN) == [
        Named("Change", "ch-9", "Evening café", "new"),
        Named("Contribution", "c-1", "said on 3 Feb 2026"),
    ]
    unreadable = Stored(letter("known_type", "x", {}), None, {}, None)
    assert named(unreadable, KNOWN) == [] and limits(unreadable, KNOWN) == ""


@pytest.mark.twins
def test_the_register_reads_the_organisations_own_records_only(engine: Engine) -> None:
    with Session(engine) as session:
        session.add(
            Participant(org_id=OTHER, participant_id="p-7", display_name=SECRET, role="carer", registered_at=YESTERDAY)
        )
        session.add(
            Participant(
                org_id=ORG, participant_id="p-8", display_name=None, role="carer", registered_at=YESTERDAY, erased=True
            )
        )
        session.add(Activity(**(PANEL.model_dump() | {"org_id": OTHER, "title": SECRET})))
        session.add(
            Change(
                org_id=OTHER,
                change_id="ch-1",
                area="support",
                title=SECRET,
                description="x",
                status="agreed",
                recorded_on=date(2026, 1, 1),
            )
        )
        session.commit()
    payload = {"participant_ids": ["p-7", "p-8"], "activity_id": "a-1", "change_id": "ch-1"}
    known = register(ORG, [payload], engine=engine)
    assert known.participants == {"p-8": ""} and known.activities == {} and known.changes == {}
    shown = named(read(letter("participant_registered", "change.status_changed", payload)), known)
    assert SECRET not in repr(shown)
    assert [n.note for n in shown] == ["not recorded", "not registered", "erased", "not recorded"]


# --- The pages ----------------------------------------------------------------------------------------------


def test_an_attendance_longer_than_its_activity_names_both_and_shows_the_length(
    app: Flask, staff: FlaskClient, engine: Engine, settings: Settings, gate: QualityGate
) -> None:
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {issue_token(engine, ORG)}"
    day = YESTERDAY.date().isoformat()
    events = [
        ("participant.registered", {"participant_id": "p-0050", "display_name": "Amira Khan", "role": "carer"}),
        (
            "activity.held",
            {
                "activity_id": "a-cea5c5bb5b",
                "title": "Carers' panel",
                "area": "support",
                "level": "consultation",
                "date": day,
                "duration_hours": 2,
            },
        ),
    ]
    body = [{"type": t, "org_id": ORG, "occurred_at": YESTERDAY.isoformat(), "payload": p} for t, p in events]
    assert client.post("/api/v1/events", json=body).status_code == 202
    process_all(settings, engine, gate)
    attended = {"activity_id": "a-cea5c5bb5b", "participant_id": "p-0050", "hours": 5, "session_role": "attendee"}
    one = {"type": "session.attended", "org_id": ORG, "occurred_at": YESTERDAY.isoformat(), "payload": attended}
    assert client.post("/api/v1/events", json=one).status_code == 202
    process_all(settings, engine, gate)
    with Session(engine) as session:
        [dead] = session.exec(select(DeadLetter).where(DeadLetter.org_id == ORG)).all()
    assert dead.expectation == "hours_within_activity"

    page = staff.get(LIST).get_data(as_text=True)
    assert "Activity: <strong>Carers&#39; panel</strong>" in page and "a-cea5c5bb5b" in page
    assert "Participant: <strong>Amira Khan</strong>" in page and "p-0050" in page
    assert "Hours must be more than 0 and at most the activity&#39;s length, 2 hours." in page
    assert 'Correct it<span class="visually-hidden">: attendance recorded' in page

    form = staff.get(f"/staff/problems/{dead.event_id}").get_data(as_text=True)
    assert 'id="hours-hint">Hours must be more than 0 and at most the activity&#39;s length, 2 hours.</p>' in form
    assert "Participant: <strong>Amira Khan</strong>" in form
    assert 'class="summary"' not in form, "a table that wraps at 320 px, not a two-column grid"


def test_a_dead_letter_never_names_another_organisations_records(staff: FlaskClient, engine: Engine) -> None:
    with Session(engine) as session:
        session.add(
            Participant(org_id=OTHER, participant_id="p-7", display_name=SECRET, role="carer", registered_at=YESTERDAY)
        )
        session.add(Activity(**(PANEL.model_dump() | {"org_id": OTHER, "title": SECRET})))
        mine = letter("participant_registered", "session.attended", ATTENDED | {"participant_id": "p-7"})
        event_id = mine.event_id
        session.add(mine)
        session.commit()
    for path in (LIST, f"/staff/problems/{event_id}"):
        page = staff.get(path).get_data(as_text=True)
        assert SECRET not in page, path
        assert "not registered with your organisation" in page and "not recorded for your organisation" in page, path
