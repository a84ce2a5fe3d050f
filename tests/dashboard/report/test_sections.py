"""The report's sections from figures made by hand (dashboard.report.sections): pure, no database."""

from __future__ import annotations

from datetime import date

import pytest

from dashboard.filters import Filters
from dashboard.metrics import AreaTotals, DataQuality, Headline, TrendMonth
from dashboard.report.document import Example, ReportSection
from dashboard.report.sections import gripp2, standards

YEAR = Filters(date(2025, 1, 1), date(2025, 12, 31))
RESEARCH = Filters(date(2025, 1, 1), date(2025, 12, 31), area="research")
NO_QUALITY = DataQuality(accepted=0, rejected=0, rejected_by_reason={}, accepted_by_type={}, resolved=0, months=[])
NO_STRENGTHS = {"minor": 0, "moderate": 0, "major": 0}
BUSY = Headline(
    participants_involved=12,
    new_participants=7,
    returning_participants=6,
    activities=3,
    attendances=20,
    involvement_hours=31.5,
    contributions=8,
    changes_influenced={"proposed": 1, "agreed": 2, "implemented": 3, "declined": 1},
    influenced_contributions=6,
    days_to_change=12.5,
    change_links_decided=9,
    feedback_due=10,
    feedback_sent=5,
    days_to_feedback=4.0,
    level_mix={"consultation": 1, "co_production": 2, "user_led": 0},
    areas_covered=("research", "governance"),
)


def part_one(
    h: Headline,
    reach: dict[str, dict[str, int]] | None = None,
    areas: dict[str, AreaTotals] | None = None,
    filters: Filters = YEAR,
) -> dict[str, ReportSection]:
    months = [TrendMonth(date(2025, 1, 1), participants_involved=h.participants_involved)]
    return {section.key: section for section in standards(h, reach or {}, areas or {}, months, filters)}


def part_two(
    h: Headline, examples: list[Example] | None = None, quality: DataQuality = NO_QUALITY
) -> dict[str, ReportSection]:
    return {section.key: section for section in gripp2(h, YEAR, examples or [], NO_STRENGTHS, quality)}


def figures(section: ReportSection) -> dict[str, str]:
    return {figure.label: figure.value for figure in section.figures}


def rows(section: ReportSection, key: str) -> list[list[str]]:
    [table] = [table for table in section.tables if table.key == key]
    return [list(row) for row in table.rows]


def test_the_sections_follow_the_six_standards_then_gripp2() -> None:
    assert [(s.number, s.heading) for s in standards(Headline(), {}, {}, [], YEAR)] == [
        ("Standard 1", "Standard 1: Inclusive opportunities"),
        ("Standard 2", "Standard 2: Working together"),
        ("Standard 3", "Standard 3: Support and learning"),
        ("Standard 4", "Standard 4: Governance"),
        ("Standard 5", "Standard 5: Communications"),
        ("Standard 6", "Standard 6: Impact"),
    ]
    assert [s.key for s in gripp2(Headline(), YEAR, [], NO_STRENGTHS, NO_QUALITY)] == [
        "aim",
        "methods",
        "results",
        "discussion",
        "reflections",
    ]


@pytest.mark.parametrize(
    ("h", "key", "expected"),
    [
        pytest.param(
            BUSY,
            "inclusive-opportunities",
            {
                "People involved": "12",
                "New to involvement": "not shown",  # 1 person both new and returning: 7 + 6 - 12
                "Involved in two or more months": "not shown",
                "Activity areas with involvement": "2 of 16",
            },
            id="inclusive",
        ),
        pytest.param(
            Headline(participants_involved=3), "inclusive-opportunities", {"People involved": "fewer than 5"}, id="few"
        ),
        pytest.param(
            BUSY,
            "working-together",
            {"Activities held": "3", "Attendances": "20", "Hours of involvement": "31.5", "Contributions": "8"},
            id="working together",
        ),
        pytest.param(
            BUSY,
            "communications",
            {
                "Feedback closure rate": "50%",
                "Told what came of what they said": "5",
                "Owed a summary, not yet sent": "5",
                "Median days from decision to summary": "4",
            },
            id="communications",
        ),
        pytest.param(
            Headline(feedback_due=20, feedback_sent=4, days_to_feedback=2.0),
            "communications",
            {
                "Feedback closure rate": "not shown",
                "Told what came of what they said": "not shown",
                "Owed a summary, not yet sent": "not shown",
                "Median days from decision to summary": "not shown",  # a median over 1 to 4 summaries
            },
            id="communications: four summaries",
        ),
        pytest.param(
            BUSY,
            "impact",
            {
                "Contributions": "8",
                "Linked to an agreed or implemented change": "6",
                "Influence rate": "75%",
                "Median days from contribution to decision": "12.5",
            },
            id="impact",
        ),
        pytest.param(
            Headline(),
            "impact",
            {
                "Contributions": "0",
                "Linked to an agreed or implemented change": "0",
                "Influence rate": "—",
                "Median days from contribution to decision": "—",
            },
            id="impact: nothing",
        ),
    ],
)
def test_the_figures_of_part_one(h: Headline, key: str, expected: dict[str, str]) -> None:
    shown = figures(part_one(h)[key])
    assert {label: shown[label] for label in expected} == expected


def test_reach_tables_use_the_vocabulary_s_labels_and_titles_and_hide_small_counts() -> None:
    reach = {
        "role": {"service_user": 9, "carer": 3},
        "region": {"yorkshire_humber": 7, "london": 5, "not_answered": 6, "erased": 1},
    }
    section = part_one(BUSY, reach)["inclusive-opportunities"]
    assert [(table.key, table.caption, tuple(table.columns)) for table in section.tables] == [
        ("reach-role", "People involved by role", ("Role", "People involved")),
        ("reach-region", "People involved by region", ("Region", "People involved")),
    ]
    assert rows(section, "reach-role") == [["Service user", "not shown"], ["Carer", "not shown"]]
    assert rows(section, "reach-region") == [
        ["Yorkshire and the Humber", "7"],
        ["London", "not shown"],  # the smallest other, or 19 - 7 - 6 would give the erased person away
        ["Not answered", "6"],
        ["Erased (asked us to delete their details)", "not shown"],
    ]


def test_nobody_involved_says_so_instead_of_a_breakdown() -> None:
    section = part_one(Headline())["inclusive-opportunities"]
    assert section.tables == []
    assert "No one was involved in this period, so there is no breakdown by role or background." in section.text


def test_areas_without_involvement_are_left_out_and_governance_says_when_the_filter_hides_it() -> None:
    areas = {
        "research": AreaTotals(participants_involved=6, activities=2, involvement_hours=4.0, contributions=3),
        "governance": AreaTotals(participants_involved=2, activities=1, contributions=1, changes_influenced=1),
        "media": AreaTotals(),
    }
    together = part_one(BUSY, areas=areas)["working-together"]
    assert rows(together, "areas") == [
        ["Research", "6", "2", "4.0", "3", "0"],
        ["Governance", "fewer than 5", "1", "0.0", "1", "1"],
    ]
    assert rows(together, "levels") == [
        ["Consultation", "1", "33%"],
        ["Co-production", "2", "67%"],
        ["User-led", "0", "0%"],
    ]
    assert rows(part_one(BUSY, areas=areas)["governance"], "governance") == [
        ["Governance", "fewer than 5", "1", "1", "1"]
    ]

    filtered = part_one(BUSY, areas={"research": areas["research"]}, filters=RESEARCH)["governance"]
    assert filtered.tables == []
    assert filtered.text == [
        "This report is limited to the Research area, so involvement in governance and in strategy, policy and "
        "planning is not shown."
    ]


def test_part_two_words_the_figures() -> None:
    quality = DataQuality(
        accepted=90, rejected=10, rejected_by_reason={"schema": 10}, accepted_by_type={}, resolved=1, months=[]
    )
    sections = part_two(BUSY, quality=quality)
    assert sections["aim"].text == ["This report covers 1 Jan 2025 to 31 Dec 2025, all areas, all levels."]
    methods = sections["methods"].text
    assert methods[0] == (
        "12 people took part through 3 activities in 2 of the 16 activity areas, with 20 attendances "
        "(31.5 hours) and 8 contributions recorded."
    )
    assert methods[1] == "Activities by level of involvement: consultation 1, co-production 2, user-led 0."
    assert sections["results"].text[0] == (
        "Changes linked to what people said: 3 implemented, 2 agreed, 1 declined and 1 still proposed."
    )
    assert sections["results"].examples == []
    assert sections["discussion"].text[1] == (
        "From a contribution to the decision on a change linked to it took 12.5 days (the median over 9 links)."
    )
    reflections = sections["reflections"]
    assert figures(reflections)["Records rejected by the data checks"] == "10 of 100"
    assert reflections.text[-1] == "Of the 10 rejected records, 1 was since corrected."


def test_part_two_with_nothing_recorded() -> None:
    sections = part_two(Headline())
    assert sections["discussion"].text[1] == "No change linked to a contribution was decided in the period."
    assert sections["methods"].text[0].startswith("0 people took part through 0 activities in 0 of the 16")
    assert len(sections["reflections"].text) == 1  # no rejected records: nothing said of corrections
    assert sections["reflections"].text[0] == (  # all sixteen, in the vocabulary's order
        "Activity areas without involvement: Campaigning, Complaints and comments, Conferences and events, "
        "Fundraising, Governance, Impact, Involvement, Media, Promoting diversity, Publications, PR and marketing, "
        "Recruitment and selection, Research, Strategy, policy and planning, Support, Training."
    )
