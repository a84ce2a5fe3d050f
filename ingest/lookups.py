"""What staff pages show and pick from: the organisation's records in the read models.

Ingest reads these to display lists and pickers only; whether an event is accepted into the log
never depends on them (the processors check references). Every query is scoped to one organisation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import abort
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from schemas.readmodels import (
    Activity,
    Attendance,
    Change,
    ChangeLink,
    Contribution,
    ContributionParticipant,
    Participant,
)

LIST_LIMIT = 2000  # a picker longer than this would be unusable; the newest come first


@dataclass(frozen=True)
class Counts:
    participants: int
    activities: int
    contributions: int
    changes: int


def counts(engine: Engine, org_id: str) -> Counts:
    with Session(engine) as session:

        def count(model: type, *where: Any) -> int:
            return int(session.exec(select(func.count()).select_from(model).where(*where)).one())

        return Counts(
            count(Participant, Participant.org_id == org_id, col(Participant.erased).is_(False)),
            count(Activity, Activity.org_id == org_id),
            count(Contribution, Contribution.org_id == org_id),
            count(Change, Change.org_id == org_id),
        )


def participants(engine: Engine, org_id: str) -> list[Participant]:
    with Session(engine) as session:
        query = (
            select(Participant)
            .where(Participant.org_id == org_id, col(Participant.erased).is_(False))
            .order_by(col(Participant.display_name), col(Participant.participant_id))
            .limit(LIST_LIMIT)
        )
        return list(session.exec(query).all())


def activities(engine: Engine, org_id: str) -> list[Activity]:
    with Session(engine) as session:
        query = (
            select(Activity)
            .where(Activity.org_id == org_id)
            .order_by(col(Activity.held_on).desc(), col(Activity.activity_id))
            .limit(LIST_LIMIT)
        )
        return list(session.exec(query).all())


def changes(engine: Engine, org_id: str) -> list[Change]:
    with Session(engine) as session:
        query = (
            select(Change)
            .where(Change.org_id == org_id)
            .order_by(col(Change.recorded_on).desc(), col(Change.change_id))
            .limit(LIST_LIMIT)
        )
        return list(session.exec(query).all())


@dataclass(frozen=True)
class Said:
    """A contribution as a picker shows it: what was said, when, and by whom."""

    contribution: Contribution
    people: list[str]


def contributions(engine: Engine, org_id: str) -> list[Said]:
    with Session(engine) as session:
        rows = session.exec(
            select(Contribution)
            .where(Contribution.org_id == org_id)
            .order_by(col(Contribution.made_on).desc(), col(Contribution.contribution_id))
            .limit(LIST_LIMIT)
        ).all()
        names: dict[str, list[str]] = {}
        for link, name, erased in session.exec(
            select(ContributionParticipant, Participant.display_name, Participant.erased)
            .join(
                Participant,
                (col(Participant.org_id) == col(ContributionParticipant.org_id))
                & (col(Participant.participant_id) == col(ContributionParticipant.participant_id)),
            )
            .where(ContributionParticipant.org_id == org_id)
        ).all():
            shown = "(erased)" if erased else (name or link.participant_id)
            names.setdefault(link.contribution_id, []).append(shown)
        return [Said(row, sorted(names.get(row.contribution_id, []))) for row in rows]


def participant_or_404(engine: Engine, org_id: str, participant_id: str) -> Participant:
    with Session(engine) as session:
        found = session.get(Participant, (org_id, participant_id))
    if found is None or found.erased:
        abort(404)
    return found


def activity_or_none(engine: Engine, org_id: str, activity_id: str) -> Activity | None:
    with Session(engine) as session:
        return session.get(Activity, (org_id, activity_id))


def activity_or_404(engine: Engine, org_id: str, activity_id: str) -> Activity:
    found = activity_or_none(engine, org_id, activity_id)
    if found is None:
        abort(404)
    return found


def change_or_404(engine: Engine, org_id: str, change_id: str) -> Change:
    with Session(engine) as session:
        found = session.get(Change, (org_id, change_id))
    if found is None:
        abort(404)
    return found


def attendees(engine: Engine, org_id: str, activity_id: str) -> list[tuple[Attendance, str]]:
    """Who attended an activity (with their names), in name order."""
    with Session(engine) as session:
        rows = session.exec(
            select(Attendance, Participant.display_name, Participant.erased)
            .join(
                Participant,
                (col(Participant.org_id) == col(Attendance.org_id))
                & (col(Participant.participant_id) == col(Attendance.participant_id)),
            )
            .where(Attendance.org_id == org_id, Attendance.activity_id == activity_id)
        ).all()
    shown = [(row, "(erased)" if erased else (name or row.participant_id)) for row, name, erased in rows]
    return sorted(shown, key=lambda item: item[1].lower())


def links(engine: Engine, org_id: str, change_id: str) -> list[tuple[ChangeLink, Contribution | None]]:
    """The contributions linked to a change, with what was said."""
    with Session(engine) as session:
        rows = session.exec(
            select(ChangeLink).where(ChangeLink.org_id == org_id, ChangeLink.change_id == change_id)
        ).all()
        return [(row, session.get(Contribution, (org_id, row.contribution_id))) for row in rows]
