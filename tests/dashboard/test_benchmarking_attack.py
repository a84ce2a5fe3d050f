"""The pinning attack on benchmarking, kept as a test, on SQLite and PostgreSQL.

Four organisations acting together (or four the operator made) opt in beside one other and arrange their
influence rates at 0, 0, 100 and 100%: a median of five is then the fifth's own rate. What the reader may see
is only a band of it, over a whole quarter, with organisations of real activity that are not the operator's.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from dashboard import benchmarking, metrics
from impact.auth.accounts import Organisation
from schemas.readmodels import Activity, Change, ChangeLink, Contribution, ContributionParticipant, Participant

pytestmark = pytest.mark.twins  # SQL behaviour can differ: on SQLite and PostgreSQL

DAY = date(2025, 2, 10)
TODAY = date(2025, 12, 1)  # Q1 to Q3 2025 have ended; Q4 has not
ONE_DAY = metrics.Scope(org_id="colluder-1", start=DAY, end=DAY + (date(2, 1, 2) - date(2, 1, 1)))
COLLUDERS = {"colluder-1": 0, "colluder-2": 0, "colluder-3": 20, "colluder-4": 20}  # influenced, of 20


def rows_of(org_id: str, influenced: int, *, said: int = 20, activities: int = 3, day: date = DAY) -> list[Any]:
    """An organisation with `activities` meetings and `said` contributions, `influenced` of them to a change."""
    rows: list[Any] = [
        Activity(
            org_id=org_id,
            activity_id=f"a{i}",
            title="A meeting",
            area=metrics.AREAS[0],
            level="consultation",
            held_on=day,
            duration_hours=1.0,
        )
        for i in range(activities)
    ]
    for j in range(said):
        rows += [
            Participant(
                org_id=org_id,
                participant_id=f"p{j}",
                role="patient",
                consent_to_contact=True,
                registered_at=datetime(2024, 1, 1, tzinfo=UTC),
            ),
            Contribution(
                org_id=org_id, contribution_id=f"c{j}", activity_id="a0", area=metrics.AREAS[0], text="…", made_on=day
            ),
            ContributionParticipant(org_id=org_id, contribution_id=f"c{j}", participant_id=f"p{j}"),
        ]
    if influenced:
        rows.append(
            Change(
                org_id=org_id,
                change_id="ch-1",
                area=metrics.AREAS[0],
                title="A change",
                description="…",
                status="implemented",
                recorded_on=day,
                decided_on=day,
            )
        )
    rows += [
        ChangeLink(org_id=org_id, change_id="ch-1", contribution_id=f"c{j}", strength="major")
        for j in range(influenced)
    ]
    return rows


def add(engine: Engine, org_id: str, rows: list[Any], *, operator: bool = False) -> None:
    with Session(engine) as session:
        session.add(Organisation(org_id=org_id, name=f"{org_id} trust", operator=operator, benchmarking=True))
        session.flush()
        session.add_all(rows)
        session.commit()


def colluders(engine: Engine) -> None:
    for org_id, influenced in COLLUDERS.items():
        add(engine, org_id, rows_of(org_id, influenced))


def shown(engine: Engine, scope: metrics.Scope = ONE_DAY) -> Any:
    with engine.connect() as conn:
        found = benchmarking.compare(conn, scope, today=TODAY)
    if not isinstance(found, benchmarking.Comparison):
        return found
    return {row[0]: row[2] for row in benchmarking.rows(found)}["Influence rate"]


@pytest.fixture(autouse=True)
def fresh_cache() -> None:
    benchmarking._cache.clear()  # each case is a new arrangement of the same period


@pytest.mark.parametrize(("influenced", "band"), [(8, "40 to 50%"), (9, "40 to 50%"), (13, "60 to 70%")])
def test_the_victims_rate_is_shown_only_as_its_band(engine: Engine, influenced: int, band: str) -> None:
    colluders(engine)
    add(engine, "victim", rows_of("victim", influenced))  # 40%, 45%, 65% of 20

    assert shown(engine) == band  # never "40%" or "45%": two rates within a band look the same


def test_the_band_does_not_follow_the_victims_rate_within_it(engine_factory: Any) -> None:
    seen = set()
    for influenced in (8, 9):  # 40% and 45%
        engine = engine_factory("sqlite")
        colluders(engine)
        add(engine, "victim", rows_of("victim", influenced))
        benchmarking._cache.clear()
        seen.add(shown(engine))
    assert seen == {"40 to 50%"}


def test_one_day_chosen_shows_its_whole_quarter(engine: Engine) -> None:
    colluders(engine)
    add(engine, "victim", rows_of("victim", 9, day=date(2025, 3, 30)))  # not on the day chosen, in its quarter

    with engine.connect() as conn:
        found = benchmarking.compare(conn, ONE_DAY, today=TODAY)
    assert isinstance(found, benchmarking.Comparison)
    assert (found.start, found.end) == (date(2025, 1, 1), date(2025, 4, 1))
    assert "Q1 2025" in benchmarking.section(found).intro
    assert shown(engine) == "40 to 50%"


def test_a_quarter_not_yet_ended_is_not_shown(engine: Engine) -> None:
    colluders(engine)
    add(engine, "victim", rows_of("victim", 9))

    this_quarter = metrics.Scope(org_id="colluder-1", start=date(2025, 10, 1), end=date(2025, 11, 1))
    assert shown(engine, this_quarter) == benchmarking.QUARTERS_ONLY


def test_the_operators_own_organisation_never_counts(engine: Engine) -> None:
    add(engine, "operator", rows_of("operator", 0), operator=True)
    for org_id in ("colluder-2", "colluder-3", "colluder-4"):
        add(engine, org_id, rows_of(org_id, COLLUDERS[org_id]))
    add(engine, "victim", rows_of("victim", 9))

    assert shown(engine, metrics.Scope(org_id="colluder-2", start=DAY, end=DAY)) == benchmarking.TOO_FEW
    assert shown(engine, metrics.Scope(org_id="operator", start=DAY, end=DAY)) is None  # nothing for it either


@pytest.mark.parametrize(
    ("activities", "said"), [(benchmarking.MIN_ACTIVITIES - 1, 20), (3, benchmarking.MIN_PARTICIPANTS - 1)]
)
def test_an_organisation_without_real_activity_does_not_count(engine: Engine, activities: int, said: int) -> None:
    colluders(engine)
    add(engine, "shell", rows_of("shell", 0, said=said, activities=activities))  # a fifth made only to count

    assert shown(engine) == benchmarking.TOO_FEW

    add(engine, "victim", rows_of("victim", 9))
    benchmarking._cache.clear()
    assert shown(engine) == "40 to 50%"
