"""When a monthly digest goes, against a real SMTP server (aiosmtpd), a real log and database: on the first digest
day after the decision, or at once if that day has passed (a decision the sender finds late is not held back
another month); a decision of this month waits for the first of next month.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from impact.feedback.outbox import ITEMS, State, aware
from processors.feedback import digest_day
from tests.processors.sending import EMBEDDED, Stack, change, decided, event, person, said

pytestmark = pytest.mark.timeout(180)
ONE_STACK = pytest.mark.parametrize("stack", [EMBEDDED], indirect=True)  # the sender's rules: no SQL dialect
TODAY = datetime.now(UTC).date()
LONG_AGO = TODAY - timedelta(days=70)  # said and recorded
DECIDED = TODAY - timedelta(days=40)  # always in an earlier month: its digest day has passed
EVE = "p5@people.example.org"


def decided_on(day: date) -> dict[str, Any]:
    payload = {"change_id": "ch1", "status": "agreed", "decided_on": day.isoformat()}
    return {**event("change.status_changed", payload, day=day), "schema_version": 2}


def eve_said(stack: Stack) -> None:
    stack.post(
        person("p5", "Eve Eden", feedback_frequency="monthly"),
        {**said("c1", ["p5"], "Eve wanted the papers sooner."), "occurred_at": f"{LONG_AGO}T10:00:00+00:00"},
        {**change("ch1", "Agendas a week ahead", ["c1"]), "occurred_at": f"{LONG_AGO}T11:00:00+00:00"},
    )
    stack.process()


@ONE_STACK
def test_a_digest_whose_decision_is_from_an_earlier_month_goes_at_once(stack: Stack) -> None:
    eve_said(stack)
    stack.post(decided_on(DECIDED))  # recorded (or found by the sender) a month or more after the decision
    stack.process()
    before = datetime.now(UTC)
    done = stack.tick()
    assert (done.sent, done.failed, done.errors) == (1, 0, [])
    assert len(stack.inbox.to(EVE)) == 1
    item = stack.items()[("p5", "ch1")]
    assert item.state == State.sent
    assert digest_day(DECIDED) < before <= aware(item.due_at), "due when found, not on next month's digest day"


@ONE_STACK
def test_a_digest_of_this_month_waits_for_the_first_of_next_month(stack: Stack) -> None:
    eve_said(stack)
    stack.post(decided("ch1"))  # decided today
    stack.process()
    assert stack.tick().sent == 0 and stack.inbox.to(EVE) == []
    assert aware(stack.items()[("p5", "ch1")].due_at) == digest_day(TODAY)
    assert digest_day(TODAY).date() == (TODAY.replace(day=28) + timedelta(days=4)).replace(day=1)


@ONE_STACK
def test_a_digest_dated_by_the_older_rule_is_brought_forward(stack: Stack) -> None:
    eve_said(stack)
    stack.post(decided_on(DECIDED))
    stack.process()
    sender = stack.sender()
    now = datetime.now(UTC)
    sender.plan(now)
    with stack.engine.begin() as conn:  # as the older rule dated it: the digest day after it was found
        conn.execute(update(ITEMS).values(due_at=digest_day(now)))
    assert stack.tick().sent == 1 and len(stack.inbox.to(EVE)) == 1
