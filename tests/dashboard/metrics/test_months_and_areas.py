"""The figures per month (monthly, trend) and per area (by_area, area_totals), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import Engine

from dashboard.metrics import (
    Headline,
    Scope,
    area_totals,
    by_area,
    monthly,
    trend,
)
from tests.dashboard.metrics.story import (
    CONSULTATION,
    MAR_APR,
    MID,
    ORG_B,
    RESEARCH,
    USER_LED,
    levels,
    same,
    statuses,
)

pytestmark = pytest.mark.twins  # SQL behaviour can differ: on SQLite and PostgreSQL

# --- Per month -----------------------------------------------------------------------------------------

MONTH_CASES = [
    # March: p1 p2 p3 all first involved in March
    pytest.param(0, "participants_involved", 3, id="Mar: involved p1 p2 p3"),
    pytest.param(0, "new_participants", 3, id="Mar: all new"),
    pytest.param(0, "returning_participants", 0, id="Mar: none returning"),
    pytest.param(0, "activities", 2, id="Mar: a1 a2"),
    pytest.param(0, "attendances", 4, id="Mar: 4 attendances"),
    pytest.param(0, "involvement_hours", 8.5, id="Mar: 2+3+1.5+2"),
    pytest.param(0, "contributions", 3, id="Mar: c1 c2 c3"),
    pytest.param(0, "changes_influenced", statuses(), id="Mar: nothing decided or proposed (ch2 is decided in May)"),
    pytest.param(0, "influence_rate", 2 / 3, id="Mar: c1 c2 of c1 c2 c3"),
    pytest.param(0, "days_to_change", None, id="Mar: nothing decided"),
    pytest.param(0, "level_mix", levels(1, 1, 0), id="Mar: level mix"),
    pytest.param(0, "area_coverage", 3, id="Mar: research governance strategy_policy"),
    # April: p1 p2 p5 had an earlier month; p4 is new
    pytest.param(1, "participants_involved", 4, id="Apr: involved p1 p2 p4 p5"),
    pytest.param(1, "new_participants", 1, id="Apr: new p4"),
    pytest.param(1, "returning_participants", 3, id="Apr: returning p1 p2 p5"),
    pytest.param(1, "involvement_hours", 7.5, id="Apr: 4+1+2.5"),
    pytest.param(1, "influence_rate", 0.5, id="Apr: c4 of c4 c5"),
    pytest.param(1, "changes_influenced", statuses(proposed=1, agreed=1, declined=1), id="Apr: changes"),
    pytest.param(1, "days_to_change", 10.0, id="Apr: median of 8 10 46"),
    pytest.param(1, "feedback_closure_rate", 2 / 3, id="Apr: feedback closure"),
    pytest.param(1, "level_mix", levels(1, 0, 1), id="Apr: a4 consultation, a3 user_led"),
    pytest.param(1, "areas_covered", ("complaints", "media", "research"), id="Apr: areas"),
]


@pytest.mark.parametrize(("index", "figure", "expected"), MONTH_CASES)
def test_monthly(world: Engine, index: int, figure: str, expected: Any) -> None:
    with world.connect() as conn:
        months = monthly(conn, MAR_APR)
    assert [m.month for m in months] == [date(2026, 3, 1), date(2026, 4, 1)]
    actual = getattr(months[index].figures, figure)
    assert same(actual, expected), f"{figure}: {actual!r} != {expected!r}"


@pytest.mark.parametrize(
    "scope",
    [
        Scope("org-a", date(2026, 1, 1), date(2026, 7, 1)),
        MID,
        RESEARCH,
        CONSULTATION,
        USER_LED,
        ORG_B,
        Scope("org-a", date(2026, 4, 10), date(2026, 4, 11)),
    ],
    ids=["half-year", "mid-month", "research", "consultation", "user-led", "org-b", "one-day"],
)
def test_trend_gives_monthly_s_figures_in_four_queries(world: Engine, scope: Scope) -> None:
    with world.connect() as conn:
        slow = monthly(conn, scope)
        fast = trend(conn, scope)
    expected = [
        (
            m.month,
            m.figures.participants_involved,
            m.figures.involvement_hours,
            m.figures.contributions,
            m.figures.changes_influenced_total,
        )
        for m in slow
    ]
    actual = [
        (t.month, t.participants_involved, t.involvement_hours, t.contributions, t.changes_influenced) for t in fast
    ]
    assert actual == expected
    assert any(row[1:] != (0, 0.0, 0, 0) for row in actual) or scope.org_id == "org-b"


@pytest.mark.parametrize("scope", [MAR_APR, MID, RESEARCH, CONSULTATION, USER_LED, ORG_B], ids=str)
def test_area_totals_give_by_area_s_figures_in_five_queries(world: Engine, scope: Scope) -> None:
    with world.connect() as conn:
        slow = by_area(conn, scope)
        fast = area_totals(conn, scope)
    assert list(fast) == list(slow)
    for area, figures in slow.items():
        expected = (
            figures.participants_involved,
            figures.activities,
            figures.involvement_hours,
            figures.contributions,
            figures.changes_influenced_total,
        )
        totals = fast[area]
        actual = (
            totals.participants_involved,
            totals.activities,
            totals.involvement_hours,
            totals.contributions,
            totals.changes_influenced,
        )
        assert actual == expected, area
    assert any(totals.any for totals in fast.values()) or scope.org_id == "org-b"


def test_each_whole_month_splits_its_participants_into_new_and_returning(world: Engine) -> None:
    with world.connect() as conn:
        months = monthly(conn, Scope("org-a", date(2026, 1, 1), date(2026, 6, 1)))
    people = [
        (m.figures.participants_involved, m.figures.new_participants, m.figures.returning_participants) for m in months
    ]
    # Jan nobody; Feb p5 new; Mar p1 p2 p3 new; Apr p4 new, p1 p2 p5 returning; May nobody
    assert people == [(0, 0, 0), (1, 1, 0), (3, 3, 0), (4, 1, 3), (0, 0, 0)]


def test_months_are_clipped_to_the_period() -> None:
    scope = Scope("org-a", date(2026, 3, 15), date(2026, 5, 10))
    assert [(m.start, m.end) for m in scope.months()] == [
        (date(2026, 3, 15), date(2026, 4, 1)),
        (date(2026, 4, 1), date(2026, 5, 1)),
        (date(2026, 5, 1), date(2026, 5, 10)),
    ]
    assert Scope("org-a", date(2026, 3, 1), date(2026, 3, 1)).months() == []


# --- Per area ------------------------------------------------------------------------------------------

AREA_CASES = [
    pytest.param("research", "participants_involved", 4, id="research: p1 p2 p4 p5"),
    pytest.param("research", "days_to_change", 28.0, id="research: median 10, 46"),
    # governance: a2 (p1 1.5, p3 2), c2 (p3) linked to ch2, implemented in May
    pytest.param("governance", "participants_involved", 2, id="governance: p1 p3"),
    pytest.param("governance", "involvement_hours", 3.5, id="governance: 1.5+2"),
    pytest.param("governance", "influence_rate", 1.0, id="governance: c2 via ch2 implemented"),
    pytest.param("governance", "changes_influenced", statuses(), id="governance: ch2 decided after the period"),
    # strategy_policy: c3 (p1) linked to ch3, declined 04-02, p1 told 04-09
    pytest.param("strategy_policy", "influence_rate", 0.0, id="strategy_policy: declined does not influence"),
    pytest.param("strategy_policy", "changes_influenced", statuses(declined=1), id="strategy_policy: ch3"),
    pytest.param("strategy_policy", "days_to_change", 8.0, id="strategy_policy: 03-25 -> 04-02"),
    pytest.param("strategy_policy", "days_to_feedback", 7.0, id="strategy_policy: 04-02 -> 04-09"),
    pytest.param("complaints", "changes_influenced", statuses(proposed=1), id="complaints: ch4 proposed"),
    pytest.param("complaints", "participants_involved", 1, id="complaints: p2"),
    pytest.param("media", "activities", 1, id="media: a4 with nobody"),
    pytest.param("media", "participants_involved", 0, id="media: nobody"),
    pytest.param("media", "changes_influenced", statuses(), id="media: ch5 has no links"),
    pytest.param("training", "activities", 0, id="training: only in February"),
]


@pytest.mark.parametrize(("area", "figure", "expected"), AREA_CASES)
def test_by_area(world: Engine, area: str, figure: str, expected: Any) -> None:
    with world.connect() as conn:
        areas = by_area(conn, MAR_APR)
    assert len(areas) == 16
    actual = getattr(areas[area], figure)
    assert same(actual, expected), f"{area} {figure}: {actual!r} != {expected!r}"


def test_areas_add_up_to_the_whole_and_idle_areas_are_zero(world: Engine) -> None:
    with world.connect() as conn:
        areas = by_area(conn, MAR_APR)
        only = by_area(conn, RESEARCH)
    assert sum(h.activities for h in areas.values()) == 4
    assert sum(h.attendances for h in areas.values()) == 7
    assert sum(h.contributions for h in areas.values()) == 5
    idle = [area for area, figures in areas.items() if figures == Headline()]
    assert idle == [
        "campaigning",
        "conferences_events",
        "fundraising",
        "impact",
        "involvement",
        "diversity",
        "publications",
        "pr_marketing",
        "recruitment",
        "support",
        "training",
    ]
    assert list(only) == ["research"]
