"""Reach, data quality, the whole report, the scope and the small-count rule, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from dashboard.metrics import (
    ERASED,
    NOT_ANSWERED,
    DataQuality,
    Headline,
    Scope,
    data_quality,
    headline,
    monthly,
    reach,
    report,
    suppress,
)
from impact.eventlog import open_event_log
from impact.eventlog.recording import record
from impact.settings import Settings
from processors.quality import QualityGate
from tests.dashboard.metrics.story import (
    CONSULTATION,
    FEB,
    MAR_APR,
    ORG_B,
    RESEARCH,
    activity,
    event,
    person,
    said,
    same,
)
from tests.factories import process_all

pytestmark = pytest.mark.twins  # SQL behaviour can differ: on SQLite and PostgreSQL

# --- Reach -----------------------------------------------------------------------------------------------

REACH_CASES = [
    # involved Mar-Apr: p1 carer, p2 service_user, p3 patient, p4 (erased), p5 carer
    pytest.param(MAR_APR, "role", {"service_user": 1, "patient": 1, "carer": 2, ERASED: 1}, id="role"),
    pytest.param(MAR_APR, "age_band", {"25_34": 1, "prefer_not_to_say": 1, NOT_ANSWERED: 2, ERASED: 1}, id="age band"),
    pytest.param(MAR_APR, "gender", {"woman": 1, "man": 1, NOT_ANSWERED: 2, ERASED: 1}, id="gender"),
    pytest.param(MAR_APR, "ethnicity", {"white": 1, NOT_ANSWERED: 3, ERASED: 1}, id="ethnicity"),
    pytest.param(MAR_APR, "disability", {"yes": 1, "no": 1, NOT_ANSWERED: 2, ERASED: 1}, id="disability"),
    pytest.param(MAR_APR, "region", {"london": 1, "wales": 1, NOT_ANSWERED: 2, ERASED: 1}, id="region"),
    # research: p1 p2 p4 p5
    pytest.param(RESEARCH, "role", {"service_user": 1, "carer": 2, ERASED: 1}, id="research: role"),
    pytest.param(RESEARCH, "gender", {"woman": 1, NOT_ANSWERED: 2, ERASED: 1}, id="research: gender"),
    # consultation: p1 p2
    pytest.param(CONSULTATION, "region", {"london": 1, NOT_ANSWERED: 1}, id="consultation: region"),
    # February: p5 alone; no suppression of a count of 1 here
    pytest.param(FEB, "disability", {"yes": 1}, id="Feb: a count of one is not suppressed"),
    pytest.param(ORG_B, "role", {"patient": 1}, id="org-b: its own p1 only"),
]


@pytest.mark.parametrize(("scope", "field", "expected"), REACH_CASES)
def test_reach(world: Engine, scope: Scope, field: str, expected: dict[str, int]) -> None:
    with world.connect() as conn:
        counts = reach(conn, scope)
    assert counts[field] == expected
    assert list(counts[field]) == list(expected)  # vocabulary order, then not answered, then erased
    assert sum(counts[field].values()) == sum(expected.values())


# --- Data quality --------------------------------------------------------------------------------------

DQ = Scope("org-dq", date(2025, 6, 1), date(2025, 8, 1))

QUALITY_CASES = [
    # 06-03 x2, 06-20, 07-01; not 08-01 (end excluded) nor the row without a day
    pytest.param(DQ, "accepted", 4, id="accepted"),
    pytest.param(
        DQ,
        "accepted_by_type",
        {"activity.held": 1, "participant.registered": 1, "session.attended": 2},
        id="accepted by type",
    ),
    # 06-03, 06-20, 07-15; not 05-31 nor the unreadable one; not org-b's
    pytest.param(DQ, "rejected", 3, id="rejected"),
    pytest.param(DQ, "rejected_by_reason", {"participant_registered": 2, "activity_recorded": 1}, id="by reason"),
    pytest.param(DQ, "resolved", 1, id="resolved since"),
    pytest.param(DQ, "rejection_rate", 3 / 7, id="rejection rate"),
    pytest.param(Scope("org-dq", date(2025, 6, 1), date(2025, 6, 1)), "rejection_rate", None, id="empty: rate None"),
    pytest.param(Scope("org-b", date(2025, 6, 1), date(2025, 8, 1)), "rejected", 1, id="org-b: its own only"),
]


@pytest.mark.parametrize(("scope", "figure", "expected"), QUALITY_CASES)
def test_data_quality(world: Engine, scope: Scope, figure: str, expected: Any) -> None:
    with world.connect() as conn:
        actual = getattr(data_quality(conn, scope), figure)
    assert same(actual, expected), f"{figure}: {actual!r} != {expected!r}"


def test_data_quality_by_month(world: Engine) -> None:
    with world.connect() as conn:
        quality = data_quality(conn, DQ)
    assert [(m.month, m.accepted, m.rejected, dict(m.rejected_by_reason)) for m in quality.months] == [
        (date(2025, 6, 1), 3, 2, {"participant_registered": 2}),
        (date(2025, 7, 1), 1, 1, {"activity_recorded": 1}),
    ]


def test_the_processed_story_is_accepted_event_by_event(world: Engine) -> None:
    """End to end: every event the processor accepted counts on the day ingest recorded it (today)."""
    today = datetime.now(UTC).date()
    around = (today - timedelta(days=1), today + timedelta(days=2))  # safe if the run crossed midnight
    with world.connect() as conn:
        a = data_quality(conn, Scope("org-a", *around))
        b = data_quality(conn, Scope("org-b", *around))
    # org-a: 40 events, less the attendance at the unknown activity zz, which is never accepted
    assert a.accepted == 39
    assert a.accepted_by_type == {
        "activity.held": 5,
        "change.recorded": 6,
        "change.status_changed": 1,
        "contribution.made": 6,
        "feedback.sent": 5,
        "participant.consent_changed": 1,
        "participant.erased": 1,
        "participant.registered": 6,
        "session.attended": 8,
    }
    assert b.accepted == 6


# --- The report, the scope, suppression ----------------------------------------------------------------


def test_report_gathers_everything(world: Engine) -> None:
    with world.connect() as conn:
        everything = report(conn, MAR_APR)
        alone = headline(conn, MAR_APR)
    assert everything.headline == alone
    assert [m.month for m in everything.months] == [date(2026, 3, 1), date(2026, 4, 1)]
    assert everything.areas["research"].contributions == 2
    assert everything.reach["role"]["carer"] == 2
    assert isinstance(everything.quality, DataQuality) and everything.quality.rejected == 0


@pytest.mark.parametrize(
    ("count", "threshold", "shown"),
    [
        pytest.param(0, 5, 0, id="zero identifies nobody"),
        pytest.param(1, 5, None, id="one"),
        pytest.param(4, 5, None, id="four"),
        pytest.param(5, 5, 5, id="five is shown"),
        pytest.param(1234, 5, 1234, id="large"),
        pytest.param(9, 10, None, id="a stricter threshold"),
        pytest.param(10, 10, 10, id="at a stricter threshold"),
    ],
)
def test_suppress(count: int, threshold: int, shown: int | None) -> None:
    assert suppress(count, threshold) == shown


@pytest.mark.parametrize(
    "arguments",
    [
        pytest.param({"org_id": "org-a", "start": date(2026, 5, 1), "end": date(2026, 4, 1)}, id="ends before start"),
        pytest.param({"org_id": "", "start": date(2026, 4, 1), "end": date(2026, 5, 1)}, id="no organisation"),
        pytest.param(
            {"org_id": "org-a", "start": date(2026, 4, 1), "end": date(2026, 5, 1), "area": "gardening"},
            id="unknown area",
        ),
        pytest.param(
            {"org_id": "org-a", "start": date(2026, 4, 1), "end": date(2026, 5, 1), "level": "tokenistic"},
            id="unknown level",
        ),
    ],
)
def test_a_scope_refuses_nonsense(arguments: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        Scope(**arguments)


# --- With the shared fixtures: one person across two months, end to end -----------------------------------


def test_a_participant_in_two_months_is_new_in_the_first_and_returning_in_the_second(
    engine: Engine, log_settings: Callable[[str], Settings], gate: QualityGate
) -> None:
    settings = log_settings("embedded")
    q = "org-q"
    story = [
        event(q, "participant.registered", "2026-06-01", person("q1", "carer")),
        event(q, "activity.held", "2026-06-10", activity("x1", "2026-06-10", "support", "co_production", 2)),
        event(q, "session.attended", "2026-06-10", {"activity_id": "x1", "participant_id": "q1", "hours": 2}),
        event(q, "contribution.made", "2026-07-15", said("k1", ["q1"], "support")),
    ]
    with open_event_log(settings) as event_log:
        record(event_log, settings.topic, story, recorded_by="test")
    process_all(settings, engine, gate)
    scope = Scope(q, date(2026, 6, 1), date(2026, 8, 1))
    with engine.connect() as conn:
        june, july = monthly(conn, scope)
        whole = headline(conn, scope)
        july_alone = headline(conn, Scope(q, date(2026, 7, 1), date(2026, 8, 1)))
    people = lambda h: (h.participants_involved, h.new_participants, h.returning_participants)  # noqa: E731
    assert people(june.figures) == (1, 1, 0)
    assert people(july.figures) == (1, 0, 1)
    assert july.figures == july_alone
    assert people(whole) == (1, 1, 1)  # over both months: first involved in the period, and in two months
    assert (whole.attendances, whole.involvement_hours, whole.contributions, whole.area_coverage) == (1, 2.0, 1, 1)


def test_an_empty_database_measures_nothing(engine: Engine) -> None:
    scope = Scope("org-a", date(2026, 1, 1), date(2026, 3, 1))
    with engine.connect() as conn:
        everything = report(conn, scope)
    assert everything.headline == Headline()
    assert [m.figures for m in everything.months] == [Headline(), Headline()]
    assert all(figures == Headline() for figures in everything.areas.values())
    assert all(counts == {} for counts in everything.reach.values())
    assert (everything.quality.accepted, everything.quality.rejected, everything.quality.rejection_rate) == (0, 0, None)
