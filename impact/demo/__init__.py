"""Deterministic demo data: three member charities and a year of involvement, as validated events.

`demo_events(today=...)` gives the same events (event ids included) for the same `today` and seed. Event ids
do not depend on `today`, and the facts barely do (dates count from a Monday, so a later `today` moves them by
whole weeks), so seeding again on a later day is deduplicated by event id rather than doubled.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from itertools import count
from typing import Any

from sqlalchemy import Engine

from impact.demo.year import ORGS, OrgYear
from impact.eventlog import EventLog
from schemas.events import EVENT_TYPES, Envelope


def demo_events(*, today: date, seed: int = 7, problems: bool = False) -> list[Envelope]:
    """A year of involvement at three member charities, ending the day before `today`, sorted by occurred_at.

    `problems`: with a few records of the last weeks that the checks turn away, for staff to put right (what
    `seed_demo` appends); without them, every event is accepted (what tests and benchmarks build on).
    """
    rng, now = random.Random(seed), datetime.now(UTC)
    today = min(today, now.date())  # the last demo day is the day before: always in the past
    ids: dict[str, Iterator[int]] = {prefix: count(1) for prefix in ("p", "a", "c", "ch")}
    events: list[Envelope] = []
    for org in ORGS:
        demo = OrgYear(org, rng, seed, today, now, ids)
        people = demo.participants()
        acts = demo.activities(people)
        demo.changes(demo.contributions(acts))
        demo.withdrawals(people)
        demo.told()
        if problems:
            demo.problems(people, acts)
        events += demo.events
    return sorted(events, key=lambda e: e.occurred_at)  # stable: ties keep causal order


def received(events: Sequence[Envelope], *, now: datetime | None = None) -> list[datetime]:
    """When each demo event reached the platform: staff record a fact some hours or days after it happened (the
    sender its feedback within minutes), in the order it happened, never later than `now`.

    A fact is never recorded before what it refers to (a reference waits only minutes before it is turned away),
    so the times only ever move forward through the list; each delay depends on the event id alone.
    """
    now = now or datetime.now(UTC)
    times: list[datetime] = []
    latest: dict[str, datetime] = {}  # per organisation: its facts keep their order in the log
    for event in events:
        spin = int.from_bytes(event.event_id.bytes[:4], "big")
        if getattr(event, "type", "") == "feedback.sent":
            delay = timedelta(minutes=1 + spin % 5)
        elif spin % 10 < 9:  # most the same day, an hour to an afternoon later
            delay = timedelta(minutes=60 + spin % 240)
        else:  # the rest the next day
            delay = timedelta(hours=18 + spin % 8)
        at = max(min(event.occurred_at + delay, now - timedelta(seconds=1)), event.occurred_at)
        at = latest[event.org_id] = max(at, latest.get(event.org_id, at))
        times.append(at)
    return times


def seed_demo(event_log: EventLog, topic: str, *, engine: Engine, today: date) -> int:
    """What `impact seed` and `impact run` append: the demo year with its problems, received over the year."""
    return record_demo(event_log, topic, demo_events(today=today, problems=True), engine=engine)


def record_demo(event_log: EventLog, topic: str, events: Sequence[Envelope], *, engine: Engine) -> int:
    """Append the demo events as if received over the year (`received`), sealed and with receipts, so
    "received" dates in the read models spread over the year."""
    from impact.eventlog.recording import record

    times = received(events)
    for first in range(0, len(events), 1000):
        part = slice(first, first + 1000)
        record(event_log, topic, events[part], recorded_by="demo", engine=engine, received=times[part])
    return len(events)


def renamed(payload: Mapping[str, Any], suffix: str) -> dict[str, Any]:
    """A copy of a demo event's payload (as JSON) whose identifiers all end with `suffix`: the same facts
    about other people and records, so the demo can be repeated into a larger log (tests, benchmarks)."""
    copy = dict(payload)
    for name in ("participant_id", "activity_id", "contribution_id", "change_id"):
        if copy.get(name):
            copy[name] += suffix
    for name in ("participant_ids", "change_ids"):
        if name in copy:
            copy[name] = [value + suffix for value in copy[name]]
    if "links" in copy:
        copy["links"] = [{**link, "contribution_id": link["contribution_id"] + suffix} for link in copy["links"]]
    return copy


def demo_summary(events: Iterable[Envelope | Mapping[str, Any]]) -> dict[str, int]:
    """How many events of each type, in the schema's order of types."""
    counts = Counter(e["type"] if isinstance(e, Mapping) else getattr(e, "type", type(e).__name__) for e in events)
    return {t: counts[t] for t in (*EVENT_TYPES, *sorted(set(counts) - set(EVENT_TYPES))) if counts[t]}
