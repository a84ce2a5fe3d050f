"""What came of what each person said: read-model queries for the feedback loop.

Shared by the feedback sender (what is owed, what a summary says), the staff pages (who is waiting,
previews, the subject-access export) and the participant's own page. Every function is scoped to one
organisation and, where it names a person, to that person alone: nothing here returns another
participant's data.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, cast

from sqlalchemy import Connection, Table, and_, select, tuple_
from sqlmodel import SQLModel

from impact.auth.accounts import Organisation
from impact.feedback.outbox import ITEMS
from schemas.readmodels import (
    Activity,
    Change,
    ChangeLink,
    Contribution,
    ContributionParticipant,
    Feedback,
    Participant,
)
from schemas.vocab import DECIDED_STATUSES


def _t(model: type[SQLModel]) -> Table:
    return cast(Table, model.__table__)  # type: ignore[attr-defined]


P, A, C, CP = _t(Participant), _t(Activity), _t(Contribution), _t(ContributionParticipant)
CH, L, FB, ORG = _t(Change), _t(ChangeLink), _t(Feedback), _t(Organisation)
DECIDED = sorted(s.value for s in DECIDED_STATUSES)


@dataclass(frozen=True)
class Person:
    """A participant as the feedback loop needs them (from the register)."""

    org_id: str
    participant_id: str
    display_name: str | None
    email: str | None
    phone: str | None
    postal_address: str | None
    consent: bool
    channel: str | None
    frequency: str
    erased: bool


@dataclass(frozen=True)
class Said:
    """One contribution the person made (alone or with others): "you said"."""

    contribution_id: str
    made_on: date
    area: str
    text: str
    activity_title: str | None


@dataclass(frozen=True)
class Decision:
    """A change and what became of it: "we did"."""

    change_id: str
    title: str
    description: str
    area: str
    status: str
    note: str | None  # for `declined`: why
    decided_on: date | None


@dataclass(frozen=True)
class News:
    """One decided change, with what this person said that influenced it and how strongly."""

    decision: Decision
    said: tuple[tuple[Said, str], ...]  # (contribution, strength of influence)


@dataclass(frozen=True)
class Story:
    """One contribution and every change it is linked to (the participant's page)."""

    said: Said
    changes: tuple[tuple[Decision, str], ...]  # (change, strength), decided first, newest first


@dataclass(frozen=True)
class Owed:
    """One person owed word of one decided change, with their register entry."""

    person: Person
    change_id: str
    decided_on: date


def organisation_name(conn: Connection, org_id: str) -> str:
    return str(conn.execute(select(ORG.c.name).where(ORG.c.org_id == org_id)).scalar() or org_id)


def _person(row: Any) -> Person:
    return Person(
        row.org_id,
        row.participant_id,
        row.display_name,
        row.email,
        row.phone,
        row.postal_address,
        bool(row.consent_to_contact),
        row.preferred_channel,
        row.feedback_frequency or "each_change",
        bool(row.erased),
    )


def person(conn: Connection, org_id: str, participant_id: str) -> Person | None:
    row = conn.execute(select(P).where(P.c.org_id == org_id, P.c.participant_id == participant_id)).first()
    return _person(row) if row else None


def people(conn: Connection, org_id: str, participant_ids: Iterable[str]) -> dict[str, Person]:
    wanted = sorted(set(participant_ids))
    found: dict[str, Person] = {}
    for first in range(0, len(wanted), 500):
        query = select(P).where(P.c.org_id == org_id, P.c.participant_id.in_(wanted[first : first + 500]))
        found.update({row.participant_id: _person(row) for row in conn.execute(query)})
    return found


def owed(conn: Connection, *, org_id: str | None = None, new_only: bool = False) -> list[Owed]:
    """Every (consenting, not erased) person linked to a decided change who has no `feedback.sent` for it.

    The same pairs as the dashboard's closure rate counts as not yet sent (dashboard.metrics.feedback_pairs).
    `new_only`: only pairs the feedback outbox has no row for yet.
    """
    query = owed_query(org_id=org_id, new_only=new_only)
    return [Owed(_person(row), row.owed_change, row.owed_decided) for row in conn.execute(query)]


def owed_query(*, org_id: str | None = None, new_only: bool = False) -> Any:
    # Two steps, so every database walks from the decided changes outwards (linear in the links), instead
    # of from every participant to every link of their organisation: first the (change, person) pairs,
    # with LEFT JOINs, which SQLite (without statistics) never reorders, and PostgreSQL turns back into
    # inner joins through the IS NOT NULL...
    decided = CH.c.status.in_(DECIDED), CH.c.decided_on.is_not(None)
    pairs = (
        select(CH.c.org_id, CH.c.change_id, CH.c.decided_on, CP.c.participant_id)
        .distinct()
        .select_from(
            CH.outerjoin(L, and_(L.c.org_id == CH.c.org_id, L.c.change_id == CH.c.change_id)).outerjoin(
                CP, and_(CP.c.org_id == L.c.org_id, CP.c.contribution_id == L.c.contribution_id)
            )
        )
        .where(*decided, CP.c.participant_id.is_not(None), *([CH.c.org_id == org_id] if org_id is not None else []))
        .subquery("pairs")
    )
    # ...then the people who consent, and have not been told.
    told = select(FB.c.change_id).where(
        FB.c.org_id == pairs.c.org_id,
        FB.c.participant_id == pairs.c.participant_id,
        FB.c.change_id == pairs.c.change_id,
    )
    query = (
        select(P, pairs.c.change_id.label("owed_change"), pairs.c.decided_on.label("owed_decided"))
        .select_from(pairs.join(P, and_(P.c.org_id == pairs.c.org_id, P.c.participant_id == pairs.c.participant_id)))
        .where(P.c.consent_to_contact.is_(True), P.c.erased.is_(False), ~told.exists())
    )
    if new_only:
        known = select(ITEMS.c.change_id).where(
            ITEMS.c.org_id == pairs.c.org_id,
            ITEMS.c.participant_id == pairs.c.participant_id,
            ITEMS.c.change_id == pairs.c.change_id,
        )
        query = query.where(~known.exists())
    return query


def told(conn: Connection, pairs: Iterable[tuple[str, str, str]]) -> set[tuple[str, str, str]]:
    """Of these (org, participant, change) pairs, those with a `feedback.sent` in the read models."""
    wanted = list(set(pairs))
    found: set[tuple[str, str, str]] = set()
    for first in range(0, len(wanted), 300):
        chunk = wanted[first : first + 300]
        query = select(FB.c.org_id, FB.c.participant_id, FB.c.change_id).where(
            tuple_(FB.c.org_id, FB.c.participant_id, FB.c.change_id).in_(chunk)
        )
        found.update((o, p, c) for o, p, c in conn.execute(query))
    return found


def decided(conn: Connection, changes: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """Of these (org, change) pairs, those whose change is decided now (a decision can be reopened)."""
    wanted = list(set(changes))
    found: set[tuple[str, str]] = set()
    for first in range(0, len(wanted), 300):
        query = select(CH.c.org_id, CH.c.change_id).where(
            tuple_(CH.c.org_id, CH.c.change_id).in_(wanted[first : first + 300]),
            CH.c.status.in_(DECIDED),
            CH.c.decided_on.is_not(None),
        )
        found.update((o, c) for o, c in conn.execute(query))
    return found


def _said(row: Any) -> Said:
    return Said(row.contribution_id, row.made_on, row.area, row.text, row.activity_title)


def _decision(row: Any) -> Decision:
    return Decision(
        row.change_id, row.title, row.description, row.change_area, row.status, row.status_note, row.decided_on
    )


def _linked(org_id: str, participant_id: str) -> Any:
    """The person's contributions joined to every change each is linked to (outer: unlinked ones too)."""
    return (
        select(
            C.c.contribution_id,
            C.c.made_on,
            C.c.area,
            C.c.text,
            A.c.title.label("activity_title"),
            CH.c.change_id,
            CH.c.title,
            CH.c.description,
            CH.c.area.label("change_area"),
            CH.c.status,
            CH.c.status_note,
            CH.c.decided_on,
            L.c.strength,
        )
        .select_from(
            CP.join(C, and_(C.c.org_id == CP.c.org_id, C.c.contribution_id == CP.c.contribution_id))
            .outerjoin(A, and_(A.c.org_id == C.c.org_id, A.c.activity_id == C.c.activity_id))
            .outerjoin(L, and_(L.c.org_id == C.c.org_id, L.c.contribution_id == C.c.contribution_id))
            .outerjoin(CH, and_(CH.c.org_id == L.c.org_id, CH.c.change_id == L.c.change_id))
        )
        .where(CP.c.org_id == org_id, CP.c.participant_id == participant_id)
    )


def news(conn: Connection, org_id: str, participant_id: str, change_ids: Sequence[str]) -> list[News]:
    """What a summary to this person about these changes says, oldest decision first."""
    query = _linked(org_id, participant_id).where(CH.c.change_id.in_(list(change_ids)))
    by_change: dict[str, tuple[Decision, list[tuple[Said, str]]]] = {}
    for row in conn.execute(query.order_by(C.c.made_on, C.c.contribution_id)):
        entry = by_change.setdefault(row.change_id, (_decision(row), []))
        entry[1].append((_said(row), row.strength))
    found = [News(decision, tuple(said)) for decision, said in by_change.values()]
    return sorted(found, key=lambda n: (n.decision.decided_on or date.max, n.decision.change_id))


def stories(conn: Connection, org_id: str, participant_id: str) -> list[Story]:
    """Every contribution the person made, newest first, each with the changes it is linked to."""
    by_contribution: dict[str, tuple[Said, list[tuple[Decision, str]]]] = {}
    for row in conn.execute(_linked(org_id, participant_id)):
        entry = by_contribution.setdefault(row.contribution_id, (_said(row), []))
        if row.change_id is not None:
            entry[1].append((_decision(row), row.strength))
    found = []
    for said, changes in by_contribution.values():
        changes.sort(key=lambda c: (c[0].decided_on is None, -(c[0].decided_on or date.min).toordinal()))
        found.append(Story(said, tuple(changes)))
    return sorted(found, key=lambda s: (s.said.made_on, s.said.contribution_id), reverse=True)


def is_decided(status: str) -> bool:
    return status in DECIDED
