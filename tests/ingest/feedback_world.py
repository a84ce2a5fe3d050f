"""What the staff feedback tests share: the involvement (as events), the world they run in (the ingest app,
the log, the read models, the processor) and the browser's steps (pages, posts with CSRF tokens, notices).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, select

from dashboard import metrics
from impact.eventlog import EventLog
from impact.eventlog.embedded import EmbeddedLog
from impact.eventlog.recording import record
from impact.feedback import outbox
from impact.feedback.outbox import ITEMS, State
from impact.settings import Settings
from ingest import create_app
from processors.quality import QualityGate
from schemas.events import EVENT_ADAPTER, StoredEvent
from tests.factories import add_organisation, csrf_from, process_all, sign_in

ORG, OTHER = "mind-leeds", "south-voices"
TODAY = datetime.now(UTC).date()
DECIDED = TODAY - timedelta(days=10)
HOSTILE = "<script>alert('cal')</script>"
ANN_SAID = "Let carers book respite online."
BEA_SAID = "Send our letters in large print."
JOINT_SAID = '=HYPERLINK("http://evil.example") we both said: fewer forms'
THEIRS = "THEIRS-SECRET"


def at(day: date, hour: int = 10) -> str:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC).isoformat()


def event(type_: str, payload: dict[str, Any], *, org: str = ORG, day: date = DECIDED, **extra: Any) -> Any:
    return EVENT_ADAPTER.validate_python(
        {"type": type_, "org_id": org, "occurred_at": at(day), "payload": payload, **extra}
    )


def person(pid: str, name: str, channel: str | None, *, org: str = ORG, **contact: str) -> Any:
    return event(
        "participant.registered",
        {
            "participant_id": pid,
            "display_name": name,
            "role": "carer",
            "contact": contact or None,
            "consent_to_contact": channel is not None,
            "preferred_channel": channel,
        },
        org=org,
        day=DECIDED - timedelta(days=30),
    )


def said(cid: str, pids: list[str], text: str, *, org: str = ORG) -> Any:
    activity = "a-1" if org == ORG else None
    payload = {
        "contribution_id": cid,
        "participant_ids": pids,
        "activity_id": activity,
        "area": "support",
        "text": text,
    }
    return event("contribution.made", payload, org=org, day=DECIDED - timedelta(days=20))


def involvement() -> list[Any]:
    """Four people of ours (e-mail, post, phone, and one who did not consent), what they said, two decided
    changes; and another organisation whose participant has the same reference."""
    return [
        person("p-ann", "Ann Email", "email", email="ann@example.org"),
        person("p-bea", "Bea Post", "post", postal_address="1 High Street\nLeeds\nLS1 1AA"),
        person("p-cal", HOSTILE, "phone", phone="0113 496 0000"),
        person("p-dee", "Dee Noconsent", None, email="dee@example.org"),
        event(
            "activity.held",
            {
                "activity_id": "a-1",
                "title": "Carers' panel",
                "area": "support",
                "level": "co_production",
                "date": (DECIDED - timedelta(days=20)).isoformat(),
                "duration_hours": 2,
            },
            day=DECIDED - timedelta(days=20),
        ),
        event(
            "session.attended",
            {"activity_id": "a-1", "participant_id": "p-ann", "hours": 2, "session_role": "speaker"},
            day=DECIDED - timedelta(days=20),
        ),
        said("c-ann", ["p-ann"], ANN_SAID),
        said("c-bea", ["p-bea"], BEA_SAID),
        said("c-cal", ["p-cal"], "Call me after five."),
        said("c-dee", ["p-dee"], "Dee has nothing to add."),
        said("c-joint", ["p-ann", "p-bea"], JOINT_SAID),
        event(
            "change.recorded",
            {
                "change_id": "ch-1",
                "area": "support",
                "title": "Online <b>respite</b> booking",
                "description": "Carers can book respite online.",
                "links": [
                    {"contribution_id": c, "strength": s}
                    for c, s in [("c-ann", "major"), ("c-bea", "moderate"), ("c-cal", "minor"), ("c-dee", "minor")]
                ]
                + [{"contribution_id": "c-joint", "strength": "minor"}],
            },
            day=DECIDED - timedelta(days=15),
        ),
        event(
            "change.status_changed",
            {"change_id": "ch-1", "status": "agreed", "decided_on": DECIDED.isoformat()},
            schema_version=2,
        ),
        event(
            "change.recorded",
            {
                "change_id": "ch-2",
                "area": "support",
                "title": "Large-print letters",
                "description": "Every letter comes in large print if asked.",
                "status": "implemented",
                "decided_on": (DECIDED + timedelta(days=1)).isoformat(),
                "links": [{"contribution_id": "c-bea", "strength": "major"}],
            },
            day=DECIDED + timedelta(days=1),
        ),
        # Another organisation: the same reference, their own words and change.
        person("p-ann", f"{THEIRS} Ann", "email", org=OTHER, email="their-ann@example.org"),
        said("c-theirs", ["p-ann"], f"{THEIRS} said this", org=OTHER),
        event(
            "change.recorded",
            {
                "change_id": "ch-theirs",
                "area": "support",
                "title": f"{THEIRS} change",
                "description": "Theirs.",
                "status": "agreed",
                "decided_on": DECIDED.isoformat(),
                "links": [{"contribution_id": "c-theirs", "strength": "major"}],
            },
            org=OTHER,
        ),
    ]


@dataclass
class World:
    app: Flask
    settings: Settings
    engine: Engine
    event_log: EventLog
    gate: QualityGate

    def client(self, email: str) -> FlaskClient:
        client = self.app.test_client()
        sign_in(client, email)
        return client

    def process(self) -> None:
        process_all(self.settings, self.engine, self.gate)

    def logged(self, type_: str | None = None) -> list[StoredEvent]:
        assert isinstance(self.event_log, EmbeddedLog)
        events = [StoredEvent.from_bytes(m.value) for m in self.event_log.read(self.settings.topic, 0, 10_000)]
        return [e for e in events if type_ is None or e.type == type_]

    def add_item(self, pid: str, cid: str, state: State, **values: Any) -> None:
        now = datetime.now(UTC)
        row = {
            "org_id": ORG,
            "participant_id": pid,
            "change_id": cid,
            "decided_on": DECIDED,
            "state": state.value,
            "channel": None,
            "found_at": now,
            "due_at": now,
            "attempts": 0,
            "recorded": False,
        }
        with self.engine.begin() as conn:
            outbox.add(conn, [row | values])

    def item(self, pid: str, cid: str) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(
                select(ITEMS).where(ITEMS.c.org_id == ORG, ITEMS.c.participant_id == pid, ITEMS.c.change_id == cid)
            ).first()


def build_world(settings: Settings, engine: Engine, event_log: EventLog, gate: QualityGate) -> World:
    add_organisation(engine, ORG, name="Mind Leeds")
    add_organisation(engine, OTHER, name=f"{THEIRS} charity")
    record(event_log, settings.topic, involvement(), recorded_by="test", engine=engine)
    app = create_app(settings, event_log, test_config={"TESTING": True}, engine=engine)
    world = World(app, settings, engine, event_log, gate)
    world.process()
    return world


def page(client: FlaskClient, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return response.get_data(as_text=True)


def post(client: FlaskClient, path: str, data: dict[str, Any] | None = None, *, form_on: str = "/staff/") -> Any:
    return client.post(path, data={"csrf_token": csrf_from(client, form_on), **(data or {})})


def notice(client: FlaskClient, response: Any) -> str:
    """The confirmation or refusal the page a POST redirected to shows."""
    assert response.status_code == 303, response.get_data(as_text=True)[:300]
    body = page(client, response.headers["Location"])
    found = re.search(r'<div class="notice notice-(\w+)" role="status">(.*?)</div>', body, re.S)
    assert found, "the next page says what happened"
    return f"{found.group(1)}: {found.group(2)}"


def waiting_rows(body: str) -> list[tuple[str, str]]:
    """(participant, change) of each row of the waiting table, from its preview links."""
    return re.findall(r'href="/staff/feedback/preview/([^/"]+)/([^/"]+)"', body.split("<h2>Told in")[0])


def closure(engine: Engine) -> int:
    scope = metrics.Scope(ORG, DECIDED - timedelta(days=60), TODAY + timedelta(days=1))
    with engine.connect() as conn:
        return metrics.headline(conn, scope).feedback_sent
