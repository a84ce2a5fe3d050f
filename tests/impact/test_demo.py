"""The demo data: deterministic, valid, causally ordered and referentially sound."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from impact.demo import demo_events, demo_summary
from schemas.events import (
    EVENT_ADAPTER,
    EVENT_TYPES,
    ActivityHeldEvent,
    ChangeRecordedEvent,
    ChangeStatusChangedEvent,
    ContributionMadeEvent,
    Envelope,
    ParticipantConsentChangedEvent,
    ParticipantRegisteredEvent,
    SessionAttendedEvent,
)
from schemas.vocab import Area, ChangeStatus, Level

TODAY = datetime.now(UTC).date()


@pytest.fixture(scope="module")
def events() -> list[Envelope]:
    return demo_events(today=TODAY)


def of(events: list[Envelope], cls: type[Any]) -> list[Any]:
    return [e for e in events if isinstance(e, cls)]


def test_deterministic_including_event_ids(events: list[Envelope]) -> None:
    again = demo_events(today=TODAY)
    assert [e.model_dump(mode="json") for e in again] == [e.model_dump(mode="json") for e in events]
    other = demo_events(today=TODAY, seed=8)
    assert {e.event_id for e in other}.isdisjoint({e.event_id for e in events})


def test_a_later_today_gives_the_same_facts(events: list[Any]) -> None:
    """Reseeding on another day is deduplicated by event id: same ids, same payloads, dates moved."""
    earlier: dict[Any, Any] = {e.event_id: e for e in demo_events(today=TODAY - timedelta(days=3))}
    common = [e for e in events if e.event_id in earlier]
    assert len(common) >= 0.99 * len(events)
    for event in common:
        before = earlier[event.event_id]
        assert event.payload.model_dump(exclude={"date"}) == before.payload.model_dump(exclude={"date"})


def test_every_event_round_trips_through_the_adapter(events: list[Envelope]) -> None:
    assert len({e.event_id for e in events}) == len(events)
    for event in events:
        data = event.model_dump(mode="json")
        assert EVENT_ADAPTER.validate_python(data) == event
        assert EVENT_ADAPTER.validate_json(event.model_dump_json()) == event


def test_orgs_participants_and_volumes(events: list[Envelope]) -> None:
    orgs = {e.org_id for e in events}
    assert len(orgs) >= 3
    registered = of(events, ParticipantRegisteredEvent)
    assert 300 <= len(registered) <= 500
    assert len({e.payload.participant_id for e in registered}) == len(registered)
    for org in orgs:
        mine = [e for e in events if e.org_id == org]
        activities = of(mine, ActivityHeldEvent)
        assert 40 <= len(activities) <= 60
        assert {e.payload.area for e in activities} == set(Area)
        levels = Counter(e.payload.level for e in activities)
        assert set(levels) == set(Level)
        assert levels.most_common(1)[0][0] == Level.consultation
        assert 120 <= len(of(mine, ContributionMadeEvent)) <= 180
        assert 20 <= len(of(mine, ChangeRecordedEvent)) <= 30
        roles = {e.payload.role for e in of(mine, ParticipantRegisteredEvent)}
        assert len(roles) >= 3


def test_all_sixteen_areas_present(events: list[Envelope]) -> None:
    assert {e.payload.area for e in of(events, ActivityHeldEvent)} == set(Area)
    assert {e.payload.area for e in of(events, ContributionMadeEvent)} == set(Area)


def test_participants_consent_and_contact(events: list[Envelope]) -> None:
    registered = [e.payload for e in of(events, ParticipantRegisteredEvent)]
    consent = sum(p.consent_to_contact for p in registered) / len(registered)
    assert 0.65 <= consent <= 0.85
    assert sum(bool(p.contact and p.contact.email) for p in registered) / len(registered) > 0.6
    assert any(p.contact and p.contact.phone and not p.contact.email for p in registered)
    assert any(p.contact and p.contact.postal_address and not p.contact.email for p in registered)
    answers = [getattr(p.demographics, f) for p in registered for f in ("age_band", "gender", "region")]
    assert None in answers and "prefer_not_to_say" in answers
    withdrawn = of(events, ParticipantConsentChangedEvent)
    assert withdrawn and all(not e.payload.consent for e in withdrawn)


def test_sorted_in_the_past_and_in_office_hours(events: list[Envelope]) -> None:
    times = [e.occurred_at for e in events]
    assert times == sorted(times)
    now = datetime.now(UTC)
    for event in events:
        assert event.occurred_at.tzinfo is not None
        assert event.occurred_at < now
        assert TODAY - timedelta(days=365) <= event.occurred_at.date() < TODAY
        assert 9 <= event.occurred_at.hour < 18
    for held in of(events, ActivityHeldEvent):
        assert held.payload.date == held.occurred_at.date()
        assert 1 <= held.payload.duration_hours <= 4


def test_referential_integrity_in_event_order(events: list[Any]) -> None:
    participants: dict[str, str] = {}  # participant_id -> org
    activities: dict[str, ActivityHeldEvent] = {}
    attended: dict[str, set[str]] = defaultdict(set)
    contributions: dict[str, str] = {}
    changes: dict[str, str] = {}
    linked: Counter[str] = Counter()
    for event in events:
        org, p = event.org_id, event.payload
        if isinstance(event, ParticipantRegisteredEvent):
            participants[p.participant_id] = org
        elif isinstance(event, ParticipantConsentChangedEvent):
            assert participants[p.participant_id] == org
        elif isinstance(event, ActivityHeldEvent):
            activities[p.activity_id] = event
        elif isinstance(event, SessionAttendedEvent):
            assert participants[p.participant_id] == org
            activity = activities[p.activity_id]
            assert activity.org_id == org
            assert p.hours <= activity.payload.duration_hours
            attended[p.activity_id].add(p.participant_id)
        elif isinstance(event, ContributionMadeEvent):
            activity = activities[p.activity_id]
            assert activity.org_id == org and activity.payload.area == p.area
            assert 1 <= len(p.participant_ids) <= 3
            assert set(p.participant_ids) <= attended[p.activity_id]
            assert all(participants[pid] == org for pid in p.participant_ids)
            contributions[p.contribution_id] = org
        elif isinstance(event, ChangeRecordedEvent):
            assert p.status == ChangeStatus.proposed and p.decided_on is None
            assert 1 <= len(p.links) <= 5
            for link in p.links:
                assert contributions[link.contribution_id] == org
                linked[link.contribution_id] += 1
            changes[p.change_id] = org
        elif isinstance(event, ChangeStatusChangedEvent):
            assert changes[p.change_id] == org
    assert max(linked.values()) <= 2


def test_changes_are_decided_in_every_status(events: list[Envelope]) -> None:
    recorded = {e.payload.change_id: e for e in of(events, ChangeRecordedEvent)}
    final: dict[str, ChangeStatus] = {cid: ChangeStatus.proposed for cid in recorded}
    for event in of(events, ChangeStatusChangedEvent):
        assert event.occurred_at.date() >= recorded[event.payload.change_id].occurred_at.date() + timedelta(days=12)
        final[event.payload.change_id] = event.payload.status
        if event.payload.status == ChangeStatus.declined:
            assert event.payload.note and len(event.payload.note) > 20
    for org in {e.org_id for e in events}:
        statuses = Counter(final[cid] for cid, e in recorded.items() if e.org_id == org)
        assert set(statuses) == set(ChangeStatus), (org, statuses)
        assert statuses[ChangeStatus.proposed] < len(recorded)


def test_future_today_is_clamped_and_past_today_works() -> None:
    future = demo_events(today=TODAY + timedelta(days=30))
    assert max(e.occurred_at for e in future) < datetime.now(UTC)
    past = demo_events(today=date(2024, 3, 1))
    assert max(e.occurred_at for e in past).date() < date(2024, 3, 1)
    assert min(e.occurred_at for e in past).date() >= date(2023, 3, 2)


def test_summary_counts_by_type(events: list[Envelope]) -> None:
    summary = demo_summary(events)
    assert sum(summary.values()) == len(events)
    assert list(summary) == [t for t in EVENT_TYPES if t in summary]
    assert summary["participant.registered"] == len(of(events, ParticipantRegisteredEvent))
    assert demo_summary([e.model_dump(mode="json") for e in events]) == summary
    assert demo_summary([]) == {}
