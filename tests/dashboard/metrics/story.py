"""The story the metrics are measured on, and the scopes and expectations its tests share.

The main fixture (`world`) is built end to end: real events appended to a real log with
impact.eventlog.recording.record, folded by the real processor behind the quality gate, then measured. The
expected numbers are worked out by hand from the story below, never by re-running the same SQL.

The story of org-a (every event at noon UTC on the day given):

    participants (registered 2026-01-05)
      p1 carer         consents (email)     25_34, woman, white, disability no, london
      p2 service_user  consent False, then True on 03-01      age prefer_not_to_say
      p3 patient       never consents       gender man, region wales
      p4 carer         consents, ERASED on 05-10              (had age 45_54)
      p5 carer         consents             disability yes
      p6 service_user  never involved
    activities                       attendances (hours)              contributions
      a0 02-10 training consultation   p5 2                             c0 02-10 [p5] a0 training
      a1 03-05 research consultation   p1 2, p2 3                       c1 03-05 [p1 p2] a1 research
      a2 03-20 governance co_production p1 1.5, p3 2                    c2 03-20 [p3] a2 governance
                                                                        c3 03-25 [p1] (none) strategy_policy
      a3 04-10 research user_led       p1 4, p4 1, p5 2.5               c4 04-10 [p4] a3 research
      a4 04-25 media consultation      (none)                           c5 04-15 [p2] (none) complaints
      (04-11: p1 at unknown activity zz: rejected, never counted)
    changes
      ch0 training   agreed on 02-20, links c0                 (c0 -> 10 days)
      ch1 research   agreed on 04-20, links c1, c4             (c1 -> 46 days, c4 -> 10 days)
      ch2 governance proposed 03-28, links c2; implemented 05-06 (c2 -> 47 days)
      ch3 strategy_policy declined on 04-02, links c3          (c3 -> 8 days)
      ch4 complaints proposed 04-16, links c5
      ch5 media      proposed 04-26, no links (never "influenced")
    feedback sent
      p5 ch0 02-25 (5 days); p1 ch3 04-09 (7 days) and again 04-30; p4 ch1 04-21; p1 ch1 04-22 (2 days)

org-b reuses the identifiers p1, a1, c1, ch1 for its own facts, so a join that forgot org_id would
double count: p1 (patient) attends a1 (training, user_led, 03-10, 1 hour of 2), says c1 on 03-10,
ch1 (training) is implemented on 03-12 linked to c1, p1 is told on 03-13.

org-dq holds only accepted/rejected event rows, inserted directly (data quality).
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import Connection, insert

from dashboard.metrics import (
    Scope,
)
from schemas.events import EVENT_ADAPTER
from schemas.readmodels import DeadLetter, ProcessedEvent

# --- Building the story -----------------------------------------------------------------------------


def noon(day: str) -> str:
    return f"{day}T12:00:00+00:00"


def event(org: str, type_: str, day: str, payload: dict[str, Any]) -> Any:
    return EVENT_ADAPTER.validate_python({"type": type_, "org_id": org, "occurred_at": noon(day), "payload": payload})


def person(pid: str, role: str, consent: bool = False, **demographics: str) -> dict[str, Any]:
    registered: dict[str, Any] = {
        "participant_id": pid,
        "display_name": f"Person {pid}",
        "role": role,
        "consent_to_contact": consent,
        "demographics": demographics,
    }
    if consent:
        registered["preferred_channel"] = "in_person"
    return registered


def activity(aid: str, day: str, area: str, level: str, hours: float) -> dict[str, Any]:
    return {
        "activity_id": aid,
        "title": f"Activity {aid}",
        "area": area,
        "level": level,
        "date": day,
        "duration_hours": hours,
    }


def said(cid: str, pids: list[str], area: str, aid: str | None = None) -> dict[str, Any]:
    return {"contribution_id": cid, "participant_ids": pids, "activity_id": aid, "area": area, "text": "Shorter forms"}


def told(pid: str, cid: str, channel: str = "in_person") -> dict[str, Any]:
    return {"participant_id": pid, "change_ids": [cid], "channel": channel}


def change(cid: str, area: str, status: str, decided: str | None, links: list[str]) -> dict[str, Any]:
    return {
        "change_id": cid,
        "area": area,
        "title": f"Change {cid}",
        "description": "What we did",
        "status": status,
        "decided_on": decided,
        "links": [{"contribution_id": link, "strength": "major"} for link in links],
    }


def org_a_events() -> list[Any]:
    a = "org-a"
    p1 = person("p1", "carer", True, age_band="25_34", gender="woman", ethnicity="white", disability="no")
    p1 |= {"preferred_channel": "email", "contact": {"email": "p1@example.org"}}
    p1["demographics"]["region"] = "london"
    return [
        event(a, "participant.registered", "2026-01-05", p1),
        event(a, "participant.registered", "2026-01-05", person("p2", "service_user", age_band="prefer_not_to_say")),
        event(a, "participant.registered", "2026-01-05", person("p3", "patient", gender="man", region="wales")),
        event(a, "participant.registered", "2026-01-05", person("p4", "carer", True, age_band="45_54")),
        event(a, "participant.registered", "2026-01-05", person("p5", "carer", True, disability="yes")),
        event(a, "participant.registered", "2026-01-05", person("p6", "service_user")),
        # February: before the main period
        event(a, "activity.held", "2026-02-10", activity("a0", "2026-02-10", "training", "consultation", 2)),
        event(a, "session.attended", "2026-02-10", {"activity_id": "a0", "participant_id": "p5", "hours": 2}),
        event(a, "contribution.made", "2026-02-10", said("c0", ["p5"], "training", "a0")),
        event(a, "change.recorded", "2026-02-20", change("ch0", "training", "agreed", "2026-02-20", ["c0"])),
        event(a, "feedback.sent", "2026-02-25", told("p5", "ch0")),
        event(a, "participant.consent_changed", "2026-03-01", {"participant_id": "p2", "consent": True}),
        # March
        event(a, "activity.held", "2026-03-05", activity("a1", "2026-03-05", "research", "consultation", 3)),
        event(a, "session.attended", "2026-03-05", {"activity_id": "a1", "participant_id": "p1", "hours": 2}),
        event(a, "session.attended", "2026-03-05", {"activity_id": "a1", "participant_id": "p2", "hours": 3}),
        event(a, "contribution.made", "2026-03-05", said("c1", ["p1", "p2"], "research", "a1")),
        event(a, "activity.held", "2026-03-20", activity("a2", "2026-03-20", "governance", "co_production", 2)),
        event(a, "session.attended", "2026-03-20", {"activity_id": "a2", "participant_id": "p1", "hours": 1.5}),
        event(a, "session.attended", "2026-03-20", {"activity_id": "a2", "participant_id": "p3", "hours": 2}),
        event(a, "contribution.made", "2026-03-20", said("c2", ["p3"], "governance", "a2")),
        event(a, "contribution.made", "2026-03-25", said("c3", ["p1"], "strategy_policy")),
        event(a, "change.recorded", "2026-03-28", change("ch2", "governance", "proposed", None, ["c2"])),
        # April
        event(a, "change.recorded", "2026-04-02", change("ch3", "strategy_policy", "declined", "2026-04-02", ["c3"])),
        event(a, "feedback.sent", "2026-04-09", told("p1", "ch3", "email")),
        event(a, "activity.held", "2026-04-10", activity("a3", "2026-04-10", "research", "user_led", 4)),
        event(a, "session.attended", "2026-04-10", {"activity_id": "a3", "participant_id": "p1", "hours": 4}),
        event(a, "session.attended", "2026-04-10", {"activity_id": "a3", "participant_id": "p4", "hours": 1}),
        event(a, "session.attended", "2026-04-10", {"activity_id": "a3", "participant_id": "p5", "hours": 2.5}),
        event(a, "session.attended", "2026-04-11", {"activity_id": "zz", "participant_id": "p1", "hours": 1}),
        event(a, "contribution.made", "2026-04-10", said("c4", ["p4"], "research", "a3")),
        event(a, "contribution.made", "2026-04-15", said("c5", ["p2"], "complaints")),
        event(a, "change.recorded", "2026-04-16", change("ch4", "complaints", "proposed", None, ["c5"])),
        event(a, "change.recorded", "2026-04-20", change("ch1", "research", "agreed", "2026-04-20", ["c1", "c4"])),
        event(a, "feedback.sent", "2026-04-21", told("p4", "ch1")),
        event(a, "feedback.sent", "2026-04-22", told("p1", "ch1", "email")),
        event(a, "activity.held", "2026-04-25", activity("a4", "2026-04-25", "media", "consultation", 1)),
        event(a, "change.recorded", "2026-04-26", change("ch5", "media", "proposed", None, [])),
        event(a, "feedback.sent", "2026-04-30", told("p1", "ch3", "email")),
        # May
        event(a, "change.status_changed", "2026-05-06", {"change_id": "ch2", "status": "implemented"}),
        event(a, "participant.erased", "2026-05-10", {"participant_id": "p4"}),
    ]


def org_b_events() -> list[Any]:
    b = "org-b"
    return [
        event(b, "participant.registered", "2026-01-05", person("p1", "patient", True, gender="woman")),
        event(b, "activity.held", "2026-03-10", activity("a1", "2026-03-10", "training", "user_led", 2)),
        event(b, "session.attended", "2026-03-10", {"activity_id": "a1", "participant_id": "p1", "hours": 1}),
        event(b, "contribution.made", "2026-03-10", said("c1", ["p1"], "training", "a1")),
        event(b, "change.recorded", "2026-03-12", change("ch1", "training", "implemented", "2026-03-12", ["c1"])),
        event(b, "feedback.sent", "2026-03-13", told("p1", "ch1")),
    ]


def accepted(org: str, day: date | None, type_: str) -> dict[str, Any]:
    return {"event_id": str(uuid.uuid4()), "org_id": org, "type": type_, "recorded_on": day}


def rejected(org: str, day: date | None, expectation: str, resolved_by: str | None = None) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "org_id": org,
        "type": "session.attended",
        "expectation": expectation,
        "reason": "a reason",
        "event_json": "{}",
        "log_partition": 0,
        "log_offset": 0,
        "recorded_on": day,
        "dead_at": datetime(2026, 1, 1, tzinfo=UTC),
        "resolved_by": resolved_by,
    }


def add_quality_rows(conn: Connection) -> None:
    """org-dq: events accepted and rejected around [2025-06-01, 2025-08-01); org-b's one rejection in it."""
    d = date
    conn.execute(
        insert(ProcessedEvent.__table__),  # type: ignore[attr-defined]
        [
            accepted("org-dq", d(2025, 6, 3), "participant.registered"),
            accepted("org-dq", d(2025, 6, 3), "activity.held"),
            accepted("org-dq", d(2025, 6, 20), "session.attended"),
            accepted("org-dq", d(2025, 7, 1), "session.attended"),
            accepted("org-dq", d(2025, 8, 1), "session.attended"),  # the period's end is excluded
            accepted("org-dq", None, "session.attended"),  # no day: in no period
            accepted("org-b", d(2025, 6, 10), "session.attended"),  # another organisation
        ],
    )
    conn.execute(
        insert(DeadLetter.__table__),  # type: ignore[attr-defined]
        [
            rejected("org-dq", d(2025, 6, 3), "participant_registered"),
            rejected("org-dq", d(2025, 6, 20), "participant_registered", resolved_by=str(uuid.uuid4())),
            rejected("org-dq", d(2025, 7, 15), "activity_recorded"),
            rejected("org-dq", d(2025, 5, 31), "activity_recorded"),  # before the period
            rejected("org-dq", None, "schema"),  # unreadable: in no period
            rejected("org-b", d(2025, 6, 10), "activity_recorded"),  # another organisation
        ],
    )


# --- Expectations -------------------------------------------------------------------------------------


def same(actual: Any, expected: Any) -> bool:
    if isinstance(expected, float):
        return actual == pytest.approx(expected)
    return bool(actual == expected)


def statuses(proposed: int = 0, agreed: int = 0, implemented: int = 0, declined: int = 0) -> dict[str, int]:
    return {"proposed": proposed, "agreed": agreed, "implemented": implemented, "declined": declined}


def levels(consultation: int = 0, co_production: int = 0, user_led: int = 0) -> dict[str, int]:
    return {"consultation": consultation, "co_production": co_production, "user_led": user_led}


MAR_APR = Scope("org-a", date(2026, 3, 1), date(2026, 5, 1))
APR_MAY = Scope("org-a", date(2026, 4, 1), date(2026, 6, 1))
FEB = Scope("org-a", date(2026, 2, 1), date(2026, 3, 1))
MAY = Scope("org-a", date(2026, 5, 1), date(2026, 6, 1))
MID = Scope("org-a", date(2026, 3, 15), date(2026, 4, 15))
RESEARCH = Scope("org-a", date(2026, 3, 1), date(2026, 5, 1), area="research")
CONSULTATION = Scope("org-a", date(2026, 3, 1), date(2026, 5, 1), level="consultation")
USER_LED = Scope("org-a", date(2026, 3, 1), date(2026, 5, 1), level="user_led")
ORG_B = Scope("org-b", date(2026, 3, 1), date(2026, 5, 1))
