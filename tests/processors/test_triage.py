"""Triage without a database: hand-built messages, failures and clocks in, exactly the verdicts out."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from impact.eventlog import Message
from processors import triage
from processors.quality import Failure
from processors.records import DeadLetterRecord
from schemas import events as ev
from schemas.quality import SCHEMA_REASON

RECORDED = datetime(2026, 3, 14, 10, tzinfo=UTC)
WAIT = timedelta(minutes=10)
DEADLINE = RECORDED + WAIT
DEAD_AT = datetime(2026, 3, 20, tzinfo=UTC)
HELD = {
    "activity_id": "a-1",
    "title": "Forum",
    "area": "media",
    "level": "consultation",
    "date": "2026-03-02",
    "duration_hours": 1,
}
MISSING = Failure("activity_recorded", "The activity is not known.")
WRONG = Failure("hours_in_range", "Hours out of range.")


def stored(n: int, *, org: str = "org-a") -> ev.StoredEvent:
    raw = {"type": "activity.held", "org_id": org, "occurred_at": RECORDED.isoformat(), "payload": HELD}
    raw["event_id"] = str(uuid.UUID(int=n))
    return ev.StoredEvent.accept(ev.EVENT_ADAPTER.validate_python(raw), recorded_by="t", recorded_at=RECORDED)


def message(n: int, value: bytes | None = None, *, partition: int = 0) -> Message:
    return Message("t", partition, n, "org-a", stored(n).to_bytes() if value is None else value)


def candidate(n: int, *, readable: bool = True, waited: bool = False) -> triage.Candidate:
    event = stored(n)
    if readable:
        return triage.Candidate(message(n), event, event.typed_payload(), waited=waited)
    return triage.Candidate(message(n), event, None, ValueError("area: not one of the sixteen"), waited=waited)


def case(
    failure: Failure | None,
    *,
    readable: bool = True,
    clock: datetime | None = None,
    now: datetime | None = None,
    wait: timedelta = WAIT,
    verdict: str,
    reason: str = "",
    name: str,
) -> Any:
    return pytest.param(failure, readable, clock, now, wait, verdict, reason, id=name)


CASES = [
    case(None, verdict="accepted", name="clean"),
    case(None, readable=False, verdict="dead", reason="schema", name="payload-refused-by-its-model"),
    case(WRONG, verdict="dead", reason="hours_in_range", name="quality-failure"),
    case(WRONG, clock=RECORDED, verdict="dead", reason="hours_in_range", name="quality-failure-never-waits"),
    case(MISSING, verdict="parked", name="reference-missing-log-silent"),
    case(MISSING, clock=DEADLINE, verdict="parked", name="log-at-the-deadline"),
    case(MISSING, clock=DEADLINE + timedelta(seconds=1), verdict="dead", reason="activity_recorded", name="log-past"),
    case(MISSING, now=DEADLINE - timedelta(seconds=1), verdict="parked", name="caught-up-before-deadline"),
    case(
        MISSING, now=DEADLINE + timedelta(seconds=1), verdict="dead", reason="activity_recorded", name="caught-up-past"
    ),
    case(
        MISSING,
        clock=RECORDED,
        now=DEADLINE + timedelta(hours=1),
        verdict="parked",
        name="the-log-s-clock-wins-over-the-wall-clock",
    ),
    case(MISSING, wait=timedelta(0), verdict="dead", reason="activity_recorded", name="no-wait-configured"),
]


@pytest.mark.parametrize(("failure", "readable", "clock", "now", "wait", "verdict", "reason"), CASES)
def test_each_event_gets_one_verdict(
    failure: Failure | None,
    readable: bool,
    clock: datetime | None,
    now: datetime | None,
    wait: timedelta,
    verdict: str,
    reason: str,
) -> None:
    one = candidate(1, readable=readable)
    failures = {str(one.event.event_id): failure} if failure else {}
    clocks = {0: clock} if clock else {}

    verdicts = triage.judge([one], [0], failures, clock=clocks, now=now, wait=wait, dead_at=DEAD_AT)

    found = {
        "accepted": [str(e.event_id) for e, _ in verdicts.accepted],
        "dead": [letter.event_id for letter in verdicts.dead],
        "parked": [record.event_id for record in verdicts.parked],
    }
    assert found == {kind: [str(one.event.event_id)] if kind == verdict else [] for kind in found}
    assert [e.event_id for e in verdicts.dead_events] == [one.event.event_id] * (verdict == "dead")
    if verdict == "dead":
        assert verdicts.dead[0].expectation == reason
        assert verdicts.dead[0].dead_at == DEAD_AT
        assert verdicts.dead[0].recorded_on == RECORDED.date()
    if verdict == "parked":
        assert failure is not None
        assert (verdicts.parked[0].deadline, verdicts.parked[0].expectation) == (RECORDED + wait, failure.expectation)


def test_verdicts_follow_the_reference_order() -> None:
    candidates = [candidate(1), candidate(2), candidate(3, waited=True)]
    verdicts = triage.judge(candidates, [2, 0, 1], {}, clock={}, now=None, wait=WAIT, dead_at=DEAD_AT)
    assert [e.event_id for e, _ in verdicts.accepted] == [uuid.UUID(int=n) for n in (3, 1, 2)]


def test_decode_dead_letters_bytes_that_are_no_event_and_counts_repeats_once() -> None:
    messages = [message(1), message(2, b"not json"), message(3, stored(1).to_bytes()), message(4)]

    decoding = triage.decode(messages, dead_at=DEAD_AT)

    assert [str(e.event_id) for _, e in decoding.events] == [str(uuid.UUID(int=1)), str(uuid.UUID(int=4))]
    assert decoding.duplicates == 1
    [letter] = decoding.dead
    assert (letter.event_id, letter.org_id, letter.expectation, letter.recorded_on) == (
        "offset:0:2",
        "",
        "schema",
        None,
    )
    assert letter.reason.startswith(SCHEMA_REASON)
    assert letter.key == "-"


def test_settled_events_are_not_triaged_again_and_the_log_clock_is_per_partition() -> None:
    early, late = stored(1), stored(2)
    late = late.model_copy(update={"recorded_at": RECORDED + timedelta(hours=1)})
    events = [(message(1, partition=0), early), (message(2, partition=1), late), (message(3, partition=0), stored(3))]

    assert triage.unsettled(events, {str(early.event_id)}) == events[1:]
    assert triage.log_clock(events) == {0: RECORDED, 1: RECORDED + timedelta(hours=1)}


def test_a_dead_letter_on_the_topic_withholds_personal_data() -> None:
    raw = {
        "type": "participant.registered",
        "org_id": "org-a",
        "occurred_at": RECORDED.isoformat(),
        "payload": {"participant_id": "p-1", "display_name": "Asha Patel", "role": "carer"},
    }
    event = ev.StoredEvent.accept(ev.EVENT_ADAPTER.validate_python(raw), recorded_by="t", recorded_at=RECORDED)
    letter = DeadLetterRecord.of(Message("t", 0, 7, "org-a", event.to_bytes()), event, WRONG, dead_at=DEAD_AT)
    assert b"Asha" not in letter.to_json()
    assert letter.row()["log_offset"] == 7
