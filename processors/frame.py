"""Turn a micro-batch of decoded events into the frame the data-quality suite checks. No I/O here.

References are "known" when the read models already hold them (`Register`, looked up by the store)
or when an event in the same batch creates them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd

from schemas import events as ev
from schemas.quality import FRAME_COLUMNS

OrgKey = tuple[str, str]


@dataclass
class Register:
    """Identifiers per organisation: participants, activities (with their duration), contributions, changes."""

    participants: set[OrgKey] = field(default_factory=set)
    activities: dict[OrgKey, float | None] = field(default_factory=dict)
    contributions: set[OrgKey] = field(default_factory=set)
    changes: set[OrgKey] = field(default_factory=set)

    def add(self, other: Register) -> None:
        self.participants |= other.participants
        self.activities.update(other.activities)
        self.contributions |= other.contributions
        self.changes |= other.changes

    def copy(self) -> Register:
        return Register(set(self.participants), dict(self.activities), set(self.contributions), set(self.changes))

    def empty(self) -> bool:
        return not (self.participants or self.activities or self.contributions or self.changes)

    def overlaps(self, other: Register) -> bool:
        return bool(
            self.participants & other.participants
            or self.activities.keys() & other.activities.keys()
            or self.contributions & other.contributions
            or self.changes & other.changes
        )


Decoded = tuple[ev.StoredEvent, ev.Payload | None]  # None: the payload does not match its model


def creates(event: ev.StoredEvent, payload: ev.Payload | None) -> Register:
    """The identifiers one event creates."""
    made, org = Register(), event.org_id
    match payload:
        case ev.ParticipantRegistered():
            made.participants.add((org, payload.participant_id))
        case ev.ActivityHeld():
            made.activities[(org, payload.activity_id)] = payload.duration_hours
        case ev.ContributionMade():
            made.contributions.add((org, payload.contribution_id))
        case ev.ChangeRecorded():
            made.changes.add((org, payload.change_id))
    return made


def needs(event: ev.StoredEvent, payload: ev.Payload | None) -> Register:
    """The identifiers one event refers to (and does not create itself)."""
    wanted, org = Register(), event.org_id
    match payload:
        case ev.SessionAttended():
            wanted.participants.add((org, payload.participant_id))
            wanted.activities[(org, payload.activity_id)] = None
        case ev.ContributionMade():
            wanted.participants.update((org, pid) for pid in payload.participant_ids)
            if payload.activity_id:
                wanted.activities[(org, payload.activity_id)] = None
        case ev.ParticipantConsentChanged() | ev.ParticipantErased():
            wanted.participants.add((org, payload.participant_id))
        case ev.ChangeRecorded():
            wanted.contributions.update((org, link.contribution_id) for link in payload.links)
        case ev.ChangeStatusChanged():
            wanted.changes.add((org, payload.change_id))
        case ev.FeedbackSent():
            wanted.participants.add((org, payload.participant_id))
            wanted.changes.update((org, cid) for cid in payload.change_ids)
        case ev.ParticipantDetailsChanged():
            wanted.participants.add((org, payload.participant_id))
        case ev.ActivityCorrected():
            wanted.activities[(org, payload.activity_id)] = None
        case ev.AttendanceWithdrawn():
            wanted.participants.add((org, payload.participant_id))
            wanted.activities[(org, payload.activity_id)] = None
        case ev.ContributionCorrected():
            wanted.contributions.add((org, payload.contribution_id))
            wanted.participants.update((org, pid) for pid in payload.participant_ids)
            if payload.activity_id:
                wanted.activities[(org, payload.activity_id)] = None
        case ev.ChangeCorrected():
            wanted.changes.add((org, payload.change_id))
            wanted.contributions.update((org, link.contribution_id) for link in payload.links)
    return wanted


def referenced(batch: Sequence[Decoded]) -> Register:
    """Every identifier the batch refers to or creates (what the store must look up)."""
    wanted = Register()
    for event, payload in batch:
        wanted.add(creates(event, payload))
        wanted.add(needs(event, payload))
    return wanted


def _keys(register: Register) -> list[tuple[str, OrgKey]]:
    return [
        *(("participant", key) for key in register.participants),
        *(("activity", key) for key in register.activities),
        *(("contribution", key) for key in register.contributions),
        *(("change", key) for key in register.changes),
    ]


def reference_order(batch: Sequence[Decoded], waited: Sequence[bool], known: Register, wait: timedelta) -> list[int]:
    """The order to check and fold a batch in, as indices: the log's, except that an event whose
    reference is created later in the batch, within its wait, moves to just after that creation.

    Events that `waited` (parked by earlier batches) are older than the batch: they come first, or
    just after what they were waiting for. So a late reference gives what the log in creation order
    would have given (a status change waiting for its change lands before the change's next status),
    and the outcome does not depend on where batches split.
    """
    if not wait:  # nothing waits: the log's order, exactly
        return list(range(len(batch)))
    known_keys = set(_keys(known))
    made: dict[tuple[str, OrgKey], tuple[int, datetime]] = {}
    for index, (event, payload) in enumerate(batch):
        if not waited[index]:
            for key in _keys(creates(event, payload)):
                made.setdefault(key, (index, event.recorded_at))
    ranks = []
    for index, (event, payload) in enumerate(batch):
        place = -1.0 if waited[index] else float(index)
        deadline = event.recorded_at + wait
        for key in _keys(needs(event, payload)):
            if key in known_keys or key not in made:
                continue
            at, recorded_at = made[key]
            if recorded_at <= deadline and at + 0.5 > place:
                place = at + 0.5
        ranks.append((place, event.recorded_at, index))
    return [index for _, _, index in sorted(ranks)]


def _required(type_: str) -> frozenset[str]:
    model = ev.PAYLOADS[type_]
    return frozenset(name for name, spec in model.model_fields.items() if spec.is_required())


REQUIRED = {type_: _required(type_) for type_ in ev.PAYLOADS}
HOURS_FIELDS = ("hours", "duration_hours")
DAY_FIELDS = ("date", "decided_on", "made_on")


def _raw_columns(event: ev.StoredEvent) -> dict[str, Any]:
    """What the stored payload says as it is, before its model reads it (for the single-event checks)."""
    raw, known_type = event.payload, event.type in ev.PAYLOADS
    given = set(raw) | (set(ev.PERSONAL_FIELDS.get(event.type, ())) if ev.SEALED in raw else set())
    columns: dict[str, Any] = {
        "known_type": known_type,
        "required_present": REQUIRED[event.type] <= given if known_type else None,
        "area": raw.get("area"),
        "level": raw.get("level"),
        "role": raw.get("role"),
        "status": raw.get("status"),
        "hours": next((raw[name] for name in HOURS_FIELDS if name in raw), None),
    }
    days = []
    for name in DAY_FIELDS:
        try:
            days.append(date.fromisoformat(str(raw[name])))
        except (KeyError, ValueError):
            continue
    if days:
        columns["days_ahead"] = (max(days) - event.recorded_at.date()).days
    return columns


def _row(event: ev.StoredEvent, payload: ev.Payload | None, known: Register) -> dict[str, Any]:
    org = event.org_id
    row: dict[str, Any] = dict.fromkeys(FRAME_COLUMNS)
    row.update(
        event_id=str(event.event_id),
        type=event.type,
        org_id=org,
        lead_seconds=(event.occurred_at - event.recorded_at).total_seconds(),
        year=event.occurred_at.year,
        **_raw_columns(event),
    )
    made = creates(event, payload)
    if not made.empty():
        row["already_recorded"] = known.overlaps(made)
    match payload:
        case ev.SessionAttended():
            duration = known.activities.get((org, payload.activity_id))
            row.update(
                hours_beyond_activity=None if duration is None else payload.hours - duration,
                participants_known=(org, payload.participant_id) in known.participants,
                activity_known=(org, payload.activity_id) in known.activities,
            )
        case ev.ContributionMade():
            row["participants_known"] = all((org, pid) in known.participants for pid in payload.participant_ids)
            if payload.activity_id:
                row["activity_known"] = (org, payload.activity_id) in known.activities
        case ev.ActivityHeld():
            row["year"] = min(payload.date.year, event.occurred_at.year)
        case ev.ParticipantConsentChanged() | ev.ParticipantErased():
            row["participants_known"] = (org, payload.participant_id) in known.participants
        case ev.ChangeRecorded():
            if payload.links:
                row["contributions_known"] = all(
                    (org, link.contribution_id) in known.contributions for link in payload.links
                )
        case ev.ChangeStatusChanged():
            row["change_known"] = (org, payload.change_id) in known.changes
        case ev.FeedbackSent():
            row["participants_known"] = (org, payload.participant_id) in known.participants
            row["change_known"] = all((org, cid) in known.changes for cid in payload.change_ids)
        case ev.ParticipantDetailsChanged():
            row["participants_known"] = (org, payload.participant_id) in known.participants
        case ev.ActivityCorrected():
            row["activity_known"] = (org, payload.activity_id) in known.activities
            row["year"] = min(payload.date.year, event.occurred_at.year)
        case ev.AttendanceWithdrawn():
            row["participants_known"] = (org, payload.participant_id) in known.participants
            row["activity_known"] = (org, payload.activity_id) in known.activities
        case ev.ContributionCorrected():
            row["participants_known"] = all((org, pid) in known.participants for pid in payload.participant_ids)
            row["contributions_known"] = (org, payload.contribution_id) in known.contributions
            if payload.activity_id:
                row["activity_known"] = (org, payload.activity_id) in known.activities
        case ev.ChangeCorrected():
            row["change_known"] = (org, payload.change_id) in known.changes
            row["contributions_known"] = all(
                (org, link.contribution_id) in known.contributions for link in payload.links
            )
    return row


def quality_frame(batch: Sequence[Decoded], known: Register, rejected: frozenset[str] = frozenset()) -> pd.DataFrame:
    """One row per event, the columns the suite names; inapplicable columns are null.

    An identifier counts as known from the event that creates it onwards, in log order, exactly as
    if every event were processed alone: so the outcome never depends on where batches split.
    Creations in `rejected` (already refused) create nothing.
    """
    running = known.copy()
    rows = []
    for event, payload in batch:
        rows.append(_row(event, payload, running))
        if str(event.event_id) not in rejected:
            running.add(creates(event, payload))
    frame = pd.DataFrame(rows, columns=list(FRAME_COLUMNS))
    for column in ("lead_seconds", "year", "hours_beyond_activity", "hours", "days_ahead"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    flags = ("known_type", "required_present", "area", "level", "role", "status")
    return frame.astype(
        {column: "object" for column in FRAME_COLUMNS if column.endswith(("_known", "_recorded")) or column in flags}
    )
