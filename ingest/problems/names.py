"""What a dead letter is about, in words: the records it names (each by its title or name beside its
reference), and the limits its failed check used ("Hours must be more than 0 and at most the activity's
length, 2 hours").

Every look-up names the organisation: a reference to another organisation's record reads as "not recorded".
A participant is named only while registered and not erased; free text (what someone said) is never shown.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from ingest.problems.queries import Stored
from schemas.events import WITHHELD
from schemas.fields import MAX_HOURS
from schemas.quality import EARLIEST_YEAR
from schemas.readmodels import Activity, Change, Contribution, Participant
from schemas.vocab import AREA_LABELS, ChangeStatus, Level, ParticipantRole, label

CHUNK = 500  # references per IN list


@dataclass(frozen=True)
class Named:
    """One record a dead letter names: what kind, its reference, and its title or name ("" if there is none
    to show), with a note when it is not on record."""

    kind: str
    reference: str
    name: str = ""
    note: str = ""


@dataclass
class Register:
    """The titles and names of the records some dead letters name, read in one query per kind of record."""

    participants: dict[str, str]  # reference -> name ("" when erased)
    activities: dict[str, Activity]
    contributions: dict[str, Contribution]
    changes: dict[str, Change]


def references(payload: dict[str, Any]) -> dict[str, list[str]]:
    """The references a payload holds, by kind: participant, activity, contribution, change."""
    found: dict[str, list[str]] = {"participant": [], "activity": [], "contribution": [], "change": []}

    def add(kind: str, value: Any) -> None:
        if isinstance(value, str) and value and value != WITHHELD and value not in found[kind]:
            found[kind].append(value)

    add("participant", payload.get("participant_id"))
    for value in payload.get("participant_ids") or []:
        add("participant", value)
    add("activity", payload.get("activity_id"))
    add("contribution", payload.get("contribution_id"))
    add("change", payload.get("change_id"))
    for value in payload.get("change_ids") or []:
        add("change", value)
    for link in payload.get("links") or []:
        if isinstance(link, dict):
            add("contribution", link.get("contribution_id"))
    return found


def register(org: str, payloads: Iterable[dict[str, Any]], *, engine: Engine) -> Register:
    """The organisation's records the payloads name."""
    wanted: dict[str, set[str]] = {"participant": set(), "activity": set(), "contribution": set(), "change": set()}
    for payload in payloads:
        for kind, values in references(payload).items():
            wanted[kind].update(values)
    people: dict[str, str] = {}
    with Session(engine) as session:
        for chunk in _chunks(wanted["participant"]):
            for person in session.exec(
                select(Participant).where(Participant.org_id == org, col(Participant.participant_id).in_(chunk))
            ):
                people[person.participant_id] = "" if person.erased else (person.display_name or "")
        activities = {
            row.activity_id: row
            for chunk in _chunks(wanted["activity"])
            for row in session.exec(
                select(Activity).where(Activity.org_id == org, col(Activity.activity_id).in_(chunk))
            )
        }
        contributions = {
            row.contribution_id: row
            for chunk in _chunks(wanted["contribution"])
            for row in session.exec(
                select(Contribution).where(Contribution.org_id == org, col(Contribution.contribution_id).in_(chunk))
            )
        }
        changes = {
            row.change_id: row
            for chunk in _chunks(wanted["change"])
            for row in session.exec(select(Change).where(Change.org_id == org, col(Change.change_id).in_(chunk)))
        }
    return Register(people, activities, contributions, changes)


def _chunks(values: set[str]) -> Iterable[list[str]]:
    ordered = sorted(values)
    for start in range(0, len(ordered), CHUNK):
        yield ordered[start : start + CHUNK]


def named(stored: Stored, known: Register) -> list[Named]:
    """The records a dead letter names, each with its title or name where the register has it. The record
    the event itself describes (a new activity or change) is named by the title it was sent with."""
    payload, event_type = stored.payload, stored.letter.type
    refs = references(payload)
    found: list[Named] = []
    for reference in refs["activity"]:
        row = known.activities.get(reference)
        if row is not None:
            found.append(Named("Activity", reference, row.title))
        elif event_type == "activity.held" and isinstance(payload.get("title"), str):
            found.append(Named("Activity", reference, payload["title"], "new"))
        else:
            found.append(Named("Activity", reference, note="not recorded"))
    for reference in refs["participant"]:
        if reference not in known.participants:
            note = "new" if event_type == "participant.registered" else "not registered"
            found.append(Named("Participant", reference, note=note))
        elif not known.participants[reference]:
            found.append(Named("Participant", reference, note="erased"))
        else:
            found.append(Named("Participant", reference, known.participants[reference]))
    for reference in refs["change"]:
        change = known.changes.get(reference)
        if change is not None:
            found.append(Named("Change", reference, change.title))
        elif event_type == "change.recorded" and isinstance(payload.get("title"), str):
            found.append(Named("Change", reference, payload["title"], "new"))
        else:
            found.append(Named("Change", reference, note="not recorded"))
    for reference in refs["contribution"]:
        said = known.contributions.get(reference)
        if said is not None:
            found.append(Named("Contribution", reference, f"said on {said.made_on:%-d %b %Y}"))
        elif event_type == "contribution.made":
            found.append(Named("Contribution", reference, note="new"))
        else:
            found.append(Named("Contribution", reference, note="not recorded"))
    return found


def _hours(value: float) -> str:
    return f"{value:g} hour{'' if value == 1 else 's'}"


def _listed(values: list[str]) -> str:
    return ", ".join(values[:-1]) + (" and " if len(values) > 1 else "") + values[-1] if values else ""


def limits(stored: Stored, known: Register) -> str:
    """The limits the failed check used, in a sentence; "" when the reason says all there is."""
    payload, expectation = stored.payload, stored.letter.expectation
    refs = references(payload)
    if expectation == "hours_within_activity":
        activity = known.activities.get(str(payload.get("activity_id")))
        if activity is None:
            return f"Hours must be more than 0 and at most the activity's length (and at most {MAX_HOURS:g})."
        return f"Hours must be more than 0 and at most the activity's length, {_hours(activity.duration_hours)}."
    if expectation == "hours_in_range":
        return f"Hours must be more than 0 and at most {MAX_HOURS:g}."
    if expectation == "plausible_year":
        return f"Dates must be in {EARLIEST_YEAR} or later."
    if expectation in {"dates_not_ahead", "not_after_recording"}:
        day = stored.letter.recorded_on
        when = f", {day:%-d %B %Y}" if day else ""
        return f"Dates must be on or before the day it was recorded{when}."
    if expectation == "participant_registered":
        missing = [ref for ref in refs["participant"] if not known.participants.get(ref)]
        return _missing("participant", "registered with your organisation", missing)
    if expectation == "activity_recorded":
        return _missing(
            "activity", "recorded for your organisation", [a for a in refs["activity"] if a not in known.activities]
        )
    if expectation == "contributions_recorded":
        missing = [c for c in refs["contribution"] if c not in known.contributions]
        return _missing("contribution", "recorded for your organisation", missing)
    if expectation == "change_recorded":
        return _missing(
            "change", "recorded for your organisation", [c for c in refs["change"] if c not in known.changes]
        )
    if expectation == "area_in_vocabulary":
        return f"The area must be one of the sixteen: {_listed(sorted(AREA_LABELS.values()))}."
    if expectation == "level_in_vocabulary":
        return f"The level must be one of: {_listed([label(level) for level in Level])}."
    if expectation == "role_in_vocabulary":
        return f"The role must be one of: {_listed([label(role) for role in ParticipantRole])}."
    if expectation == "status_in_vocabulary":
        return f"The status must be one of: {_listed([label(status) for status in ChangeStatus])}."
    return ""


def _missing(kind: str, where: str, missing: list[str]) -> str:
    rule = f"Every {kind} named must be {where}"
    if not missing:
        return f"{rule}; check the references again."
    return f"{rule}: {_listed(missing)} {'is' if len(missing) == 1 else 'are'} not."


# The form field a check's limits belong beside, by expectation (the first of these the form has).
FIELD_OF = {
    "hours_within_activity": ("hours",),
    "hours_in_range": ("hours", "duration_hours"),
    "plausible_year": ("date", "decided_on", "occurred_on"),
    "dates_not_ahead": ("date", "decided_on", "occurred_on"),
    "not_after_recording": ("occurred_on",),
    "participant_registered": ("participant_id", "participant_ids"),
    "activity_recorded": ("activity_id",),
    "contributions_recorded": ("links", "contribution_id"),
    "change_recorded": ("change_id", "change_ids"),
}
