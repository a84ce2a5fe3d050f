"""The kinds of file, their columns (described for the page, with template rows), and how a problem is named."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from enum import StrEnum

from schemas.vocab import (
    VOCABULARIES,
    AgeBand,
    Area,
    Channel,
    Gender,
    Level,
    ParticipantRole,
    Region,
    SessionRole,
    label,
)


class Kind(StrEnum):
    participants = "participants"
    attendance = "attendance"
    contributions = "contributions"


KIND_LABELS: dict[Kind, str] = {
    Kind.participants: "Participants",
    Kind.attendance: "Attendance at activities",
    Kind.contributions: "Contributions (what people said)",
}
# Each kind of file as a noun phrase with its article, for sentences ("an attendance file", never "a attendance").
KIND_FILES: dict[Kind, str] = {
    Kind.participants: "a participants file",
    Kind.attendance: "an attendance file",
    Kind.contributions: "a contributions file",
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


DEMOGRAPHICS = ("age_band", "gender", "ethnicity", "disability", "region")
YES = frozenset({"yes", "y", "true", "1"})
NO = frozenset({"no", "n", "false", "0", ""})
DATES = "A date such as 27/03/2026 or 2026-03-27 (an Excel date cell works too); not in the future."
HOURS = "A number of hours, more than 0 and at most 24, for example 1.5."
IDS = "Letters, digits and . _ : - (up to 64 characters)."


def allowed(name: str) -> str:
    """What a vocabulary column accepts, in the labels people see ("One of: Carer, Patient, …")."""
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
        Column("role", True, "Yes", allowed("role"), label(ParticipantRole.carer)),
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
            allowed("preferred_channel") + " E-mail, phone and post need that detail.",
            label(Channel.email),
        ),
        Column("age_band", False, "No", allowed("age_band"), label(AgeBand.age_45_54)),
        Column("gender", False, "No", allowed("gender"), label(Gender.prefer_not_to_say)),
        Column("ethnicity", False, "No", allowed("ethnicity"), ""),
        Column("disability", False, "No", allowed("disability"), ""),
        Column("region", False, "No", allowed("region"), label(Region.yorkshire_humber)),
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
        Column("area", False, "For a new activity", allowed("area"), label(Area.support)),
        Column("level", False, "For a new activity", allowed("level"), label(Level.co_production)),
        Column("date", False, "For a new activity", DATES, "27/03/2026"),
        Column("duration_hours", False, "For a new activity", HOURS, "2"),
        Column("participant_id", True, "Yes", "A registered participant's reference.", "P0001"),
        Column("hours", False, "No", HOURS + " Blank means the whole activity.", "2"),
        Column(
            "session_role", False, "No", allowed("session_role") + " Blank means attendee.", label(SessionRole.speaker)
        ),
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
        Column("area", True, "Yes", allowed("area"), label(Area.support)),
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
