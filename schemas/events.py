"""The event contracts: one envelope, one payload model per event type, version 1.

An event is an immutable fact in the past tense. Clients send a `NewEvent` (no server fields);
the log stores a `StoredEvent`-shaped JSON document with `recorded_at` and `recorded_by` set.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationInfo,
    model_validator,
)

from schemas.fields import (
    Contact,
    Demographics,
    Hours,
    Identifier,
    Name,
    Note,
    OrgId,
    PastDay,
    PastInstant,
    Payload,
    Reason,
    Said,
    Title,
)
from schemas.vocab import (
    Area,
    ChangeStatus,
    Channel,
    EventType,
    Frequency,
    Level,
    ParticipantRole,
    SessionRole,
    Strength,
)

MAX_BATCH = 1000


class ParticipantRegistered(Payload):
    participant_id: Identifier
    display_name: Name
    role: ParticipantRole
    contact: Contact | None = None
    consent_to_contact: bool = False
    preferred_channel: Channel | None = None
    feedback_frequency: Frequency = Field(
        default=Frequency.each_change,
        description="One message as each change is decided, or one digest a month (optional; added later, so "
        "events without it read as each_change).",
    )
    demographics: Demographics = Field(default_factory=Demographics)

    @model_validator(mode="after")
    def _channel_reachable(self) -> Self:
        contact = self.contact or Contact()
        needs = {Channel.email: contact.email, Channel.phone: contact.phone, Channel.post: contact.postal_address}
        if self.consent_to_contact and self.preferred_channel in needs and not needs[self.preferred_channel]:
            raise ValueError(f"preferred channel '{self.preferred_channel}' needs that contact detail")
        return self


class ParticipantConsentChanged(Payload):
    participant_id: Identifier
    consent: bool
    channel: Channel | None = None
    feedback_frequency: Frequency | None = Field(default=None, description="Optional: a new frequency, if it changed.")


class ParticipantErased(Payload):
    participant_id: Identifier


class ActivityHeld(Payload):
    activity_id: Identifier
    title: Title
    area: Area
    level: Level
    date: PastDay
    duration_hours: Hours


class SessionAttended(Payload):
    activity_id: Identifier
    participant_id: Identifier
    hours: Hours
    session_role: SessionRole = SessionRole.attendee


class ContributionMade(Payload):
    """What a participant said ("you said")."""

    contribution_id: Identifier
    participant_ids: list[Identifier] = Field(min_length=1, max_length=50)
    activity_id: Identifier | None = None
    area: Area
    text: Said


class ContributionLink(Payload):
    contribution_id: Identifier
    strength: Strength


class ChangeRecorded(Payload):
    """What the organisation did ("we did"), with the contributions that influenced it."""

    change_id: Identifier
    area: Area
    title: Title
    description: Said
    status: ChangeStatus = ChangeStatus.proposed
    decided_on: PastDay | None = None
    links: list[ContributionLink] = Field(default_factory=list, max_length=200)

    @model_validator(mode="after")
    def _decided_has_date(self) -> Self:
        if self.status != ChangeStatus.proposed and self.decided_on is None:
            raise ValueError(f"a change that is '{self.status}' needs decided_on")
        if self.status == ChangeStatus.proposed and self.decided_on is not None:
            raise ValueError("a proposed change has no decided_on yet")
        ids = [link.contribution_id for link in self.links]
        if len(ids) != len(set(ids)):
            raise ValueError("each contribution may be linked once")
        return self


class ChangeStatusChanged(Payload):
    """Version 2 adds `decided_on`: the day of the decision, which may be earlier than the day it is recorded."""

    change_id: Identifier
    status: ChangeStatus
    note: Note | None = None
    decided_on: PastDay | None = Field(default=None, description="Version 2: the day it was decided.")

    @model_validator(mode="after")
    def _read_as_version_2(self, info: ValidationInfo) -> Self:
        # Read from the log, every event is at version 2 (upcast): the rule holds whoever wrote it.
        if (info.context or {}).get("latest") and (self.status != ChangeStatus.proposed) != (
            self.decided_on is not None
        ):
            raise ValueError("decided_on is needed exactly when the change is decided")
        return self

    @model_validator(mode="after")
    def _declined_explained(self) -> Self:
        if self.status == ChangeStatus.declined and not self.note:
            raise ValueError("a declined change needs a note saying why")
        return self


# --- Corrections ------------------------------------------------------------------------------
# Each carries the record's whole new version (not a patch), so a fold replaces and a replay agrees, and a
# short reason staff give. A correction never tells a participant again by itself: only a decision does
# (a change's status), or a newly linked contribution whose person has not heard yet (docs/staff.md, "Correcting
# a record").


class ParticipantDetailsChanged(Payload):
    """A participant's name, role, contact details or equality answers, corrected. The personal fields are
    sealed in the log under the participant's key, like the registration's, so erasure destroys every version.
    `fields` names what changed (the history shows names only: it never keeps an earlier value)."""

    participant_id: Identifier
    display_name: Name
    role: ParticipantRole
    contact: Contact | None = None
    demographics: Demographics = Field(default_factory=Demographics)
    fields: list[Literal["display_name", "role", "email", "phone", "postal_address", "demographics"]] = Field(
        min_length=1, max_length=6, description="What changed: the fields the history names."
    )
    reason: Reason


class ActivityCorrected(Payload):
    activity_id: Identifier
    title: Title
    area: Area
    level: Level
    date: PastDay
    duration_hours: Hours
    reason: Reason


class AttendanceWithdrawn(Payload):
    """Attendance recorded by mistake (the wrong person, or hours to record again): it no longer counts."""

    attendance_id: uuid.UUID = Field(description="The event_id of the session.attended event withdrawn.")
    activity_id: Identifier
    participant_id: Identifier
    reason: Reason


class ContributionCorrected(Payload):
    contribution_id: Identifier
    participant_ids: list[Identifier] = Field(min_length=1, max_length=50)
    activity_id: Identifier | None = None
    area: Area
    text: Said
    made_on: PastDay
    reason: Reason


class ChangeCorrected(Payload):
    """A change's area, title, "what we did" text and the contributions that influenced it (its status has
    its own event)."""

    change_id: Identifier
    area: Area
    title: Title
    description: Said
    links: list[ContributionLink] = Field(default_factory=list, max_length=200)
    reason: Reason

    @model_validator(mode="after")
    def _links_once(self) -> Self:
        ids = [link.contribution_id for link in self.links]
        if len(ids) != len(set(ids)):
            raise ValueError("each contribution may be linked once")
        return self


class FeedbackSent(Payload):
    participant_id: Identifier
    change_ids: list[Identifier] = Field(min_length=1, max_length=200)
    channel: Channel


PAYLOADS: dict[str, type[Payload]] = {
    EventType.participant_registered: ParticipantRegistered,
    EventType.participant_consent_changed: ParticipantConsentChanged,
    EventType.participant_erased: ParticipantErased,
    EventType.activity_held: ActivityHeld,
    EventType.session_attended: SessionAttended,
    EventType.contribution_made: ContributionMade,
    EventType.change_recorded: ChangeRecorded,
    EventType.change_status_changed: ChangeStatusChanged,
    EventType.feedback_sent: FeedbackSent,
    EventType.participant_details_changed: ParticipantDetailsChanged,
    EventType.activity_corrected: ActivityCorrected,
    EventType.attendance_withdrawn: AttendanceWithdrawn,
    EventType.contribution_corrected: ContributionCorrected,
    EventType.change_corrected: ChangeCorrected,
}
EVENT_TYPES = tuple(PAYLOADS)


class Envelope(BaseModel):
    """Fields every event carries; a client may supply event_id to make a retry idempotent."""

    model_config = ConfigDict(extra="forbid")

    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    schema_version: Literal[1] = 1
    org_id: OrgId
    occurred_at: PastInstant
    corrects: uuid.UUID | None = Field(
        default=None, description="The event_id of a rejected (dead-lettered) event that this one corrects."
    )


class ParticipantRegisteredEvent(Envelope):
    type: Literal["participant.registered"]
    payload: ParticipantRegistered


class ParticipantConsentChangedEvent(Envelope):
    type: Literal["participant.consent_changed"]
    payload: ParticipantConsentChanged


class ParticipantErasedEvent(Envelope):
    type: Literal["participant.erased"]
    payload: ParticipantErased


class ActivityHeldEvent(Envelope):
    type: Literal["activity.held"]
    payload: ActivityHeld


class SessionAttendedEvent(Envelope):
    type: Literal["session.attended"]
    payload: SessionAttended


class ContributionMadeEvent(Envelope):
    type: Literal["contribution.made"]
    payload: ContributionMade


class ChangeRecordedEvent(Envelope):
    type: Literal["change.recorded"]
    payload: ChangeRecorded


class ChangeStatusChangedEvent(Envelope):
    """Version 1 takes the decision's day from `occurred_at`; version 2 names it in `decided_on`."""

    type: Literal["change.status_changed"]
    schema_version: Literal[1, 2] = 1  # type: ignore[assignment]
    payload: ChangeStatusChanged

    @model_validator(mode="after")
    def _decision_day(self) -> Self:
        decided, day = self.payload.status != ChangeStatus.proposed, self.payload.decided_on
        if self.schema_version == 1 and day is not None:
            raise ValueError("decided_on needs schema_version 2")
        if self.schema_version == 2 and decided and day is None:
            raise ValueError(f"a change that is '{self.payload.status}' needs decided_on")
        if self.schema_version == 2 and not decided and day is not None:
            raise ValueError("a proposed change has no decided_on yet")
        return self


class FeedbackSentEvent(Envelope):
    type: Literal["feedback.sent"]
    payload: FeedbackSent


class ParticipantDetailsChangedEvent(Envelope):
    type: Literal["participant.details_changed"]
    payload: ParticipantDetailsChanged


class ActivityCorrectedEvent(Envelope):
    type: Literal["activity.corrected"]
    payload: ActivityCorrected


class AttendanceWithdrawnEvent(Envelope):
    type: Literal["attendance.withdrawn"]
    payload: AttendanceWithdrawn


class ContributionCorrectedEvent(Envelope):
    type: Literal["contribution.corrected"]
    payload: ContributionCorrected


class ChangeCorrectedEvent(Envelope):
    type: Literal["change.corrected"]
    payload: ChangeCorrected


NewEvent = Annotated[
    ParticipantRegisteredEvent
    | ParticipantConsentChangedEvent
    | ParticipantErasedEvent
    | ActivityHeldEvent
    | SessionAttendedEvent
    | ContributionMadeEvent
    | ChangeRecordedEvent
    | ChangeStatusChangedEvent
    | FeedbackSentEvent
    | ParticipantDetailsChangedEvent
    | ActivityCorrectedEvent
    | AttendanceWithdrawnEvent
    | ContributionCorrectedEvent
    | ChangeCorrectedEvent,
    Field(discriminator="type"),
]
EVENT_ADAPTER: TypeAdapter[NewEvent] = TypeAdapter(NewEvent)
BATCH_ADAPTER: TypeAdapter[list[NewEvent]] = TypeAdapter(
    Annotated[list[NewEvent], Field(min_length=1, max_length=MAX_BATCH)]
)


class StoredEvent(BaseModel):
    """An accepted event as it lives in the log: the client's event plus the server's fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: uuid.UUID
    type: str
    schema_version: int
    org_id: str
    occurred_at: AwareDatetime
    recorded_at: AwareDatetime
    recorded_by: str
    payload: dict[str, Any]
    corrects: uuid.UUID | None = None

    @classmethod
    def accept(cls, event: Envelope, *, recorded_by: str, recorded_at: datetime | None = None) -> StoredEvent:
        """Stamp a validated client event with the server's fields."""
        data = event.model_dump(mode="json")
        for name in ADDED_IN.get((data["type"], data["schema_version"]), ()):
            data["payload"].pop(name, None)  # the log keeps an old version's event in that version's shape
        return cls(
            **data,
            recorded_at=recorded_at or datetime.now(UTC),
            recorded_by=recorded_by,
        )

    def to_bytes(self) -> bytes:
        return self.model_dump_json(exclude={"corrects"} if self.corrects is None else None).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> StoredEvent:
        return cls.model_validate_json(raw)

    def typed_payload(self, payload: dict[str, Any] | None = None) -> Payload:
        """The payload (or an opened copy of it) upcast to the latest version and re-validated as its model.

        The log may hold events of every version ever accepted, from any producer: each is read as the
        latest version, so the folds only ever see one shape.
        """
        document, version = self.payload if payload is None else payload, self.schema_version
        while (self.type, version) in UPCASTERS:
            document, version = UPCASTERS[(self.type, version)](self, document), version + 1
        if version != LATEST_VERSION.get(self.type, 1):
            raise ValueError(f"schema_version {self.schema_version} of {self.type} is unknown")
        return PAYLOADS[self.type].model_validate(document, context={"latest": True})


def error_path(loc: tuple[int | str, ...]) -> str:
    """A readable path for a pydantic error location, without the union's type tag.

    ("events", 3, "contribution.made", "payload", "text") -> "events[3].payload.text"
    """
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in PAYLOADS:
            continue
        else:
            out += f".{part}" if out else str(part)
    return out or "(body)"


def event_json_schema() -> dict[str, Any]:
    """The JSON Schema clients see: one event, or a batch of up to MAX_BATCH (from the same models)."""
    single = EVENT_ADAPTER.json_schema(ref_template="#/$defs/{model}")
    defs = single.pop("$defs", {})
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Involvement event (version 1), or a batch of them",
        "oneOf": [single, {"type": "array", "items": single, "minItems": 1, "maxItems": MAX_BATCH}],
        "$defs": defs,
    }


def _status_changed_v1_to_v2(event: StoredEvent, payload: dict[str, Any]) -> dict[str, Any]:
    """Version 1 recorded the decision when it happened: its day is the day of `occurred_at`."""
    decided = payload.get("status") != ChangeStatus.proposed.value
    return {**payload, "decided_on": event.occurred_at.date().isoformat() if decided else None}


# (type, version) -> a function from that version's payload to the next version's.
UPCASTERS: dict[tuple[str, int], Any] = {("change.status_changed", 1): _status_changed_v1_to_v2}
LATEST_VERSION: dict[str, int] = {"change.status_changed": 2}  # every other type is at version 1
ADDED_IN: dict[tuple[str, int], tuple[str, ...]] = {("change.status_changed", 1): ("decided_on",)}  # later fields


# Personal data lives only in the participant register: copies of an event elsewhere (dead letters)
# carry these fields withheld, and point at the event's place in the log instead.
PERSONAL_FIELDS: dict[str, tuple[str, ...]] = {
    EventType.participant_registered: ("display_name", "contact", "demographics"),
    EventType.participant_details_changed: ("display_name", "contact", "demographics"),
}
WITHHELD = "[withheld: personal data]"
SEALED = "sealed"  # in the log, a registration's personal fields are encrypted under this key (impact.eventlog.sealing)


def without_personal_data(document: dict[str, Any]) -> dict[str, Any]:
    """A copy of an event document with its personal fields withheld."""
    payload = document.get("payload")
    fields = PERSONAL_FIELDS.get(str(document.get("type")), ())
    if not isinstance(payload, dict) or not fields:
        return document
    kept = {k: v for k, v in payload.items() if k not in fields and k != SEALED}
    return {**document, "payload": {**kept, **dict.fromkeys(fields, WITHHELD)}}
