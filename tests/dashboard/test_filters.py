"""The filters of every page (dashboard.filters): read from the URL, written back to it, pure."""

from __future__ import annotations

from datetime import date

import pytest

from dashboard.filters import Filters, parse, parse_search

TODAY = date(2025, 6, 15)
DEFAULT = Filters(date(2024, 7, 1), TODAY)


@pytest.mark.parametrize(
    ("search", "expected", "problem"),
    [
        ("", DEFAULT, None),
        ("?from=2025-01-01&to=2025-03-31", Filters(date(2025, 1, 1), date(2025, 3, 31)), None),
        ("?from=2025-01-01T00:00:00&to=2025-03-31T00:00:00", Filters(date(2025, 1, 1), date(2025, 3, 31)), None),
        ("?from=2025-03-31&to=2025-01-01", Filters(date(2025, 1, 1), date(2025, 3, 31)), "were swapped"),
        ("?area=research&level=user_led", Filters(date(2024, 7, 1), TODAY, "research", "user_led"), None),
        ("?from=not+a+date", DEFAULT, "The start date “not a date” is not a date like 2025-03-31"),
        ("?to=1899-01-01", DEFAULT, "outside 2000 to 2100"),
        ("?area=<script>", DEFAULT, "There is no activity area called “<script>”, so every area is shown."),
        ("?level=top", DEFAULT, "There is no level of involvement called “top”"),
        ("?from=2000-01-01&to=2025-01-01", Filters(date(2000, 1, 1), date(2009, 12, 31)), "longer than ten years"),
        ("?area=&level=&unknown=1", DEFAULT, None),
    ],
)
def test_filters_come_from_the_url_and_anything_malformed_is_named(
    search: str, expected: Filters, problem: str | None
) -> None:
    filters = parse_search(search, TODAY)
    assert filters == expected
    if problem is None:
        assert filters.problems == ()
    else:
        assert len(filters.problems) == 1 and problem in filters.problems[0]


def test_filters_write_the_same_url_they_read() -> None:
    filters = Filters(date(2025, 1, 1), date(2025, 3, 31), "research", "co_production")
    assert filters.search() == "?from=2025-01-01&to=2025-03-31&area=research&level=co_production"
    assert parse_search(filters.search(), TODAY) == filters
    assert filters.describe() == "1 Jan 2025 to 31 Mar 2025, area: Research, level: Co-production"
    scope = filters.to_scope("org-a")
    assert (scope.start, scope.end, scope.area, scope.level) == (
        date(2025, 1, 1),
        date(2025, 4, 1),
        "research",
        "co_production",
    )
    assert parse({}, TODAY).search() == "?from=2024-07-01&to=2025-06-15"


def test_the_previous_period_has_the_same_length_and_ends_the_day_before() -> None:
    previous = Filters(date(2025, 1, 15), date(2025, 3, 31), "research").previous()
    assert previous == Filters(date(2024, 10, 31), date(2025, 1, 14), "research")
