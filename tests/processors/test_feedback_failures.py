"""When sending fails: a busy or unreachable mail server is retried, then shown to staff; a sender that
died mid-send leaves the message to staff, and it is never resent on its own (real SMTP server)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from impact.feedback.outbox import ITEMS, State
from processors.mail import SmtpMailer
from tests.factories import free_port
from tests.processors.sending import (
    DAY,
    Stack,
    decided,
    event,
    involvement,
)

pytestmark = pytest.mark.timeout(180)


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
