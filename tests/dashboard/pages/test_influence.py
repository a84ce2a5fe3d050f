"""The Influence page: exact figures on the hand-counted story of influence_world.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Engine

from dashboard import metrics
from dashboard.filters import Filters
from dashboard.pages import influence
from dashboard.tables import to_csv
from impact.db import session_scope
from schemas.readmodels import Participant
from tests.dashboard.pages.influence_world import (
    BANDS,
    CH1,
    CH2,
    CH3,
    CH4,
    CH7,
    CO_PRODUCTION,
    JUNE,
    LETTERS,
    LETTERS_SHOWN,
    NO_DAYS,
    Q1,
    RESEARCH,
    STAT_KEYS,
    build,
    chart,
    rows,
    stats,
)


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
