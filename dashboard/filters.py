"""The filters every page shares (period, area, level), and their form in the URL, so a view can be shared.

`?from=2025-01-01&to=2025-12-31&area=research&level=co_production`: both dates inclusive, as people
read them; `to_scope` turns them into the `[start, end)` period of dashboard/metrics/__init__.py. Anything missing
takes its default (the last twelve months, every area, every level); anything malformed is replaced by
its default and named in `problems`, so a mistyped bookmark still opens, and says what it ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from urllib.parse import parse_qs, urlencode

from dashboard.formatting import default_period
from dashboard.metrics import AREAS, LEVELS, Scope
from schemas.vocab import label

LONGEST_YEARS = 10  # a longer period is almost certainly a typo in a year


@dataclass(frozen=True)
class Filters:
    """What the reader chose: a period of days (both ends included), and optionally one area and one level."""

    start: date
    end: date
    area: str | None = None
    level: str | None = None
    problems: tuple[str, ...] = field(default=(), compare=False)

    def to_scope(self, org_id: str) -> Scope:
        return Scope(
            org_id=org_id, start=self.start, end=self.end + timedelta(days=1), area=self.area, level=self.level
        )

    def previous(self) -> Filters:
        """The period of the same length just before this one (for "change against the previous period")."""
        days = (self.end - self.start).days + 1
        return replace(self, start=self.start - timedelta(days=days), end=self.start - timedelta(days=1), problems=())

    def query(self) -> dict[str, str]:
        values = {"from": self.start.isoformat(), "to": self.end.isoformat()}
        if self.area:
            values["area"] = self.area
        if self.level:
            values["level"] = self.level
        return values

    def search(self) -> str:
        """The URL's query string, with its "?": the same filters always give the same string."""
        return "?" + urlencode(self.query())

    def describe(self) -> str:
        """The filters in words, for captions, exports and the report ("1 Jan 2025 to 31 Dec 2025, all areas")."""
        parts = [f"{long_date(self.start)} to {long_date(self.end)}"]
        parts.append(f"area: {label(self.area)}" if self.area else "all areas")
        parts.append(f"level: {label(self.level)}" if self.level else "all levels")
        return ", ".join(parts)


def long_date(day: date) -> str:
    """A date as people read it, independent of the server's locale ("1 Mar 2025")."""
    months = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    return f"{day.day} {months[day.month - 1]} {day.year}"


def parse(arguments: Mapping[str, str | list[str]], today: date) -> Filters:
    """The filters a query string names; anything malformed falls back to its default and is named in `problems`."""

    def one(name: str) -> str | None:
        value = arguments.get(name)
        if isinstance(value, list):
            value = value[0] if value else None
        return value.strip() if value and value.strip() else None

    problems: list[str] = []
    default_start, default_end = default_period(today)
    start = _day(one("from"), "start date", problems)
    end = _day(one("to"), "end date", problems)
    start, end = start or default_start, end or default_end
    if start > end:
        problems.append("The start date was after the end date, so the two were swapped.")
        start, end = end, start
    last = _years_later(start, LONGEST_YEARS) - timedelta(days=1)
    if end > last:
        problems.append("The period was longer than ten years; it now ends ten years after it starts.")
        end = last
    area = one("area")
    if area is not None and area not in AREAS:
        problems.append(f"There is no activity area called “{area[:40]}”, so every area is shown.")
        area = None
    level = one("level")
    if level is not None and level not in LEVELS:
        problems.append(f"There is no level of involvement called “{level[:40]}”, so every level is shown.")
        level = None
    return Filters(start=start, end=end, area=area, level=level, problems=tuple(problems))


def parse_search(search: str | None, today: date) -> Filters:
    """The filters of a URL's query string ("?from=...&to=..."), as the browser's location gives it."""
    arguments = parse_qs((search or "").lstrip("?"), keep_blank_values=False)
    return parse({name: values for name, values in arguments.items()}, today)


def _years_later(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February, in a year without one
        return day.replace(year=day.year + years, day=28)


def _day(value: str | None, name: str, problems: list[str]) -> date | None:
    if value is None:
        return None
    try:
        day = date.fromisoformat(value[:10])
    except ValueError:
        problems.append(f"The {name} “{value[:40]}” is not a date like 2025-03-31, so the default is used.")
        return None
    if not date(2000, 1, 1) <= day <= date(2100, 12, 31):
        problems.append(f"The {name} {value[:10]} is outside 2000 to 2100, so the default is used.")
        return None
    return day
