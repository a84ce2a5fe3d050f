"""The feedback sender against a real SMTP server (aiosmtpd), a real log and real databases: the whole flow.

A change decided through the API leads to exactly one e-mail per consenting, linked participant, with
the right content; none to those without consent; none twice after a restart, a replay, or a rebuild.
The tests marked BOTH_STACKS run on embedded+SQLite and on Kafka+PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete

from dashboard.metrics import Scope, headline
from impact.feedback import links
from impact.feedback.outbox import ITEMS, State
from processors.consumer import Processor
from processors.feedback import digest_day
from tests.processors.sending import (
    BOTH_STACKS,
    DAY,
    ORG,
    Stack,
    change,
    decided,
    involvement,
    person,
    said,
)

pytestmark = pytest.mark.timeout(180)


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


def test_a_line_break_in_a_name_cannot_break_the_mail_headers(stack: Stack) -> None:
    involvement(stack)
    stack.post(person("p6", "Fay\nFoster\r\nBcc: x@evil.example"), said("c6", ["p6"], "Fay's words."))
    stack.post(change("ch2", "Fay's change", ["c6"]), decided("ch2"))
    stack.process()
    assert stack.tick().sent == 1
    (message,) = stack.inbox.to("p6@people.example.org")
    assert str(message["To"]) == '"Fay Foster Bcc: x@evil.example" <p6@people.example.org>'
    assert message["Bcc"] is None
