"""End to end: events through the API and the staff form, the processor, read models, dashboard.

Runs on the embedded default (embedded log + SQLite) and at scale (Kafka broker + PostgreSQL).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from dashboard import create_app as create_dashboard
from impact.eventlog import open_event_log
from impact.settings import Settings
from ingest import create_app as create_ingest
from processors.quality import QualityGate
from schemas.readmodels import (
    Activity,
    Attendance,
    Change,
    Contribution,
    ContributionParticipant,
    DeadLetter,
    Participant,
)
from tests.dashboard.app.helpers import post_overview
from tests.factories import add_organisation, csrf_from, issue_token, process_all, sign_in

pytestmark = pytest.mark.timeout(180)

ORG, OTHER = "north-carers", "south-voices"
DAY = datetime.now(UTC).date() - timedelta(days=40)


@dataclass(frozen=True)
class Month:
    """One organisation's month, counted from the read models' facts (what the monthly metrics row held)."""

    participants_involved: int
    activities: int
    attendances: int
    involvement_hours: float
    contributions: int


def month_of(session: Session, org_id: str, month: date, area: str | None = None) -> Month:
    """The month's figures for one area, or for every area (None)."""
    end = (month + timedelta(days=32)).replace(day=1)
    activities = {
        a.activity_id: a
        for a in session.exec(select(Activity).where(Activity.org_id == org_id))
        if area in (None, a.area) and month <= a.held_on < end
    }
    attended = [
        a
        for a in session.exec(select(Attendance).where(Attendance.org_id == org_id))
        if month <= a.attended_on < end and (area is None or a.activity_id in activities)
    ]
    contributions = [
        c
        for c in session.exec(select(Contribution).where(Contribution.org_id == org_id))
        if month <= c.made_on < end and area in (None, c.area)
    ]
    ids = {c.contribution_id for c in contributions}
    contributors = {
        link.participant_id
        for link in session.exec(select(ContributionParticipant).where(ContributionParticipant.org_id == org_id))
        if link.contribution_id in ids
    }
    return Month(
        participants_involved=len({a.participant_id for a in attended} | contributors),
        activities=len(activities),
        attendances=len(attended),
        involvement_hours=sum(a.hours for a in attended),
        contributions=len(contributions),
    )


@pytest.fixture(params=[("embedded", "sqlite"), ("kafka", "postgres")], ids=["embedded+sqlite", "kafka+postgres"])
def stack(
    request: pytest.FixtureRequest,
    log_settings: Callable[[str], Settings],
    engine_factory: Callable[[str], Engine],
) -> tuple[Settings, Engine]:
    log_kind, db_kind = request.param
    engine = engine_factory(db_kind)
    url = engine.url.render_as_string(hide_password=False)
    return log_settings(log_kind).model_copy(update={"database_url": url}), engine


def at(day: date, hour: int = 10) -> str:
    return datetime.combine(day, time(hour), tzinfo=UTC).isoformat()


def event(type_: str, payload: dict[str, Any], org: str = ORG, day: date = DAY) -> dict[str, Any]:
    return {"type": type_, "org_id": org, "occurred_at": at(day), "payload": payload}


def involvement() -> list[dict[str, Any]]:
    people = [
        event("participant.registered", {"participant_id": f"p{i}", "display_name": f"Person {i}", "role": "carer"})
        for i in range(1, 7)
    ]
    activity = event(
        "activity.held",
        {
            "activity_id": "a1",
            "title": "Carers' panel",
            "area": "research",
            "level": "co_production",
            "date": DAY.isoformat(),
            "duration_hours": 3,
        },
    )
    attendances = [
        event("session.attended", {"activity_id": "a1", "participant_id": f"p{i}", "hours": 2}) for i in range(1, 6)
    ]
    contributions = [
        event(
            "contribution.made",
            {
                "contribution_id": "c1",
                "participant_ids": ["p1", "p2"],
                "activity_id": "a1",
                "area": "research",
                "text": "Send the <b>agenda</b> a week before.",
            },
        ),
        event(
            "contribution.made",
            {
                "contribution_id": "c2",
                "participant_ids": ["p3"],
                "area": "research",
                "text": "Meet in the evening so working carers can come.",
            },
        ),
    ]
    changes = [
        event(
            "change.recorded",
            {
                "change_id": "ch1",
                "area": "research",
                "title": "Agendas sent early",
                "description": "Agendas now go out seven days before each panel.",
                "links": [{"contribution_id": "c1", "strength": "major"}],
            },
        ),
        event(
            "change.recorded",
            {
                "change_id": "ch2",
                "area": "research",
                "title": "Evening panels",
                "description": "We are looking at evening meetings.",
                "links": [{"contribution_id": "c2", "strength": "minor"}],
            },
        ),
        event("change.status_changed", {"change_id": "ch1", "status": "implemented"}),
    ]
    elsewhere = [
        event(
            "participant.registered", {"participant_id": "p1", "display_name": "Not ours", "role": "patient"}, org=OTHER
        ),
        event(
            "contribution.made",
            {
                "contribution_id": "c1",
                "participant_ids": ["p1"],
                "area": "media",
                "text": "Another charity's business.",
            },
            org=OTHER,
        ),
    ]
    return [*people, activity, *attendances, *contributions, *changes, *elsewhere]


def post_form(client: FlaskClient, fields: dict[str, str]) -> Any:
    return client.post(
        "/staff/contributions/new", data={"csrf_token": csrf_from(client, "/staff/contributions/new"), **fields}
    )


def ingest_clients(settings: Settings, event_log: Any, engine: Engine) -> dict[str, FlaskClient]:
    """API clients with a token of ORG and of OTHER, and ORG's signed-in staff member ("staff")."""
    app = create_ingest(settings, event_log, test_config={"TESTING": True}, engine=engine)
    clients = {}
    for org in (ORG, OTHER):
        add_organisation(engine, org)
        clients[org] = app.test_client()
        clients[org].environ_base["HTTP_AUTHORIZATION"] = f"Bearer {issue_token(engine, org)}"
    clients["staff"] = app.test_client()
    sign_in(clients["staff"], f"staff@{ORG}.example.org")
    return clients


def post_events(clients: dict[str, FlaskClient], events: list[dict[str, Any]]) -> list[Any]:
    """Each organisation's events through its own token."""
    return [
        clients[org].post("/api/v1/events", json=[e for e in events if e["org_id"] == org])
        for org in (ORG, OTHER)
        if any(e["org_id"] == org for e in events)
    ]


def test_events_travel_from_api_and_form_to_the_dashboard(stack: tuple[Settings, Engine], gate: QualityGate) -> None:
    settings, engine = stack
    with open_event_log(settings) as event_log:
        clients = ingest_clients(settings, event_log, engine)
        client = clients[ORG]

        answers = post_events(clients, involvement())
        assert [a.status_code for a in answers] == [202, 202], [a.get_json() for a in answers]
        assert sum(a.get_json()["accepted"] for a in answers) == len(involvement())

        malformed = client.post("/api/v1/events", json=event("session.attended", {"activity_id": "a1", "hours": 30}))
        assert malformed.status_code == 422
        paths = {error["path"] for error in malformed.get_json()["errors"]}
        assert paths == {"payload.participant_id", "payload.hours"}

        ghost = client.post(
            "/api/v1/events",
            json=event("session.attended", {"activity_id": "a1", "participant_id": "ghost", "hours": 1}),
        )
        assert ghost.status_code == 202  # well-formed: only the processors can know "ghost" is not registered
        ghost_id = ghost.get_json()["event_ids"][0]

        rejected = post_form(
            clients["staff"],
            {
                "participants": "",
                "area": "support",
                "made_on": DAY.isoformat(),
                "text": "Kept after the error",
            },
        )
        assert rejected.status_code == 422
        page = rejected.get_data(as_text=True)
        assert "There is a problem" in page and 'href="#participants"' in page and "Kept after the error" in page

        recorded = post_form(
            clients["staff"],
            {
                "participants": "p6",
                "area": "support",
                "made_on": DAY.isoformat(),
                "text": "Peer support <script>alert(1)</script>",
            },
        )
        assert recorded.status_code == 302
        confirmation = clients["staff"].get(recorded.headers["Location"]).get_data(as_text=True)
        assert "Contribution recorded" in confirmation

    process_all(settings, engine, gate, batch_size=7)

    month = DAY.replace(day=1)
    with Session(engine) as session:
        metrics = {area: month_of(session, ORG, month, area) for area in ("research", "support")}
        overall = month_of(session, ORG, month)
        assert (overall.participants_involved, overall.activities, overall.attendances) == (6, 1, 5)
        assert (overall.involvement_hours, overall.contributions) == (10.0, 3)
        assert (metrics["research"].participants_involved, metrics["research"].contributions) == (5, 2)
        assert (metrics["support"].participants_involved, metrics["support"].contributions) == (1, 1)
        assert session.get(Change, (ORG, "ch1")).status == "implemented"  # type: ignore[union-attr]
        assert session.get(Participant, (OTHER, "p1")).display_name == "Not ours"  # type: ignore[union-attr]
        letters = session.exec(select(DeadLetter)).all()
        assert [(d.event_id, d.expectation) for d in letters] == [(ghost_id, "participant_registered")]
        assert "not registered" in letters[0].reason

    with open_event_log(settings) as event_log, event_log.consumer(settings.dead_letter_topic, "check") as consumer:
        letters_in_log = [json.loads(m.value) for _ in range(10) for m in consumer.poll(100, 200)]
    assert [(d["event_id"], d["expectation"]) for d in letters_in_log] == [(ghost_id, "participant_registered")]

    server = create_dashboard(settings, engine).server
    dashboard, theirs = server.test_client(), server.test_client()
    sign_in(dashboard, f"leadership@{ORG}.example.org")
    sign_in(theirs, f"leadership@{OTHER}.example.org")
    figures = post_overview(dashboard, DAY - timedelta(days=1), DAY + timedelta(days=1))
    assert figures["participants-involved"] == "6"
    assert figures["involvement-hours"] == "10.0"
    assert figures["contributions"] == "3"
    assert figures["changes-influenced"] == "2"
    assert figures["influence-rate"] == "33%"
    elsewhere = post_overview(theirs, DAY - timedelta(days=1), DAY + timedelta(days=1))
    assert elsewhere["contributions"] == "1"
    assert elsewhere["participants-involved"] == "fewer than 5"


def test_processing_twice_changes_nothing(stack: tuple[Settings, Engine], gate: QualityGate) -> None:
    """A client retry (same event_id) and a second pass over the log leave the figures as they were."""
    settings, engine = stack
    batch = involvement()
    for item in batch:
        item["event_id"] = str(__import__("uuid").uuid4())
    with open_event_log(settings) as event_log:
        clients = ingest_clients(settings, event_log, engine)
        assert [a.status_code for a in post_events(clients, batch)] == [202, 202]
        assert [a.status_code for a in post_events(clients, batch)] == [202, 202]  # the retry
    process_all(settings, engine, gate, batch_size=7)
    with Session(engine) as session:
        overall = month_of(session, ORG, DAY.replace(day=1))
        assert (overall.attendances, overall.contributions, overall.participants_involved) == (5, 2, 5)
        assert session.exec(select(DeadLetter)).all() == []
