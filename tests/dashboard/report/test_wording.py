"""How the report words its figures (dashboard.report.wording): pure, table-driven."""

from __future__ import annotations

import pytest

from dashboard.metrics import Headline
from dashboard.report.document import LONGEST_QUOTE
from dashboard.report.wording import (
    capitalised,
    counted,
    in_days,
    in_people,
    lower_label,
    quote,
    told_and_waiting,
)


@pytest.mark.parametrize(
    ("days", "text"), [(None, "—"), (0.0, "0"), (3.0, "3"), (2.5, "2.5"), (1234.0, "1,234"), (10.25, "10.3")]
)
def test_in_days(days: float | None, text: str) -> None:
    assert in_days(days) == text


@pytest.mark.parametrize(("count", "text"), [(0, "0 links"), (1, "1 link"), (2, "2 links"), (1500, "1,500 links")])
def test_counted_is_singular_only_for_one(count: int, text: str) -> None:
    assert counted(count, "link", "links") == text


@pytest.mark.parametrize(
    ("count", "text"), [(0, "0 people"), (1, "fewer than 5 people"), (4, "fewer than 5 people"), (5, "5 people")]
)
def test_in_people_never_says_one_person(count: int, text: str) -> None:
    assert in_people(count) == text


@pytest.mark.parametrize(
    ("text", "shown"), [("fewer than 5 people", "Fewer than 5 people"), ("", ""), ("12 people", "12 people")]
)
def test_capitalised(text: str, shown: str) -> None:
    assert capitalised(text) == shown


@pytest.mark.parametrize(
    ("value", "shown"), [("co_production", "co-production"), ("user_led", "user-led"), ("consultation", "consultation")]
)
def test_lower_label_reads_the_vocabulary(value: str, shown: str) -> None:
    assert lower_label(value) == shown


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("Short and  spaced\n out.", "Short and spaced out."),
        ("x" * LONGEST_QUOTE, "x" * LONGEST_QUOTE),
        ("x" * (LONGEST_QUOTE + 1), "x" * (LONGEST_QUOTE - 1) + "…"),
        ("word " * 100, ("word " * 100)[: LONGEST_QUOTE - 1].rstrip() + "…"),
    ],
)
def test_quote_keeps_one_line_and_cuts_long_text(text: str, shown: str) -> None:
    assert quote(text) == shown
    assert len(quote(text)) <= LONGEST_QUOTE


@pytest.mark.parametrize(
    ("due", "sent", "shown"),
    [
        (0, 0, ("0", "0")),
        (10, 10, ("10", "0")),
        (10, 5, ("5", "5")),
        (10, 3, ("not shown", "not shown")),  # 3 sent: hidden, and so 7 waiting, or 10 - 7 would give it away
        (12, 9, ("not shown", "not shown")),  # 3 waiting
        (4, 0, ("0", "not shown")),  # a hidden 4 beside a 0 gives nothing away
    ],
)
def test_told_and_waiting_hide_each_other(due: int, sent: int, shown: tuple[str, str]) -> None:
    assert told_and_waiting(Headline(feedback_due=due, feedback_sent=sent)) == shown
