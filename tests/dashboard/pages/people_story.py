"""The story the People, Feedback and Data quality pages are tested on (the `story` fixture of conftest.py), and
helpers.

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
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine

from dashboard.filters import Filters
from dashboard.pages import Page, feedback, people
from schemas.readmodels import (
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
