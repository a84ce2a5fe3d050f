"""Cell values: a cell's text, a row's cells by column, and each column's value read with its problem."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from typing import Any

from ingest.importing.columns import NO, YES, RowError
from schemas.quality import EARLIEST_YEAR
from schemas.vocab import VOCABULARIES, AgeBand, from_label, label


def cell_text(value: Any) -> str:
    """A cell as the text a person sees (an Excel date cell as its ISO day, a whole number without ".0")."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


def _squash(value: str) -> str:
    return re.sub(r"[^0-9a-z+]", "", value.lower())


# Spellings beyond the vocabulary's labels and values that people write in spreadsheets ("Co production",
# "75+"): read after schemas.vocab.from_label, which knows the labels and values.
_SPELLINGS: dict[str, dict[str, str]] = {
    name: {
        **{_squash(label(member.value)): member.value for member in vocab},
        **{_squash(member.value): member.value for member in vocab},
    }
    for name, vocab in VOCABULARIES.items()
}
_SPELLINGS["age_band"]["75+"] = AgeBand.age_75_plus.value
_SPELLINGS["age_band"]["under18"] = AgeBand.under_18.value

_UK_DAY = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})")
_ISO_DAY = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?")


def shown(value: str, limit: int = 40) -> str:
    """A value quoted in a problem, cut short if long."""
    return f"'{value}'" if len(value) <= limit else f"'{value[:limit]}…'"


def shown_value(name: str, value: Any) -> str:
    """A recorded value as a problem quotes it: a day as 27/03/2026, a vocabulary value by its label."""
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, float):
        return f"{value:g}"
    if name in VOCABULARIES:
        return label(str(value))
    return shown(str(value))


NO_HEADING = "has a value but no heading in the header row; add one or clear it"


def vocabulary_value(name: str, raw: str) -> str | None:
    """The value of column `name`'s vocabulary that `raw` names (its label or value, any case); else None."""
    return from_label(name, raw) or _SPELLINGS[name].get(_squash(raw))


class Row:
    """One row's cells by column, and the problems found in it (the first per column)."""

    def __init__(self, line: int, header: list[str], cells: list[Any], stray: int | None = None) -> None:
        self.line = line
        self.cells: dict[str, Any] = {}
        self.problems: dict[str, str] = {}
        for index, cell in enumerate(cells):
            name = header[index] if index < len(header) else ""
            if name:
                self.cells.setdefault(name, cell)
            elif cell_text(cell):
                self.problem(f"column {index + 1}", NO_HEADING)
        if stray:  # a value to the right of the last heading (see Table.strays)
            self.problem(f"column {stray}", NO_HEADING)

    def problem(self, column: str, reason: str) -> None:
        self.problems.setdefault(column, reason)

    def text(self, name: str) -> str:
        return cell_text(self.cells.get(name))

    def choice(self, name: str) -> str | None:
        """A vocabulary value from its label or value (any case); the raw text if unknown (and a problem)."""
        raw = self.text(name)
        if not raw:
            return None
        found = vocabulary_value(name, raw)
        if found is None:
            self.problem(name, f"{shown(raw)} is not one of: {', '.join(label(m.value) for m in VOCABULARIES[name])}")
            return raw
        return found

    def flag(self, name: str) -> bool | str:
        raw = self.text(name).lower()
        if raw in YES:
            return True
        if raw in NO:
            return False
        self.problem(name, f"{shown(self.text(name))} is not yes or no")
        return raw

    def day(self, name: str, now: datetime) -> date | None:
        value = self.cells.get(name)
        raw = cell_text(value)
        if not raw:
            return None
        found = value.date() if isinstance(value, datetime) else value if isinstance(value, date) else _parse_day(raw)
        if found is None:
            self.problem(name, f"{shown(raw)} is not a date we can read; use 27/03/2026 or 2026-03-27")
            return None
        if found.year < EARLIEST_YEAR:
            self.problem(name, f"is before {EARLIEST_YEAR}; is the year a typing slip?")
            return None
        if found > now.date():
            self.problem(name, "is in the future; check the date")
            return None
        return found

    def hours(self, name: str) -> float | str | None:
        value = self.cells.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raw = cell_text(value)
        if not raw:
            return None
        try:
            return float(raw.replace(",", "."))
        except ValueError:
            self.problem(name, f"{shown(raw)} is not a number; enter hours as a number, for example 1.5")
            return raw

    def errors(self, order: Sequence[str]) -> list[RowError]:
        rank = {name: i for i, name in enumerate(order)}
        names = sorted(self.problems, key=lambda name: (rank.get(name, len(rank)), name))
        return [RowError(self.line, name, self.problems[name]) for name in names]


def _parse_day(raw: str) -> date | None:
    try:
        if match := _UK_DAY.fullmatch(raw):
            return date(int(match[3]), int(match[2]), int(match[1]))
        if match := _ISO_DAY.fullmatch(raw):
            return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None
    return None


def day_start(now: datetime) -> datetime:
    """When an imported person registered: the start (UTC) of the day the file is sent, not the instant.

    The same on every sending that day, so a file sent again yields the same events; the participant
    page shows only the day.
    """
    return datetime.combine(now.astimezone(UTC).date(), time(0), tzinfo=UTC)


def moment(day: date, now: datetime) -> datetime:
    """When something on `day` happened: midday UTC, or the day's start if midday is still to come.

    Deterministic (unlike "now"), so a file sent again yields the same events; only a row dated the day
    it is sent can change (00:00 before midday, 12:00 after), and Checker.as_claimed settles that.
    """
    for hour in (12, 0):
        at = datetime.combine(day, time(hour), tzinfo=UTC)
        if at <= now:
            return at
    return now
