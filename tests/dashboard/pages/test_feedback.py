"""The Feedback loop page: exact figures on the hand-counted story of people_story.py."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from dashboard.pages import feedback
from tests.dashboard.pages.people_story import (
    Q1,
    H,
    assert_no_hidden_count_can_be_worked_out,
    build,
    chart,
    rows,
    stats,
)

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


@pytest.mark.parametrize(
    ("days", "shown"), [([], "—"), ([3], H), ([1, 2, 3, 9], H), ([1, 2, 3, 9, 20], "3"), ([2, 4, 6, 8, 10, 12], "7")]
)
def test_median_days_to_feedback_is_not_shown_over_fewer_than_five_summaries(days: list[int], shown: str) -> None:
    [_, median, _] = feedback.closure_stats("50%", days, 10)
    assert median.value == shown
