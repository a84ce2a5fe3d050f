"""The People, Feedback and Data quality pages: exact figures on a hand-counted story, on SQLite and PostgreSQL.

The story of org-a (rows inserted straight into the read models):

    participants   role          consent  age    gender      ethnicity  region
      p01-p05      service_user  yes      25_34  woman       white      london
      p06          service_user  yes      25_34  woman       white      wales
      p07          carer         NO       45_54  woman       white      wales
      p08          carer         yes      45_54  prefer not  white      wales
      p09          carer         yes      45_54  -           white      wales
      p10          patient       yes      45_54  -           white      wales
      p11          patient       yes      45_54  -           white      -
      p12          (ERASED: every field counts as "erased")
    (nobody answered disability)

    activities: act-old research consultation 2024-12-10; act-r research consultation 2025-01-15;
                act-g governance co_production 2025-02-10
    attendances: p01-p05 at act-old; p01-p11 at act-r; p06 at act-g
    contributions: c-r1 (act-r, 01-15) by p01-p07; c-r2 (act-r, 01-15) by p08-p11;
                   c-r3 (act-r, 03-01) by p01-p05; c-e (governance, act-g, 03-05) by p12
    changes: ch-a "Shorter forms" research implemented 01-20 <- c-r1
             ch-b "Evening meetings" research agreed 02-14 <- c-r2
             ch-c "Parking at the centre" governance declined 03-10 <- c-r3, c-e
    feedback: p01-p05 on ch-a 01-25 (p01 again 02-01); p08 on ch-b 02-24

So in Q1 2025: 12 people involved; new p06-p12 (7); returning p01-p05 (Dec, Jan) and p06 (Jan, Feb) (6).
Summaries owed: ch-a p01-p06 (6; p07 has no consent), 5 sent after 5 days; ch-b p08-p11 (4), p08's
sent after 10 days; ch-c p01-p05 (5; p12 is erased), none sent. 15 owed, 6 sent (40%), median 5 days,
9 people still waiting (p06, p09-p11, p01-p05).

Data quality, org-a: accepted Jan 6 session.attended + 4 contribution.made, Feb 3 participant.registered,
Apr 1 (outside Q1); rejected Jan 2 participant_registered (1 resolved), Feb hours_in_range and schema,
Mar mystery_check, and one unreadable (no day: in no period).

org-b reuses the ids p01-p05, p09, act-r, c-r1, ch-a (its own people, all "other", 75 and over, involved
in Q1), and has a feedback row for p06 on ch-a, plus quality rows of its own: a join that forgot org_id
would change org-a's figures.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine

from dashboard import charts, create_app, shell
from dashboard.filters import Filters, long_date
from dashboard.pages import Page, feedback, people, quality
from impact.db import session_scope
from impact.settings import Environment, Settings
from schemas.readmodels import (
    Activity,
    Attendance,
    Change,
    ChangeLink,
    Contribution,
    ContributionParticipant,
    DeadLetter,
    Feedback,
    Participant,
    ProcessedEvent,
)
from tests.conftest import add_organisation, sign_in

H = people.HIDDEN  # "not shown"
ERASED = "Erased (asked us to delete their details)"
Q1 = (date(2025, 1, 1), date(2025, 3, 31))
JUNE = (date(2025, 6, 1), date(2025, 6, 30))
TODAY = date(2025, 4, 30)

# --- The story ---------------------------------------------------------------------------------------


def person(org: str, pid: str, role: str, consent: bool = True, erased: bool = False, **fields: str) -> Participant:
    return Participant(
        org_id=org,
        participant_id=pid,
        display_name=None if erased else f"Name {pid}",
        role=role,
        email=None if erased else f"{pid}@example.org",
        consent_to_contact=consent,
        registered_at=datetime(2024, 11, 1, tzinfo=UTC),
        erased=erased,
        **fields,
    )


def attended(org: str, activity: str, pid: str, day: date) -> Attendance:
    return Attendance(
        event_id=str(uuid.uuid4()),
        org_id=org,
        activity_id=activity,
        participant_id=pid,
        hours=1.0,
        session_role="attendee",
        attended_on=day,
    )


def said(org: str, cid: str, area: str, activity: str | None, day: date, pids: list[str]) -> list[Any]:
    made = Contribution(org_id=org, contribution_id=cid, activity_id=activity, area=area, text="…", made_on=day)
    return [made, *(ContributionParticipant(org_id=org, contribution_id=cid, participant_id=pid) for pid in pids)]


def changed(org: str, cid: str, title: str, area: str, status: str, decided: date, links: list[str]) -> list[Any]:
    change = Change(
        org_id=org,
        change_id=cid,
        area=area,
        title=title,
        description="…",
        status=status,
        recorded_on=decided,
        decided_on=decided,
    )
    return [change, *(ChangeLink(org_id=org, change_id=cid, contribution_id=c, strength="major") for c in links)]


def told(org: str, pid: str, cid: str, day: date) -> Feedback:
    sent_at = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    return Feedback(
        event_id=str(uuid.uuid4()), change_id=cid, org_id=org, participant_id=pid, channel="email", sent_at=sent_at
    )


def accepted(org: str, day: date, type_: str, times: int = 1) -> list[ProcessedEvent]:
    return [ProcessedEvent(event_id=str(uuid.uuid4()), org_id=org, type=type_, recorded_on=day) for _ in range(times)]


def rejected(org: str, day: date | None, expectation: str, resolved_by: str | None = None) -> DeadLetter:
    return DeadLetter(
        event_id=str(uuid.uuid4()),
        org_id=org,
        type="session.attended",
        expectation=expectation,
        reason="…",
        event_json="{}",
        log_partition=0,
        log_offset=0,
        recorded_on=day,
        dead_at=datetime(2025, 4, 1, tzinfo=UTC),
        resolved_by=resolved_by,
    )


def pids(first: int, last: int) -> list[str]:
    return [f"p{number:02d}" for number in range(first, last + 1)]


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


def build(engine: Engine, module: Any, period: tuple[date, date], org: str = "org-a", **chosen: str) -> Page:
    filters = Filters(start=period[0], end=period[1], area=chosen.get("area"), level=chosen.get("level"))
    with engine.connect() as conn:
        if module is feedback:
            page: Page = feedback.build(conn, filters, org, today=TODAY)
        else:
            page = module.build(conn, filters, org)
    return page


def rows(page: Page, key: str) -> list[list[str]]:
    table = page.table(key)
    assert table is not None, key
    return [list(row) for row in table.rows]


def stats(page: Page) -> dict[str, str]:
    return {stat.key: stat.value for section in page.sections for stat in section.stats}


def chart(page: Page, key: str) -> list[dict[str, Any]]:
    """The traces of the chart drawing table `key`, as plain data."""
    [found] = [s.chart for s in page.sections if s.chart is not None and s.chart.table == key]
    return [trace.to_plotly_json() for trace in found.figure.data]


# --- Suppression, pure -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("counts", "hidden"),
    [
        ([], set()),
        ([0, 0], set()),
        ([5, 6, 70], set()),
        ([3, 10, 6], {0, 2}),  # one small count: the smallest other non-zero goes too
        ([6, 0, 3, 0], {0, 2}),  # zeros are never the second cell
        ([1, 2, 10], {0, 1}),  # two small counts protect each other
        ([7, 3, 7], {0, 1}),  # a tie: the first
        ([4], {0}),
        ([3, 0, 0], {0}),  # nothing else to hide (the total is small and hidden too)
        ([11, 1], {0, 1}),
        ([0, 5, 0], set()),
    ],
)
def test_complementary_suppression(counts: list[int], hidden: set[int]) -> None:
    assert people.complementary(counts) == hidden


@pytest.mark.parametrize(
    ("counts", "breakdowns", "hidden"),
    [
        # a grid: rows (total, a, b) and columns; hiding a's row cell exposes its column, and so on
        (
            {"t1": 6, "a1": 5, "b1": 1, "t2": 9, "a2": 5, "b2": 4, "t": 15, "a": 10, "b": 5},
            [
                ["t1", "a1", "b1"],
                ["t2", "a2", "b2"],
                ["t", "a", "b"],
                ["t1", "t2", "t"],
                ["a1", "a2", "a"],
                ["b1", "b2", "b"],
            ],
            {"b1", "a1", "b2", "a2"},
        ),
        ({"x": 2, "y": 8, "z": 9}, [["x", "y"], ["y", "z"]], {"x", "y", "z"}),  # a chain of breakdowns
        ({"x": 0, "y": 8}, [["x", "y"]], set()),
    ],
)
def test_protect_repeats_until_every_breakdown_is_safe(
    counts: dict[str, int], breakdowns: list[list[str]], hidden: set[str]
) -> None:
    assert people.protect(counts, breakdowns) == hidden


@pytest.mark.parametrize(
    ("sent", "owed", "shown"),
    [(0, 0, "—"), (6, 15, "40%"), (0, 7, "0%"), (7, 7, "100%"), (4, 10, H), (6, 10, H), (2, 3, H), (0, 3, H)],
)
def test_a_closure_rate_never_gives_away_a_small_count(sent: int, owed: int, shown: str) -> None:
    assert feedback.closure_rate(sent, owed) == shown


# --- People ------------------------------------------------------------------------------------------------

ROLE_Q1 = [
    ["Service user", "6", "50%"],
    ["Patient", H, H],
    ["Carer", H, H],
    ["Other", "0", "0%"],
    [ERASED, H, H],
    ["All participants involved", "12", "100%"],
]
AGE_Q1 = [
    ["Under 18", "0", "0%"],
    ["18 to 24", "0", "0%"],
    ["25 to 34", "6", "50%"],
    ["35 to 44", "0", "0%"],
    ["45 to 54", H, H],  # 5 people, hidden so that the one erased person cannot be worked out
    ["55 to 64", "0", "0%"],
    ["65 to 74", "0", "0%"],
    ["75 and over", "0", "0%"],
    ["Prefer not to say", "0", "0%"],
    ["Not answered", "0", "0%"],
    [ERASED, H, H],
    ["All participants involved", "12", "100%"],
]
ETHNICITY_Q1 = [
    ["Asian", "0", "0%"],
    ["Black", "0", "0%"],
    ["Mixed", "0", "0%"],
    ["White", H, H],  # 11 of 12: shown, it would give away the one erased person
    ["Other", "0", "0%"],
    ["Prefer not to say", "0", "0%"],
    ["Not answered", "0", "0%"],
    [ERASED, H, H],
    ["All participants involved", "12", "100%"],
]


@pytest.mark.parametrize(
    ("involved", "new", "returning", "shown"),
    [
        (20, 10, 10, ("10", "10")),  # 10 new only, 10 involved before, none both
        (20, 15, 10, ("15", "10")),  # 10 new only, 5 both, 5 before
        (20, 20, 0, ("20", "0")),
        (12, 7, 6, (H, H)),  # 1 both
        (9, 6, 3, (H, H)),  # returning is small
        (9, 6, 5, (H, H)),  # 3 involved before: 9 - 6
        (25, 22, 5, (H, H)),  # 2 both: 22 + 5 - 25
        (3, 3, 0, (H, H)),
        (0, 0, 0, ("0", "0")),
    ],
)
def test_new_and_returning_are_shown_only_when_nothing_small_follows_from_them(
    involved: int, new: int, returning: int, shown: tuple[str, str]
) -> None:
    assert people.new_and_returning(involved, new, returning) == shown


def test_people_in_a_quarter(story: Engine) -> None:
    page = build(story, people, Q1)
    # 12 involved, 7 new, 6 returning: 1 person is both (7 + 6 - 12), so neither figure is shown
    assert stats(page) == {"people-involved": "12", "people-new": H, "people-returning": H}
    assert rows(page, "role") == ROLE_Q1
    assert rows(page, "age-band") == AGE_Q1
    assert rows(page, "ethnicity") == ETHNICITY_Q1
    assert rows(page, "gender")[0] == ["Woman", "7", "58%"]
    assert [row[1] for row in rows(page, "gender")] == [
        "7",
        "0",
        "0",
        "0",
        H,
        H,
        H,
        "12",
    ]  # prefer not to say 1, not answered 3
    assert [row[1] for row in rows(page, "disability")] == ["0", "0", "0", H, H, "12"]  # 11 not answered
    assert [row[1:] for row in rows(page, "region") if row[1] != "0"] == [
        ["5", "42%"],  # London
        ["5", "42%"],  # Wales
        [H, H],  # not answered (p11) and erased (p12): two small counts protect each other
        [H, H],
        ["12", "100%"],
    ]
    # the charts draw the same figures, every hidden count a gap
    [age] = chart(page, "age-band")
    assert age["x"] == [0, 0, 6, 0, None, 0, 0, 0, 0, 0, None]
    assert age["y"][2] == "25 to 34"
    [ethnicity] = chart(page, "ethnicity")
    assert [x for x in ethnicity["x"] if x] == []
    assert "not shown" in next(s.chart.summary for s in page.sections if s.key == "by-ethnicity")  # type: ignore[union-attr]


PEOPLE_FILTERED: list[tuple[dict[str, str], dict[str, str], list[str]]] = [
    # governance: p06 attended act-g, p12 said c-e; both new, p06 returning: all too few
    (
        {"area": "governance"},
        {"people-involved": "fewer than 5", "people-new": H, "people-returning": H},
        [H, "0", "0", "0", H],
    ),
    # consultation: the act-r attendances (p01-p11); c-e was at a co-produced activity
    (
        {"level": "consultation"},
        {"people-involved": "11", "people-new": H, "people-returning": H},  # 1 new and returning
        ["6", H, H, "0", "0"],
    ),
    ({"area": "training"}, {"people-involved": "0", "people-new": "0", "people-returning": "0"}, ["0"] * 5),
]


def test_people_follow_the_filters(story: Engine) -> None:
    for chosen, figures, role in PEOPLE_FILTERED:
        page = build(story, people, Q1, **chosen)
        assert stats(page) == figures, chosen
        assert [row[1] for row in rows(page, "role")[:-1]] == role, chosen


# --- Feedback ------------------------------------------------------------------------------------------------


def test_feedback_in_a_quarter(story: Engine) -> None:
    page = build(story, feedback, Q1)
    assert stats(page) == {"closure-rate": "40%", "days-to-feedback": "5", "people-waiting": "9"}
    # Jan 6 owed, 5 sent, 1 waiting; Feb 4, 1, 3; Mar 5, 0, 5; all 15, 6, 9: the small counts, and
    # enough others that none can be worked out from a row or a column, are hidden
    assert rows(page, "closure-by-month") == [
        ["Jan 2025", "6", H, H, H],
        ["Feb 2025", H, H, H, H],
        ["Mar 2025", H, "0", H, H],
        ["All months", "15", "6", "9", "40%"],
    ]
    owed, sent = chart(page, "closure-by-month")
    assert (owed["x"], owed["y"], sent["y"]) == (["Jan 2025", "Feb 2025", "Mar 2025"], [6, None, None], [None, None, 0])
    assert rows(page, "waiting") == [
        ["Shorter forms", "Implemented", "20 Jan 2025", "100", H],  # p06
        ["Evening meetings", "Agreed", "14 Feb 2025", "75", H],  # p09-p11
        # p01-p05 (p12 is erased): shown, it would give away March's hidden "not yet sent", and so January's
        ["Parking at the centre", "Declined", "10 Mar 2025", "51", H],
    ]
    assert page.table("waiting").caption.endswith("(as of 30 Apr 2025)")  # type: ignore[union-attr]
    assert_no_hidden_count_can_be_worked_out(page)


def assert_no_hidden_count_can_be_worked_out(page: Page) -> None:
    """Every set of cells the two tables link by one equation hides none of them, or at least two: a month's
    row (owed = sent + not yet sent), a column with its "All months" total, and a month's not yet sent with
    the waiting list's changes decided in that month (and all of them with the "All months" not yet sent)."""
    months = rows(page, "closure-by-month")
    waiting = rows(page, "waiting")
    groups = [row[1:4] for row in months]
    groups += [[row[column] for row in months] for column in (1, 2, 3)]
    groups += [[row[3]] + [change[4] for change in waiting if change[2].endswith(row[0])] for row in months[:-1]]
    groups.append([months[-1][3]] + [change[4] for change in waiting])
    assert sum(1 for row in months[:-1] for change in waiting if change[2].endswith(row[0])) == len(waiting)
    for group in groups:
        assert group.count(H) != 1, group


def test_feedback_follows_the_area_filter(story: Engine) -> None:
    page = build(story, feedback, Q1, area="research")  # ch-a and ch-b: 10 owed, 6 sent, 4 waiting
    assert stats(page) == {"closure-rate": H, "days-to-feedback": "5", "people-waiting": "fewer than 5"}
    assert rows(page, "closure-by-month") == [
        ["Jan 2025", H, H, H, H],
        ["Feb 2025", H, H, H, H],
        ["Mar 2025", "0", "0", "0", "—"],
        ["All months", "10", H, H, H],
    ]
    assert [row[0] for row in rows(page, "waiting")] == ["Shorter forms", "Evening meetings"]
    assert_no_hidden_count_can_be_worked_out(page)


# --- Data quality ------------------------------------------------------------------------------------------------


def test_quality_in_a_quarter(story: Engine) -> None:
    page = build(story, quality, Q1)
    assert stats(page) == {
        "records-accepted": "13",
        "records-rejected": "5",
        "rejection-rate": "28%",
        "rejections-resolved": "1",
    }
    assert rows(page, "quality-by-month") == [
        ["Jan 2025", "10", "2", "17%"],
        ["Feb 2025", "3", "2", "40%"],
        ["Mar 2025", "0", "1", "100%"],
    ]
    accepted_, rejected_ = chart(page, "quality-by-month")
    assert (accepted_["y"], rejected_["y"]) == ([10, 3, 0], [2, 2, 1])
    assert rows(page, "rejections") == [
        [
            "A participant named here is not registered with this organisation; register them first.",
            "participant_registered",
            "2",
            "1",
            "1",
        ],
        ["The hours must be more than 0 and at most 24.", "hours_in_range", "1", "0", "1"],
        ["Failed the check “mystery_check”.", "mystery_check", "1", "0", "1"],
        ["The event does not match its type's schema, so it could not be read.", "schema", "1", "0", "1"],
    ]
    # participant records are people: 3 registered is hidden, and so, or 13 - 6 - 4 would give it away, is 4
    assert rows(page, "accepted-by-type") == [
        ["Participant registered", "participant.registered", H],
        ["Attendance", "session.attended", "6"],
        ["Contribution", "contribution.made", H],
    ]
    assert rows(page, "rejections-by-month") == [
        ["Jan 2025", "2", "0", "0", "0", "2"],
        ["Feb 2025", "0", "1", "0", "1", "2"],
        ["Mar 2025", "0", "0", "1", "0", "1"],
        ["All months", "2", "1", "1", "1", "5"],
    ]
    assert page.table("rejections-by-month").columns == (  # type: ignore[union-attr]
        "Month",
        "participant_registered",
        "hours_in_range",
        "mystery_check",
        "schema",
        "All reasons",
    )
    traces = chart(page, "rejections-by-month")
    assert [(t["name"], t["y"], t["marker"]["color"]) for t in traces] == [
        ("participant_registered", [2, 0, 0], charts.SERIES[0]),
        ("hours_in_range", [0, 1, 0], charts.SERIES[1]),
        ("mystery_check", [0, 0, 1], charts.SERIES[2]),
        ("schema", [0, 1, 0], charts.SERIES[3]),
    ]
    [by_reason] = [s.chart for s in page.sections if s.key == "rejections-months"]
    assert by_reason is not None and by_reason.figure.layout.barmode == "stack"
    assert by_reason.summary == (
        "Records rejected each month from Jan 2025 to Mar 2025, by the check they failed; the most, 2 of 5, "
        "failed “participant_registered”."
    )
    assert page.notices == []
    filtered = build(story, quality, Q1, area="governance", level="user_led")  # events have neither
    assert (stats(filtered), filtered.notices) == (stats(page), [quality.NOT_FILTERED])


@pytest.mark.parametrize(
    ("accepted", "hidden"),
    [
        ({"participant.erased": 1, "participant.registered": 2, "session.attended": 40}, {0, 1}),
        ({"participant.registered": 3, "activity.held": 2, "session.attended": 6}, {0, 1}),  # 2 is no person
        ({"participant.registered": 30, "activity.held": 2, "feedback.sent": 1}, set()),  # records, not people
    ],
)
def test_participant_records_are_counts_of_people(accepted: dict[str, int], hidden: set[int]) -> None:
    shown = [row[2] for row in quality.types_table(accepted).rows]
    assert {index for index, value in enumerate(shown) if value == H} == hidden


# --- Another organisation reusing the same ids ----------------------------------------------------------------------


def test_another_organisation_reusing_the_ids_sees_only_its_own_figures(story: Engine) -> None:
    page = build(story, people, Q1, org="org-b")
    # p01-p05 and p09, all "other": new all six; returning only p01 (Jan and Feb), so both are hidden
    assert stats(page) == {"people-involved": "6", "people-new": H, "people-returning": H}
    assert [row[1] for row in rows(page, "role")] == ["0", "0", "0", "6", "0", "6"]
    assert rows(page, "age-band")[7] == ["75 and over", "6", "100%"]

    page = build(story, feedback, Q1, org="org-b")  # p01, p09 owed on its ch-a; its feedback row is for p06
    assert stats(page) == {"closure-rate": H, "days-to-feedback": "—", "people-waiting": "fewer than 5"}
    assert rows(page, "waiting") == [["Org B change", "Implemented", "20 Jan 2025", "100", H]]
    assert_no_hidden_count_can_be_worked_out(page)

    page = build(story, quality, Q1, org="org-b")
    assert stats(page) == {
        "records-accepted": "2",
        "records-rejected": "1",
        "rejection-rate": "33%",
        "rejections-resolved": "0",
    }


# --- An empty period ----------------------------------------------------------------------------------------------


def test_every_page_shows_zeros_and_dashes_for_an_empty_period(story: Engine) -> None:
    page = build(story, people, JUNE)
    assert stats(page) == {"people-involved": "0", "people-new": "0", "people-returning": "0"}
    assert rows(page, "role") == [
        [name, "0", "—"] for name in ("Service user", "Patient", "Carer", "Other", ERASED)
    ] + [["All participants involved", "0", "—"]]
    assert "nobody was involved" in next(s.chart.summary for s in page.sections if s.key == "by-role")  # type: ignore[union-attr]

    page = build(story, feedback, JUNE)
    assert stats(page) == {"closure-rate": "—", "days-to-feedback": "—", "people-waiting": "0"}
    assert rows(page, "closure-by-month") == [["Jun 2025", "0", "0", "0", "—"], ["All months", "0", "0", "0", "—"]]
    assert rows(page, "waiting") == []

    page = build(story, quality, JUNE)
    assert stats(page) == {
        "records-accepted": "0",
        "records-rejected": "0",
        "rejection-rate": "—",
        "rejections-resolved": "0",
    }
    assert rows(page, "quality-by-month") == [["Jun 2025", "0", "0", "—"]]
    assert (rows(page, "rejections"), rows(page, "accepted-by-type")) == ([], [])
    assert rows(page, "rejections-by-month") == [["Jun 2025", "0"], ["All months", "0"]]


# --- Through the real callback and the CSV export -------------------------------------------------------------------

SEARCH = "?from=2025-01-01&to=2025-03-31"


@pytest.fixture
def client(story: Engine, tmp_path: Path) -> Iterator[FlaskClient]:
    """Leadership of org-a, signed in to the real app."""
    settings = Settings(env=Environment.test, secret_key="t" * 40, data_dir=tmp_path / "var")
    emails = add_organisation(story, "org-a")
    client = create_app(settings, story).server.test_client()
    sign_in(client, emails["leadership"])
    yield client


def by_id(component: Any, found: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every component with an id in a serialised tree: id -> props."""
    found = {} if found is None else found
    if isinstance(component, list):
        for child in component:
            by_id(child, found)
    elif isinstance(component, dict) and "props" in component:
        if "id" in component["props"]:
            found[component["props"]["id"]] = component["props"]
        by_id(component["props"].get("children"), found)
    return found


def text(component: Any) -> str:
    if component is None:
        return ""
    if isinstance(component, str | int | float):
        return str(component)
    if isinstance(component, list):
        return " ".join(filter(None, (text(child) for child in component)))
    return text(component.get("props", {}).get("children"))


def body_rows(table: dict[str, Any]) -> list[list[str]]:
    body = next(part for part in table["children"] if part["type"] == "Tbody")
    return [[text(cell) for cell in row["props"]["children"]] for row in body["props"]["children"]]


def content(client: FlaskClient, path: str) -> dict[str, Any]:
    response = client.post("/_dash-update-component", json=shell.callback_body(path, SEARCH))
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return by_id(response.get_json()["response"]["content"]["children"])


def download(client: FlaskClient, slug: str, key: str) -> list[list[str]]:
    response = client.get(f"/export/{slug}/{key}.csv{SEARCH}")
    assert response.status_code == 200
    return list(csv.reader(io.StringIO(response.get_data(as_text=True).removeprefix("\ufeff"))))[2:]


def days_ago(day: date) -> str:
    return str((date.today() - day).days)


def waiting_rows() -> list[list[str]]:
    return [
        ["Shorter forms", "Implemented", "20 Jan 2025", days_ago(date(2025, 1, 20)), H],
        ["Evening meetings", "Agreed", "14 Feb 2025", days_ago(date(2025, 2, 14)), H],
        ["Parking at the centre", "Declined", "10 Mar 2025", days_ago(date(2025, 3, 10)), H],
    ]


MONTHS_Q1 = [
    ["Jan 2025", "6", H, H, H],
    ["Feb 2025", H, H, H, H],
    ["Mar 2025", H, "0", H, H],
    ["All months", "15", "6", "9", "40%"],
]
CALLBACK: list[tuple[str, dict[str, str], dict[str, Callable[[], list[list[str]]]], tuple[str, list[Any]]]] = [
    (
        "/people",
        {"people-involved": "12", "people-new": H, "people-returning": H},
        {"age-band": lambda: AGE_Q1, "ethnicity": lambda: ETHNICITY_Q1},
        ("by-age-band-chart", [0, 0, 6, 0, None, 0, 0, 0, 0, 0, None]),
    ),
    (
        "/feedback",
        {"closure-rate": "40%", "days-to-feedback": "5", "people-waiting": "9"},
        {"waiting": waiting_rows, "closure-by-month": lambda: MONTHS_Q1},
        ("closure-months-chart", [6, None, None]),
    ),
    (
        "/quality",
        {"records-accepted": "13", "records-rejected": "5", "rejection-rate": "28%", "rejections-resolved": "1"},
        {
            "quality-by-month": lambda: [
                ["Jan 2025", "10", "2", "17%"],
                ["Feb 2025", "3", "2", "40%"],
                ["Mar 2025", "0", "1", "100%"],
            ],
            "rejections-by-month": lambda: [
                ["Jan 2025", "2", "0", "0", "0", "2"],
                ["Feb 2025", "0", "1", "0", "1", "2"],
                ["Mar 2025", "0", "0", "1", "0", "1"],
                ["All months", "2", "1", "1", "1", "5"],
            ],
        },
        ("quality-months-chart", [10, 3, 0]),
    ),
]


@pytest.mark.parametrize(("path", "figures", "tables", "drawn"), CALLBACK)
def test_the_callback_and_the_csv_show_the_same_protected_figures(
    client: FlaskClient,
    path: str,
    figures: dict[str, str],
    tables: dict[str, Callable[[], list[list[str]]]],
    drawn: tuple[str, list[Any]],
) -> None:
    found = content(client, path)
    assert {stat: found[stat]["children"] for stat in figures} == figures
    for key, expected in tables.items():
        assert body_rows(found[f"{key}-table"]) == expected(), key
        assert download(client, path.strip("/"), key) == expected(), key
    chart_id, values = drawn
    first = found[chart_id]["figure"]["data"][0]
    assert first.get("x" if first.get("orientation") == "h" else "y") == values
    if "waiting" in tables:
        assert f"as of {long_date(date.today())}" in text(found["waiting-caption"]["children"])
    assert "Name p" not in str(found) and "@example.org" not in str(found)  # never a name or an address


@pytest.mark.parametrize(
    ("days", "shown"), [([], "—"), ([3], H), ([1, 2, 3, 9], H), ([1, 2, 3, 9, 20], "3"), ([2, 4, 6, 8, 10, 12], "7")]
)
def test_median_days_to_feedback_is_not_shown_over_fewer_than_five_summaries(days: list[int], shown: str) -> None:
    [_, median, _] = feedback.closure_stats("50%", days, 10)
    assert median.value == shown
