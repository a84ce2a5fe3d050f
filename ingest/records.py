"""What the record pages of "you said, we did" show: a contribution with who said it, where, and the changes it
influenced; a change's links as they stand. Read from the read models, one organisation at a time.

The correction forms start from these values and compare what is sent with them ("nothing to correct").
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import abort
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from schemas.readmodels import Activity, Change, ChangeLink, Contribution, ContributionParticipant, Participant


@dataclass(frozen=True)
class Person:
    """Someone who said a contribution: their reference, and their name (None once erased)."""

    participant_id: str
    name: str | None

    @property
    def erased(self) -> bool:
        return self.name is None


@dataclass(frozen=True)
class Influenced:
    """A change a contribution is linked to, with the strength of its influence."""

    change: Change
    strength: str


@dataclass(frozen=True)
class ContributionRecord:
    contribution: Contribution
    people: list[Person]
    activity: Activity | None
    changes: list[Influenced]

    @property
    def participant_ids(self) -> list[str]:
        return [p.participant_id for p in self.people]


def contribution_or_404(engine: Engine, org_id: str, contribution_id: str) -> ContributionRecord:
    """A contribution of this organisation with who said it, where, and what it influenced; 404 for any other."""
    found = contribution_or_none(engine, org_id, contribution_id)
    if found is None:
        abort(404)
    return found


def contribution_or_none(engine: Engine, org_id: str, contribution_id: str) -> ContributionRecord | None:
    """A contribution of this organisation with who said it (names in order, erased people last), where, and
    the changes it influenced (newest first); None for any other."""
    with Session(engine) as session:
        found = session.get(Contribution, (org_id, contribution_id))
        if found is None:
            return None
        said_by = session.exec(
            select(ContributionParticipant.participant_id, Participant.display_name, Participant.erased)
            .outerjoin(
                Participant,
                (col(Participant.org_id) == col(ContributionParticipant.org_id))
                & (col(Participant.participant_id) == col(ContributionParticipant.participant_id)),
            )
            .where(ContributionParticipant.org_id == org_id, ContributionParticipant.contribution_id == contribution_id)
        ).all()
        people = [Person(pid, None if erased else (name or pid)) for pid, name, erased in said_by]
        people.sort(key=lambda p: (p.erased, (p.name or "").lower(), p.participant_id))
        activity = session.get(Activity, (org_id, found.activity_id)) if found.activity_id else None
        changes = [
            Influenced(change, strength)
            for change, strength in session.exec(
                select(Change, ChangeLink.strength)
                .join(
                    ChangeLink,
                    (col(ChangeLink.org_id) == col(Change.org_id))
                    & (col(ChangeLink.change_id) == col(Change.change_id)),
                )
                .where(ChangeLink.org_id == org_id, ChangeLink.contribution_id == contribution_id)
                .order_by(col(Change.recorded_on).desc(), col(Change.change_id))
            ).all()
        ]
    return ContributionRecord(found, people, activity, changes)


def strengths(engine: Engine, org_id: str, change_id: str) -> dict[str, str]:
    """The contributions linked to a change now, each with its strength."""
    with Session(engine) as session:
        rows = session.exec(
            select(ChangeLink.contribution_id, ChangeLink.strength).where(
                ChangeLink.org_id == org_id, ChangeLink.change_id == change_id
            )
        ).all()
    return dict(sorted(rows))


def change_or_none(engine: Engine, org_id: str, change_id: str) -> Change | None:
    with Session(engine) as session:
        return session.get(Change, (org_id, change_id))
