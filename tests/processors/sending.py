"""What the feedback sender's tests share: a real SMTP server's inbox, the stack (ingest API, log, databases,
processor) and builders of the events a decision needs. The fixtures `smtp` and `stack` are in conftest.py.
"""

from __future__ import annotations

import email
import email.policy
import threading
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, select, update
from sqlmodel import Session

from impact.eventlog import EventLog
from impact.feedback.outbox import ITEMS
from impact.settings import Settings
from processors.feedback import FeedbackSender
from processors.quality import QualityGate
from schemas.readmodels import Feedback
from tests.factories import process_all

ORG, OTHER = "north-carers", "south-voices"
DAY = datetime.now(UTC).date() - timedelta(days=20)


# --- a real SMTP server -----------------------------------------------------------------------


@dataclass
class Inbox:
    """What the SMTP server received, and what it should refuse next."""

    messages: list[EmailMessage] = field(default_factory=list)
    busy: int = 0  # answer this many DATA commands with 451 (try again later)
    refuse: set[str] = field(default_factory=set)  # addresses answered with 550
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address in self.refuse:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            if self.busy:
                self.busy -= 1
                return "451 4.3.0 Busy, try again later"
            message = email.message_from_bytes(envelope.content, policy=email.policy.default)
            assert isinstance(message, EmailMessage)
            self.messages.append(message)
        return "250 Message accepted"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if address in str(m["To"])]


# --- the stack --------------------------------------------------------------------------------


@dataclass
class Stack:
    settings: Settings
    engine: Engine
    event_log: EventLog
    api: dict[str, FlaskClient]
    gate: QualityGate
    inbox: Inbox

    def post(self, *events: dict[str, Any], org: str = ORG) -> None:
        response = self.api[org].post("/api/v1/events", json=list(events))
        assert response.status_code == 202, response.get_data(as_text=True)

    def process(self) -> None:
        process_all(self.settings, self.engine, self.gate)

    def sender(self) -> FeedbackSender:
        """A new sender, as after a restart."""
        return FeedbackSender.for_settings(self.settings, engine=self.engine, event_log=self.event_log)

    def tick(self, now: datetime | None = None) -> Any:
        done = self.sender().tick(now)
        self.process()  # fold the feedback.sent the sender recorded
        return done

    def digest_day_arrives(self) -> None:
        """As if a month had passed: every monthly item was found last month, so its digest day is past."""
        month = timedelta(days=40)
        with self.engine.begin() as conn:
            for row in conn.execute(select(ITEMS).where(ITEMS.c.due_at > datetime.now(UTC))).all():
                mine = (ITEMS.c.participant_id == row.participant_id) & (ITEMS.c.change_id == row.change_id)
                conn.execute(
                    update(ITEMS)
                    .where(mine, ITEMS.c.org_id == row.org_id)
                    .values(found_at=row.found_at - month, due_at=row.due_at - month)
                )

    def items(self) -> dict[tuple[str, str], Any]:
        with self.engine.connect() as conn:
            return {
                (r.participant_id, r.change_id): r for r in conn.execute(select(ITEMS).where(ITEMS.c.org_id == ORG))
            }

    def feedback(self) -> list[Feedback]:
        with Session(self.engine) as session:
            return list(session.exec(select(Feedback).where(Feedback.org_id == ORG)).scalars())  # type: ignore[call-overload]


EMBEDDED = pytest.param(("embedded", "sqlite"), id="embedded+sqlite")
KAFKA = pytest.param(("kafka", "postgres"), id="kafka+postgres")
# The whole flow, never twice, the wait for the read models and the claim's own checks (SQL that differs
# between SQLite and PostgreSQL) run on both stacks; the sender's other rules do not depend on the stack.
BOTH_STACKS = pytest.mark.parametrize("stack", [EMBEDDED, KAFKA], indirect=True)


def at(day: date, hour: int = 10) -> str:
    return datetime.combine(day, time(hour), tzinfo=UTC).isoformat()


def event(type_: str, payload: dict[str, Any], org: str = ORG, day: date = DAY) -> dict[str, Any]:
    return {"type": type_, "org_id": org, "occurred_at": at(day), "payload": payload}


def person(
    pid: str, name: str, *, consent: bool = True, channel: str | None = "email", org: str = ORG, **more: Any
) -> dict[str, Any]:
    contact = {"email": f"{pid}@people.example.org", "postal_address": f"1 {name} Street, Leeds LS1 1AA"}
    payload = {"participant_id": pid, "display_name": name, "role": "carer", "contact": contact}
    payload.update(consent_to_contact=consent, preferred_channel=channel, **more)
    return event("participant.registered", payload, org)


def said(cid: str, pids: list[str], text: str, org: str = ORG) -> dict[str, Any]:
    return event(
        "contribution.made", {"contribution_id": cid, "participant_ids": pids, "area": "research", "text": text}, org
    )


def change(chid: str, title: str, cids: list[str], org: str = ORG) -> dict[str, Any]:
    payload = {
        "change_id": chid,
        "area": "research",
        "title": title,
        "description": "Agendas now go out a week before each meeting.",
        "links": [{"contribution_id": c, "strength": "major"} for c in cids],
    }
    return event("change.recorded", payload, org)


def decided(chid: str, status: str = "agreed", note: str | None = None, org: str = ORG) -> dict[str, Any]:
    # Decided today (recorded earlier is allowed: decided_on may differ from the day of the event), so a monthly
    # reader's digest day, the first of next month, is still to come whatever the day the tests run.
    today = datetime.now(UTC).date()
    payload: dict[str, Any] = {"change_id": chid, "status": status, "decided_on": today.isoformat()}
    if note:
        payload["note"] = note
    return {**event("change.status_changed", payload, org, DAY + timedelta(days=5)), "schema_version": 2}


def involvement(stack: Stack) -> None:
    """Ann and Ben consent to e-mail and said c1 together; Cat said c2 but never consented; Dee prefers post;
    Eve wants a monthly digest. The other organisation reuses the same ids for its own people."""
    stack.post(
        person("p1", "Ann Able"),
        person("p2", "Ben Brook"),
        person("p3", "Cat Cole", consent=False),
        person("p4", "Dee Dale", channel="post"),
        person("p5", "Eve Eden", feedback_frequency="monthly"),
        said("c1", ["p1", "p2"], "Please send the agenda a week before, so we can <b>prepare</b>."),
        said("c2", ["p3"], "Cat's own words about agendas."),
        said("c3", ["p4"], "Dee asked for large print agendas."),
        said("c4", ["p5"], "Eve wanted the papers sooner."),
        change("ch1", "Agendas a week ahead", ["c1", "c2", "c3", "c4"]),
    )
    stack.post(
        person("p1", "Other Org Person", org=OTHER), said("c1", ["p1"], "Other organisation's words.", OTHER), org=OTHER
    )
    stack.process()
