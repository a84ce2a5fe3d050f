"""The data-quality suite, declared as data: what the processors check on every micro-batch.

The schema models already reject malformed events at the door; the first expectations check the same
on every event read from the log, whoever put it there. The rest catch what a single event cannot
show on its own: facts that contradict the clock, each other, or the register. Each expectation
names a column of the batch frame (built by processors.frame) and carries the sentence a staff
member sees on the dead letter. Columns that do not apply to an event are null, and Great
Expectations skips nulls.
"""

from dataclasses import dataclass, field
from typing import Any

from schemas.fields import CLOCK_SKEW, MAX_HOURS
from schemas.vocab import Area, ChangeStatus, Level, ParticipantRole

SUITE_NAME = "involvement_events"
SUITE_VERSION = 2  # 2: the single-event checks (type, required fields, vocabularies, hours, dates)
EARLIEST_YEAR = 2000  # older dates are almost always typing slips ("0225" for "2025")


@dataclass(frozen=True)
class Expectation:
    name: str  # stable key stored on each dead letter
    gx_type: str  # a Great Expectations 1.x expectation class
    kwargs: dict[str, Any] = field(default_factory=dict)
    reason: str = ""


EXPECTATIONS: tuple[Expectation, ...] = (
    # What one event shows on its own. Ingest checks the same at the door; these catch what reaches the
    # log another way (another producer on the topic, an old client, a hand-made fix).
    Expectation(
        "known_type",
        "ExpectColumnValuesToBeInSet",
        {"column": "known_type", "value_set": [True]},
        "This kind of record is not one the system knows; check the record type.",
    ),
    Expectation(
        "required_fields",
        "ExpectColumnValuesToBeInSet",
        {"column": "required_present", "value_set": [True]},
        "A field this kind of record needs is missing; fill in every required field.",
    ),
    Expectation(
        "area_in_vocabulary",
        "ExpectColumnValuesToBeInSet",
        {"column": "area", "value_set": [area.value for area in Area]},
        "The area is not one of the sixteen activity areas; choose one of them.",
    ),
    Expectation(
        "level_in_vocabulary",
        "ExpectColumnValuesToBeInSet",
        {"column": "level", "value_set": [level.value for level in Level]},
        "The level of involvement must be consultation, co-production or user-led.",
    ),
    Expectation(
        "role_in_vocabulary",
        "ExpectColumnValuesToBeInSet",
        {"column": "role", "value_set": [role.value for role in ParticipantRole]},
        "The person's role must be service user, patient, carer or other.",
    ),
    Expectation(
        "status_in_vocabulary",
        "ExpectColumnValuesToBeInSet",
        {"column": "status", "value_set": [status.value for status in ChangeStatus]},
        "The status of a change must be proposed, agreed, implemented or declined.",
    ),
    Expectation(
        "hours_in_range",
        "ExpectColumnValuesToBeBetween",
        {"column": "hours", "min_value": 0, "max_value": MAX_HOURS, "strict_min": True},
        f"The hours must be more than 0 and at most {MAX_HOURS:g}.",
    ),
    Expectation(
        "not_already_recorded",
        "ExpectColumnValuesToBeInSet",
        {"column": "already_recorded", "value_set": [False]},
        "Something with this ID was already recorded; each ID is recorded once, so use a new ID for a new record.",
    ),
    Expectation(
        "participant_registered",
        "ExpectColumnValuesToBeInSet",
        {"column": "participants_known", "value_set": [True]},
        "A participant named here is not registered with this organisation; register them first.",
    ),
    Expectation(
        "activity_recorded",
        "ExpectColumnValuesToBeInSet",
        {"column": "activity_known", "value_set": [True]},
        "The activity named here has not been recorded for this organisation; record it first.",
    ),
    Expectation(
        "contributions_recorded",
        "ExpectColumnValuesToBeInSet",
        {"column": "contributions_known", "value_set": [True]},
        "A contribution named here has not been recorded for this organisation; record it first.",
    ),
    Expectation(
        "change_recorded",
        "ExpectColumnValuesToBeInSet",
        {"column": "change_known", "value_set": [True]},
        "The change named here has not been recorded for this organisation; record it first.",
    ),
    Expectation(
        "not_after_recording",
        "ExpectColumnValuesToBeBetween",
        {"column": "lead_seconds", "max_value": CLOCK_SKEW.total_seconds()},
        "The date it happened is later than the moment it was recorded; check the date.",
    ),
    Expectation(
        "dates_not_ahead",
        "ExpectColumnValuesToBeBetween",
        {"column": "days_ahead", "max_value": 1},
        "A date in this record is after the day it was recorded; check the date.",
    ),
    Expectation(
        "plausible_year",
        "ExpectColumnValuesToBeBetween",
        {"column": "year", "min_value": EARLIEST_YEAR},
        f"The date is before {EARLIEST_YEAR}; it is probably a typing slip in the year.",
    ),
    Expectation(
        "hours_within_activity",
        "ExpectColumnValuesToBeBetween",
        {"column": "hours_beyond_activity", "max_value": 0},
        "The hours recorded for this person are longer than the activity itself lasted.",
    ),
)

# Failures that may only mean the event arrived before the one it refers to: such an event waits.
WAIT_FOR = frozenset({"participant_registered", "activity_recorded", "contributions_recorded", "change_recorded"})

FRAME_COLUMNS: tuple[str, ...] = (
    "event_id",
    "type",
    "org_id",
    "known_type",
    "required_present",
    "area",
    "level",
    "role",
    "status",
    "hours",
    "days_ahead",
    "lead_seconds",
    "year",
    "hours_beyond_activity",
    "already_recorded",
    "participants_known",
    "activity_known",
    "contributions_known",
    "change_known",
)

SCHEMA_REASON = "The event does not match its type's schema, so it could not be read."
