"""The data-quality suite, declared as data: what the processors check on every micro-batch.

The schema models already reject malformed events at the door. These expectations catch what a
single event cannot show on its own: facts that contradict the clock, each other, or the register.
Each expectation names a column of the batch frame (built by processors.frame) and carries the
sentence a staff member sees on the dead letter. Columns that do not apply to an event are null,
and Great Expectations skips nulls.
"""

from dataclasses import dataclass, field
from typing import Any

from schemas.events import CLOCK_SKEW

SUITE_NAME = "involvement_events"
SUITE_VERSION = 1
EARLIEST_YEAR = 2000  # older dates are almost always typing slips ("0225" for "2025")


@dataclass(frozen=True)
class Expectation:
    name: str  # stable key stored on each dead letter
    gx_type: str  # a Great Expectations 1.x expectation class
    kwargs: dict[str, Any] = field(default_factory=dict)
    reason: str = ""


EXPECTATIONS: tuple[Expectation, ...] = (
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
        "A contribution linked to this change has not been recorded for this organisation.",
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

FRAME_COLUMNS: tuple[str, ...] = (
    "event_id",
    "type",
    "org_id",
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
