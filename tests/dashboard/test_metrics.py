"""Every impact metric (dashboard.metrics), table-driven on hand-computed fixtures, on SQLite and PostgreSQL.

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
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, insert, text

from dashboard.metrics import (
    ERASED,
    NOT_ANSWERED,
    DataQuality,
    Headline,
    Scope,
    area_totals,
    by_area,
    data_quality,
    headline,
    monthly,
    reach,
    report,
    suppress,
    trend,
)
from impact.db import create_tables, make_engine
from impact.eventlog import open_event_log
from impact.eventlog.recording import record
from impact.settings import Settings
from processors.quality import QualityGate
from schemas.events import EVENT_ADAPTER
from schemas.readmodels import DeadLetter, ProcessedEvent
from tests.conftest import POSTGRES_URL, process_all

pytestmark = pytest.mark.twins  # SQL behaviour can differ: on SQLite and PostgreSQL

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


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, gate: QualityGate
) -> Iterator[Engine]:
    """The story above, processed once per database kind for the whole module."""
    where = tmp_path_factory.mktemp("metrics")
    schema = ""
    if request.param == "sqlite":
        url = f"sqlite:///{where / 'readmodels.db'}"
    else:
        admin: Engine = request.getfixturevalue("postgres_admin")
        schema = f"t_{uuid.uuid4().hex[:12]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = f"{POSTGRES_URL}{'&' if '?' in POSTGRES_URL else '?'}options=-csearch_path%3D{schema}"
    engine = make_engine(url)
    create_tables(engine)
    suffix = uuid.uuid4().hex[:10]
    settings = Settings.model_validate(
        {
            "env": "test",
            "data_dir": where / "var",
            "secret_key": "t" * 40,
            "topic": f"events-{suffix}",
            "dead_letter_topic": f"dead-{suffix}",
            "consumer_group": f"group-{suffix}",
            "poll_timeout_ms": 200,
        }
    )
    with open_event_log(settings) as event_log:
        record(event_log, settings.topic, [*org_a_events(), *org_b_events()], recorded_by="test")
    process_all(settings, engine, gate, batch_size=50)
    with engine.begin() as conn:
        add_quality_rows(conn)
    yield engine
    engine.dispose()
    if schema:
        with request.getfixturevalue("postgres_admin").connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


def test_the_story_was_processed_as_written(world: Engine) -> None:
    """Guards the fixture itself: ch2 decided by a later status change, p4 erased, zz's attendance not stored."""
    with world.connect() as conn:
        ch2 = conn.execute(
            text("SELECT status, decided_on FROM change WHERE org_id = 'org-a' AND change_id = 'ch2'")
        ).one()
        p4 = conn.execute(text("SELECT erased FROM participant WHERE org_id = 'org-a' AND participant_id = 'p4'")).one()
        zz = conn.execute(text("SELECT count(*) FROM attendance WHERE activity_id = 'zz'")).scalar_one()
    assert ch2.status == "implemented" and str(ch2.decided_on) == "2026-05-06"
    assert bool(p4.erased) is True
    assert zz == 0


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

HEADLINE_CASES = [
    # participants involved: attendances or contributions in the period; p6 never involved; p5 via a3
    pytest.param(MAR_APR, "participants_involved", 5, id="involved: p1-p5"),
    # new: first-ever involvement on or after 03-01: p1 03-05, p2 03-05, p3 03-20, p4 04-10 (p5 first 02-10)
    pytest.param(MAR_APR, "new_participants", 4, id="new: p1 p2 p3 p4, not p5 (February)"),
    # returning: two or more months before 05-01: p1 Mar+Apr, p2 Mar+Apr, p5 Feb+Apr; p3 Mar only, p4 Apr only
    pytest.param(MAR_APR, "returning_participants", 3, id="returning: p1 p2 p5 (both new and returning: p1 p2)"),
    pytest.param(MAR_APR, "activities", 4, id="activities: a1 a2 a3 a4"),
    # the attendance at unknown activity zz was rejected and is not counted
    pytest.param(MAR_APR, "attendances", 7, id="attendances: 2 + 2 + 3"),
    pytest.param(MAR_APR, "involvement_hours", 16.0, id="hours: 2+3 + 1.5+2 + 4+1+2.5"),
    pytest.param(MAR_APR, "contributions", 5, id="contributions: c1-c5"),
    # ch4 proposed 04-16; ch1 agreed 04-20; ch3 declined 04-02; ch2 decided 05-06 (outside); ch5 unlinked
    pytest.param(MAR_APR, "changes_influenced", statuses(proposed=1, agreed=1, declined=1), id="changes by status"),
    pytest.param(MAR_APR, "changes_influenced_total", 3, id="changes influenced in all"),
    # c1 (ch1 agreed), c2 (ch2 implemented, whenever decided), c4 (ch1); not c3 (declined) nor c5 (proposed)
    pytest.param(MAR_APR, "influenced_contributions", 3, id="influenced contributions: c1 c2 c4"),
    pytest.param(MAR_APR, "influence_rate", 0.6, id="influence rate 3/5"),
    # links to changes decided in the period: c1->ch1 46, c4->ch1 10, c3->ch3 8 days
    pytest.param(MAR_APR, "days_to_change", 10.0, id="days to change: median of 8 10 46"),
    pytest.param(MAR_APR, "change_links_decided", 3, id="decided links counted"),
    # pairs owed: (p1,ch1) sent, (p2,ch1) not sent, (p1,ch3) sent; p4 is erased and leaves them
    pytest.param(MAR_APR, "feedback_due", 3, id="feedback owed: p1-ch1 p2-ch1 p1-ch3 (p4 erased)"),
    pytest.param(MAR_APR, "feedback_sent", 2, id="feedback sent: p1-ch1 p1-ch3 (ch3 twice counts once)"),
    pytest.param(MAR_APR, "feedback_closure_rate", 2 / 3, id="feedback closure 2/3"),
    # p1-ch1: 04-22 - 04-20 = 2; p1-ch3: first 04-09 - 04-02 = 7 (not 04-30)
    pytest.param(MAR_APR, "days_to_feedback", 4.5, id="days to feedback: median of 2 and 7 (even)"),
    pytest.param(MAR_APR, "level_mix", levels(2, 1, 1), id="level mix counts: a1 a4 / a2 / a3"),
    pytest.param(
        MAR_APR,
        "level_share",
        {"consultation": 0.5, "co_production": 0.25, "user_led": 0.25},
        id="level mix shares",
    ),
    pytest.param(
        MAR_APR,
        "areas_covered",
        ("complaints", "governance", "media", "research", "strategy_policy"),
        id="areas covered (media by a4 alone; changes do not count)",
    ),
    pytest.param(MAR_APR, "area_coverage", 5, id="area coverage 5 of 16"),
    # Apr-May adds ch2 implemented 05-06: links 8, 10, 46, 47
    pytest.param(APR_MAY, "days_to_change", 28.0, id="days to change: even count, (10+46)/2"),
    pytest.param(APR_MAY, "changes_influenced", statuses(1, 1, 1, 1), id="changes: ch2 counted when decided"),
    # ch2's pair (p3) never consented: nothing more owed
    pytest.param(APR_MAY, "feedback_closure_rate", 2 / 3, id="no consent, no pair"),
    # May alone: a decision and nothing else
    pytest.param(MAY, "participants_involved", 0, id="May: nobody involved"),
    pytest.param(MAY, "influence_rate", None, id="May: no contributions, rate None"),
    pytest.param(MAY, "days_to_change", 47.0, id="May: c2 03-20 -> ch2 05-06"),
    pytest.param(MAY, "feedback_closure_rate", None, id="May: nobody owed, rate None"),
    pytest.param(MAY, "level_share", dict.fromkeys(("consultation", "co_production", "user_led")), id="May: no shares"),
    # February: p5's story alone
    pytest.param(FEB, "new_participants", 1, id="Feb: p5 new"),
    pytest.param(FEB, "days_to_change", 10.0, id="Feb: c0 02-10 -> ch0 02-20"),
    pytest.param(FEB, "days_to_feedback", 5.0, id="Feb: ch0 02-20 -> 02-25"),
    pytest.param(FEB, "feedback_closure_rate", 1.0, id="Feb: p5 told"),
    # A period across months: 03-15 to 04-14: p1 p3 (03-20, 03-25), p1 p4 p5 (04-10)
    pytest.param(MID, "participants_involved", 4, id="mid-month period: p1 p3 p4 p5"),
    pytest.param(MID, "new_participants", 2, id="mid-month period: new p3 p4 (p1 began 03-05)"),
    pytest.param(MID, "returning_participants", 2, id="mid-month period: returning p1 p5"),
    # area research: attendances a1 a3, contributions c1 c4, change ch1
    pytest.param(RESEARCH, "participants_involved", 4, id="research: p1 p2 p4 p5"),
    pytest.param(RESEARCH, "new_participants", 3, id="research: new p1 p2 p4"),
    pytest.param(RESEARCH, "returning_participants", 3, id="research: returning p1 p2 p5 (history any area)"),
    pytest.param(RESEARCH, "attendances", 5, id="research: attendances a1 a3"),
    pytest.param(RESEARCH, "involvement_hours", 12.5, id="research: hours 2+3+4+1+2.5"),
    pytest.param(RESEARCH, "contributions", 2, id="research: c1 c4"),
    pytest.param(RESEARCH, "changes_influenced", statuses(agreed=1), id="research: ch1 (change's area)"),
    pytest.param(RESEARCH, "influence_rate", 1.0, id="research: c1 c4 both via ch1"),
    pytest.param(RESEARCH, "days_to_change", 28.0, id="research: median of 10 and 46"),
    pytest.param(RESEARCH, "feedback_closure_rate", 0.5, id="research: p1-ch1 of p1-ch1 p2-ch1"),
    pytest.param(RESEARCH, "days_to_feedback", 2.0, id="research: p1-ch1 2 days"),
    pytest.param(RESEARCH, "level_mix", levels(1, 0, 1), id="research: a1 consultation, a3 user_led"),
    pytest.param(RESEARCH, "areas_covered", ("research",), id="research: covers itself only"),
    # level consultation: a1 a4; attendances at a1; contributions via a1 (c1); c3 c5 (no activity) excluded
    pytest.param(CONSULTATION, "activities", 2, id="consultation: a1 a4"),
    pytest.param(CONSULTATION, "attendances", 2, id="consultation: a1's two"),
    pytest.param(CONSULTATION, "involvement_hours", 5.0, id="consultation: 2+3"),
    pytest.param(CONSULTATION, "contributions", 1, id="consultation: c1 only"),
    pytest.param(CONSULTATION, "participants_involved", 2, id="consultation: p1 p2"),
    pytest.param(CONSULTATION, "changes_influenced", statuses(agreed=1), id="consultation: ch1 through c1"),
    pytest.param(CONSULTATION, "days_to_change", 46.0, id="consultation: c1 -> ch1 only"),
    pytest.param(CONSULTATION, "feedback_due", 2, id="consultation: p1-ch1 p2-ch1"),
    pytest.param(CONSULTATION, "level_mix", levels(consultation=2), id="consultation: mix is all consultation"),
    pytest.param(CONSULTATION, "area_coverage", 2, id="consultation: research media"),
    pytest.param(USER_LED, "participants_involved", 3, id="user_led: p1 p4 p5 at a3"),
    pytest.param(USER_LED, "new_participants", 2, id="user_led: new p1 (first 03-05, elsewhere) and p4"),
    pytest.param(USER_LED, "returning_participants", 2, id="user_led: returning p1 p5"),
    pytest.param(USER_LED, "days_to_change", 10.0, id="user_led: c4 -> ch1"),
    pytest.param(USER_LED, "feedback_due", 0, id="user_led: only p4, erased"),
    pytest.param(USER_LED, "days_to_feedback", None, id="user_led: no closed pair, None"),
    # org-b reuses org-a's identifiers; none of org-a's facts leak in, and org-b's never leak into org-a's
    pytest.param(ORG_B, "participants_involved", 1, id="org-b: p1 only"),
    pytest.param(ORG_B, "attendances", 1, id="org-b: one attendance"),
    pytest.param(ORG_B, "involvement_hours", 1.0, id="org-b: one hour"),
    pytest.param(ORG_B, "changes_influenced", statuses(implemented=1), id="org-b: ch1 implemented"),
    pytest.param(ORG_B, "days_to_change", 2.0, id="org-b: 03-10 -> 03-12"),
    pytest.param(ORG_B, "days_to_feedback", 1.0, id="org-b: 03-12 -> 03-13"),
    pytest.param(ORG_B, "areas_covered", ("training",), id="org-b: training"),
]


@pytest.mark.parametrize(("scope", "figure", "expected"), HEADLINE_CASES)
def test_headline(world: Engine, scope: Scope, figure: str, expected: Any) -> None:
    with world.connect() as conn:
        actual = getattr(headline(conn, scope), figure)
    assert same(actual, expected), f"{figure}: {actual!r} != {expected!r}"


@pytest.mark.parametrize(
    "scope",
    [
        pytest.param(Scope("org-a", date(2026, 3, 1), date(2026, 3, 1)), id="an empty period"),
        pytest.param(Scope("org-a", date(2025, 1, 1), date(2026, 1, 1)), id="a year before anything happened"),
        pytest.param(Scope("org-none", date(2026, 1, 1), date(2026, 11, 1)), id="an organisation with nothing"),
        pytest.param(Scope("org-a", date(2026, 3, 1), date(2026, 5, 1), area="fundraising"), id="an idle area"),
    ],
)
def test_nothing_to_measure_gives_zeros_and_none(world: Engine, scope: Scope) -> None:
    with world.connect() as conn:
        figures = headline(conn, scope)
        people = reach(conn, scope)
    assert figures == Headline()
    assert (figures.influence_rate, figures.feedback_closure_rate, figures.days_to_change) == (None, None, None)
    assert (figures.days_to_feedback, figures.area_coverage, figures.changes_influenced_total) == (None, 0, 0)
    assert people == {"role": {}, "age_band": {}, "gender": {}, "ethnicity": {}, "disability": {}, "region": {}}


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
