"""How the report words its figures: pure helpers shared by its sections and its queries."""

from __future__ import annotations

from dashboard.formatting import NOT_APPLICABLE, counted, format_count, format_hours, format_people
from dashboard.metrics import Headline
from dashboard.pages import people
from dashboard.report.document import LONGEST_QUOTE
from schemas.vocab import label

__all__ = ["counted"]  # the report's sections word their counts with the dashboard's one helper


def told_and_waiting(h: Headline) -> tuple[str, str]:
    """The summaries sent and not yet sent: both hidden where one is 1 to 4 (the two add up to those owed)."""
    sent, unsent = h.feedback_sent, h.feedback_due - h.feedback_sent
    hidden = people.complementary([sent, unsent])
    return people.cell(sent, 0 in hidden), people.cell(unsent, 1 in hidden)


def in_people(count: int) -> str:
    return f"{format_people(count)} people"  # never "1 person": a count of 1 shows as "fewer than 5"


def capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def lower_label(value: str) -> str:
    return label(value).lower()


def in_days(days: float | None) -> str:
    if days is None:
        return NOT_APPLICABLE
    return format_count(int(days)) if days.is_integer() else format_hours(days)


def quote(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= LONGEST_QUOTE else text[: LONGEST_QUOTE - 1].rstrip() + "…"
