"""The Data quality page: exact figures on the hand-counted story of people_story.py."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from dashboard import charts
from dashboard.pages import quality
from tests.dashboard.pages.people_story import (
    Q1,
    H,
    build,
    chart,
    rows,
    stats,
)

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
