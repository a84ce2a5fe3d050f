"""How figures are shown to leadership: pure functions, no Dash and no database, so each is table-tested."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from dashboard.metrics import ERASED, NOT_ANSWERED, SMALL_COUNT, UNKNOWN, suppress
from impact.months import add_months, first_of_month
from schemas.vocab import label, title

SUPPRESSED = f"fewer than {SMALL_COUNT}"
NOT_APPLICABLE = "—"
# What reach counts beside the vocabularies' values; every other value reads as its one label (schemas.vocab)
REACH_LABELS = {
    NOT_ANSWERED: "Not answered",
    ERASED: "Erased (asked us to delete their details)",
    UNKNOWN: "Not in the register",
}

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def value_label(value: str) -> str:
    """A value as a table shows it: the vocabulary's one label, or what reach counts beside it."""
    return REACH_LABELS.get(value) or label(value)


def field_name(field: str) -> str:
    """A field's one title as it reads in a sentence ("region", "ethnic group")."""
    return title(field).lower()


def format_count(count: int) -> str:
    """A whole number with thousands separators ("1,234")."""
    return f"{count:,}"


def counted(count: int, one: str, many: str | None = None) -> str:
    """A count with its noun ("1 link", "3 links", "2 people")."""
    return f"{format_count(count)} {one if count == 1 else (many or one + 's')}"


def format_people(count: int) -> str:
    """A count of people, with small counts suppressed ("fewer than 5")."""
    shown = suppress(count)
    return SUPPRESSED if shown is None else format_count(shown)


def format_hours(hours: float) -> str:
    """Hours to one decimal place, halves rounded up as people expect ("12.5", "1,234.6")."""
    # str() first: the shortest repr, so 0.25 rounds to 0.3 rather than by its binary approximation
    rounded = Decimal(str(hours)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return f"{rounded:,.1f}"


def format_percent(rate: float | None) -> str:
    """A share as a whole percent ("42%"), or a dash when there is nothing to divide by."""
    if rate is None:
        return NOT_APPLICABLE
    percent = (Decimal(str(rate)) * 100).quantize(Decimal("1"), rounding=ROUND_HALF_UP)
    return f"{percent}%"


def format_month(month: date) -> str:
    """A month as leadership reads it ("Mar 2025"), independent of the server's locale."""
    return f"{_MONTHS[month.month - 1]} {month.year}"


def months_between(start: date, end: date) -> list[date]:
    """The first day of every month from start's month to end's month, inclusive."""
    months: list[date] = []
    month = first_of_month(start)
    while month <= end:
        months.append(month)
        month = add_months(month, 1)
    return months


def default_period(today: date) -> tuple[date, date]:
    """The last twelve months up to today, starting on a month's first day so the trend shows twelve months."""
    return add_months(today, -11), today
