"""A person unlinked from a change before their message goes, against a real SMTP server (aiosmtpd), a real log
and database.

Staff may correct a change's links (`change.corrected`) or a contribution's people (`contribution.corrected`). A
person planned for word of a change and then no longer linked to it is not told, and their outbox row is stopped
with a reason staff can read (never "could not write this message"); linked again, they are owed again, as when
consent returns.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from impact.feedback import outbox
from impact.feedback.outbox import State
from processors.feedback import Tick
from tests.processors.sending import DAY, EMBEDDED, Stack, change, decided, event, person, said

pytestmark = pytest.mark.timeout(180)
ONE_STACK = pytest.mark.parametrize("stack", [EMBEDDED], indirect=True)  # the sender's rules: no SQL dialect
ANN, BO = "p1@people.example.org", "p2@people.example.org"


def relinked(cids: list[str], day: int) -> dict[str, Any]:
    payload = {
        "change_id": "ch1",
        "area": "research",
        "title": "Agendas a week ahead",
        "description": "Agendas now go out a week before each meeting.",
        "links": [{"contribution_id": c, "strength": "major"} for c in cids],
        "reason": "Linked to the wrong contribution",
    }
    return event("change.corrected", payload, day=DAY + timedelta(days=day))


def people_of_c1(pids: list[str], day: int) -> dict[str, Any]:
    payload = {
        "contribution_id": "c1",
        "participant_ids": pids,
        "area": "research",
        "text": "Please send the agenda a week before.",
        "made_on": DAY.isoformat(),
        "reason": "Recorded against the wrong person",
    }
    return event("contribution.corrected", payload, day=DAY + timedelta(days=day))


def bo(stack: Stack) -> Any:
    return stack.items()[("p2", "ch1")]


def assert_clean(done: Tick) -> None:
    assert (done.failed, done.retrying, done.errors) == (0, 0, [])


@ONE_STACK
def test_a_monthly_reader_unlinked_from_the_change_is_stopped_and_owed_again_when_relinked(stack: Stack) -> None:
    stack.post(
        person("p1", "Ann Able"),
        person("p2", "Bo Bell", feedback_frequency="monthly"),
        said("c1", ["p1"], "Send the agenda a week before."),
        said("c2", ["p2"], "Bo's words about the papers."),
        change("ch1", "Agendas a week ahead", ["c1", "c2"]),
    )
    stack.process()
    stack.post(decided("ch1"))
    stack.process()
    done = stack.tick()
    assert done.sent == 1 and stack.inbox.to(ANN) and bo(stack).state == State.queued  # Bo waits for his digest

    stack.post(relinked(["c1"], day=6))  # Bo's contribution was linked by mistake
    stack.process()
    done = stack.tick()
    assert_clean(done)
    assert (bo(stack).state, bo(stack).last_error) == (State.stopped, outbox.UNLINKED)
    stack.digest_day_arrives()
    assert_clean(stack.tick())
    assert stack.inbox.to(BO) == [], "nothing about a change he is no longer linked to"
    assert (bo(stack).state, bo(stack).last_error) == (State.stopped, outbox.UNLINKED)

    stack.post(relinked(["c1", "c2"], day=7))  # linked again: owed again, on his digest day
    stack.process()
    assert_clean(stack.tick())
    assert (bo(stack).state, bo(stack).last_error) == (State.queued, None)
    assert stack.inbox.to(BO) == []
    stack.digest_day_arrives()
    assert_clean(stack.tick())
    assert_clean(stack.tick())
    assert len(stack.inbox.to(BO)) == 1 and bo(stack).state == State.sent
    assert len(stack.inbox.to(ANN)) == 1, "Ann is not told twice"


@ONE_STACK
def test_a_row_planned_then_unlinked_is_neither_claimed_nor_composed(stack: Stack) -> None:
    stack.post(
        person("p1", "Ann Able"),
        person("p2", "Bo Bell"),
        said("c1", ["p1"], "Send the agenda a week before."),
        said("c2", ["p2"], "Bo's words about the papers."),
        change("ch1", "Agendas a week ahead", ["c1", "c2"]),
    )
    stack.process()
    stack.post(decided("ch1"))
    stack.process()
    sender = stack.sender()
    now = datetime.now(UTC)
    assert sender.plan(now) == 2  # both planned; nothing sent yet
    stack.post(relinked(["c1"], day=6))
    stack.process()

    # Delivered before the next plan: the claim itself checks the link, so nothing is written about no change.
    done = Tick()
    sender.deliver(now, done)
    assert_clean(done)
    assert [str(m["To"]) for m in stack.inbox.messages] == [f"Ann Able <{ANN}>"]
    assert bo(stack).state == State.queued  # the next plan stops it

    done = stack.tick()
    assert_clean(done)
    assert (bo(stack).state, bo(stack).last_error) == (State.stopped, outbox.UNLINKED)
    assert stack.inbox.to(BO) == []
    assert [(f.participant_id, f.change_id) for f in stack.feedback()] == [("p1", "ch1")]


@ONE_STACK
def test_a_person_taken_off_the_linked_contribution_is_stopped_and_owed_again_when_put_back(stack: Stack) -> None:
    stack.post(
        person("p1", "Ann Able"),
        person("p2", "Bo Bell", feedback_frequency="monthly"),
        said("c1", ["p1", "p2"], "Please send the agenda a week before."),
        change("ch1", "Agendas a week ahead", ["c1"]),
    )
    stack.process()
    stack.post(decided("ch1"))
    stack.process()
    assert stack.tick().sent == 1 and bo(stack).state == State.queued

    stack.post(people_of_c1(["p1"], day=6))  # Bo did not say it after all
    stack.process()
    assert_clean(stack.tick())
    assert (bo(stack).state, bo(stack).last_error) == (State.stopped, outbox.UNLINKED)
    stack.digest_day_arrives()
    assert_clean(stack.tick())
    assert stack.inbox.to(BO) == []

    stack.post(people_of_c1(["p1", "p2"], day=7))  # he did
    stack.process()
    assert_clean(stack.tick())
    assert (bo(stack).state, bo(stack).last_error) == (State.queued, None)
    stack.digest_day_arrives()
    assert_clean(stack.tick())
    assert len(stack.inbox.to(BO)) == 1 and len(stack.inbox.to(ANN)) == 1
