"""Small counts hidden, and the cells they could be worked out from (dashboard.pages.people): pure."""

from __future__ import annotations

import pytest

from dashboard.pages import feedback, people
from tests.dashboard.pages.people_story import (
    H,
)

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
