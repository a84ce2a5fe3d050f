"""The People page: exact figures on the hand-counted story of people_story.py."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from dashboard.pages import people
from tests.dashboard.pages.people_story import (
    AGE_Q1,
    ETHNICITY_Q1,
    Q1,
    ROLE_Q1,
    H,
    build,
    chart,
    rows,
    stats,
)


@pytest.mark.parametrize(
    ("involved", "new", "returning", "shown"),
    [
        (20, 10, 10, ("10", "10")),  # 10 new only, 10 involved before, none both
        (20, 15, 10, ("15", "10")),  # 10 new only, 5 both, 5 before
        (20, 20, 0, ("20", "0")),
        (12, 7, 6, (H, H)),  # 1 both
        (9, 6, 3, (H, H)),  # returning is small
        (9, 6, 5, (H, H)),  # 3 involved before: 9 - 6
        (25, 22, 5, (H, H)),  # 2 both: 22 + 5 - 25
        (3, 3, 0, (H, H)),
        (0, 0, 0, ("0", "0")),
    ],
)
def test_new_and_returning_are_shown_only_when_nothing_small_follows_from_them(
    involved: int, new: int, returning: int, shown: tuple[str, str]
) -> None:
    assert people.new_and_returning(involved, new, returning) == shown


def test_people_in_a_quarter(story: Engine) -> None:
    page = build(story, people, Q1)
    # 12 involved, 7 new, 6 returning: 1 person is both (7 + 6 - 12), so neither figure is shown
    assert stats(page) == {"people-involved": "12", "people-new": H, "people-returning": H}
    assert rows(page, "role") == ROLE_Q1
    assert rows(page, "age-band") == AGE_Q1
    assert rows(page, "ethnicity") == ETHNICITY_Q1
    assert rows(page, "gender")[0] == ["Woman", "7", "58%"]
    assert [row[1] for row in rows(page, "gender")] == [
        "7",
        "0",
        "0",
        "0",
        H,
        H,
        H,
        "12",
    ]  # prefer not to say 1, not answered 3
    assert [row[1] for row in rows(page, "disability")] == ["0", "0", "0", H, H, "12"]  # 11 not answered
    assert [row[1:] for row in rows(page, "region") if row[1] != "0"] == [
        ["5", "42%"],  # London
        ["5", "42%"],  # Wales
        [H, H],  # not answered (p11) and erased (p12): two small counts protect each other
        [H, H],
        ["12", "100%"],
    ]
    # the charts draw the same figures, every hidden count a gap
    [age] = chart(page, "age-band")
    assert age["x"] == [0, 0, 6, 0, None, 0, 0, 0, 0, 0, None]
    assert age["y"][2] == "25 to 34"
    [ethnicity] = chart(page, "ethnicity")
    assert [x for x in ethnicity["x"] if x] == []
    assert "not shown" in next(s.chart.summary for s in page.sections if s.key == "by-ethnicity")  # type: ignore[union-attr]


PEOPLE_FILTERED: list[tuple[dict[str, str], dict[str, str], list[str]]] = [
    # governance: p06 attended act-g, p12 said c-e; both new, p06 returning: all too few
    (
        {"area": "governance"},
        {"people-involved": "fewer than 5", "people-new": H, "people-returning": H},
        [H, "0", "0", "0", H],
    ),
    # consultation: the act-r attendances (p01-p11); c-e was at a co-produced activity
    (
        {"level": "consultation"},
        {"people-involved": "11", "people-new": H, "people-returning": H},  # 1 new and returning
        ["6", H, H, "0", "0"],
    ),
    ({"area": "training"}, {"people-involved": "0", "people-new": "0", "people-returning": "0"}, ["0"] * 5),
]


def test_people_follow_the_filters(story: Engine) -> None:
    for chosen, figures, role in PEOPLE_FILTERED:
        page = build(story, people, Q1, **chosen)
        assert stats(page) == figures, chosen
        assert [row[1] for row in rows(page, "role")[:-1]] == role, chosen
