"""Read-model tables: what processors fold events into and the dashboard reads.

Personal details (name, contact, demographics) live only in `participant`; every other table
carries `participant_id`. Every row belongs to one organisation (`org_id` leads each key).
"""

from datetime import date, datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel


class Participant(SQLModel, table=True):
    org_id: str = Field(primary_key=True, max_length=40)
    participant_id: str = Field(primary_key=True, max_length=64)
    display_name: str | None = Field(default=None, max_length=120)
    role: str = Field(max_length=20)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=20)
    postal_address: str | None = Field(default=None, max_length=400)
    consent_to_contact: bool = False
    preferred_channel: str | None = Field(default=None, max_length=20)
    feedback_frequency: str = Field(default="each_change", max_length=20)
    age_band: str | None = Field(default=None, max_length=20)
    gender: str | None = Field(default=None, max_length=20)
    ethnicity: str | None = Field(default=None, max_length=20)
    disability: str | None = Field(default=None, max_length=20)
    region: str | None = Field(default=None, max_length=20)
    registered_at: datetime
    erased: bool = False


class Activity(SQLModel, table=True):
    __table_args__ = (Index("ix_activity_org_day", "org_id", "held_on"),)

    org_id: str = Field(primary_key=True, max_length=40)
    activity_id: str = Field(primary_key=True, max_length=64)
    title: str = Field(max_length=200)
    area: str = Field(max_length=20)
    level: str = Field(max_length=20)
    held_on: date
    duration_hours: float


class Attendance(SQLModel, table=True):
    __table_args__ = (
        Index("ix_attendance_org_day", "org_id", "attended_on"),
        Index("ix_attendance_org_participant", "org_id", "participant_id"),
    )

    event_id: str = Field(primary_key=True, max_length=36)
    org_id: str = Field(max_length=40)
    activity_id: str = Field(max_length=64)
    participant_id: str = Field(max_length=64)
    hours: float
    session_role: str = Field(max_length=20)
    attended_on: date


class Contribution(SQLModel, table=True):
    __table_args__ = (Index("ix_contribution_org_day", "org_id", "made_on"),)

    org_id: str = Field(primary_key=True, max_length=40)
    contribution_id: str = Field(primary_key=True, max_length=64)
    activity_id: str | None = Field(default=None, max_length=64)
    area: str = Field(max_length=20)
    text: str = Field(max_length=4000)
    made_on: date


class ContributionParticipant(SQLModel, table=True):
    __table_args__ = (Index("ix_contributionparticipant_org_participant", "org_id", "participant_id"),)

    org_id: str = Field(primary_key=True, max_length=40)
    contribution_id: str = Field(primary_key=True, max_length=64)
    participant_id: str = Field(primary_key=True, max_length=64)


class Change(SQLModel, table=True):
    __table_args__ = (Index("ix_change_org_decided", "org_id", "decided_on"),)

    org_id: str = Field(primary_key=True, max_length=40)
    change_id: str = Field(primary_key=True, max_length=64)
    area: str = Field(max_length=20)
    title: str = Field(max_length=200)
    description: str = Field(max_length=4000)
    status: str = Field(max_length=20)
    status_note: str | None = Field(default=None, max_length=2000)
    recorded_on: date
    decided_on: date | None = None


class ChangeLink(SQLModel, table=True):
    """A contribution that influenced a change, with the strength of that influence."""

    # from a person's contributions to the changes they influenced (the feedback loop's way in)
    __table_args__ = (Index("ix_changelink_org_contribution", "org_id", "contribution_id"),)

    org_id: str = Field(primary_key=True, max_length=40)
    change_id: str = Field(primary_key=True, max_length=64)
    contribution_id: str = Field(primary_key=True, max_length=64)
    strength: str = Field(max_length=20)


class Feedback(SQLModel, table=True):
    """One participant told what came of what they said about one change (`feedback.sent`)."""

    __table_args__ = (Index("ix_feedback_org_participant_change", "org_id", "participant_id", "change_id"),)

    event_id: str = Field(primary_key=True, max_length=36)
    change_id: str = Field(primary_key=True, max_length=64)
    org_id: str = Field(index=True, max_length=40)
    participant_id: str = Field(max_length=64)
    channel: str = Field(max_length=20)
    sent_at: datetime


class RecordVersion(SQLModel, table=True):
    """One version of a record: how it was first recorded, and each correction since (what, when, by whom, why).

    `detail` is JSON: the record's fields as of this version for activities, contributions and changes (a page
    shows what changed by comparing a version with the one before); for a participant only the names of the
    fields that changed, never their values, so erasure leaves nothing personal here; for a withdrawn
    attendance the person and the attendance withdrawn.
    """

    __tablename__ = "record_version"
    __table_args__ = (Index("ix_record_version_record", "org_id", "kind", "record_id"),)

    event_id: str = Field(primary_key=True, max_length=36)
    org_id: str = Field(max_length=40)
    kind: str = Field(max_length=20)  # participant, activity, contribution, change
    record_id: str = Field(max_length=64)
    type: str = Field(max_length=40)  # the event type
    recorded_at: datetime
    recorded_by: str = Field(max_length=200)
    reason: str | None = Field(default=None, max_length=500)
    detail: str = "{}"


class DeadLetter(SQLModel, table=True):
    """An event the processors could not accept, with the reason a staff member can act on."""

    __table_args__ = (Index("ix_deadletter_org_day", "org_id", "recorded_on"),)

    event_id: str = Field(primary_key=True, max_length=36)
    org_id: str = Field(index=True, max_length=40)
    type: str = Field(max_length=40)
    expectation: str = Field(max_length=120)
    reason: str = Field(max_length=500)
    event_json: str
    log_partition: int
    log_offset: int
    recorded_on: date | None = None  # when ingest accepted it (None: unreadable)
    dead_at: datetime
    resolved_by: str | None = Field(default=None, max_length=36)  # the event that corrected or superseded it


class ParkedEvent(SQLModel, table=True):
    """An event waiting for a reference that may still arrive (producers' order is not guaranteed).

    Retried after every batch; dead-lettered once the log has moved on past its deadline.
    """

    event_id: str = Field(primary_key=True, max_length=36)
    org_id: str = Field(max_length=40)
    event_json: str  # the event as stored in the log (personal fields sealed)
    log_partition: int
    log_offset: int
    deadline: datetime  # recorded_at + the reference wait
    expectation: str = Field(max_length=120)  # what it is waiting for


class ProcessedEvent(SQLModel, table=True):
    """Every event folded into the read models: a redelivered or retried event_id is a no-op."""

    __table_args__ = (Index("ix_processedevent_org_day", "org_id", "recorded_on"),)

    event_id: str = Field(primary_key=True, max_length=36)
    org_id: str = Field(max_length=40)
    type: str = Field(default="", max_length=40)
    recorded_on: date | None = Field(default=None)


class ConsumerOffset(SQLModel, table=True):
    """The next log offset to read, stored in the same transaction as the rows it produced."""

    group_id: str = Field(primary_key=True, max_length=100)
    topic: str = Field(primary_key=True, max_length=200)
    partition: int = Field(primary_key=True)
    next_offset: int


# Everything the processors build from the log, and so everything a replay empties and rebuilds.
# (Accounts, ingest receipts and the participants' keys are not built from the log: a replay keeps them.)
READ_MODELS: tuple[type[SQLModel], ...] = (
    Participant,
    Activity,
    Attendance,
    Contribution,
    ContributionParticipant,
    Change,
    ChangeLink,
    Feedback,
    RecordVersion,
    DeadLetter,
    ParkedEvent,
    ProcessedEvent,
    ConsumerOffset,
)
