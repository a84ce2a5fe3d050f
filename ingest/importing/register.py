"""The register: what the read models already hold for the organisation, of the identifiers a file names.

Read so that a file is checked whole before anything is appended (see the package's docstring).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from impact.eventlog.recording import Receipt
from schemas.readmodels import Activity, Attendance, Contribution, Participant, ProcessedEvent

_QUERY_CHUNK = 500


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
            # failed (or is under way): its event is sent again, exactly as claimed (Checker.as_claimed).
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
