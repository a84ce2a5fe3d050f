"""Checking a file: every row of a Table through its kind's checker, every problem kept with its line."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Engine

from ingest.importing.attendance import AttendanceChecker
from ingest.importing.cells import Row
from ingest.importing.checker import Checker
from ingest.importing.columns import KIND_FILES, NAMES, REQUIRED, Kind, RowError
from ingest.importing.contributions import ContributionsChecker
from ingest.importing.participants import ParticipantsChecker
from ingest.importing.read import Table, detect_kind
from schemas.events import Envelope

SHOWN_ERRORS = 200  # how many row problems a page shows; the rest are counted

CHECKERS: dict[Kind, type[Checker]] = {
    Kind.participants: ParticipantsChecker,
    Kind.attendance: AttendanceChecker,
    Kind.contributions: ContributionsChecker,
}

NOUNS: dict[str, tuple[str, str]] = {
    "participant.registered": ("participant", "participants"),
    "activity.held": ("new activity", "new activities"),
    "session.attended": ("attendance", "attendances"),
    "contribution.made": ("contribution", "contributions"),
}


def _count(n: int, event_type: str) -> str:
    one, many = NOUNS[event_type]
    return f"{n:,} {one if n == 1 else many}"


@dataclass
class Checked:
    """A checked file: the events to append (only if there are no errors) and every problem found."""

    kind: Kind
    filename: str
    rows: int
    encoding: str | None
    events: list[Envelope] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    already: int = 0  # events of this same file recorded by an earlier sending (not appended again)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def bad_lines(self) -> int:
        return len({error.line for error in self.errors})

    def chunks(self) -> list[list[Envelope]]:
        """The appends `append` makes: one, the whole file, or none (the command sizes its bar by this)."""
        return [self.events] if self.events else []

    def counts(self) -> Counter[str]:
        return Counter(event.type for event in self.events)  # type: ignore[attr-defined]

    def summary(self) -> str:
        """What was imported, for the confirmation ("Imported 120 participants from members.csv")."""
        if not self.events:
            return f"{self.filename} was already imported: there was nothing new to add."
        counts = self.counts()
        main = {Kind.participants: "participant.registered", Kind.attendance: "session.attended"}.get(
            self.kind, "contribution.made"
        )
        text = f"Imported {_count(counts[main], main)}"
        if counts["activity.held"]:
            text += f" and {_count(counts['activity.held'], 'activity.held')}"
        text += f" from {self.filename}."
        if self.already:
            text += f" {self.already:,} records from an earlier sending of this file were already saved."
        return text


Progress = Callable[[int], None]


def check(
    table: Table,
    *,
    org_id: str,
    engine: Engine,
    kind: Kind | None = None,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> Checked:
    """Check every row of `table` for `org_id`; raises FileProblem if the kind cannot be told."""
    kind = kind or detect_kind(table.header)
    now = now or datetime.now(UTC)
    checked = Checked(kind, table.filename, len(table.rows), table.encoding)
    checked.errors = _header_errors(table, kind)
    if checked.errors:
        if progress:
            progress(len(table.rows))
        return checked
    checker = CHECKERS[kind](table, org_id, engine, now)
    for line, cells in table.rows:
        row = Row(line, table.header, cells, table.strays.get(line))
        events = checker.row(row)
        checked.errors.extend(row.errors(NAMES[kind]))
        if not row.problems:
            for event in events:
                if str(event.event_id) in checker.register.recorded:
                    checked.already += 1
                else:
                    checked.events.append(event)
        if progress:
            progress(1)
    if checked.errors:
        checked.events = []
    return checked


def _header_errors(table: Table, kind: Kind) -> list[RowError]:
    line, errors, seen = table.header_line, list[RowError](), set[str]()
    known = NAMES[kind]
    for name in table.header:
        if not name:
            continue
        if name in seen:
            errors.append(RowError(line, name, "this heading appears twice; keep one column of it"))
        elif name not in known:
            errors.append(
                RowError(
                    line,
                    name,
                    f"is not a column of {KIND_FILES[kind]}; rename or remove it (the columns are: {', '.join(known)})",
                )
            )
        seen.add(name)
    errors.extend(
        RowError(line, name, f"this column is missing; {KIND_FILES[kind]} needs it")
        for name in known
        if name in REQUIRED[kind] and name not in seen
    )
    return errors
