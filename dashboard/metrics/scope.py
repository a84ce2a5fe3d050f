"""The scope of a query and the figures it returns: plain frozen dataclasses, and the small-count rule."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date

from impact.months import add_months, first_of_month
from schemas.vocab import AgeBand, Area, ChangeStatus, Disability, Ethnicity, Gender, Level, ParticipantRole, Region

SMALL_COUNT = 5  # a displayed count of people below this could identify someone (DOMAIN.md, privacy rules)
NOT_ANSWERED = "not_answered"  # a voluntary field left empty
ERASED = "erased"  # a participant who exercised the right to erasure
UNKNOWN = "unknown"  # an involved participant_id with no register entry (the quality gate prevents it)

AREAS: tuple[str, ...] = tuple(area.value for area in Area)
LEVELS: tuple[str, ...] = tuple(level.value for level in Level)
STATUSES: tuple[str, ...] = tuple(status.value for status in ChangeStatus)

# The reach fields, each with its vocabulary in display order.
REACH_FIELDS: dict[str, tuple[str, ...]] = {
    "role": tuple(v.value for v in ParticipantRole),
    "age_band": tuple(v.value for v in AgeBand),
    "gender": tuple(v.value for v in Gender),
    "ethnicity": tuple(v.value for v in Ethnicity),
    "disability": tuple(v.value for v in Disability),
    "region": tuple(v.value for v in Region),
}


@dataclass(frozen=True)
class Scope:
    """One organisation over the days `[start, end)`, optionally one area and one level of involvement."""

    org_id: str
    start: date
    end: date
    area: str | None = None
    level: str | None = None

    def __post_init__(self) -> None:
        if not self.org_id:
            raise ValueError("a scope needs an organisation")
        if self.end < self.start:
            raise ValueError(f"the period ends ({self.end}) before it starts ({self.start})")
        if self.area is not None and self.area not in AREAS:
            raise ValueError(f"unknown area {self.area!r}")
        if self.level is not None and self.level not in LEVELS:
            raise ValueError(f"unknown level {self.level!r}")

    def months(self) -> list[Scope]:
        """The period cut at calendar months: one scope per month it touches, clipped to the period."""
        scopes, month = [], first_of_month(self.start)
        while month < self.end:
            following = add_months(month, 1)
            scopes.append(replace(self, start=max(self.start, month), end=min(self.end, following)))
            month = following
        return scopes


def rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def median(values: Sequence[int]) -> float | None:
    return float(statistics.median(values)) if values else None


@dataclass(frozen=True)
class Headline:
    """Every impact figure of one scope (see the module's docstring for each definition)."""

    participants_involved: int = 0
    new_participants: int = 0
    returning_participants: int = 0
    activities: int = 0
    attendances: int = 0
    involvement_hours: float = 0.0
    contributions: int = 0
    changes_influenced: Mapping[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    influenced_contributions: int = 0  # contributions linked to an agreed or implemented change
    days_to_change: float | None = None
    change_links_decided: int = 0  # how many (contribution, decided change) links the median is over
    feedback_due: int = 0  # (participant, change) pairs owed a summary
    feedback_sent: int = 0  # of those, the pairs that were sent one
    days_to_feedback: float | None = None
    level_mix: Mapping[str, int] = field(default_factory=lambda: dict.fromkeys(LEVELS, 0))
    areas_covered: tuple[str, ...] = ()

    @property
    def changes_influenced_total(self) -> int:
        return sum(self.changes_influenced.values())

    @property
    def influence_rate(self) -> float | None:
        return rate(self.influenced_contributions, self.contributions)

    @property
    def feedback_closure_rate(self) -> float | None:
        return rate(self.feedback_sent, self.feedback_due)

    @property
    def level_share(self) -> dict[str, float | None]:
        total = sum(self.level_mix.values())
        return {level: rate(count, total) for level, count in self.level_mix.items()}

    @property
    def area_coverage(self) -> int:
        return len(self.areas_covered)


@dataclass(frozen=True)
class MonthFigures:
    """One calendar month of the period (`month` is its first day; the figures are clipped to the period)."""

    month: date
    figures: Headline


@dataclass(frozen=True)
class QualityMonth:
    month: date
    accepted: int = 0
    rejected: int = 0
    rejected_by_reason: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class DataQuality:
    """Events accepted and rejected in the period, overall and per month."""

    accepted: int
    rejected: int
    rejected_by_reason: Mapping[str, int]  # expectation -> count, most frequent first
    accepted_by_type: Mapping[str, int]  # event type -> count
    resolved: int  # rejections since corrected or superseded by another event
    months: list[QualityMonth]

    @property
    def rejection_rate(self) -> float | None:
        return rate(self.rejected, self.accepted + self.rejected)


@dataclass(frozen=True)
class Report:
    headline: Headline
    months: list[MonthFigures]
    areas: dict[str, Headline]
    reach: dict[str, dict[str, int]]
    quality: DataQuality


def suppress(count: int, threshold: int = SMALL_COUNT) -> int | None:
    """The count of people to display, or None when it is small enough (1 to threshold-1) to identify someone."""
    return None if 0 < count < threshold else count


@dataclass(frozen=True)
class TrendMonth:
    """The figures a trend chart draws for one month (the same as `monthly`'s, clipped to the period)."""

    month: date
    participants_involved: int = 0
    involvement_hours: float = 0.0
    contributions: int = 0
    changes_influenced: int = 0


@dataclass(frozen=True)
class AreaTotals:
    """The figures of one activity area that a table of areas shows (the same as `by_area`'s)."""

    participants_involved: int = 0
    activities: int = 0
    involvement_hours: float = 0.0
    contributions: int = 0
    changes_influenced: int = 0

    @property
    def any(self) -> bool:
        return bool(self.participants_involved or self.activities or self.contributions or self.changes_influenced)
