"""The headline figures of a scope (dashboard.metrics.headline), table-driven on the hand-computed story of
tests/dashboard/metrics/story.py, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import Engine, text

from dashboard.metrics import (
    Headline,
    Scope,
    headline,
    reach,
)
from tests.dashboard.metrics.story import (
    APR_MAY,
    CONSULTATION,
    FEB,
    MAR_APR,
    MAY,
    MID,
    ORG_B,
    RESEARCH,
    USER_LED,
    levels,
    same,
    statuses,
)

pytestmark = pytest.mark.twins  # SQL behaviour can differ: on SQLite and PostgreSQL


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
