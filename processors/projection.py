"""The pure fold: accepted events in, read-model rows out. No I/O here.

A `Projection` collects full rows to upsert (keyed by primary key, so a later fact about the same
row replaces the earlier one within the batch), patches to rows written by earlier batches, and
deletions (a correction that replaces a record's links, or withdraws an attendance). The store applies
the deletions first: the rows collected are already the state after them.

Every record also gets a version row (`RecordVersion`) for each event that makes or corrects it: the
record pages show its history from them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import SQLModel

from schemas import events as ev
from schemas.readmodels import (
    Activity,
    Attendance,
    Change,
    ChangeLink,
    Contribution,
    ContributionParticipant,
    Feedback,
    Participant,
    RecordVersion,
)
from schemas.vocab import DECIDED_STATUSES

Key = tuple[Any, ...]
Row = dict[str, Any]


def primary_key(model: type[SQLModel]) -> tuple[str, ...]:
    return tuple(column.name for column in model.__table__.primary_key.columns)  # type: ignore[attr-defined]


@dataclass
class Projection:
    rows: dict[type[SQLModel], dict[Key, Row]] = field(default_factory=dict)
    patches: list[tuple[type[SQLModel], Key, Row]] = field(default_factory=list)
    deletes: list[tuple[type[SQLModel], Row]] = field(default_factory=list)  # (model, column values to match)

    def put(self, model: type[SQLModel], row: Row) -> None:
        key = tuple(row[name] for name in primary_key(model))
        # A whole new row supersedes patches queued for it earlier in this batch.
        self.patches = [p for p in self.patches if not (p[0] is model and p[1] == key)]
        self.rows.setdefault(model, {})[key] = row

    def patch(self, model: type[SQLModel], key: Key, values: Row) -> None:
        pending = self.rows.get(model, {}).get(key)
        if pending is not None:
            pending.update(values)
        else:
            self.patches.append((model, key, values))

    def delete(self, model: type[SQLModel], where: Row) -> None:
        """Remove every row of `model` whose columns equal `where`: those written before, and those collected."""
        pending = self.rows.get(model, {})
        for key in [key for key, row in pending.items() if all(row[k] == v for k, v in where.items())]:
            del pending[key]
        self.deletes.append((model, where))

    def version(self, e: ev.StoredEvent, kind: str, record_id: str, detail: Row, reason: str | None = None) -> None:
        self.put(
            RecordVersion,
            {
                "event_id": str(e.event_id),
                "org_id": e.org_id,
                "kind": kind,
                "record_id": record_id,
                "type": e.type,
                "recorded_at": e.recorded_at,
                "recorded_by": e.recorded_by,
                "reason": reason,
                "detail": json.dumps(detail, sort_keys=True, default=str),
            },
        )


def _participant_registered(p: Projection, e: ev.StoredEvent, pl: ev.ParticipantRegistered) -> None:
    contact = pl.contact or ev.Contact()
    p.put(
        Participant,
        {
            "org_id": e.org_id,
            "participant_id": pl.participant_id,
            "display_name": pl.display_name,
            "role": pl.role.value,
            "email": contact.email,
            "phone": contact.phone,
            "postal_address": contact.postal_address,
            "consent_to_contact": pl.consent_to_contact,
            "preferred_channel": pl.preferred_channel.value if pl.preferred_channel else None,
            "feedback_frequency": pl.feedback_frequency.value,
            **{name: (value.value if value else None) for name, value in pl.demographics},
            "registered_at": e.occurred_at,
            "erased": False,
        },
    )
    p.version(e, "participant", pl.participant_id, {})


def _details_changed(p: Projection, e: ev.StoredEvent, pl: ev.ParticipantDetailsChanged) -> None:
    if pl.display_name is None:  # sealed, and the key destroyed: the person was erased, and stays so
        return
    contact = pl.contact or ev.Contact()
    p.patch(
        Participant,
        (e.org_id, pl.participant_id),
        {
            "display_name": pl.display_name,
            "role": pl.role.value,
            "email": contact.email,
            "phone": contact.phone,
            "postal_address": contact.postal_address,
            **{name: (value.value if value else None) for name, value in pl.demographics},
        },
    )
    p.version(e, "participant", pl.participant_id, {"fields": list(pl.fields)}, pl.reason)


def _consent_changed(p: Projection, e: ev.StoredEvent, pl: ev.ParticipantConsentChanged) -> None:
    values: Row = {"consent_to_contact": pl.consent}
    if pl.channel is not None:
        values["preferred_channel"] = pl.channel.value
    if pl.feedback_frequency is not None:
        values["feedback_frequency"] = pl.feedback_frequency.value
    p.patch(Participant, (e.org_id, pl.participant_id), values)


ERASED_FIELDS: Row = {
    "display_name": None,
    "email": None,
    "phone": None,
    "postal_address": None,
    "consent_to_contact": False,
    "preferred_channel": None,
    "feedback_frequency": "each_change",
    "age_band": None,
    "gender": None,
    "ethnicity": None,
    "disability": None,
    "region": None,
    "erased": True,
}


def _erased(p: Projection, e: ev.StoredEvent, pl: ev.ParticipantErased) -> None:
    p.patch(Participant, (e.org_id, pl.participant_id), dict(ERASED_FIELDS))


def _activity(p: Projection, e: ev.StoredEvent, pl: ev.ActivityHeld | ev.ActivityCorrected) -> None:
    row = {
        "org_id": e.org_id,
        "activity_id": pl.activity_id,
        "title": pl.title,
        "area": pl.area.value,
        "level": pl.level.value,
        "held_on": pl.date,
        "duration_hours": pl.duration_hours,
    }
    p.put(Activity, row)
    reason = pl.reason if isinstance(pl, ev.ActivityCorrected) else None
    p.version(
        e, "activity", pl.activity_id, {k: v for k, v in row.items() if k not in {"org_id", "activity_id"}}, reason
    )


def _attendance_withdrawn(p: Projection, e: ev.StoredEvent, pl: ev.AttendanceWithdrawn) -> None:
    p.delete(Attendance, {"event_id": str(pl.attendance_id), "org_id": e.org_id})
    detail = {"participant_id": pl.participant_id, "attendance_id": str(pl.attendance_id)}
    p.version(e, "activity", pl.activity_id, detail, pl.reason)


def _session_attended(p: Projection, e: ev.StoredEvent, pl: ev.SessionAttended) -> None:
    day = e.occurred_at.date()
    p.put(
        Attendance,
        {
            "event_id": str(e.event_id),
            "org_id": e.org_id,
            "activity_id": pl.activity_id,
            "participant_id": pl.participant_id,
            "hours": pl.hours,
            "session_role": pl.session_role.value,
            "attended_on": day,
        },
    )


def _contribution(p: Projection, e: ev.StoredEvent, pl: ev.ContributionMade | ev.ContributionCorrected) -> None:
    corrected = isinstance(pl, ev.ContributionCorrected)
    row = {
        "org_id": e.org_id,
        "contribution_id": pl.contribution_id,
        "activity_id": pl.activity_id,
        "area": pl.area.value,
        "text": pl.text,
        "made_on": pl.made_on if isinstance(pl, ev.ContributionCorrected) else e.occurred_at.date(),
    }
    p.put(Contribution, row)
    if corrected:
        p.delete(ContributionParticipant, {"org_id": e.org_id, "contribution_id": pl.contribution_id})
    for participant_id in pl.participant_ids:
        p.put(
            ContributionParticipant,
            {"org_id": e.org_id, "contribution_id": pl.contribution_id, "participant_id": participant_id},
        )
    detail: Row = {k: v for k, v in row.items() if k not in {"org_id", "contribution_id"}}
    detail["participant_ids"] = sorted(pl.participant_ids)
    p.version(
        e, "contribution", pl.contribution_id, detail, pl.reason if isinstance(pl, ev.ContributionCorrected) else None
    )


def _change_recorded(p: Projection, e: ev.StoredEvent, pl: ev.ChangeRecorded) -> None:
    p.put(
        Change,
        {
            "org_id": e.org_id,
            "change_id": pl.change_id,
            "area": pl.area.value,
            "title": pl.title,
            "description": pl.description,
            "status": pl.status.value,
            "status_note": None,
            "recorded_on": e.occurred_at.date(),
            "decided_on": pl.decided_on,
        },
    )
    _links(p, e, pl)


def _links(p: Projection, e: ev.StoredEvent, pl: ev.ChangeRecorded | ev.ChangeCorrected) -> None:
    for link in pl.links:
        p.put(
            ChangeLink,
            {
                "org_id": e.org_id,
                "change_id": pl.change_id,
                "contribution_id": link.contribution_id,
                "strength": link.strength.value,
            },
        )
    detail = {
        "area": pl.area.value,
        "title": pl.title,
        "description": pl.description,
        "links": {link.contribution_id: link.strength.value for link in pl.links},
    }
    p.version(e, "change", pl.change_id, detail, pl.reason if isinstance(pl, ev.ChangeCorrected) else None)


def _change_corrected(p: Projection, e: ev.StoredEvent, pl: ev.ChangeCorrected) -> None:
    values = {"area": pl.area.value, "title": pl.title, "description": pl.description}
    p.patch(Change, (e.org_id, pl.change_id), values)
    p.delete(ChangeLink, {"org_id": e.org_id, "change_id": pl.change_id})
    _links(p, e, pl)


def _status_changed(p: Projection, e: ev.StoredEvent, pl: ev.ChangeStatusChanged) -> None:
    decided_on = (pl.decided_on or e.occurred_at.date()) if pl.status in DECIDED_STATUSES else None
    p.patch(
        Change, (e.org_id, pl.change_id), {"status": pl.status.value, "status_note": pl.note, "decided_on": decided_on}
    )
    detail = {"status": pl.status.value, "decided_on": decided_on, "note": pl.note}
    p.version(e, "change", pl.change_id, detail)


def _feedback_sent(p: Projection, e: ev.StoredEvent, pl: ev.FeedbackSent) -> None:
    for change_id in pl.change_ids:
        p.put(
            Feedback,
            {
                "event_id": str(e.event_id),
                "change_id": change_id,
                "org_id": e.org_id,
                "participant_id": pl.participant_id,
                "channel": pl.channel.value,
                "sent_at": e.occurred_at,
            },
        )


FOLDS: dict[str, Callable[[Projection, ev.StoredEvent, Any], None]] = {
    "participant.registered": _participant_registered,
    "participant.consent_changed": _consent_changed,
    "participant.erased": _erased,
    "activity.held": _activity,
    "session.attended": _session_attended,
    "contribution.made": _contribution,
    "change.recorded": _change_recorded,
    "change.status_changed": _status_changed,
    "feedback.sent": _feedback_sent,
    "participant.details_changed": _details_changed,
    "activity.corrected": _activity,
    "attendance.withdrawn": _attendance_withdrawn,
    "contribution.corrected": _contribution,
    "change.corrected": _change_corrected,
}
assert set(FOLDS) == set(ev.EVENT_TYPES), "every event type needs a fold"  # noqa: S101


def project(events: Iterable[tuple[ev.StoredEvent, ev.Payload]]) -> Projection:
    """Fold accepted events, in log order, into rows."""
    projection = Projection()
    for event, payload in events:
        FOLDS[event.type](projection, event, payload)
    return projection
