"""Calendar months, as the first day of each: the unit of the monthly impact figures."""

from datetime import date


def first_of_month(day: date) -> date:
    """The first day of the month `day` falls in."""
    return day.replace(day=1)


def add_months(month: date, months: int) -> date:
    """The first day of the month `months` after (or before, if negative) the month of `month`."""
    index = month.year * 12 + month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)
