"""A record's history: how it was first recorded and each correction since, in staff's words.

Read from `record_version` (built by the processors from the log). A version of an activity, contribution or
change holds the record's fields as of that version, so what changed is the difference from the version
before; a participant's names only the fields that changed (their values are never kept there).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from impact.auth.accounts import StaffAccount
from impact.auth.tokens import ApiToken
from schemas.readmodels import Contribution, Participant, RecordVersion
from schemas.vocab import EVENT_LABELS, EventType, label, title

# The fields a page names, in its order, with how a value reads.
FIELDS: dict[str, tuple[str, ...]] = {
    "activity": ("title", "area", "level", "held_on", "duration_hours"),
    "contribution": ("text", "participant_ids", "activity_id", "area", "made_on"),
    "change": ("title", "area", "description", "links"),
}
NAMES = {
    "held_on": "Date",
    "duration_hours": "Length (hours)",
    "participant_ids": "Who said it",
    "activity_id": "Where it was said",
    "made_on": "Date said",
    "links": "Contributions that influenced it",
    "description": "What we did",
    "demographics": "Equality monitoring answers",
    "display_name": "Name",
}


# The events that make a record (its first version); the others correct it.
CREATED = frozenset(
    {EventType.participant_registered, EventType.activity_held, EventType.contribution_made, EventType.change_recorded}
)


@dataclass(frozen=True)
class Change:
    field: str
    before: str | None  # None: not known (the version before was recorded before history was kept)
    after: str


@dataclass(frozen=True)
class Version:
    what: str  # "Activity held", "Activity corrected", …
    at: datetime
    by: str
    reason: str | None
    changes: list[Change]
    note: str | None = None  # for a withdrawn attendance: whose


def field_name(name: str) -> str:
    return NAMES.get(name) or title(name)


def _text(name: str, value: Any, names: dict[str, str], said: dict[str, str] | None = None) -> str:
    if value is None or value == "" or value == [] or value == {}:
        return "(none)"
    if name in {"area", "level"}:
        return label(value)
    if name in {"held_on", "made_on"}:
        return date.fromisoformat(str(value)).strftime("%-d %B %Y")
    if name == "duration_hours":
        return f"{float(value):g}"
    if name == "participant_ids":
        return ", ".join(names.get(pid) or pid for pid in value)
    if name == "links":
        words = said or {}
        return "; ".join(
            f"{_quoted(words.get(cid), cid)} ({label(strength).lower()})" for cid, strength in sorted(value.items())
        )
    return str(value)


def _quoted(text: str | None, reference: str) -> str:
    if not text:
        return reference
    return f"“{text[:57]}…”" if len(text) > 60 else f"“{text}”"


def _who(engine: Engine, org_id: str, recorded_by: set[str]) -> dict[str, str]:
    """Staff's names for `recorded_by` values ("account:3", "token:7", "import:…", "demo")."""
    accounts = {int(v.split(":", 1)[1]) for v in recorded_by if v.startswith("account:") and v[8:].isdigit()}
    tokens = {int(v.split(":", 1)[1]) for v in recorded_by if v.startswith("token:") and v[6:].isdigit()}
    found: dict[str, str] = {}
    with Session(engine) as session:
        if accounts:
            for account in session.exec(
                select(StaffAccount).where(col(StaffAccount.id).in_(accounts), StaffAccount.org_id == org_id)
            ):
                found[f"account:{account.id}"] = account.name
        if tokens:
            for token in session.exec(select(ApiToken).where(col(ApiToken.id).in_(tokens), ApiToken.org_id == org_id)):
                found[f"token:{token.id}"] = f"the API ({token.name})"
    return found


def _by(value: str, names: dict[str, str]) -> str:
    if value in names:
        return names[value]
    if value.startswith("import"):
        return "a spreadsheet import"
    if value == "demo":
        return "the demo data"
    if value == "feedback":
        return "the feedback sender"
    if value.startswith(("account:", "token:")):
        return "an account no longer on record"
    return value  # another producer on the log names itself


def versions(engine: Engine, org_id: str, kind: str, record_id: str) -> list[Version]:
    """The record's versions, oldest first, each with what it changed."""
    with Session(engine) as session:
        rows = list(
            session.exec(
                select(RecordVersion)
                .where(RecordVersion.org_id == org_id, RecordVersion.kind == kind, RecordVersion.record_id == record_id)
                .order_by(col(RecordVersion.recorded_at), col(RecordVersion.event_id))
            )
        )
        people: set[str] = set()
        linked: set[str] = set()
        for row in rows:
            detail = json.loads(row.detail)
            people.update(detail.get("participant_ids", []))
            linked.update(detail.get("links", {}))
            if "participant_id" in detail:
                people.add(detail["participant_id"])
        names = (
            {
                p.participant_id: p.display_name or "(erased)"
                for p in session.exec(
                    select(Participant).where(Participant.org_id == org_id, col(Participant.participant_id).in_(people))
                )
            }
            if people
            else {}
        )
        said = (
            {
                c.contribution_id: c.text
                for c in session.exec(
                    select(Contribution).where(
                        Contribution.org_id == org_id, col(Contribution.contribution_id).in_(linked)
                    )
                )
            }
            if linked
            else {}
        )
    who = _who(engine, org_id, {row.recorded_by for row in rows})
    out: list[Version] = []
    previous: dict[str, Any] | None = None
    for row in rows:
        detail = json.loads(row.detail)
        if row.type in CREATED:
            what = "Recorded"  # the first version: "Recorded on 7 March 2026 at 10:00 by Sam"
        else:
            what = EVENT_LABELS.get(EventType(row.type), row.type) if row.type in set(EventType) else row.type
        changes: list[Change] = []
        note = None
        if row.type == EventType.attendance_withdrawn:
            person = detail.get("participant_id", "")
            note = f"Attendance of {names.get(person) or person} withdrawn."
        elif row.type == EventType.change_status_changed:
            note = f"Status: {label(detail.get('status', ''))}"
            if detail.get("decided_on"):
                note += f", decided {date.fromisoformat(str(detail['decided_on'])):%-d %B %Y}"
            note += f". {detail['note']}" if detail.get("note") else "."
        elif kind == "participant":
            changes = [Change(field_name(name), None, "changed") for name in detail.get("fields", [])]
        elif row.type not in CREATED:
            for name in FIELDS.get(kind, ()):
                if name not in detail:
                    continue
                before = None if previous is None else _text(name, previous.get(name), names, said)
                after = _text(name, detail.get(name), names, said)
                if before != after:
                    changes.append(Change(field_name(name), before, after))
        if row.type not in {EventType.attendance_withdrawn, EventType.change_status_changed}:
            previous = detail  # a version of the record's own fields
        out.append(Version(what, row.recorded_at, _by(row.recorded_by, who), row.reason, changes, note))
    return out
