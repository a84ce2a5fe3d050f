"""Impact metrics (DOMAIN.md, "Impact metrics"): SQL over the read models, one organisation at a time.

Every function takes a `Scope`: one organisation, a period of days `[start, end)` (start included, end
excluded), and optionally one activity `area` and one involvement `level`. Every query filters by
`org_id` first and joins on `org_id` as well as on the identifier, so nothing crosses organisations.
The database aggregates (GROUP BY, COUNT DISTINCT); Python only shapes the few result rows, and
computes medians and day differences from a fetched list bounded to the organisation and the period
(so SQLite and PostgreSQL give identical answers).

    headline(conn, scope) -> Headline            every figure for the whole period
    monthly(conn, scope)  -> list[MonthFigures]  the same figures per calendar month of the period
    trend(conn, scope)    -> list[TrendMonth]    four of them per month, in four grouped queries (for charts)
    area_totals(conn, scope) -> dict[area, AreaTotals]  five of them per area, in five grouped queries
    by_area(conn, scope)  -> dict[area, Headline]  the same figures per activity area (all sixteen)
    reach(conn, scope)    -> {field: {value: participants}}
    data_quality(conn, scope) -> DataQuality     events accepted and rejected, by reason and by month
    report(conn, scope)   -> Report              all of the above
    suppress(count)       -> count or None       the dashboard's small-count rule (never applied here)

Pass a SQLAlchemy `Connection` (from a SQLModel `Session`: `session.connection()`).

Definitions (where DOMAIN.md is silent, the decision is written here):

Dates. An attendance happens on `Attendance.attended_on`, a contribution on `Contribution.made_on`, an
activity on `Activity.held_on`. A month is a calendar month; `monthly` clips the first and last month
to the period, so its months always add up to the period.

Area and level. The area of an activity is `Activity.area`; of an attendance, its activity's area;
of a contribution, `Contribution.area` (not its activity's). The level filter applies to activities,
to attendances via their activity, and to contributions via their activity: with a level filter, a
contribution made outside any activity is excluded. Metrics counted in changes (changes influenced,
days to change, feedback) use the change's own `Change.area`; with a level filter, a change counts
only through its links to contributions at that level.

Participants involved: distinct participants with at least one attendance or contribution in the
period (within the area/level filter). Erased participants are still counted: the count holds no
personal data.

New participants: involved in the period AND their first-ever involvement with the organisation (any
area, any level, all time) is on or after the period's start. Returning participants: involved in the
period AND involved with the organisation (any area, any level) in two or more distinct calendar
months before the period's end. For one month the two partition the month's participants (new:
first involvement this month; returning: also involved in an earlier month), so new + returning =
involved. Over a longer period a participant can be both: first involved in it, and in two of its
months.

Activities: count held in the period. Attendances: count, and involvement hours: sum of
`Attendance.hours` (an attendance is counted through its activity, which the quality gate guarantees).
Contributions: count made in the period.

Changes influenced, by status: changes with at least one linked contribution, by their current
status. A `proposed` change counts in the period holding its `recorded_on`; a decided one (`agreed`,
`implemented`, `declined`) in the period holding its `decided_on`. Every status appears (0 if none).

Influence rate: contributions of the period linked to a change whose current status is `agreed` or
`implemented` (whenever it was decided) ÷ all contributions of the period; None without contributions.

Days to change: the median, over every (contribution, change) link whose change was decided
(`agreed`, `implemented` or `declined`) in the period, of `decided_on - made_on` in days (a change
decided the day of the contribution is 0 days). An even count takes the mean of the middle two.
None without any such link.

Feedback closure rate: over (participant, change) pairs where the change was decided in the period,
the participant made a contribution linked to it, and the participant currently consents to contact
and is not erased: the pairs with at least one `feedback.sent` for that change ÷ all such pairs. A
pair, not a person, is the unit, because each decided change owes its own summary. Consent is the
current state, so a person who withdrew it after being told leaves numerator and denominator alike.
None without any such pair.

Days to feedback: over the closed pairs above, the median of (the date of the first feedback for that
participant and change) - `decided_on`, in days. None without closed pairs.

Level mix: activities of the period at each level (every level listed, 0 if none), and each level's
share of them (None when there are no activities).

Area coverage: how many of the sixteen areas saw involvement in the period: an activity held, an
attendance (its activity's area) or a contribution (its own area). Recording a change is not
involvement and does not count.

Reach: the involved participants (as above) by role and by each voluntary demographic field. An
unanswered field is `not_answered`; "prefer not to say" stays `prefer_not_to_say`. An erased
participant counts as `erased` in every field, role included, so no erased person's details shape a
figure. Each field's counts add up to the participants involved. Only values with a count appear.
Small counts are NOT suppressed here: suppression (1 to 4 shown as "fewer than 5") is the display
rule of the dashboard, which `suppress` provides.

Data quality: events accepted (`ProcessedEvent`, by `recorded_on`, the day ingest recorded them) and
rejected (`DeadLetter`, by `recorded_on`, grouped by `expectation`), per month and overall; how many
rejections were since resolved by a correcting event. Area and level do not apply to events and are
ignored. A dead letter that could not be read has no `recorded_on` and falls in no period.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    Table,
    and_,
    case,
    extract,
    func,
    or_,
    select,
    union,
)
from sqlalchemy.sql.expression import FromClause

from impact.months import add_months, first_of_month
from schemas.readmodels import (
    Activity,
    Attendance,
    Change,
    ChangeLink,
    Contribution,
    ContributionParticipant,
    DeadLetter,
    Feedback,
    Participant,
    ProcessedEvent,
)
from schemas.vocab import (
    DECIDED_STATUSES,
    INFLUENCING_STATUSES,
    AgeBand,
    Area,
    ChangeStatus,
    Disability,
    Ethnicity,
    Gender,
    Level,
    ParticipantRole,
    Region,
)

SMALL_COUNT = 5  # a displayed count of people below this could identify someone (DOMAIN.md, privacy rules)
NOT_ANSWERED = "not_answered"  # a voluntary field left empty
ERASED = "erased"  # a participant who exercised the right to erasure
UNKNOWN = "unknown"  # an involved participant_id with no register entry (the quality gate prevents it)

AREAS: tuple[str, ...] = tuple(area.value for area in Area)
LEVELS: tuple[str, ...] = tuple(level.value for level in Level)
STATUSES: tuple[str, ...] = tuple(status.value for status in ChangeStatus)
_DECIDED = sorted(status.value for status in DECIDED_STATUSES)
_INFLUENCING = sorted(status.value for status in INFLUENCING_STATUSES)

# The reach fields, each with its vocabulary in display order.
REACH_FIELDS: dict[str, tuple[str, ...]] = {
    "role": tuple(v.value for v in ParticipantRole),
    "age_band": tuple(v.value for v in AgeBand),
    "gender": tuple(v.value for v in Gender),
    "ethnicity": tuple(v.value for v in Ethnicity),
    "disability": tuple(v.value for v in Disability),
    "region": tuple(v.value for v in Region),
}


def _table(model: type[Any]) -> Table:
    return cast(Table, model.__table__)


A, AT, C, CP = _table(Activity), _table(Attendance), _table(Contribution), _table(ContributionParticipant)
CH, CL, FB, P = _table(Change), _table(ChangeLink), _table(Feedback), _table(Participant)
PE, DL = _table(ProcessedEvent), _table(DeadLetter)


# --- The scope and the figures ------------------------------------------------------------------


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


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _median(values: Sequence[int]) -> float | None:
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
        return _rate(self.influenced_contributions, self.contributions)

    @property
    def feedback_closure_rate(self) -> float | None:
        return _rate(self.feedback_sent, self.feedback_due)

    @property
    def level_share(self) -> dict[str, float | None]:
        total = sum(self.level_mix.values())
        return {level: _rate(count, total) for level, count in self.level_mix.items()}

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
        return _rate(self.rejected, self.accepted + self.rejected)


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


# --- Query building blocks ----------------------------------------------------------------------


def _during(column: Any, scope: Scope) -> ColumnElement[bool]:
    return and_(column >= scope.start, column < scope.end)


def _same(left: Table, right: Table, key: str) -> ColumnElement[bool]:
    """A join on the organisation and one identifier (never on the identifier alone)."""
    return and_(left.c.org_id == right.c.org_id, left.c[key] == right.c[key])


def _activities(scope: Scope, *columns: Any) -> Select[Any]:
    query = select(*columns).where(A.c.org_id == scope.org_id, _during(A.c.held_on, scope))
    if scope.area:
        query = query.where(A.c.area == scope.area)
    if scope.level:
        query = query.where(A.c.level == scope.level)
    return query


def _attendances(scope: Scope, *columns: Any) -> Select[Any]:
    """Attendances of the scope, joined to their activity (which carries the area and the level)."""
    query = (
        select(*columns)
        .select_from(AT.join(A, _same(A, AT, "activity_id")))
        .where(AT.c.org_id == scope.org_id, _during(AT.c.attended_on, scope))
    )
    if scope.area:
        query = query.where(A.c.area == scope.area)
    if scope.level:
        query = query.where(A.c.level == scope.level)
    return query


def _contributions(scope: Scope, *columns: Any, people: bool = False) -> Select[Any]:
    """Contributions of the scope; with `people`, one row per contributing participant."""
    joined: FromClause = C
    if people:
        joined = joined.join(CP, _same(CP, C, "contribution_id"))
    if scope.level:
        joined = joined.join(A, _same(A, C, "activity_id"))
    query = select(*columns).select_from(joined).where(C.c.org_id == scope.org_id, _during(C.c.made_on, scope))
    if scope.area:
        query = query.where(C.c.area == scope.area)
    if scope.level:
        query = query.where(A.c.level == scope.level)
    return query


def _involved(scope: Scope) -> Any:
    """The distinct participants involved in the scope (one column, `pid`)."""
    return union(
        _attendances(scope, AT.c.participant_id.label("pid")),
        _contributions(scope, CP.c.participant_id.label("pid"), people=True),
    ).subquery("involved")


def _linked_changes(scope: Scope) -> FromClause:
    """Changes joined to their links and the linked contributions (and, with a level, their activities)."""
    joined = CH.join(CL, _same(CL, CH, "change_id")).join(C, _same(C, CL, "contribution_id"))
    if scope.level:
        joined = joined.join(A, _same(A, C, "activity_id"))
    return joined


def _changes_where(scope: Scope, query: Select[Any], *, decided_only: bool) -> Select[Any]:
    decided = and_(CH.c.status.in_(_DECIDED), _during(CH.c.decided_on, scope))
    proposed = and_(CH.c.status == ChangeStatus.proposed.value, _during(CH.c.recorded_on, scope))
    query = query.where(CH.c.org_id == scope.org_id, decided if decided_only else or_(decided, proposed))
    if scope.area:
        query = query.where(CH.c.area == scope.area)
    if scope.level:
        query = query.where(A.c.level == scope.level)
    return query


def _day(value: date | datetime) -> date:
    if isinstance(value, datetime):
        return (value.astimezone(UTC) if value.tzinfo else value).date()
    return value


# --- The figures ----------------------------------------------------------------------------------


def _involved_before(org_id: str, pid: Any, before: date, other_than_month: Any = None) -> ColumnElement[bool]:
    """Was participant `pid` (a column of the enclosing query) involved with the organisation, in any area
    at any level, before `before` (and, if given, in a month other than `other_than_month`)? An index probe
    per person, which stops at the first such involvement, rather than a read of their whole history."""
    attended = select(AT.c.event_id).where(AT.c.org_id == org_id, AT.c.participant_id == pid, AT.c.attended_on < before)
    said = (
        select(C.c.contribution_id)
        .select_from(CP.join(C, _same(C, CP, "contribution_id")))
        .where(CP.c.org_id == org_id, CP.c.participant_id == pid, C.c.made_on < before)
    )
    if other_than_month is not None:
        attended = attended.where(_month_number(AT.c.attended_on) != other_than_month)
        said = said.where(_month_number(C.c.made_on) != other_than_month)
    return or_(attended.exists(), said.exists())


def _people(conn: Connection, scope: Scope) -> tuple[int, int, int]:
    """(involved, new, returning) participants, in one query.

    New: no involvement before the period's start. Returning: involved in two or more distinct months up to
    the period's end, that is, involved (any area, any level) before the end in a month other than the
    first month they were involved in within the scope.
    """
    days = union(
        _attendances(scope, AT.c.participant_id.label("pid"), AT.c.attended_on.label("day")),
        _contributions(scope, CP.c.participant_id.label("pid"), C.c.made_on.label("day"), people=True),
    ).subquery("involved_days")
    person = (
        select(days.c.pid.label("pid"), func.min(_month_number(days.c.day)).label("month"))
        .group_by(days.c.pid)
        .subquery("person")
    )
    new = ~_involved_before(scope.org_id, person.c.pid, scope.start)
    returning = _involved_before(scope.org_id, person.c.pid, scope.end, person.c.month)
    counted = select(
        func.count(),
        func.coalesce(func.sum(case((new, 1), else_=0)), 0),
        func.coalesce(func.sum(case((returning, 1), else_=0)), 0),
    ).select_from(person)
    total, new_people, returning_people = conn.execute(counted).one()
    return int(total), int(new_people), int(returning_people)


def _changes_by_status(conn: Connection, scope: Scope) -> dict[str, int]:
    query = select(CH.c.status, func.count(func.distinct(CH.c.change_id))).select_from(_linked_changes(scope))
    rows = conn.execute(_changes_where(scope, query, decided_only=False).group_by(CH.c.status))
    counts = dict.fromkeys(STATUSES, 0)
    counts.update({status: count for status, count in rows})
    return counts


def _influenced(conn: Connection, scope: Scope) -> int:
    influencing = (
        select(CL.c.contribution_id)
        .select_from(CL.join(CH, _same(CH, CL, "change_id")))
        .where(CL.c.org_id == scope.org_id, CH.c.status.in_(_INFLUENCING))
    )
    query = _contributions(scope, func.count()).where(C.c.contribution_id.in_(influencing))
    return int(conn.execute(query).scalar_one())


def _days_to_change(conn: Connection, scope: Scope) -> list[int]:
    query = select(C.c.made_on, CH.c.decided_on).select_from(_linked_changes(scope))
    rows = conn.execute(_changes_where(scope, query, decided_only=True))
    return [(_day(decided) - _day(made)).days for made, decided in rows]


def feedback_pairs(scope: Scope, *columns: Any) -> Any:
    """Every (participant, decided change) pair owed a summary in the scope, as a subquery: `pid`,
    `change_id`, `decided`, any labelled `columns` of the change (or its links), and `sent`, the time of the
    first summary (NULL while none was sent). See "Feedback closure rate" above."""
    owed = _changes_where(
        scope,
        select(
            CP.c.participant_id.label("pid"),
            CH.c.change_id.label("change_id"),
            CH.c.decided_on.label("decided"),
            *columns,
        )
        .distinct()
        .select_from(
            _linked_changes(scope).join(CP, _same(CP, C, "contribution_id")).join(P, _same(P, CP, "participant_id"))
        )
        .where(P.c.consent_to_contact.is_(True), P.c.erased.is_(False)),
        decided_only=True,
    ).subquery("owed")
    first = (
        select(FB.c.participant_id, FB.c.change_id, func.min(FB.c.sent_at).label("sent"))
        .where(FB.c.org_id == scope.org_id, FB.c.change_id.in_(select(owed.c.change_id)))
        .group_by(FB.c.participant_id, FB.c.change_id)
        .subquery("first_sent")
    )
    told = and_(first.c.participant_id == owed.c.pid, first.c.change_id == owed.c.change_id)
    return select(owed, first.c.sent.label("sent")).select_from(owed.outerjoin(first, told)).subquery("pairs")


def _feedback(conn: Connection, scope: Scope) -> tuple[int, list[int]]:
    """(pairs owed a summary, days from decision to first summary for each pair that was sent one)."""
    pairs = feedback_pairs(scope)
    rows = conn.execute(select(pairs.c.decided, pairs.c.sent)).all()
    return len(rows), [(_day(sent) - _day(decided)).days for decided, sent in rows if sent is not None]


def _areas_covered(conn: Connection, scope: Scope) -> tuple[str, ...]:
    areas = union(
        _activities(scope, A.c.area.label("area")),
        _attendances(scope, A.c.area.label("area")),
        _contributions(scope, C.c.area.label("area")),
    )
    found = set(conn.execute(areas).scalars())
    return tuple(area for area in AREAS if area in found)


def headline(conn: Connection, scope: Scope) -> Headline:
    """Every figure for the whole period of `scope`."""
    involved, new, returning = _people(conn, scope)
    activities = conn.execute(_activities(scope, func.count())).scalar_one()
    attendances, hours = conn.execute(_attendances(scope, func.count(), func.coalesce(func.sum(AT.c.hours), 0))).one()
    contributions = conn.execute(_contributions(scope, func.count())).scalar_one()
    to_change = _days_to_change(conn, scope)
    owed, to_feedback = _feedback(conn, scope)
    levels = dict.fromkeys(LEVELS, 0)
    levels.update(
        {level: count for level, count in conn.execute(_activities(scope, A.c.level, func.count()).group_by(A.c.level))}
    )
    return Headline(
        participants_involved=involved,
        new_participants=new,
        returning_participants=returning,
        activities=activities,
        attendances=attendances,
        involvement_hours=float(hours),
        contributions=contributions,
        changes_influenced=_changes_by_status(conn, scope),
        influenced_contributions=_influenced(conn, scope) if contributions else 0,
        days_to_change=_median(to_change),
        change_links_decided=len(to_change),
        feedback_due=owed,
        feedback_sent=len(to_feedback),
        days_to_feedback=_median(to_feedback),
        level_mix=levels,
        areas_covered=_areas_covered(conn, scope),
    )


def monthly(conn: Connection, scope: Scope) -> list[MonthFigures]:
    """The figures of each calendar month the period touches, first and last month clipped to the period."""
    return [MonthFigures(first_of_month(month.start), headline(conn, month)) for month in scope.months()]


@dataclass(frozen=True)
class TrendMonth:
    """The figures a trend chart draws for one month (the same as `monthly`'s, clipped to the period)."""

    month: date
    participants_involved: int = 0
    involvement_hours: float = 0.0
    contributions: int = 0
    changes_influenced: int = 0


def _month_number(column: Any) -> Any:
    """A month as one integer (year * 12 + month - 1), on SQLite and PostgreSQL alike."""
    return extract("year", column) * 12 + extract("month", column) - 1


def _month_of(column: Any) -> Any:
    return _month_number(column).label("month")


def trend(conn: Connection, scope: Scope) -> list[TrendMonth]:
    """Participants involved, hours, contributions and changes influenced per month: `monthly`'s figures,
    grouped by month in four queries rather than a dozen per month, so a long period stays fast."""
    counts: dict[str, dict[int, Any]] = {}

    def grouped(name: str, query: Select[Any], month: Any) -> None:
        counts[name] = {int(key): value for key, value in conn.execute(query.group_by(month))}

    month = _month_of(C.c.made_on)
    grouped("contributions", _contributions(scope, month, func.count()), month)
    month = _month_of(AT.c.attended_on)
    grouped("hours", _attendances(scope, month, func.coalesce(func.sum(AT.c.hours), 0)), month)
    involved = union(
        _attendances(scope, AT.c.participant_id.label("pid"), AT.c.attended_on.label("day")),
        _contributions(scope, CP.c.participant_id.label("pid"), C.c.made_on.label("day"), people=True),
    ).subquery("involved_days")
    month = _month_of(involved.c.day)
    people = select(month, func.count(func.distinct(involved.c.pid))).select_from(involved)
    grouped("people", people, month)
    counted_on = case((CH.c.status == ChangeStatus.proposed.value, CH.c.recorded_on), else_=CH.c.decided_on)
    month = _month_of(counted_on)
    changes = select(month, func.count(func.distinct(CH.c.change_id))).select_from(_linked_changes(scope))
    grouped("changes", _changes_where(scope, changes, decided_only=False), month)

    months = []
    for part in scope.months():
        key = part.start.year * 12 + part.start.month - 1
        months.append(
            TrendMonth(
                month=first_of_month(part.start),
                participants_involved=int(counts["people"].get(key, 0)),
                involvement_hours=float(counts["hours"].get(key, 0)),
                contributions=int(counts["contributions"].get(key, 0)),
                changes_influenced=int(counts["changes"].get(key, 0)),
            )
        )
    return months


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


def area_totals(conn: Connection, scope: Scope) -> dict[str, AreaTotals]:
    """People, activities, hours, contributions and changes influenced of each of the sixteen areas (only
    `scope.area` with one): `by_area`'s figures, grouped by area in five queries rather than a dozen per area."""

    def grouped(query: Select[Any], key: Any) -> dict[str, Any]:
        return {area: value for area, value in conn.execute(query.group_by(key))}

    activities = grouped(_activities(scope, A.c.area, func.count()), A.c.area)
    hours = grouped(_attendances(scope, A.c.area, func.coalesce(func.sum(AT.c.hours), 0)), A.c.area)
    contributions = grouped(_contributions(scope, C.c.area, func.count()), C.c.area)
    involved = union(
        _attendances(scope, AT.c.participant_id.label("pid"), A.c.area.label("area")),
        _contributions(scope, CP.c.participant_id.label("pid"), C.c.area.label("area"), people=True),
    ).subquery("involved_areas")
    people = grouped(
        select(involved.c.area, func.count(func.distinct(involved.c.pid))).select_from(involved), involved.c.area
    )
    linked = select(CH.c.area, func.count(func.distinct(CH.c.change_id))).select_from(_linked_changes(scope))
    changes = grouped(_changes_where(scope, linked, decided_only=False), CH.c.area)
    wanted = (scope.area,) if scope.area else AREAS
    return {
        area: AreaTotals(
            participants_involved=int(people.get(area, 0)),
            activities=int(activities.get(area, 0)),
            involvement_hours=float(hours.get(area, 0)),
            contributions=int(contributions.get(area, 0)),
            changes_influenced=int(changes.get(area, 0)),
        )
        for area in wanted
    }


def by_area(conn: Connection, scope: Scope) -> dict[str, Headline]:
    """The figures of each of the sixteen areas (only `scope.area` if the scope has one), in vocabulary order.

    Areas without an activity, attendance, contribution or change in the period get zeros without a query.
    """
    wanted = (scope.area,) if scope.area else AREAS
    busy = union(
        _activities(scope, A.c.area.label("area")),
        _attendances(scope, A.c.area.label("area")),
        _contributions(scope, C.c.area.label("area")),
        _changes_where(scope, select(CH.c.area.label("area")).select_from(_linked_changes(scope)), decided_only=False),
    )
    active = set(conn.execute(busy).scalars())
    return {area: headline(conn, replace(scope, area=area)) if area in active else Headline() for area in wanted}


def reach(conn: Connection, scope: Scope) -> dict[str, dict[str, int]]:
    """Involved participants by role and by each voluntary demographic field (no suppression here)."""
    involved = _involved(scope)
    fields = [P.c[name] for name in REACH_FIELDS]
    query = (
        select(P.c.erased, *fields, func.count())
        .select_from(involved.outerjoin(P, and_(P.c.org_id == scope.org_id, P.c.participant_id == involved.c.pid)))
        .group_by(P.c.erased, *fields)
    )
    counts: dict[str, Counter[str]] = {name: Counter() for name in REACH_FIELDS}
    for erased, *values, count in conn.execute(query):
        for name, value in zip(REACH_FIELDS, values, strict=True):
            if erased is None:
                bucket = UNKNOWN
            elif erased:
                bucket = ERASED
            else:
                bucket = value if value is not None else NOT_ANSWERED
            counts[name][bucket] += count
    order = {name: (*vocabulary, NOT_ANSWERED, ERASED, UNKNOWN) for name, vocabulary in REACH_FIELDS.items()}
    return {
        name: {value: counts[name][value] for value in _ordered(counts[name], order[name])} for name in REACH_FIELDS
    }


def _ordered(counted: Counter[str], order: Iterable[str]) -> list[str]:
    known = [value for value in order if counted[value]]
    return known + sorted(value for value in counted if value not in known and counted[value])


def data_quality(conn: Connection, scope: Scope) -> DataQuality:
    """Events accepted and rejected (by expectation) in the period, per month and overall.

    Grouped by day in SQL (so at most one row per day, type and reason) and summed into months here.
    """
    months = {first_of_month(month.start): month for month in scope.months()}
    accepted: dict[date, int] = defaultdict(int)
    by_type: Counter[str] = Counter()
    day_type = select(PE.c.recorded_on, PE.c.type, func.count()).where(
        PE.c.org_id == scope.org_id, _during(PE.c.recorded_on, scope)
    )
    for day, type_, count in conn.execute(day_type.group_by(PE.c.recorded_on, PE.c.type)):
        accepted[first_of_month(_day(day))] += count
        by_type[type_] += count
    rejected: dict[date, Counter[str]] = defaultdict(Counter)
    resolved = 0
    day_reason = select(DL.c.recorded_on, DL.c.expectation, func.count(), func.count(DL.c.resolved_by)).where(
        DL.c.org_id == scope.org_id, _during(DL.c.recorded_on, scope)
    )
    for day, expectation, count, fixed in conn.execute(day_reason.group_by(DL.c.recorded_on, DL.c.expectation)):
        rejected[first_of_month(_day(day))][expectation] += count
        resolved += fixed
    reasons: Counter[str] = sum(rejected.values(), Counter())
    return DataQuality(
        accepted=sum(accepted.values()),
        rejected=sum(reasons.values()),
        rejected_by_reason=dict(sorted(reasons.items(), key=lambda item: (-item[1], item[0]))),
        accepted_by_type=dict(sorted(by_type.items())),
        resolved=resolved,
        months=[
            QualityMonth(
                month=month,
                accepted=accepted.get(month, 0),
                rejected=sum(rejected[month].values()) if month in rejected else 0,
                rejected_by_reason=dict(sorted(rejected[month].items())) if month in rejected else {},
            )
            for month in months
        ],
    )


def report(conn: Connection, scope: Scope) -> Report:
    """Everything for one scope: the period, its months, its areas, its reach and its data quality."""
    return Report(
        headline=headline(conn, scope),
        months=monthly(conn, scope),
        areas=by_area(conn, scope),
        reach=reach(conn, scope),
        quality=data_quality(conn, scope),
    )
