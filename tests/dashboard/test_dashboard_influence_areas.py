"""The Influence and Areas pages: exact figures on a hand-counted story, on SQLite and PostgreSQL, then through the
real Dash callback and the CSV export.

The story (rows inserted straight into the read models; the period of most cases is Q1 2025):

    activities (org-a)                       contributions (org-a)  [participants]  activity  text
      a1 2025-01-10 research   consultation    c1 01-10 research    [p1]      a1  "The leaflet is too long to read."
      a2 2025-01-20 research   co_production   c2 01-20 research    [p2 p3]   a2  "Our letters come too late." x 12
      a3 2025-02-05 governance user_led        c3 02-05 governance  [p4]      a3  "Carers should sit on the board."
      a4 2025-03-15 research   user_led        c4 2024-11-01 complaints [p5]  -   "Complaints take months to answer."
      a5 2025-03-31 training   consultation    c5 03-15 research    [p6]      a4  "Daytime meetings exclude people…"
      a6 2024-12-31 research   consultation    c6 02-10 support     [p1]      -   "A text the day before would help."
      a7 2025-04-01 research   consultation    c7 01-25 research    [p7]      a2  "Put the main point first."

    changes (org-a)                                    links (strength: days to the decision)
      ch1 research   implemented 01-15 -> 02-01      c1 major: 22, c2 moderate: 12, c7 moderate: 7, c4 minor: 92
      ch2 governance agreed      02-06 -> 03-10      c3 major: 33
      ch3 research   proposed    03-20               c5 moderate
      ch4 complaints declined    01-05 -> 01-06      c4 moderate: 66
      ch5 support    implemented 2024-12-01 -> 2024-12-20 (before Q1)   c4 major
      ch6 training   implemented 02-10 -> 03-20      no links: never "influenced"
      ch7 support    agreed      02-01 -> 02-01      c6 minor: -9 (linked to a contribution made after the decision)
      ch8 research   proposed    2024-12-10 (recorded before Q1)        c1 minor

org-b reuses the ids a1, a2, c1 and ch1: a1 2025-01-10 and a2 2025-02-01 (media, user_led); c1 2025-01-10 (media, a1,
[p1], "ORG B SECRET"); ch1 "Org B change" (media) implemented 01-05 -> 02-01, linked to c1 (major). A join on an id
without org_id would mix them into org-a's figures.

In Q1, org-a's changes counted are ch1, ch2, ch4, ch7 (decided) and ch3 (proposed): 8 links. The decided links'
days are -9, 7, 12, 22, 33, 66, 92 (median 22); behind them c1, c2, c3, c4, c6, c7 by p1, p2, p3, p4, p5, p7 (6).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine

from dashboard import charts, create_app, metrics, shell
from dashboard.filters import Filters
from dashboard.pages import Page, areas, influence
from dashboard.tables import to_csv
from impact.db import session_scope
from impact.settings import Environment, Settings
from schemas.readmodels import Activity, Change, ChangeLink, Contribution, ContributionParticipant, Participant
from tests.conftest import add_organisation, sign_in

LETTERS = "Our letters come too late.\n" * 12
# on one line, cut at the last space within 140 characters ("Our l|etters": 5 x 27 + 5), an ellipsis added
LETTERS_SHOWN = "“" + "Our letters come too late. " * 5 + "Our…”"


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


Q1 = Filters(date(2025, 1, 1), date(2025, 3, 31))
JUNE = Filters(date(2025, 6, 1), date(2025, 6, 30))
RESEARCH = Filters(Q1.start, Q1.end, area="research")
CO_PRODUCTION = Filters(Q1.start, Q1.end, level="co_production")
USER_LED = Filters(Q1.start, Q1.end, level="user_led")


def build(engine: Engine, module: Any, filters: Filters, org_id: str = "org-a") -> Page:
    with engine.connect() as conn:
        page: Page = module.build(conn, filters, org_id)
    return page


def stats(page: Page) -> dict[str, str]:
    return {stat.key: stat.value for section in page.sections for stat in section.stats}


def rows(page: Page, key: str) -> list[list[str]]:
    table = page.table(key)
    assert table is not None, key
    return [list(row) for row in table.rows]


def chart(page: Page, key: str) -> Any:
    [section] = [section for section in page.sections if section.key == key]
    assert section.chart is not None
    return section.chart


# --- Influence ------------------------------------------------------------------------------------------

CH1 = [
    "Shorter leaflet",
    "Research",
    "Implemented",
    "15 Jan 2025",
    "1 Feb 2025",
    "4",
    "Major",
    "92",  # from c4 (1 Nov 2024), the earliest contribution behind it
    f"“The leaflet is too long to read.”; {LETTERS_SHOWN}; “Put the main point first.”; and 1 more",
]
CH2 = [
    "Board seat for a carer",
    "Governance",
    "Agreed",
    "6 Feb 2025",
    "10 Mar 2025",
    "1",
    "Major",
    "33",
    "“Carers should sit on the board.”",
]
CH3 = [
    "Evening sessions",
    "Research",
    "Proposed",
    "20 Mar 2025",
    "—",
    "1",
    "Moderate",
    "—",
    "“Daytime meetings exclude people who work.”",
]
CH4 = [
    "Reply within 10 days",
    "Complaints and comments",
    "Declined",
    "5 Jan 2025",
    "6 Jan 2025",
    "1",
    "Moderate",
    "66",
    "“Complaints take months to answer.”",
]
CH7 = [
    "Text reminders",
    "Support",
    "Agreed",
    "1 Feb 2025",
    "1 Feb 2025",
    "1",
    "Minor",
    "-9",
    "“A text the day before would help.”",
]
BANDS = ["0 to 7 days", "8 to 30 days", "31 to 90 days", "91 to 180 days", "Over 180 days"]
NO_DAYS = [[band, "0", "—"] for band in BANDS]
STAT_KEYS = [
    "changes-decided",
    "changes-agreed",
    "changes-implemented",
    "changes-declined",
    "changes-proposed",
    "contributions-behind",
    "people-behind",
    "days-to-change",
]


@dataclass(frozen=True)
class InfluenceCase:
    org_id: str
    filters: Filters
    figures: list[str]  # the STAT_KEYS' values
    flows: list[list[str]]
    changes: list[list[str]]
    days: list[list[str]]
    name: str


INFLUENCE_CASES = [
    InfluenceCase(
        "org-a",
        Q1,
        ["4", "2", "1", "1", "1", "6", "6", "22"],
        [
            ["Complaints and comments", "Moderate", "Declined", "1"],
            ["Complaints and comments", "Minor", "Implemented", "1"],
            ["Governance", "Major", "Agreed", "1"],
            ["Research", "Major", "Implemented", "1"],
            ["Research", "Moderate", "Proposed", "1"],
            ["Research", "Moderate", "Implemented", "2"],
            ["Support", "Minor", "Agreed", "1"],
        ],
        [CH2, CH1, CH7, CH4, CH3],  # newest decision first (ch1 and ch7 on 1 Feb: by title); the proposed last
        [
            ["Decided before the contribution", "1", "14%"],
            ["0 to 7 days", "1", "14%"],
            ["8 to 30 days", "2", "29%"],
            ["31 to 90 days", "2", "29%"],
            ["91 to 180 days", "1", "14%"],
            ["Over 180 days", "0", "0%"],
        ],
        name="q1",
    ),
    InfluenceCase(  # the change's own area; c4 still flows from complaints; p1 p2 p3 p5 p7
        "org-a",
        RESEARCH,
        ["1", "0", "1", "0", "1", "4", "5", "17"],
        [
            ["Complaints and comments", "Minor", "Implemented", "1"],
            ["Research", "Major", "Implemented", "1"],
            ["Research", "Moderate", "Proposed", "1"],
            ["Research", "Moderate", "Implemented", "2"],
        ],
        [CH1, CH3],
        [
            ["0 to 7 days", "1", "25%"],
            ["8 to 30 days", "2", "50%"],
            ["31 to 90 days", "0", "0%"],
            ["91 to 180 days", "1", "25%"],
            ["Over 180 days", "0", "0%"],
        ],
        name="area-research",
    ),
    InfluenceCase(  # only c2 and c7 were made at a co-production activity; p2 p3 p7 are fewer than 5
        "org-a",
        CO_PRODUCTION,
        ["1", "0", "1", "0", "0", "2", "fewer than 5", "9.5"],
        [["Research", "Moderate", "Implemented", "2"]],
        [[*CH1[:5], "2", "Moderate", "12", f"{LETTERS_SHOWN}; “Put the main point first.”"]],
        [
            ["0 to 7 days", "1", "50%"],
            ["8 to 30 days", "1", "50%"],
            ["31 to 90 days", "0", "0%"],
            ["91 to 180 days", "0", "0%"],
            ["Over 180 days", "0", "0%"],
        ],
        name="level-co-production",
    ),
    InfluenceCase("org-a", JUNE, ["0", "0", "0", "0", "0", "0", "0", "—"], [], [], NO_DAYS, name="empty-period"),
    InfluenceCase(
        "org-b",
        Q1,
        ["1", "0", "1", "0", "0", "1", "fewer than 5", "22"],
        [["Media", "Major", "Implemented", "1"]],
        [["Org B change", "Media", "Implemented", "5 Jan 2025", "1 Feb 2025", "1", "Major", "22", "“ORG B SECRET”"]],
        [
            ["0 to 7 days", "0", "0%"],
            ["8 to 30 days", "1", "100%"],
            ["31 to 90 days", "0", "0%"],
            ["91 to 180 days", "0", "0%"],
            ["Over 180 days", "0", "0%"],
        ],
        name="org-b-same-ids",
    ),
]


def test_influence_page(world: Engine) -> None:
    for case in INFLUENCE_CASES:
        page = build(world, influence, case.filters, case.org_id)

        assert [stats(page)[key] for key in STAT_KEYS] == case.figures, case.name
        assert rows(page, "flows") == case.flows, case.name
        assert rows(page, "changes") == case.changes, case.name
        assert rows(page, "days-to-change") == case.days, case.name
        headline = [[stat.label, stat.value] for stat in page.sections[0].stats]
        assert [row[:2] for row in rows(page, "influence-headline")] == headline, case.name
        if case.org_id == "org-a":
            assert "ORG B SECRET" not in repr(page), case.name


def test_influence_charts_draw_their_tables(world: Engine) -> None:
    page = build(world, influence, Q1)

    flows = chart(page, "flows")
    [sankey] = flows.figure.data
    labels = list(sankey.node.label)
    assert labels == [
        "Complaints and comments",
        "Governance",
        "Research",
        "Support",
        "Major influence",
        "Moderate influence",
        "Minor influence",
        "Proposed",
        "Agreed",
        "Implemented",
        "Declined",
    ]
    links = sorted(
        (labels[s], labels[t], v)
        for s, t, v in zip(sankey.link.source, sankey.link.target, sankey.link.value, strict=True)
    )
    assert links == [
        ("Complaints and comments", "Minor influence", 1),
        ("Complaints and comments", "Moderate influence", 1),
        ("Governance", "Major influence", 1),
        ("Major influence", "Agreed", 1),
        ("Major influence", "Implemented", 1),
        ("Minor influence", "Agreed", 1),
        ("Minor influence", "Implemented", 1),
        ("Moderate influence", "Declined", 1),
        ("Moderate influence", "Implemented", 2),
        ("Moderate influence", "Proposed", 1),
        ("Research", "Major influence", 1),
        ("Research", "Moderate influence", 3),
        ("Support", "Minor influence", 1),
    ]
    assert list(sankey.node.color[-4:]) == ["#505a5f", "#0072B2", "#009E73", "#D55E00"]  # charts.STATUS_COLOURS
    assert flows.table == "flows"
    assert flows.summary == (
        "8 links join contributions in 4 areas to 5 changes; the most came from Research (4), "
        "and 2 were of major influence."
    )

    days = chart(page, "days")
    [bars] = days.figure.data
    assert (list(bars.x), list(bars.y)) == (["Decided before the contribution", *BANDS], [1, 1, 2, 2, 1, 0])
    assert days.summary == (
        "Most often (2 of 7 links) the decision came 8 to 30 days after the contribution; the median was 22 days."
    )
    assert [section.limit for section in page.sections if section.key == "changes"] == [100]

    empty = build(world, influence, JUNE)
    assert chart(empty, "flows").summary == "No contribution was linked to a change counted in this period."
    assert chart(empty, "days").figure.data[0].y == (0, 0, 0, 0, 0)


def test_influence_agrees_with_the_metrics(world: Engine) -> None:
    """The page's counts and median are the Overview's "changes influenced" and "days to change"."""
    for filters in (RESEARCH, CO_PRODUCTION, Filters(date(2024, 12, 1), date(2025, 2, 28))):
        with world.connect() as conn:
            expected = metrics.headline(conn, filters.to_scope("org-a"))
        figures = stats(build(world, influence, filters))
        assert [figures[f"changes-{status}"] for status in metrics.STATUSES] == [
            str(expected.changes_influenced[status]) for status in metrics.STATUSES
        ], filters
        assert figures["days-to-change"] == f"{expected.days_to_change:g}", filters


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("Short.", "“Short.”"),
        ("  two\n\nlines  ", "“two lines”"),
        ("", "(no words recorded)"),
        ("x" * 200, "“" + "x" * 140 + "…”"),  # no space to cut at: cut mid-word
        (LETTERS, LETTERS_SHOWN),
    ],
)
def test_contributions_are_quoted_short(text: str, shown: str) -> None:
    assert influence.snippet(text) == shown


def test_influence_never_quotes_a_person_whose_details_were_erased(world: Engine) -> None:
    """org-a's p1 (c1, c6) was erased; so was org-b's p5, which must not hide org-a's p5 (c4)."""
    erased = [
        Participant(
            org_id=org_id,
            participant_id=pid,
            role="service_user",
            consent_to_contact=False,
            registered_at=datetime(2024, 1, 1, tzinfo=UTC),
            erased=True,
        )
        for org_id, pid in (("org-a", "p1"), ("org-b", "p5"))
    ]
    with session_scope(world) as session:
        session.add_all(erased)
    page = build(world, influence, Q1)
    [q1] = [case for case in INFLUENCE_CASES if case.name == "q1"]
    # the counts are unchanged: links hold no personal data
    assert ([stats(page)[key] for key in STAT_KEYS], rows(page, "flows")) == (q1.figures, q1.flows)
    # ch1: c1 (major) is skipped, so c4 is quoted in its place; ch7's only contribution, c6, is not quoted
    ch1 = [*CH1[:8], f"{LETTERS_SHOWN}; “Put the main point first.”; “Complaints take months to answer.”; and 1 more"]
    assert rows(page, "changes") == [CH2, ch1, [*CH7[:8], influence.NOT_QUOTED], CH4, CH3]
    for table in page.tables():
        exported = to_csv(table, "Q1 2025")
        assert "leaflet is too long" not in exported and "A text the day before" not in exported, table.key


# --- Areas ------------------------------------------------------------------------------------------------

AREA_LABELS = [
    "Campaigning",
    "Complaints and comments",
    "Conferences and events",
    "Fundraising",
    "Governance",
    "Impact",
    "Involvement",
    "Media",
    "Promoting diversity",
    "Publications",
    "PR and marketing",
    "Recruitment and selection",
    "Research",
    "Strategy, policy and planning",
    "Support",
    "Training",
]
LEVEL_KEYS = ["activities-held", "level-consultation", "level-co_production", "level-user_led"]
Q1_MONTHS = ["Area", "Jan 2025", "Feb 2025", "Mar 2025", "Total"]
DASH = "—"


def _by_area(wanted: dict[str, list[str]], idle: list[str]) -> list[list[str]]:
    """Every area's expected row: the wanted ones as given, every other one `idle`."""
    return [[name, *wanted.get(name, idle)] for name in AREA_LABELS]


@dataclass(frozen=True)
class AreaCase:
    org_id: str
    filters: Filters
    columns: list[str]  # of the area-by-month table
    months: dict[str, list[str]]  # area -> its row of that table (after the area's name)
    idle: list[str]  # the row of every other area
    levels: list[str]  # the LEVEL_KEYS' values
    mix: dict[str, list[str]]  # area -> its row of the level-by-area table
    name: str


AREA_CASES = [
    AreaCase(
        "org-a",
        Q1,
        Q1_MONTHS,
        {"Research": ["2", "0", "1", "3"], "Governance": ["0", "1", "0", "1"], "Training": ["0", "0", "1", "1"]},
        ["0", "0", "0", "0"],
        ["5", "40%", "20%", "40%"],
        {
            "Research": ["1", "33%", "1", "33%", "1", "33%", "3"],
            "Governance": ["0", "0%", "0", "0%", "1", "100%", "1"],
            "Training": ["1", "100%", "0", "0%", "0", "0%", "1"],
        },
        name="q1",
    ),
    AreaCase(
        "org-a",
        RESEARCH,
        Q1_MONTHS,
        {"Research": ["2", "0", "1", "3"]},
        [DASH] * 4,
        ["3", "33%", "33%", "33%"],
        {"Research": ["1", "33%", "1", "33%", "1", "33%", "3"]},
        name="area-research",
    ),
    AreaCase(
        "org-a",
        USER_LED,
        Q1_MONTHS,
        {"Research": ["0", "0", "1", "1"], "Governance": ["0", "1", "0", "1"]},
        ["0", "0", "0", "0"],
        ["2", "0%", "0%", "100%"],
        {
            "Research": ["0", "0%", "0", "0%", "1", "100%", "1"],
            "Governance": ["0", "0%", "0", "0%", "1", "100%", "1"],
        },
        name="level-user-led",
    ),
    AreaCase(  # both ends inclusive: a6 on 31 Dec and a7 on 1 Apr count
        "org-a",
        Filters(date(2024, 12, 31), date(2025, 4, 1)),
        ["Area", "Dec 2024", "Jan 2025", "Feb 2025", "Mar 2025", "Apr 2025", "Total"],
        {
            "Research": ["1", "2", "0", "1", "1", "5"],
            "Governance": ["0", "0", "1", "0", "0", "1"],
            "Training": ["0", "0", "0", "1", "0", "1"],
        },
        ["0"] * 6,
        ["7", "57%", "14%", "29%"],
        {
            "Research": ["3", "60%", "1", "20%", "1", "20%", "5"],
            "Governance": ["0", "0%", "0", "0%", "1", "100%", "1"],
            "Training": ["1", "100%", "0", "0%", "0", "0%", "1"],
        },
        name="period-ends-inclusive",
    ),
    AreaCase(  # a1 (10 Jan) is before the start, a5 (31 Mar) after the end
        "org-a",
        Filters(date(2025, 1, 15), date(2025, 3, 30)),
        Q1_MONTHS,
        {"Research": ["1", "0", "1", "2"], "Governance": ["0", "1", "0", "1"]},
        ["0", "0", "0", "0"],
        ["3", "0%", "33%", "67%"],
        {
            "Research": ["0", "0%", "1", "50%", "1", "50%", "2"],
            "Governance": ["0", "0%", "0", "0%", "1", "100%", "1"],
        },
        name="months-clipped",
    ),
    AreaCase("org-a", JUNE, ["Area", "Jun 2025", "Total"], {}, ["0", "0"], ["0", DASH, DASH, DASH], {}, name="empty"),
    AreaCase(
        "org-b",
        Q1,
        Q1_MONTHS,
        {"Media": ["1", "1", "0", "2"]},
        ["0", "0", "0", "0"],
        ["2", "0%", "0%", "100%"],
        {"Media": ["0", "0%", "0", "0%", "2", "100%", "2"]},
        name="org-b-same-ids",
    ),
]


def test_areas_page(world: Engine) -> None:
    for case in AREA_CASES:
        page = build(world, areas, case.filters, case.org_id)

        table = page.table("area-months")
        assert table is not None and list(table.columns) == case.columns, case.name
        assert rows(page, "area-months") == _by_area(case.months, case.idle), case.name
        assert [stats(page)[key] for key in LEVEL_KEYS] == case.levels, case.name
        mix_idle = [DASH] * 7 if case.filters.area else ["0", DASH, "0", DASH, "0", DASH, "0"]
        assert rows(page, "level-by-area") == _by_area(case.mix, mix_idle), case.name


def test_areas_charts_draw_their_tables(world: Engine) -> None:
    page = build(world, areas, Q1)

    heatmap = chart(page, "area-months")
    [cells] = heatmap.figure.data
    assert cells.type == "heatmap" and cells.colorscale == go.Heatmap(colorscale="cividis").colorscale
    assert list(cells.x) == ["Jan 2025", "Feb 2025", "Mar 2025"]
    assert list(cells.y) == AREA_LABELS
    assert [list(row) for row in cells.z][12] == [2, 0, 1]  # Research
    assert sum(sum(row) for row in cells.z) == 5
    assert heatmap.summary == (
        "5 activities in 3 of 16 areas from Jan 2025 to Mar 2025; the most were in Research (3), "
        "and the busiest month was Jan 2025 (2)."
    )

    mix = chart(page, "level-mix")
    assert [(bar.name, bar.marker.color) for bar in mix.figure.data] == [
        ("Consultation", charts.LEVEL_COLOURS["consultation"]),
        ("Co-production", charts.LEVEL_COLOURS["co_production"]),
        ("User-led", charts.LEVEL_COLOURS["user_led"]),
    ]
    assert [bar.x[12] for bar in mix.figure.data] == [1, 1, 1]  # Research
    assert [bar.x[4] for bar in mix.figure.data] == [0, 0, 1]  # Governance
    assert mix.figure.layout.barmode == "stack"
    assert mix.summary == "Of 5 activities: 2 (40%) consultation, 1 (20%) co-production and 2 (40%) user-led."

    filtered = build(world, areas, RESEARCH)
    [cells] = chart(filtered, "area-months").figure.data
    assert [list(row) for row in cells.z][4] == [None, None, None]  # Governance: not counted, a gap and not a 0

    empty = build(world, areas, JUNE)
    assert chart(empty, "area-months").summary == "No activities were held from Jun 2025 to Jun 2025."
    assert (
        chart(empty, "level-mix").summary == "No activities were held in this period, so there is no level mix to show."
    )


# --- Through the real app: the callback and the CSV export --------------------------------------------------


@pytest.fixture
def client(world: Engine, tmp_path: Path) -> Iterator[FlaskClient]:
    """Leadership of org-a, signed in to the real dashboard (org-b's rows share the database)."""
    settings = Settings(env=Environment.test, secret_key="t" * 40, data_dir=tmp_path / "var")
    server = create_app(settings, world).server
    emails = add_organisation(world, "org-a")
    client = server.test_client()
    sign_in(client, emails["leadership"])
    yield client


def by_id(component: Any, found: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every component with an id in a serialised tree, by id, as its props (no id twice)."""
    found = {} if found is None else found
    if isinstance(component, list):
        for child in component:
            by_id(child, found)
    elif isinstance(component, dict) and "props" in component:
        props = component["props"]
        if "id" in props:
            assert props["id"] not in found, f"two components have the id {props['id']!r}"
            found[props["id"]] = props
        by_id(props.get("children"), found)
    return found


def text_of(component: Any) -> str:
    if isinstance(component, list):
        return " ".join(text_of(child) for child in component)
    if isinstance(component, dict):
        return text_of(component.get("props", {}).get("children"))
    return "" if component is None else str(component)


def table_body(table: dict[str, Any]) -> list[list[str]]:
    body = next(part for part in table["children"] if part["type"] == "Tbody")
    return [[text_of(cell) for cell in row["props"]["children"]] for row in body["props"]["children"]]


def callback(client: FlaskClient, path: str, search: str) -> dict[str, Any]:
    response = client.post("/_dash-update-component", json=shell.callback_body(path, search))
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert "ORG B SECRET" not in response.get_data(as_text=True)
    outputs = response.get_json()["response"]
    return by_id([outputs["heading"]["children"], outputs["content"]["children"]])


def export(client: FlaskClient, path: str) -> list[list[str]]:
    response = client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "text/csv"
    return list(csv.reader(io.StringIO(response.get_data(as_text=True).removeprefix("\ufeff"))))


def test_both_pages_through_the_callback_and_the_csv(client: FlaskClient) -> None:
    found = callback(client, "/influence", "?from=2025-01-01&to=2025-03-31")

    assert found["page-title"]["children"] == "Influence"
    assert [found[key]["children"] for key in STAT_KEYS] == ["4", "2", "1", "1", "1", "6", "6", "22"]
    assert table_body(found["changes-table"]) == [CH2, CH1, CH7, CH4, CH3]
    assert found["flows-chart"]["figure"]["data"][0]["type"] == "sankey"
    assert found["days-chart"]["figure"]["data"][0]["y"] == [1, 1, 2, 2, 1, 0]
    assert found["changes-csv"]["href"] == "/export/influence/changes.csv?from=2025-01-01&to=2025-03-31"

    lines = export(client, "/export/influence/changes.csv?from=2025-01-01&to=2025-03-31")
    assert lines[0] == [
        "Changes counted in this period, with the contributions behind them (1 Jan 2025 to 31 Mar 2025, "
        "all areas, all levels)"
    ]
    assert lines[1][0] == "Change" and lines[2:] == [CH2, CH1, CH7, CH4, CH3]
    flows = export(client, "/export/influence/flows.csv?from=2025-01-01&to=2025-03-31&level=co_production")
    assert flows[2:] == [["Research", "Moderate", "Implemented", "2"]]
    people = export(
        client, "/export/influence/influence-headline.csv?from=2025-01-01&to=2025-03-31&level=co_production"
    )
    assert people[8][:2] == ["People behind the decisions", "fewer than 5"]

    found = callback(client, "/areas", "?from=2025-01-01&to=2025-03-31&level=user_led")

    assert [found[key]["children"] for key in LEVEL_KEYS] == ["2", "0%", "0%", "100%"]
    body = table_body(found["area-months-table"])
    assert body[4] == ["Governance", "0", "1", "0", "1"] and body[12] == ["Research", "0", "0", "1", "1"]
    assert found["area-months-chart"]["figure"]["data"][0]["z"][12] == [0, 0, 1]

    lines = export(client, "/export/areas/area-months.csv?from=2025-01-01&to=2025-03-31&area=research")
    assert lines[1] == Q1_MONTHS
    assert lines[2:] == _by_area({"Research": ["2", "0", "1", "3"]}, [DASH] * 4)
