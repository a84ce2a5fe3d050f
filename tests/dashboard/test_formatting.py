"""How figures are shown (dashboard.formatting, the small-count rule, CSV cells, chart colours): pure, table-driven."""

from __future__ import annotations

from datetime import date

import pytest

from dashboard.formatting import (
    add_months,
    default_period,
    format_count,
    format_hours,
    format_month,
    format_people,
    format_percent,
    months_between,
)
from dashboard.metrics import SMALL_COUNT, suppress
from dashboard.tables import Table, to_csv

# --- pure formatting and suppression -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "shown"),
    [(0, 0), (1, None), (2, None), (4, None), (5, 5), (6, 6), (1234, 1234)],
)
def test_suppress_hides_counts_of_one_to_four_people(count: int, shown: int | None) -> None:
    assert SMALL_COUNT == 5
    assert suppress(count) == shown


@pytest.mark.parametrize(
    ("count", "text"),
    [(0, "0"), (1, "fewer than 5"), (4, "fewer than 5"), (5, "5"), (999, "999"), (1234, "1,234"), (10**6, "1,000,000")],
)
def test_format_people(count: int, text: str) -> None:
    assert format_people(count) == text


@pytest.mark.parametrize(("count", "text"), [(0, "0"), (3, "3"), (1234, "1,234"), (1234567, "1,234,567")])
def test_format_count_never_suppresses(count: int, text: str) -> None:
    assert format_count(count) == text


@pytest.mark.parametrize(
    ("hours", "text"),
    [(0, "0.0"), (12.5, "12.5"), (0.25, "0.3"), (2.25, "2.3"), (6.75, "6.8"), (0.1 + 0.2, "0.3"), (1234.56, "1,234.6")],
)
def test_format_hours_one_decimal_halves_up(hours: float, text: str) -> None:
    assert format_hours(hours) == text


@pytest.mark.parametrize(
    ("rate", "text"),
    [
        (None, "—"),
        (0.0, "0%"),
        (0.42, "42%"),
        (2 / 3, "67%"),
        (1 / 3, "33%"),
        (0.125, "13%"),
        (0.145, "15%"),
        (1, "100%"),
    ],
)
def test_format_percent(rate: float | None, text: str) -> None:
    assert format_percent(rate) == text


@pytest.mark.parametrize(
    ("month", "text"),
    [(date(2025, 1, 1), "Jan 2025"), (date(2024, 12, 31), "Dec 2024"), (date(2025, 9, 9), "Sep 2025")],
)
def test_format_month(month: date, text: str) -> None:
    assert format_month(month) == text


@pytest.mark.parametrize(
    ("month", "months", "expected"),
    [
        (date(2025, 1, 31), 1, date(2025, 2, 1)),
        (date(2025, 1, 15), -1, date(2024, 12, 1)),
        (date(2025, 12, 1), 1, date(2026, 1, 1)),
        (date(2025, 6, 15), -11, date(2024, 7, 1)),
        (date(2025, 6, 15), 0, date(2025, 6, 1)),
    ],
)
def test_add_months(month: date, months: int, expected: date) -> None:
    assert add_months(month, months) == expected


def test_months_between_includes_both_ends_months() -> None:
    assert months_between(date(2024, 11, 30), date(2025, 2, 1)) == [
        date(2024, 11, 1),
        date(2024, 12, 1),
        date(2025, 1, 1),
        date(2025, 2, 1),
    ]


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2025, 6, 15), (date(2024, 7, 1), date(2025, 6, 15))),
        (date(2025, 1, 1), (date(2024, 2, 1), date(2025, 1, 1))),
        (date(2024, 12, 31), (date(2024, 1, 1), date(2024, 12, 31))),
    ],
)
def test_default_period_is_twelve_months_up_to_today(today: date, expected: tuple[date, date]) -> None:
    start, end = default_period(today)
    assert (start, end) == expected
    assert len(months_between(start, end)) == 12


def test_csv_cells_a_spreadsheet_would_run_start_with_an_apostrophe() -> None:
    table = Table(
        key="t",
        caption="Changes",
        columns=("Change", "Count"),
        rows=[['=HYPERLINK("http://x")', "-3"], ["+1 more", "1,234"], ["@SUM(A1)", "12%"], ["Plain, with comma", "0"]],
    )
    assert to_csv(table, "all areas").splitlines() == [
        "Changes (all areas)",
        "Change,Count",
        '"\'=HYPERLINK(""http://x"")",-3',
        '\'+1 more,"1,234"',
        "'@SUM(A1),12%",
        '"Plain, with comma",0',
    ]


def _contrast_with_white(colour: str) -> float:
    def linear(channel: int) -> float:
        value = channel / 255
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    red, green, blue = (int(colour[index : index + 2], 16) for index in (1, 3, 5))
    luminance = 0.2126 * linear(red) + 0.7152 * linear(green) + 0.0722 * linear(blue)
    return 1.05 / (luminance + 0.05)


def test_every_chart_colour_stands_out_3_to_1_against_white() -> None:
    from dashboard import charts

    colours = {*charts.SERIES, *charts.STATUS_COLOURS.values(), *charts.LEVEL_COLOURS.values(), charts.TEXT}
    weak = {colour: round(_contrast_with_white(colour), 2) for colour in colours if _contrast_with_white(colour) < 3}
    assert weak == {}
    assert len(set(charts.LEVEL_COLOURS.values())) == 3 and len(set(charts.STATUS_COLOURS.values())) == 4
