"""Spreadsheet import: CSV or Excel (.xlsx) files of participants, attendance or contributions.

The staff page (`ingest/importing/views.py`) and the `impact import` command share this module: it reads a
file into rows, checks every row, and turns a file without problems into events for the log.

**A file is imported whole or not at all.** Every row goes through the same event models as the API,
and every problem is reported as "Line N: column: reason", with N the spreadsheet's own line number
(the header is line 1). If any row has a problem, nothing is appended. A file without problems is
appended in one call to the log: the embedded log (the default) writes it in one transaction, so a
failed write stores none of it. Kafka cannot write a list atomically, so there a failed write may
store part of the file, and sending the same file again completes it (below).

**Reading is bounded.** Rows are read one at a time and reading stops one line past the limit
(MAX_ROWS lines after the header, blank lines included), so a tiny workbook with one cell at row
1,000,000 is refused at once; a workbook's rows are read only as wide as its header (at most
MAX_COLUMNS), however wide the sheet claims to be.

**Why import reads the register.** Ingest normally checks only the shape of an event and leaves
references ("is this participant registered?") to the processor, which dead-letters an event that
names an unknown participant or activity. That is right for one event at a time, but a spreadsheet
of 500 rows where row 312 names a participant nobody registered would then be imported *in part*:
499 rows counted, one dead letter, and staff left to work out which rows went in. All-or-nothing
needs the references checked at the door, so import reads the organisation's read models (and the
rows earlier in the same file) before it appends anything. The processor's own check stays the
authority: the register may change between the check and the append (someone else registers the
same ID a moment later), and then the processor dead-letters the event as usual.

**Sending a file again is safe.** Event ids are derived from the organisation, a digest of the file's
bytes, the line and the event type. Sending the same file again (for example after the log did not
confirm a write) finds the events it already recorded through their confirmed receipts and the
processed-event ids, appends only the rest (exactly as an unconfirmed earlier claim named them), and
never records a row twice (an event the log holds twice, because Kafka delivered it without
confirming, counts once: the processor skips an event id it has seen). A different file naming a
participant or contribution that is already recorded is refused ("was this file imported before?").
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import uuid
import zipfile
from collections import Counter
from collections.abc import Callable, Collection, Generator, Iterable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from pathlib import PurePath
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from impact.eventlog import EventLog
from impact.eventlog.recording import Receipt, record
from impact.eventlog.recording import digest as content_digest
from schemas.events import EVENT_ADAPTER, Envelope
from schemas.quality import EARLIEST_YEAR
from schemas.readmodels import Activity, Attendance, Contribution, Participant, ProcessedEvent
from schemas.vocab import (
    AgeBand,
    Area,
    Channel,
    Disability,
    Ethnicity,
    Gender,
    Level,
    ParticipantRole,
    Region,
    SessionRole,
    label,
)

MAX_ROWS = 50_000
MAX_COLUMNS = 100  # a header wider than this is refused (the widest kind has 13 columns)
SHOWN_ERRORS = 200  # how many row problems a page shows; the rest are counted
_QUERY_CHUNK = 500
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://involvement-impact.example/import")


class Kind(StrEnum):
    participants = "participants"
    attendance = "attendance"
    contributions = "contributions"


KIND_LABELS: dict[Kind, str] = {
    Kind.participants: "Participants",
    Kind.attendance: "Attendance at activities",
    Kind.contributions: "Contributions (what people said)",
}


class FileProblem(ValueError):
    """The file as a whole cannot be used (unreadable, no header, too many rows, kind unclear)."""


@dataclass(frozen=True)
class RowError:
    """One problem in one row: `line` is the spreadsheet's line number (the header is line 1)."""

    line: int
    column: str
    reason: str

    def __str__(self) -> str:
        return f"Line {self.line}: {self.column}: {self.reason}"


# --- Columns ------------------------------------------------------------------------------------

VOCABULARIES: dict[str, type[StrEnum]] = {
    "role": ParticipantRole,
    "preferred_channel": Channel,
    "age_band": AgeBand,
    "gender": Gender,
    "ethnicity": Ethnicity,
    "disability": Disability,
    "region": Region,
    "area": Area,
    "level": Level,
    "session_role": SessionRole,
}
DEMOGRAPHICS = ("age_band", "gender", "ethnicity", "disability", "region")
YES = frozenset({"yes", "y", "true", "1"})
NO = frozenset({"no", "n", "false", "0", ""})
DATES = "A date such as 27/03/2026 or 2026-03-27 (an Excel date cell works too); not in the future."
HOURS = "A number of hours, more than 0 and at most 24, for example 1.5."
IDS = "Letters, digits and . _ : - (up to 64 characters)."


def _allowed(name: str) -> str:
    values = ", ".join(label(member.value) for member in VOCABULARIES[name])
    return f"One of: {values}."


@dataclass(frozen=True)
class Column:
    name: str
    required: bool  # the header must have it
    needed: str  # when a value is needed, for the page's table
    allowed: str  # what to put in it
    example: str  # the template's example row


COLUMNS: dict[Kind, tuple[Column, ...]] = {
    Kind.participants: (
        Column(
            "participant_id", False, "No", f"Your reference for the person. {IDS} Left blank, one is made.", "P0001"
        ),
        Column("display_name", True, "Yes", "The name staff know them by (up to 120 characters).", "Sam Taylor"),
        Column("role", True, "Yes", _allowed("role"), "Carer"),
        Column("email", False, "No", "An e-mail address.", "sam@example.org"),
        Column("phone", False, "No", "A phone number: digits, spaces, brackets, hyphens, + at the start.", ""),
        Column("postal_address", False, "No", "A postal address (up to 400 characters).", ""),
        Column(
            "consent_to_contact", False, "No", "Yes or no (blank means no): may we tell them what came of it?", "yes"
        ),
        Column(
            "preferred_channel",
            False,
            "If they consent",
            _allowed("preferred_channel") + " E-mail, phone and post need that detail.",
            "Email",
        ),
        Column("age_band", False, "No", _allowed("age_band"), "45 to 54"),
        Column("gender", False, "No", _allowed("gender"), "Prefer not to say"),
        Column("ethnicity", False, "No", _allowed("ethnicity"), ""),
        Column("disability", False, "No", _allowed("disability"), ""),
        Column("region", False, "No", _allowed("region"), "Yorkshire humber"),
    ),
    Kind.attendance: (
        Column("activity_id", True, "Yes", f"Your reference for the activity (one session). {IDS}", "A0001"),
        Column(
            "activity_title",
            False,
            "For a new activity",
            "What the activity was (up to 200 characters).",
            "Carers' forum",
        ),
        Column("area", False, "For a new activity", _allowed("area"), "Support"),
        Column("level", False, "For a new activity", _allowed("level"), "Co-production"),
        Column("date", False, "For a new activity", DATES, "27/03/2026"),
        Column("duration_hours", False, "For a new activity", HOURS, "2"),
        Column("participant_id", True, "Yes", "A registered participant's reference.", "P0001"),
        Column("hours", False, "No", HOURS + " Blank means the whole activity.", "2"),
        Column("session_role", False, "No", _allowed("session_role") + " Blank means attendee.", "Speaker"),
    ),
    Kind.contributions: (
        Column(
            "contribution_id", False, "No", f"Your reference for what was said. {IDS} Left blank, one is made.", "C0001"
        ),
        Column(
            "participant_ids",
            True,
            "Yes",
            "Who said it: registered participants' references, separated by ; or ,",
            "P0001",
        ),
        Column("activity_id", False, "No", "The recorded activity where it was said, if any.", "A0001"),
        Column("area", True, "Yes", _allowed("area"), "Support"),
        Column("date", True, "Yes", DATES, "27/03/2026"),
        Column(
            "text",
            True,
            "Yes",
            "What they said, in their words where you can (up to 4,000 characters).",
            "Evening meetings would let working carers come.",
        ),
    ),
}
NAMES: dict[Kind, tuple[str, ...]] = {kind: tuple(c.name for c in columns) for kind, columns in COLUMNS.items()}
REQUIRED: dict[Kind, frozenset[str]] = {
    kind: frozenset(c.name for c in columns if c.required) for kind, columns in COLUMNS.items()
}


def template_csv(kind: Kind) -> str:
    """The template of a kind: its header and one example row (with a BOM, so Excel reads it as UTF-8)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(NAMES[kind])
    writer.writerow(c.example for c in COLUMNS[kind])
    return "\ufeff" + out.getvalue()


# --- Reading a file -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Table:
    """A file's header (normalised names) and its non-blank rows, each with its line number.

    Rows hold at most as many cells as the header has headings. `strays` maps the line of a CSV row
    with a value to the right of the last heading to that value's column (1-based), so the row can be
    reported rather than silently cut short (an unquoted comma in a text shifts the rest of its row).
    """

    filename: str
    header: list[str]
    header_line: int
    rows: list[tuple[int, list[Any]]]
    digest: str  # sha256 of the file's bytes
    encoding: str | None  # the text encoding of a CSV file; None for Excel
    strays: dict[int, int] = field(default_factory=dict)


Lines = Generator[tuple[int, Sequence[Any]], None, None]


def _heading(value: Any) -> str:
    return re.sub(r"[\s\-]+", "_", _text(value).lower())


def _blank(cells: Sequence[Any]) -> bool:
    return all(_text(cell) == "" for cell in cells)


def _width(cells: Sequence[Any]) -> int:
    """How many cells up to and including the last one that is not blank."""
    for index in range(len(cells) - 1, -1, -1):
        if _text(cells[index]):
            return index + 1
    return 0


def _last_line(header_line: int | None) -> int:
    """The last line a file may use: MAX_ROWS lines after its header (blank lines count, so reading stops)."""
    return (header_line or 1) + MAX_ROWS


def _too_many(line_is_blank: bool, last: int) -> FileProblem:
    message = f"The file has more than {MAX_ROWS:,} rows: split it into several files."
    if line_is_blank:
        message += f" Rows below line {last:,} count too, even ones that look empty: delete any below your data."
    return FileProblem(message)


def read_table(data: bytes, filename: str) -> Table:
    """Read a CSV (UTF-8 with or without BOM, else Windows-1252) or an .xlsx workbook's first sheet.

    Rows are read one at a time and reading stops at the first line past the limit (MAX_ROWS lines
    after the header), so a file that claims a million rows costs no more than one at the limit.
    """
    filename = PurePath(filename.replace("\\", "/")).name or "file"
    suffix = PurePath(filename).suffix.lower()
    if suffix == ".xls" or data.startswith(b"\xd0\xcf\x11\xe0"):
        raise FileProblem("Older Excel files (.xls) cannot be read: save it as an Excel workbook (.xlsx) or as CSV.")
    if not data.strip():
        raise FileProblem("The file is empty.")
    digest = hashlib.sha256(data).hexdigest()
    lines: Lines
    if suffix == ".xlsx" or data.startswith(b"PK\x03\x04"):
        lines, encoding = _xlsx_rows(data), None
    else:
        lines, encoding = _csv_rows(data)
    header: list[str] | None = None
    header_line = 0
    rows: list[tuple[int, list[Any]]] = []
    strays: dict[int, int] = {}
    with closing(lines):
        for line, cells in lines:
            last = _last_line(header_line)
            if line > last:
                raise _too_many(_blank(cells), last)
            if _blank(cells):
                continue
            if header is None:
                header, header_line = [_heading(cell) for cell in cells[: _width(cells)]], line
                if len(header) > MAX_COLUMNS:
                    raise FileProblem(
                        f"Line {line}: the header row has more than {MAX_COLUMNS} columns; a file needs at most "
                        f"{max(len(names) for names in NAMES.values())}: keep only the columns listed for its kind."
                    )
                continue
            width = len(header)
            stray = next((index + 1 for index in range(width, len(cells)) if _text(cells[index])), None)
            if stray:
                strays[line] = stray
            rows.append((line, list(cells[:width])))
    if header is None:
        raise FileProblem("The file is empty.")
    return Table(filename, header, header_line, rows, digest, encoding, strays)


def _csv_rows(data: bytes) -> tuple[Lines, str]:
    try:
        content, encoding = data.decode("utf-8-sig"), "UTF-8"
    except UnicodeDecodeError:
        try:
            content, encoding = data.decode("cp1252"), "Windows-1252"
        except UnicodeDecodeError as exc:
            raise FileProblem("The file's text could not be read: save it as CSV UTF-8 and try again.") from exc
    if "\x00" in content:
        raise FileProblem("This does not look like a CSV file: save it as CSV UTF-8 or as an Excel workbook (.xlsx).")
    first = content.split("\n", 1)[0]
    delimiter = ","
    if "," not in first:
        delimiter = ";" if ";" in first else ("\t" if "\t" in first else ",")
    reader = csv.reader(io.StringIO(content, newline=""), delimiter=delimiter)

    def rows() -> Lines:
        try:
            yield from enumerate(reader, start=1)
        except csv.Error as exc:
            raise FileProblem(f"Line {reader.line_num}: the CSV could not be read ({exc}).") from exc

    return rows(), encoding


MAX_UNZIPPED_BYTES = 100 * 1024 * 1024  # far beyond any real 50,000-row workbook, far below a zip bomb


def _refuse_zip_bomb(data: bytes) -> None:
    """A workbook is a zip: refuse one whose parts would unpack to more than MAX_UNZIPPED_BYTES."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(part.file_size for part in archive.infolist())
    except zipfile.BadZipFile as exc:
        raise FileProblem("The file could not be read as an Excel workbook (.xlsx): save it again, or as CSV.") from exc
    if unpacked > MAX_UNZIPPED_BYTES:
        raise FileProblem("The workbook unpacks to more than 100 MB: save it as CSV, or split it into smaller files.")


def _xlsx_rows(data: bytes) -> Lines:
    """The first sheet's rows, read lazily and never wider than the header.

    openpyxl pads every row to the width the sheet's <dimension> claims and fills any gap in the row
    numbers with empty rows, so one cell at XFD1048576 would cost a billion cells. Here the header is
    looked for in the first MAX_COLUMNS + 1 columns, each later row is read only as wide as the header
    (cells to the right of its last heading have no column to go in, and are not read), and `max_row`
    stops openpyxl one line past the limit, so read_table refuses the file before any gap is filled.
    """
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    _refuse_zip_bomb(data)
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise FileProblem("The file could not be read as an Excel workbook (.xlsx): save it again, or as CSV.") from exc

    def rows() -> Lines:
        try:
            sheet = workbook.worksheets[0]
            header_line, width = 0, 0
            search = sheet.iter_rows(values_only=True, max_col=MAX_COLUMNS + 1, max_row=_last_line(None) + 1)
            with closing(search):
                for line, cells in enumerate(search, start=1):
                    yield line, cells
                    if not _blank(cells):
                        header_line, width = line, _width(cells)
                        break
            if not header_line:
                return
            below = sheet.iter_rows(
                values_only=True, min_row=header_line + 1, max_col=width, max_row=_last_line(header_line) + 1
            )
            with closing(below):
                yield from enumerate(below, start=header_line + 1)
        except Exception as exc:  # a damaged sheet raises whatever its parser meets
            raise FileProblem("The workbook's first sheet could not be read: save it again, or as CSV.") from exc
        finally:
            workbook.close()

    return rows()


def detect_kind(header: Iterable[str]) -> Kind:
    """The kind whose required columns the header has; a FileProblem if none or several fit."""
    names = set(header) - {""}
    fits = [kind for kind in Kind if REQUIRED[kind] <= names]
    if len(fits) > 1:
        exact = [kind for kind in fits if names <= set(NAMES[kind])]
        if len(exact) == 1:
            return exact[0]
        kinds = " and ".join(k.value for k in fits)
        raise FileProblem(f"The headings in line 1 fit more than one kind of file ({kinds}): choose the kind.")
    if not fits:
        raise FileProblem(
            "Could not tell from the headings in line 1 what the file holds: choose the kind, or start from a "
            "template. Participants need display_name and role; attendance needs activity_id and participant_id; "
            "contributions need participant_ids, area, date and text."
        )
    return fits[0]


# --- Cell values --------------------------------------------------------------------------------


def _text(value: Any) -> str:
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


_CHOICES: dict[str, dict[str, str]] = {
    name: {
        **{_squash(label(member.value)): member.value for member in vocab},
        **{_squash(member.value): member.value for member in vocab},
    }
    for name, vocab in VOCABULARIES.items()
}
_CHOICES["age_band"]["75+"] = AgeBand.age_75_plus.value
_CHOICES["age_band"]["under18"] = AgeBand.under_18.value

_UK_DAY = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})")
_ISO_DAY = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?")


def _shown(value: str, limit: int = 40) -> str:
    return f"'{value}'" if len(value) <= limit else f"'{value[:limit]}…'"


NO_HEADING = "has a value but no heading in the header row; add one or clear it"


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
            elif _text(cell):
                self.problem(f"column {index + 1}", NO_HEADING)
        if stray:  # a value to the right of the last heading (see Table.strays)
            self.problem(f"column {stray}", NO_HEADING)

    def problem(self, column: str, reason: str) -> None:
        self.problems.setdefault(column, reason)

    def text(self, name: str) -> str:
        return _text(self.cells.get(name))

    def choice(self, name: str) -> str | None:
        """A vocabulary value from its value or label (any case); the raw text if unknown (and a problem)."""
        raw = self.text(name)
        if not raw:
            return None
        found = _CHOICES[name].get(_squash(raw))
        if found is None:
            self.problem(name, f"{_shown(raw)} is not one of: {', '.join(label(m.value) for m in VOCABULARIES[name])}")
            return raw
        return found

    def flag(self, name: str) -> bool | str:
        raw = self.text(name).lower()
        if raw in YES:
            return True
        if raw in NO:
            return False
        self.problem(name, f"{_shown(self.text(name))} is not yes or no")
        return raw

    def day(self, name: str, now: datetime) -> date | None:
        value = self.cells.get(name)
        raw = _text(value)
        if not raw:
            return None
        found = value.date() if isinstance(value, datetime) else value if isinstance(value, date) else _parse_day(raw)
        if found is None:
            self.problem(name, f"{_shown(raw)} is not a date we can read; use 27/03/2026 or 2026-03-27")
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
        raw = _text(value)
        if not raw:
            return None
        try:
            return float(raw.replace(",", "."))
        except ValueError:
            self.problem(name, f"{_shown(raw)} is not a number; enter hours as a number, for example 1.5")
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


def _day_start(now: datetime) -> datetime:
    """When an imported person registered: the start (UTC) of the day the file is sent, not the instant.

    The same on every sending that day, so a file sent again yields the same events; the participant
    page shows only the day.
    """
    return datetime.combine(now.astimezone(UTC).date(), time(0), tzinfo=UTC)


def _moment(day: date, now: datetime) -> datetime:
    """When something on `day` happened: midday UTC, or the day's start if midday is still to come.

    Deterministic (unlike "now"), so a file sent again yields the same events; only a row dated the day
    it is sent can change (00:00 before midday, 12:00 after), and _Checker.as_claimed settles that.
    """
    for hour in (12, 0):
        moment = datetime.combine(day, time(hour), tzinfo=UTC)
        if moment <= now:
            return moment
    return now


# --- The register: what the read models already hold for the organisation -------------------


@dataclass
class Register:
    participants: dict[str, bool] = field(default_factory=dict)  # participant_id -> erased
    activities: dict[str, Activity] = field(default_factory=dict)
    contributions: set[str] = field(default_factory=set)
    attendances: set[tuple[str, str]] = field(default_factory=set)  # (activity_id, participant_id)
    recorded: set[str] = field(default_factory=set)  # event ids in the log (confirmed receipts, processed)
    # Receipts claimed by an earlier sending whose append was not confirmed: event id -> (digest, claimed at)
    claimed: dict[str, tuple[str, datetime]] = field(default_factory=dict)


def _chunks(values: Iterable[str]) -> Iterator[list[str]]:
    ordered = sorted(set(values))
    for start in range(0, len(ordered), _QUERY_CHUNK):
        yield ordered[start : start + _QUERY_CHUNK]


def load_register(
    engine: Engine,
    org_id: str,
    *,
    participants: Iterable[str] = (),
    activities: Iterable[str] = (),
    contributions: Iterable[str] = (),
    event_ids: Iterable[str] = (),
) -> Register:
    """What the read models hold of the given identifiers, for this organisation only."""
    found = Register()
    with Session(engine) as session:
        for chunk in _chunks(participants):
            rows = session.exec(
                select(Participant.participant_id, Participant.erased).where(
                    Participant.org_id == org_id, col(Participant.participant_id).in_(chunk)
                )
            ).all()
            found.participants.update({pid: bool(erased) for pid, erased in rows})
        for chunk in _chunks(activities):
            for activity in session.exec(
                select(Activity).where(Activity.org_id == org_id, col(Activity.activity_id).in_(chunk))
            ).all():
                found.activities[activity.activity_id] = activity
            found.attendances.update(
                session.exec(
                    select(Attendance.activity_id, Attendance.participant_id).where(
                        Attendance.org_id == org_id, col(Attendance.activity_id).in_(chunk)
                    )
                ).all()
            )
        for chunk in _chunks(contributions):
            found.contributions.update(
                session.exec(
                    select(Contribution.contribution_id).where(
                        Contribution.org_id == org_id, col(Contribution.contribution_id).in_(chunk)
                    )
                ).all()
            )
        for chunk in _chunks(event_ids):
            ids = [uuid.UUID(e) for e in chunk]
            # A receipt is claimed before its event is appended and confirmed after (impact.eventlog.recording):
            # only a confirmed one says the event is in the log. An unconfirmed claim is an append that
            # failed (or is under way): its event is sent again, exactly as claimed (_Checker.as_claimed).
            for event_id, confirmed, known, claimed_at in session.exec(
                select(Receipt.event_id, Receipt.confirmed, Receipt.digest, Receipt.recorded_at).where(
                    Receipt.org_id == org_id, col(Receipt.event_id).in_(ids)
                )
            ).all():
                if confirmed:
                    found.recorded.add(str(event_id))
                else:
                    found.claimed[str(event_id)] = (known, claimed_at)
            found.recorded.update(
                session.exec(
                    select(ProcessedEvent.event_id).where(
                        ProcessedEvent.org_id == org_id, col(ProcessedEvent.event_id).in_(chunk)
                    )
                ).all()
            )
    return found


# --- Checking a file ----------------------------------------------------------------------------

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
    checker = _CHECKERS[kind](table, org_id, engine, now)
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
                    f"is not a column of a {kind.value} file; rename or remove it (the columns are: "
                    f"{', '.join(known)})",
                )
            )
        seen.add(name)
    errors.extend(
        RowError(line, name, f"this column is missing; a {kind.value} file needs it")
        for name in known
        if name in REQUIRED[kind] and name not in seen
    )
    return errors


class _Checker:
    """Checks rows of one kind; `register` holds what the read models know, `events_of` every candidate id."""

    seen: dict[str, int]  # the new records' ids met so far in the file, with their lines (kinds that create)

    event_types: tuple[str, ...] = ()
    columns_of: dict[str, str] = {}

    def __init__(self, table: Table, org_id: str, engine: Engine, now: datetime) -> None:
        self.org_id, self.digest, self.now = org_id, table.digest, now
        self._ids: dict[tuple[int, str], uuid.UUID] = {}
        wanted = self.wanted([Row(line, table.header, cells) for line, cells in table.rows])
        event_ids = [str(self.event_id(line, t)) for line, _ in table.rows for t in self.event_types]
        self.register = load_register(engine, org_id, event_ids=event_ids, **wanted)

    def wanted(self, rows: list[Row]) -> dict[str, set[str]]:
        raise NotImplementedError

    def row(self, row: Row) -> list[Envelope]:
        raise NotImplementedError

    def event_id(self, line: int, event_type: str) -> uuid.UUID:
        """The id of the event a line makes: the same whenever this file is sent for this organisation."""
        key = (line, event_type)
        if key not in self._ids:
            self._ids[key] = uuid.uuid5(_NAMESPACE, f"{self.org_id}/{self.digest}/{line}/{event_type}")
        return self._ids[key]

    def generated(self, prefix: str, line: int, event_type: str) -> str:
        return f"{prefix}-{self.event_id(line, event_type).hex[:10]}"

    def new_record(
        self, row: Row, column: str, ident: str, event_type: str, known: Collection[str], *, once: str
    ) -> None:
        """`ident` names a new record: once in the file (`once` says how), and not already recorded, unless
        this very line was recorded before (the same file sent again)."""
        if ident in self.seen:
            row.problem(column, f"{_shown(ident)} is also on line {self.seen[ident]}; {once}")
        else:
            self.seen[ident] = row.line
        resent = str(self.event_id(row.line, event_type)) in self.register.recorded
        if ident in known and not resent:
            what = "registered" if column == "participant_id" else "recorded"
            row.problem(column, f"{_shown(ident)} is already {what} — was this file imported before?")

    def event(self, row: Row, event_type: str, occurred_at: datetime, payload: dict[str, Any]) -> Envelope | None:
        """Validate through the API's own event models; each problem goes to its column."""
        raw = {
            "event_id": str(self.event_id(row.line, event_type)),
            "type": event_type,
            "org_id": self.org_id,
            "occurred_at": occurred_at.isoformat(),
            "payload": payload,
        }
        try:
            event: Envelope = EVENT_ADAPTER.validate_python(raw)
        except ValidationError as exc:
            for error in exc.errors(include_url=False):
                row.problem(self.column(error["loc"]), _reason(error))
            return None
        return self.as_claimed(event, raw)

    def as_claimed(self, event: Envelope, raw: dict[str, Any]) -> Envelope:
        """The event exactly as an earlier sending of this file claimed it, when that sending's append failed.

        The log refuses an event id whose claim names different content (impact.eventlog.recording). A line's
        event differs between sendings only in occurred_at, and only when that came from the day it was
        sent (a registration, see _day_start) or the hour (before or after midday on the row's own day,
        see _moment); the claim's digest tells which of those few instants the earlier sending used.
        """
        claim = self.register.claimed.get(raw["event_id"])
        if claim is None or content_digest(event) == claim[0]:
            return event
        known, claimed_at = claim
        claim_day = (claimed_at.astimezone(UTC) if claimed_at.tzinfo else claimed_at).date()
        days = {event.occurred_at.date(), *(claim_day + timedelta(days=n) for n in (-1, 0, 1))}
        for moment in sorted(datetime.combine(day, time(hour), tzinfo=UTC) for day in days for hour in (0, 12)):
            try:
                candidate: Envelope = EVENT_ADAPTER.validate_python({**raw, "occurred_at": moment.isoformat()})
            except ValidationError:
                continue  # a moment this line could not have had (in the future, say)
            if content_digest(candidate) == known:
                return candidate
        return event  # not this file's earlier event after all: the log refuses it (ReusedEventId)

    def column(self, loc: tuple[int | str, ...]) -> str:
        names = [part for part in loc if isinstance(part, str)]
        for name in reversed(names):
            if name in self.columns_of:
                return self.columns_of[name]
        return self.columns_of.get("", "row")

    def participant(self, row: Row, name: str, pid: str) -> None:
        """A reference to a participant: registered with this organisation, and not erased."""
        erased = self.register.participants.get(pid)
        if erased is None:
            row.problem(name, f"{_shown(pid)} is not registered with your organisation; import or register them first")
        elif erased:
            row.problem(name, f"{_shown(pid)} was erased; nothing more can be recorded for them")


class _Participants(_Checker):
    event_types = ("participant.registered",)
    columns_of = {
        "participant_id": "participant_id",
        "display_name": "display_name",
        "role": "role",
        "email": "email",
        "phone": "phone",
        "postal_address": "postal_address",
        "consent_to_contact": "consent_to_contact",
        "preferred_channel": "preferred_channel",
        **{name: name for name in DEMOGRAPHICS},
        "": "preferred_channel",  # the model's own check: a channel needs its contact detail
    }

    def __init__(self, table: Table, org_id: str, engine: Engine, now: datetime) -> None:
        super().__init__(table, org_id, engine, now)
        self.seen: dict[str, int] = {}

    def wanted(self, rows: list[Row]) -> dict[str, set[str]]:
        return {"participants": {row.text("participant_id") for row in rows} - {""}}

    def row(self, row: Row) -> list[Envelope]:
        event_type = self.event_types[0]
        pid = row.text("participant_id") or self.generated("p", row.line, event_type)
        self.new_record(
            row, "participant_id", pid, event_type, self.register.participants, once="list each person once"
        )
        consent = row.flag("consent_to_contact")
        channel = row.choice("preferred_channel")
        contact = {name: row.text(name) for name in ("email", "phone", "postal_address") if row.text(name)}
        needs = {"email": "email", "phone": "phone", "post": "postal_address"}
        if consent is True and channel in needs and needs[channel] not in contact:
            row.problem("preferred_channel", f"is {label(channel)}, so {needs[channel]} needs filling in")
        payload = _present(
            participant_id=pid,
            display_name=row.text("display_name"),
            role=row.choice("role"),
            contact=contact or None,
            consent_to_contact=consent,
            preferred_channel=channel,
            demographics=_present(**{name: row.choice(name) for name in DEMOGRAPHICS}),
        )
        event = self.event(row, event_type, _day_start(self.now), payload)
        return [event] if event else []


@dataclass
class _ActivitySeen:
    line: int | None  # the line that creates it in this file; None when the read models hold it
    title: str | None
    area: str | None
    level: str | None
    day: date | None
    duration: float | None


class _Attendance(_Checker):
    event_types = ("activity.held", "session.attended")
    columns_of = {
        "activity_id": "activity_id",
        "title": "activity_title",
        "area": "area",
        "level": "level",
        "date": "date",
        "occurred_at": "date",
        "duration_hours": "duration_hours",
        "participant_id": "participant_id",
        "hours": "hours",
        "session_role": "session_role",
    }

    def __init__(self, table: Table, org_id: str, engine: Engine, now: datetime) -> None:
        super().__init__(table, org_id, engine, now)
        self.activities: dict[str, _ActivitySeen] = {
            aid: _ActivitySeen(None, a.title, a.area, a.level, a.held_on, a.duration_hours)
            for aid, a in self.register.activities.items()
        }
        self.attended: dict[tuple[str, str], int] = {}

    def wanted(self, rows: list[Row]) -> dict[str, set[str]]:
        return {
            "participants": {row.text("participant_id") for row in rows} - {""},
            "activities": {row.text("activity_id") for row in rows} - {""},
        }

    def row(self, row: Row) -> list[Envelope]:
        aid, pid = row.text("activity_id"), row.text("participant_id")
        title = row.text("activity_title") or None
        area, level = row.choice("area"), row.choice("level")
        day, duration = row.day("date", self.now), row.hours("duration_hours")
        events: list[Envelope] = []
        if not aid:
            row.problem("activity_id", "is empty; fill it in")
        elif aid not in self.activities:
            # The first row of an activity creates it: every detail is needed.
            # What a later row is compared with: only the details that were good on this line.
            good = {name: name not in row.problems for name in ("activity_title", "area", "level", "duration_hours")}
            self.activities[aid] = _ActivitySeen(
                row.line,
                title if good["activity_title"] else None,
                area if good["area"] else None,
                level if good["level"] else None,
                day,
                duration if isinstance(duration, float) and good["duration_hours"] else None,
            )
            payload = _present(
                activity_id=aid,
                title=title,
                area=area,
                level=level,
                date=day.isoformat() if day else None,
                duration_hours=duration,
            )
            for name, value in (("activity_title", title), ("area", area), ("level", level), ("date", day)):
                if value is None:
                    row.problem(name, f"is empty; activity {_shown(aid)} is new, so it needs one")
            if duration is None:
                row.problem("duration_hours", f"is empty; activity {_shown(aid)} is new, so it needs one")
            held = self.event(row, "activity.held", _moment(day, self.now) if day else self.now, payload)
            if held:
                events.append(held)
        else:
            self.agree(row, aid, title=title, area=area, level=level, day=day, duration=duration)
        activity = self.activities.get(aid)
        if not pid:
            row.problem("participant_id", "is empty; fill it in")
        else:
            self.participant(row, "participant_id", pid)
            key = (aid, pid)
            resent = str(self.event_id(row.line, "session.attended")) in self.register.recorded
            if key in self.attended:
                row.problem("participant_id", f"{_shown(pid)} is also on line {self.attended[key]} for this activity")
            elif key in self.register.attendances and not resent:
                row.problem(
                    "participant_id",
                    f"{_shown(pid)} is already recorded as attending {_shown(aid)} — was this file imported before?",
                )
            self.attended.setdefault(key, row.line)
        hours = row.hours("hours")
        if hours is None and activity is not None:
            hours = activity.duration
        if isinstance(hours, float) and activity and activity.duration and hours > activity.duration:
            row.problem("hours", f"is more than the activity lasted ({activity.duration:g} hours)")
        payload = _present(activity_id=aid, participant_id=pid, hours=hours, session_role=row.choice("session_role"))
        held_on = activity.day if activity and activity.day else None
        attended = self.event(row, "session.attended", _moment(held_on, self.now) if held_on else self.now, payload)
        if attended:
            events.append(attended)
        return events

    def agree(self, row: Row, aid: str, **given: Any) -> None:
        """Later rows of an activity (or rows naming a recorded one) must agree with its details."""
        known = self.activities[aid]
        where = f"on line {known.line}" if known.line else "as recorded"
        pairs = {
            "activity_title": (given["title"], known.title),
            "area": (given["area"], known.area),
            "level": (given["level"], known.level),
            "date": (given["day"], known.day),
            "duration_hours": (given["duration"], known.duration),
        }
        for name, (mine, theirs) in pairs.items():
            if mine is None or theirs is None or name in row.problems:
                continue
            same = str(mine).casefold() == str(theirs).casefold() if name == "activity_title" else mine == theirs
            if not same:
                shown = _shown_value(name, theirs)
                row.problem(name, f"differs from activity {_shown(aid)} {where} ({shown}); one activity has one {name}")


def _shown_value(name: str, value: Any) -> str:
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, float):
        return f"{value:g}"
    if name in VOCABULARIES:
        return label(str(value))
    return _shown(str(value))


class _Contributions(_Checker):
    event_types = ("contribution.made",)
    columns_of = {
        "contribution_id": "contribution_id",
        "participant_ids": "participant_ids",
        "activity_id": "activity_id",
        "area": "area",
        "text": "text",
        "occurred_at": "date",
    }

    def __init__(self, table: Table, org_id: str, engine: Engine, now: datetime) -> None:
        super().__init__(table, org_id, engine, now)
        self.seen: dict[str, int] = {}

    @staticmethod
    def ids(row: Row) -> list[str]:
        return list(
            dict.fromkeys(part.strip() for part in re.split(r"[;,]", row.text("participant_ids")) if part.strip())
        )

    def wanted(self, rows: list[Row]) -> dict[str, set[str]]:
        return {
            "participants": {pid for row in rows for pid in self.ids(row)},
            "activities": {row.text("activity_id") for row in rows} - {""},
            "contributions": {row.text("contribution_id") for row in rows} - {""},
        }

    def row(self, row: Row) -> list[Envelope]:
        event_type = self.event_types[0]
        cid = row.text("contribution_id") or self.generated("c", row.line, event_type)
        self.new_record(
            row, "contribution_id", cid, event_type, self.register.contributions, once="each contribution once"
        )
        pids = self.ids(row)
        for pid in pids:
            self.participant(row, "participant_ids", pid)
        aid = row.text("activity_id")
        if aid and aid not in self.register.activities:
            row.problem(
                "activity_id", f"{_shown(aid)} is not a recorded activity of your organisation; record it first"
            )
        day = row.day("date", self.now)
        if day is None and "date" not in row.problems:
            row.problem("date", "is empty; fill it in")
        payload = _present(
            contribution_id=cid,
            participant_ids=pids,
            activity_id=aid or None,
            area=row.choice("area"),
            text=row.text("text"),
        )
        event = self.event(row, event_type, _moment(day, self.now) if day else self.now, payload)
        return [event] if event else []


_CHECKERS: dict[Kind, type[_Checker]] = {
    Kind.participants: _Participants,
    Kind.attendance: _Attendance,
    Kind.contributions: _Contributions,
}


def _present(**values: Any) -> dict[str, Any]:
    """A payload without the fields left blank (so the model reports a required one as missing)."""
    return {name: value for name, value in values.items() if value is not None}


def _reason(error: Any) -> str:
    """A reason a person can act on, for one pydantic error."""
    kind, context = error["type"], error.get("ctx") or {}
    if kind in {"missing", "string_too_short", "too_short"}:
        return "is empty; fill it in"
    if kind == "string_too_long":
        return f"is too long; use {context.get('max_length', 'fewer')} characters or fewer"
    if kind == "too_long":
        return f"names too many; use {context.get('max_length', 'fewer')} or fewer"
    if kind in {"float_parsing", "float_type"}:
        return "is not a number; enter hours as a number, for example 1.5"
    if kind in {"greater_than", "less_than_equal"}:
        return "must be more than 0 and at most 24 hours"
    if kind == "string_pattern_mismatch":
        return "is not a phone number we can use: 6 to 20 digits, spaces, brackets or hyphens, + at the start"
    if kind in {"enum", "literal_error"}:
        return "is not one of the allowed values"
    message = str(error["msg"]).removeprefix("Value error, ")
    if message.startswith("value is not a valid email address"):
        detail = message.partition(": ")[2]
        return "is not a valid e-mail address" + (f": {detail}" if detail else "")
    if message.startswith("use 1 to 64"):
        return "is not an ID we can use: " + message
    if message == "must not be in the future":
        return "is in the future; check the date"
    return message


# --- Appending ----------------------------------------------------------------------------------


def append(
    checked: Checked,
    event_log: EventLog,
    topic: str,
    *,
    recorded_by: str,
    engine: Engine,
    progress: Progress | None = None,
) -> int:
    """Append a checked file's events in ONE call to the log (receipts kept); returns how many were new.

    One call, because the embedded log appends a list in one SQLite transaction: there the file goes in
    whole or not at all. Kafka has no transaction across records, so a failed call may leave part of
    the file in the log; the events are the same whenever the same file is sent, so sending it again
    appends what is missing (and perhaps again what went in unconfirmed, which the processor counts
    once). `progress` gets one step, once the log confirms.

    Raises LogUnavailable (send the same file again) or ReusedEventId.
    """
    if checked.errors:
        raise ValueError("a file with problems is never appended")
    if not checked.events:
        return 0
    appended = record(event_log, topic, checked.events, recorded_by=recorded_by, engine=engine).appended
    if progress:
        progress(1)
    return appended
