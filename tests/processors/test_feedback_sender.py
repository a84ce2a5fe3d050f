"""The feedback sender against a real SMTP server (aiosmtpd), a real log and real databases.

A change decided through the API leads to exactly one e-mail per consenting, linked participant, with
the right content; none to those without consent; none twice after a restart, a replay, or a rebuild.
"""

from __future__ import annotations

import email
import email.policy
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flask.testing import FlaskClient
from sqlalchemy import Engine, delete, select, update
from sqlmodel import Session

from dashboard.metrics import Scope, headline
from impact.eventlog import EventLog, open_event_log
from impact.feedback import links, outbox
from impact.feedback.outbox import ITEMS, State
from impact.settings import Settings
from ingest import create_app as create_ingest
from processors.consumer import Processor
from processors.feedback import FeedbackSender, Tick, digest_day
from processors.mail import SmtpMailer
from processors.quality import QualityGate
from schemas.readmodels import Feedback
from tests.conftest import add_organisation, free_port, issue_token, process_all

pytestmark = [pytest.mark.twins, pytest.mark.timeout(180)]

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


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


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


@pytest.fixture(params=[EMBEDDED])
def stack(
    request: pytest.FixtureRequest,
    log_settings: Callable[[str], Settings],
    engine_factory: Callable[[str], Engine],
    smtp: tuple[Inbox, int],
    gate: QualityGate,
) -> Iterator[Stack]:
    log_kind, db_kind = request.param
    engine = engine_factory(db_kind)
    inbox, port = smtp
    settings = log_settings(log_kind).model_copy(
        update={
            "database_url": engine.url.render_as_string(hide_password=False),
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "smtp_security": "none",
            "smtp_timeout_seconds": 5.0,
            "mail_from": "Involvement Impact <feedback@impact.example.org>",
            "public_url": "https://impact.example.org",
            "feedback_retry_seconds": 60.0,
            "feedback_max_attempts": 3,
        }
    )
    with open_event_log(settings) as event_log:
        app = create_ingest(settings, event_log, test_config={"TESTING": True}, engine=engine)
        api = {}
        for org in (ORG, OTHER):
            add_organisation(engine, org, name="North Carers" if org == ORG else "")
            api[org] = app.test_client()
            api[org].environ_base["HTTP_AUTHORIZATION"] = f"Bearer {issue_token(engine, org)}"
        yield Stack(settings, engine, event_log, api, gate, inbox)


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
    payload: dict[str, Any] = {"change_id": chid, "status": status, "decided_on": (DAY + timedelta(days=5)).isoformat()}
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


@BOTH_STACKS
def test_a_decision_through_the_api_emails_each_consenting_linked_participant_once(stack: Stack) -> None:
    involvement(stack)
    assert stack.tick().sent == 0 and stack.inbox.messages == []  # proposed: nothing is owed yet

    stack.post(decided("ch1"))
    stack.process()
    done = stack.tick()

    assert done.sent == 2 and done.recorded == 2
    assert sorted(str(m["To"]) for m in stack.inbox.messages) == [
        "Ann Able <p1@people.example.org>",
        "Ben Brook <p2@people.example.org>",
    ]
    ann = stack.inbox.to("p1@people.example.org")[0]
    assert ann["From"] == "North Carers <feedback@impact.example.org>"
    assert "Agendas a week ahead" in ann["Subject"]
    plain = ann.get_body(preferencelist=("plain",))
    rich = ann.get_body(preferencelist=("html",))
    assert plain is not None and rich is not None
    text, html = plain.get_content(), rich.get_content()
    assert "Ann Able" in text and "send the agenda a week before" in text
    assert "Agendas now go out a week before each meeting." in text
    assert "https://impact.example.org/you/" in text
    assert "&lt;b&gt;prepare&lt;/b&gt;" in html and "<b>prepare</b>" not in html
    for other in ("Ben Brook", "Cat", "Dee", "Eve", "Other organisation"):
        assert other not in text and other not in html

    # The link in the e-mail opens Ann's page, and nobody else's.
    token = text.split("https://impact.example.org/you/")[1].split()[0].rstrip(".")
    with stack.engine.connect() as conn:
        opened = links.open_link(conn, token, secret_key=stack.settings.signing_key)
    assert isinstance(opened, links.Opened) and (opened.org_id, opened.participant_id) == (ORG, "p1")

    # feedback.sent is in the log and folded: closure is measured, the post and digest people still wait.
    assert sorted((f.participant_id, f.channel) for f in stack.feedback()) == [("p1", "email"), ("p2", "email")]
    items = stack.items()
    assert items[("p4", "ch1")].state == State.letter
    assert items[("p5", "ch1")].state == State.queued
    assert ("p3", "ch1") not in items  # never consented: never owed
    with stack.engine.connect() as conn:
        figures = headline(conn, Scope(ORG, DAY, DAY + timedelta(days=30)))
    assert (figures.feedback_sent, figures.feedback_due) == (2, 4)


@BOTH_STACKS
def test_nothing_goes_twice_after_a_restart_a_replay_or_a_rebuild(stack: Stack) -> None:
    involvement(stack)
    stack.post(decided("ch1"))
    stack.process()
    stack.tick()
    assert len(stack.inbox.messages) == 2

    for _ in range(2):  # restarts: a new sender each tick, and the processor run again
        stack.tick()
    processor = Processor.for_settings(stack.settings, engine=stack.engine, event_log=stack.event_log, gate=stack.gate)
    processor.replay(batch_size=10, poll_timeout_ms=200)
    stack.tick()
    assert len(stack.inbox.messages) == 2

    # Even with the outbox lost and the read models rebuilt from the log, the folded feedback.sent holds.
    with stack.engine.begin() as conn:
        conn.execute(delete(ITEMS))
    processor.replay(batch_size=10, poll_timeout_ms=200)
    stack.tick()
    assert len(stack.inbox.messages) == 2
    assert sorted(f.participant_id for f in stack.feedback()) == ["p1", "p2"]


@BOTH_STACKS
def test_a_sender_waits_for_the_read_models_to_reach_the_log(stack: Stack) -> None:
    involvement(stack)
    stack.post(decided("ch1"))
    sender = stack.sender()
    assert not sender.ready()
    assert sender.tick().planned == 0 and stack.inbox.messages == []
    stack.process()
    assert sender.ready() and sender.tick().sent == 2


def test_withdrawn_consent_stops_messages_at_once(stack: Stack) -> None:
    involvement(stack)
    stack.post(
        decided("ch1"),
        event("participant.consent_changed", {"participant_id": "p2", "consent": False}, day=DAY + timedelta(days=6)),
    )
    stack.process()
    stack.tick()
    assert [str(m["To"]) for m in stack.inbox.messages] == ["Ann Able <p1@people.example.org>"]

    # Withdrawn after the item was planned but before the digest day: Eve's digest is stopped.
    stack.post(
        event("participant.consent_changed", {"participant_id": "p5", "consent": False}, day=DAY + timedelta(days=7))
    )
    stack.process()
    stack.digest_day_arrives()
    stack.tick()
    assert stack.inbox.to("p5@people.example.org") == []
    assert stack.items()[("p5", "ch1")].state == State.stopped

    # Consent given again: the owed word goes after all (once).
    stack.post(
        event("participant.consent_changed", {"participant_id": "p5", "consent": True}, day=DAY + timedelta(days=8))
    )
    stack.process()
    stack.tick()
    assert stack.inbox.to("p5@people.example.org") == []  # back to waiting for the digest day
    stack.digest_day_arrives()
    stack.tick()
    stack.tick()
    assert len(stack.inbox.to("p5@people.example.org")) == 1


@BOTH_STACKS
def test_a_monthly_reader_gets_one_digest_for_every_change_of_the_month(stack: Stack) -> None:
    involvement(stack)
    stack.post(
        said("c5", ["p5"], "Eve also asked for a quiet room."),
        change("ch2", "A quiet room at every meeting", ["c5"]),
    )
    stack.post(decided("ch1"), decided("ch2", "declined", note="The building has no spare room; we are looking."))
    stack.process()
    stack.tick()
    assert stack.inbox.to("p5@people.example.org") == []  # not before the digest day

    assert stack.items()[("p5", "ch1")].due_at.replace(tzinfo=UTC) == digest_day(datetime.now(UTC))
    stack.digest_day_arrives()
    stack.tick()
    digests = stack.inbox.to("p5@people.example.org")
    assert len(digests) == 1
    body = digests[0].get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content()
    assert "Agendas a week ahead" in text and "A quiet room at every meeting" in text
    assert "The building has no spare room; we are looking." in text  # declined is explained
    told = [f for f in stack.feedback() if f.participant_id == "p5"]
    assert sorted(f.change_id for f in told) == ["ch1", "ch2"] and len({f.event_id for f in told}) == 1


def test_a_busy_server_is_retried_with_a_growing_wait_and_a_refused_address_goes_to_staff(stack: Stack) -> None:
    involvement(stack)
    stack.inbox.busy = 2
    stack.inbox.refuse.add("p2@people.example.org")
    stack.post(decided("ch1"))
    stack.process()
    now = datetime.now(UTC)

    done = stack.tick(now)
    assert (done.sent, done.retrying, done.failed) == (0, 1, 1)
    ann, ben = stack.items()[("p1", "ch1")], stack.items()[("p2", "ch1")]
    assert ann.state == State.queued and ann.attempts == 1 and "451" in ann.last_error
    assert ben.state == State.failed and "550" in ben.last_error  # a refused address is not tried again

    assert stack.tick(now + timedelta(seconds=30)).sent == 0  # still waiting: the first wait is 60 s
    done = stack.tick(now + timedelta(seconds=61))
    assert done.retrying == 1 and stack.items()[("p1", "ch1")].attempts == 2  # busy again; now wait 120 s
    assert stack.tick(now + timedelta(seconds=61 + 100)).sent == 0
    assert stack.tick(now + timedelta(seconds=61 + 121)).sent == 1
    assert len(stack.inbox.to("p1@people.example.org")) == 1
    assert stack.inbox.to("p2@people.example.org") == []


def test_a_server_that_cannot_be_reached_is_retried_then_shown_to_staff(stack: Stack) -> None:
    involvement(stack)
    stack.post(decided("ch1"))
    stack.process()
    closed_port = free_port()
    sender = stack.sender()
    sender.mailer = SmtpMailer("127.0.0.1", closed_port, security="none", username="", password="", timeout=2)
    now = datetime.now(UTC)
    # A server that cannot be reached ends the tick: one message tried per tick, oldest due first.
    for seconds in (0, 61, 62, 183, 184):
        sender.tick(now + timedelta(seconds=seconds))
    items = stack.items()
    assert items[("p1", "ch1")].state == State.failed and items[("p1", "ch1")].attempts == 3
    assert "could not reach the mail server" in items[("p1", "ch1")].last_error
    assert stack.inbox.messages == []


def test_a_sender_that_died_while_sending_leaves_the_message_to_staff(stack: Stack) -> None:
    involvement(stack)
    stack.post(decided("ch1"))
    stack.process()
    now = datetime.now(UTC)
    sender = stack.sender()
    sender.plan(now)
    with stack.engine.begin() as conn:  # as a sender killed between claiming and hearing back
        conn.execute(
            update(ITEMS)
            .where(ITEMS.c.participant_id == "p1")
            .values(
                state=State.sending.value,
                claimed_at=now - timedelta(minutes=11),
                message_id="00000000-0000-4000-8000-000000000001",
            )
        )
    stack.tick(now)
    assert stack.items()[("p1", "ch1")].state == State.unsure
    assert stack.inbox.to("p1@people.example.org") == []  # never sent again on its own
    assert len(stack.inbox.to("p2@people.example.org")) == 1


@BOTH_STACKS
def test_the_claim_itself_checks_consent_and_that_the_change_is_still_decided(stack: Stack) -> None:
    involvement(stack)
    stack.post(decided("ch1"))
    stack.process()
    sender = stack.sender()
    now = datetime.now(UTC)
    sender.plan(now)
    assert stack.items()[("p1", "ch1")].state == State.queued
    # Ann withdraws consent after planning, before the e-mails go; no planning in between:
    stack.post(
        event("participant.consent_changed", {"participant_id": "p1", "consent": False}, day=DAY + timedelta(days=6))
    )
    stack.process()
    sender.deliver(now, Tick())
    assert [str(m["To"]) for m in stack.inbox.messages] == ["Ben Brook <p2@people.example.org>"]
    assert stack.items()[("p1", "ch1")].state == State.queued  # the next plan stops it

    # The decision is reopened before Eve's digest day; no planning in between:
    stack.post({**event("change.status_changed", {"change_id": "ch1", "status": "proposed"}), "schema_version": 2})
    stack.process()
    stack.digest_day_arrives()
    sender.deliver(datetime.now(UTC), Tick())
    assert stack.inbox.to("p5@people.example.org") == []


def test_a_reopened_decision_is_not_sent_until_it_is_decided_again(stack: Stack) -> None:
    involvement(stack)
    stack.post(decided("ch1"))
    stack.process()
    stack.tick()  # Ann and Ben told; Eve's digest waits for the first of the month
    stack.post({**event("change.status_changed", {"change_id": "ch1", "status": "proposed"}), "schema_version": 2})
    stack.process()
    stack.digest_day_arrives()
    stack.tick()
    assert stack.inbox.to("p5@people.example.org") == []
    assert stack.items()[("p5", "ch1")].state == State.stopped

    stack.post(decided("ch1", "implemented"))
    stack.process()
    stack.tick()
    stack.digest_day_arrives()
    stack.tick()
    (digest,) = stack.inbox.to("p5@people.example.org")
    body = digest.get_body(preferencelist=("plain",))
    assert body is not None and "we made this change" in body.get_content()


def test_a_line_break_in_a_name_cannot_break_the_mail_headers(stack: Stack) -> None:
    involvement(stack)
    stack.post(person("p6", "Fay\nFoster\r\nBcc: x@evil.example"), said("c6", ["p6"], "Fay's words."))
    stack.post(change("ch2", "Fay's change", ["c6"]), decided("ch2"))
    stack.process()
    assert stack.tick().sent == 1
    (message,) = stack.inbox.to("p6@people.example.org")
    assert str(message["To"]) == '"Fay Foster Bcc: x@evil.example" <p6@people.example.org>'
    assert message["Bcc"] is None


def test_a_message_that_may_have_gone_is_never_resent_on_its_own(stack: Stack) -> None:
    involvement(stack)
    stack.post(decided("ch1"))
    stack.process()
    now = datetime.now(UTC)
    stack.sender().plan(now)
    with stack.engine.begin() as conn:
        conn.execute(update(ITEMS).where(ITEMS.c.participant_id == "p1").values(state=State.unsure.value))
    for consent, days in ((False, 6), (True, 7)):  # consent withdrawn and given again
        payload = {"participant_id": "p1", "consent": consent, "channel": "email"}
        stack.post(event("participant.consent_changed", payload, day=DAY + timedelta(days=days)))
        stack.process()
        stack.tick()
    assert stack.items()[("p1", "ch1")].state == State.unsure
    assert stack.inbox.to("p1@people.example.org") == []


def test_a_printed_letter_stays_a_letter_when_the_person_chooses_e_mail(stack: Stack) -> None:
    involvement(stack)
    stack.post(decided("ch1"))
    stack.process()
    stack.tick()
    assert stack.items()[("p4", "ch1")].state == State.letter
    with stack.engine.begin() as conn:
        outbox.mark_printed(conn, org_id=ORG, participant_id="p4", change_ids=["ch1"])
    payload = {"participant_id": "p4", "consent": True, "channel": "email"}
    stack.post(event("participant.consent_changed", payload, day=DAY + timedelta(days=6)))
    stack.process()
    stack.tick()
    assert stack.items()[("p4", "ch1")].state == State.letter
    assert stack.inbox.to("p4@people.example.org") == []
