"""The two stories of the page tests, as fixtures: `world` (Influence and Areas, see influence_world.py) and
`story` (People, Feedback and Data quality, see people_story.py), rows inserted straight into the read models."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import Engine

from impact.db import session_scope
from schemas.readmodels import (
    Activity,
    Change,
    ChangeLink,
    Contribution,
    ContributionParticipant,
)
from tests.dashboard.pages.influence_world import (
    LETTERS,
)
from tests.dashboard.pages.people_story import (
    accepted,
    attended,
    changed,
    person,
    pids,
    rejected,
    said,
    told,
)


def _activity(org_id: str, activity_id: str, held_on: str, area: str, level: str) -> Activity:
    return Activity(
        org_id=org_id,
        activity_id=activity_id,
        title=activity_id,
        area=area,
        level=level,
        held_on=date.fromisoformat(held_on),
        duration_hours=1.0,
    )


def _contribution(
    org_id: str, contribution_id: str, made_on: str, area: str, people: list[str], activity_id: str | None, text: str
) -> list[Any]:
    made = Contribution(
        org_id=org_id,
        contribution_id=contribution_id,
        activity_id=activity_id,
        area=area,
        text=text,
        made_on=date.fromisoformat(made_on),
    )
    return [made] + [
        ContributionParticipant(org_id=org_id, contribution_id=contribution_id, participant_id=person)
        for person in people
    ]


def _change(
    org_id: str, change_id: str, title: str, area: str, status: str, recorded: str, decided: str | None
) -> Change:
    return Change(
        org_id=org_id,
        change_id=change_id,
        area=area,
        title=title,
        description="…",
        status=status,
        recorded_on=date.fromisoformat(recorded),
        decided_on=date.fromisoformat(decided) if decided else None,
    )


def _links(org_id: str, change_id: str, **strengths: str) -> list[ChangeLink]:
    return [
        ChangeLink(org_id=org_id, change_id=change_id, contribution_id=contribution_id, strength=strength)
        for contribution_id, strength in strengths.items()
    ]


@pytest.fixture
def world(engine: Engine) -> Engine:
    rows: list[Any] = [
        _activity("org-a", "a1", "2025-01-10", "research", "consultation"),
        _activity("org-a", "a2", "2025-01-20", "research", "co_production"),
        _activity("org-a", "a3", "2025-02-05", "governance", "user_led"),
        _activity("org-a", "a4", "2025-03-15", "research", "user_led"),
        _activity("org-a", "a5", "2025-03-31", "training", "consultation"),
        _activity("org-a", "a6", "2024-12-31", "research", "consultation"),
        _activity("org-a", "a7", "2025-04-01", "research", "consultation"),
        _activity("org-b", "a1", "2025-01-10", "media", "user_led"),
        _activity("org-b", "a2", "2025-02-01", "media", "user_led"),
        *_contribution("org-a", "c1", "2025-01-10", "research", ["p1"], "a1", "The leaflet is too long to read."),
        *_contribution("org-a", "c2", "2025-01-20", "research", ["p2", "p3"], "a2", LETTERS),
        *_contribution("org-a", "c3", "2025-02-05", "governance", ["p4"], "a3", "Carers should sit on the board."),
        *_contribution("org-a", "c4", "2024-11-01", "complaints", ["p5"], None, "Complaints take months to answer."),
        *_contribution(
            "org-a", "c5", "2025-03-15", "research", ["p6"], "a4", "Daytime meetings exclude people who work."
        ),
        *_contribution("org-a", "c6", "2025-02-10", "support", ["p1"], None, "A text the day before would help."),
        *_contribution("org-a", "c7", "2025-01-25", "research", ["p7"], "a2", "Put the main point first."),
        *_contribution("org-b", "c1", "2025-01-10", "media", ["p1"], "a1", "ORG B SECRET"),
        _change("org-a", "ch1", "Shorter leaflet", "research", "implemented", "2025-01-15", "2025-02-01"),
        _change("org-a", "ch2", "Board seat for a carer", "governance", "agreed", "2025-02-06", "2025-03-10"),
        _change("org-a", "ch3", "Evening sessions", "research", "proposed", "2025-03-20", None),
        _change("org-a", "ch4", "Reply within 10 days", "complaints", "declined", "2025-01-05", "2025-01-06"),
        _change("org-a", "ch5", "Peer support line", "support", "implemented", "2024-12-01", "2024-12-20"),
        _change("org-a", "ch6", "Trainers paid", "training", "implemented", "2025-02-10", "2025-03-20"),
        _change("org-a", "ch7", "Text reminders", "support", "agreed", "2025-02-01", "2025-02-01"),
        _change("org-a", "ch8", "Bigger print", "research", "proposed", "2024-12-10", None),
        _change("org-b", "ch1", "Org B change", "media", "implemented", "2025-01-05", "2025-02-01"),
        *_links("org-a", "ch1", c1="major", c2="moderate", c7="moderate", c4="minor"),
        *_links("org-a", "ch2", c3="major"),
        *_links("org-a", "ch3", c5="moderate"),
        *_links("org-a", "ch4", c4="moderate"),
        *_links("org-a", "ch5", c4="major"),
        *_links("org-a", "ch7", c6="minor"),
        *_links("org-a", "ch8", c1="minor"),
        *_links("org-b", "ch1", c1="major"),
    ]
    with session_scope(engine) as session:
        session.add_all(rows)
    return engine


@pytest.fixture
def story(engine: Engine) -> Engine:
    d = date
    rows: list[Any] = [
        *(
            person("org-a", p, "service_user", age_band="25_34", gender="woman", region="london", ethnicity="white")
            for p in pids(1, 5)
        ),
        person("org-a", "p06", "service_user", age_band="25_34", gender="woman", region="wales", ethnicity="white"),
        person(
            "org-a", "p07", "carer", consent=False, age_band="45_54", gender="woman", region="wales", ethnicity="white"
        ),
        person(
            "org-a", "p08", "carer", age_band="45_54", gender="prefer_not_to_say", region="wales", ethnicity="white"
        ),
        person("org-a", "p09", "carer", age_band="45_54", region="wales", ethnicity="white"),
        person("org-a", "p10", "patient", age_band="45_54", region="wales", ethnicity="white"),
        person("org-a", "p11", "patient", age_band="45_54", ethnicity="white"),
        person("org-a", "p12", "service_user", erased=True),
        Activity(
            org_id="org-a",
            activity_id="act-old",
            title="A",
            area="research",
            level="consultation",
            held_on=d(2024, 12, 10),
            duration_hours=2,
        ),
        Activity(
            org_id="org-a",
            activity_id="act-r",
            title="R",
            area="research",
            level="consultation",
            held_on=d(2025, 1, 15),
            duration_hours=2,
        ),
        Activity(
            org_id="org-a",
            activity_id="act-g",
            title="G",
            area="governance",
            level="co_production",
            held_on=d(2025, 2, 10),
            duration_hours=2,
        ),
        *(attended("org-a", "act-old", p, d(2024, 12, 10)) for p in pids(1, 5)),
        *(attended("org-a", "act-r", p, d(2025, 1, 15)) for p in pids(1, 11)),
        attended("org-a", "act-g", "p06", d(2025, 2, 10)),
        *said("org-a", "c-r1", "research", "act-r", d(2025, 1, 15), pids(1, 7)),
        *said("org-a", "c-r2", "research", "act-r", d(2025, 1, 15), pids(8, 11)),
        *said("org-a", "c-r3", "research", "act-r", d(2025, 3, 1), pids(1, 5)),
        *said("org-a", "c-e", "governance", "act-g", d(2025, 3, 5), ["p12"]),
        *changed("org-a", "ch-a", "Shorter forms", "research", "implemented", d(2025, 1, 20), ["c-r1"]),
        *changed("org-a", "ch-b", "Evening meetings", "research", "agreed", d(2025, 2, 14), ["c-r2"]),
        *changed("org-a", "ch-c", "Parking at the centre", "governance", "declined", d(2025, 3, 10), ["c-r3", "c-e"]),
        *(told("org-a", p, "ch-a", d(2025, 1, 25)) for p in pids(1, 5)),
        told("org-a", "p01", "ch-a", d(2025, 2, 1)),  # told twice: the first counts
        told("org-a", "p08", "ch-b", d(2025, 2, 24)),
        *accepted("org-a", d(2025, 1, 5), "session.attended", 6),
        *accepted("org-a", d(2025, 1, 31), "contribution.made", 4),
        *accepted("org-a", d(2025, 2, 1), "participant.registered", 3),
        *accepted("org-a", d(2025, 4, 1), "session.attended"),
        rejected("org-a", d(2025, 1, 3), "participant_registered", resolved_by="e-fix"),
        rejected("org-a", d(2025, 1, 4), "participant_registered"),
        rejected("org-a", d(2025, 2, 7), "hours_in_range"),
        rejected("org-a", d(2025, 2, 8), "schema"),
        rejected("org-a", d(2025, 3, 31), "mystery_check"),
        rejected("org-a", None, "schema"),
        # org-b: the same ids, its own facts
        *(person("org-b", p, "other", age_band="75_plus") for p in [*pids(1, 5), "p09"]),
        Activity(
            org_id="org-b",
            activity_id="act-r",
            title="B",
            area="training",
            level="user_led",
            held_on=d(2025, 2, 1),
            duration_hours=2,
        ),
        *(attended("org-b", "act-r", p, d(2025, 2, 1)) for p in pids(1, 5)),
        *said("org-b", "c-r1", "training", None, d(2025, 1, 15), ["p01", "p09"]),
        *changed("org-b", "ch-a", "Org B change", "training", "implemented", d(2025, 1, 20), ["c-r1"]),
        told("org-b", "p06", "ch-a", d(2025, 1, 21)),
        *accepted("org-b", d(2025, 2, 2), "session.attended", 2),
        rejected("org-b", d(2025, 2, 2), "hours_in_range"),
    ]
    with session_scope(engine) as session:
        session.add_all(rows)
    return engine
