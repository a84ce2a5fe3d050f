"""The feedback sender follows each person and each decision: consent withdrawn, a claim that checks them
again, a reopened decision, a printed letter (real SMTP server, log and databases)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from impact.feedback import outbox
from impact.feedback.outbox import State
from processors.feedback import Tick
from tests.processors.sending import (
    BOTH_STACKS,
    DAY,
    ORG,
    Stack,
    decided,
    event,
    involvement,
)

pytestmark = pytest.mark.timeout(180)


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
