"""The figures of a scope (see dashboard.metrics' docstring for each definition): each function runs a few
grouped queries built from `dashboard.metrics.queries` and shapes the result rows into the dataclasses of
`dashboard.metrics.scope`."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import replace
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, and_, case, func, or_, select, union

from dashboard.metrics.queries import (
    AT,
    CH,
    CL,
    CP,
    DL,
    INFLUENCING,
    PE,
    A,
    C,
    P,
    as_date,
    changes_where,
    during,
    feedback_pairs,
    linked_changes,
    month_number,
    same,
    select_activities,
    select_attendances,
    select_contributions,
    select_involved,
)
from dashboard.metrics.scope import (
    AREAS,
    ERASED,
    LEVELS,
    NOT_ANSWERED,
    REACH_FIELDS,
    STATUSES,
    UNKNOWN,
    AreaTotals,
    DataQuality,
    Headline,
    MonthFigures,
    QualityMonth,
    Report,
    Scope,
    TrendMonth,
    median,
)
from impact.months import first_of_month
from schemas.vocab import ChangeStatus


def _involved_before(org_id: str, pid: Any, before: date, other_than_month: Any = None) -> ColumnElement[bool]:
    """Was participant `pid` (a column of the enclosing query) involved with the organisation, in any area
    at any level, before `before` (and, if given, in a month other than `other_than_month`)? An index probe
    per person, which stops at the first such involvement, rather than a read of their whole history."""
    attended = select(AT.c.event_id).where(AT.c.org_id == org_id, AT.c.participant_id == pid, AT.c.attended_on < before)
    said = (
        select(C.c.contribution_id)
        .select_from(CP.join(C, same(C, CP, "contribution_id")))
        .where(CP.c.org_id == org_id, CP.c.participant_id == pid, C.c.made_on < before)
    )
    if other_than_month is not None:
        attended = attended.where(month_number(AT.c.attended_on) != other_than_month)
        said = said.where(month_number(C.c.made_on) != other_than_month)
    return or_(attended.exists(), said.exists())


def participant_counts(conn: Connection, scope: Scope) -> tuple[int, int, int]:
    """(involved, new, returning) participants, in one query.

    New: no involvement before the period's start. Returning: involved in two or more distinct months up to
    the period's end, that is, involved (any area, any level) before the end in a month other than the
    first month they were involved in within the scope.
    """
    days = union(
        select_attendances(scope, AT.c.participant_id.label("pid"), AT.c.attended_on.label("day")),
        select_contributions(scope, CP.c.participant_id.label("pid"), C.c.made_on.label("day"), people=True),
    ).subquery("involved_days")
    person = (
        select(days.c.pid.label("pid"), func.min(month_number(days.c.day)).label("month"))
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
    query = select(CH.c.status, func.count(func.distinct(CH.c.change_id))).select_from(linked_changes(scope))
    rows = conn.execute(changes_where(scope, query, decided_only=False).group_by(CH.c.status))
    counts = dict.fromkeys(STATUSES, 0)
    counts.update({status: count for status, count in rows})
    return counts


def _influenced(conn: Connection, scope: Scope) -> int:
    influencing = (
        select(CL.c.contribution_id)
        .select_from(CL.join(CH, same(CH, CL, "change_id")))
        .where(CL.c.org_id == scope.org_id, CH.c.status.in_(INFLUENCING))
    )
    query = select_contributions(scope, func.count()).where(C.c.contribution_id.in_(influencing))
    return int(conn.execute(query).scalar_one())


def _days_to_change(conn: Connection, scope: Scope) -> list[int]:
    query = select(C.c.made_on, CH.c.decided_on).select_from(linked_changes(scope))
    rows = conn.execute(changes_where(scope, query, decided_only=True))
    return [(as_date(decided) - as_date(made)).days for made, decided in rows]


def feedback_days(conn: Connection, scope: Scope) -> tuple[int, list[int]]:
    """(pairs owed a summary, days from decision to first summary for each pair that was sent one)."""
    pairs = feedback_pairs(scope)
    rows = conn.execute(select(pairs.c.decided, pairs.c.sent)).all()
    return len(rows), [(as_date(sent) - as_date(decided)).days for decided, sent in rows if sent is not None]


def _areas_covered(conn: Connection, scope: Scope) -> tuple[str, ...]:
    areas = union(
        select_activities(scope, A.c.area.label("area")),
        select_attendances(scope, A.c.area.label("area")),
        select_contributions(scope, C.c.area.label("area")),
    )
    found = set(conn.execute(areas).scalars())
    return tuple(area for area in AREAS if area in found)


def headline(conn: Connection, scope: Scope) -> Headline:
    """Every figure for the whole period of `scope`."""
    involved, new, returning = participant_counts(conn, scope)
    activities = conn.execute(select_activities(scope, func.count())).scalar_one()
    attendances, hours = conn.execute(
        select_attendances(scope, func.count(), func.coalesce(func.sum(AT.c.hours), 0))
    ).one()
    contributions = conn.execute(select_contributions(scope, func.count())).scalar_one()
    to_change = _days_to_change(conn, scope)
    owed, to_feedback = feedback_days(conn, scope)
    levels = dict.fromkeys(LEVELS, 0)
    levels.update(
        {
            level: count
            for level, count in conn.execute(select_activities(scope, A.c.level, func.count()).group_by(A.c.level))
        }
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
        days_to_change=median(to_change),
        change_links_decided=len(to_change),
        feedback_due=owed,
        feedback_sent=len(to_feedback),
        days_to_feedback=median(to_feedback),
        level_mix=levels,
        areas_covered=_areas_covered(conn, scope),
    )


def monthly(conn: Connection, scope: Scope) -> list[MonthFigures]:
    """The figures of each calendar month the period touches, first and last month clipped to the period."""
    return [MonthFigures(first_of_month(month.start), headline(conn, month)) for month in scope.months()]


def _month_of(column: Any) -> Any:
    return month_number(column).label("month")


def trend(conn: Connection, scope: Scope) -> list[TrendMonth]:
    """Participants involved, hours, contributions and changes influenced per month: `monthly`'s figures,
    grouped by month in four queries rather than a dozen per month, so a long period stays fast."""
    counts: dict[str, dict[int, Any]] = {}

    def grouped(name: str, query: Select[Any], month: Any) -> None:
        counts[name] = {int(key): value for key, value in conn.execute(query.group_by(month))}

    month = _month_of(C.c.made_on)
    grouped("contributions", select_contributions(scope, month, func.count()), month)
    month = _month_of(AT.c.attended_on)
    grouped("hours", select_attendances(scope, month, func.coalesce(func.sum(AT.c.hours), 0)), month)
    involved = union(
        select_attendances(scope, AT.c.participant_id.label("pid"), AT.c.attended_on.label("day")),
        select_contributions(scope, CP.c.participant_id.label("pid"), C.c.made_on.label("day"), people=True),
    ).subquery("involved_days")
    month = _month_of(involved.c.day)
    people = select(month, func.count(func.distinct(involved.c.pid))).select_from(involved)
    grouped("people", people, month)
    counted_on = case((CH.c.status == ChangeStatus.proposed.value, CH.c.recorded_on), else_=CH.c.decided_on)
    month = _month_of(counted_on)
    changes = select(month, func.count(func.distinct(CH.c.change_id))).select_from(linked_changes(scope))
    grouped("changes", changes_where(scope, changes, decided_only=False), month)

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


def area_totals(conn: Connection, scope: Scope) -> dict[str, AreaTotals]:
    """People, activities, hours, contributions and changes influenced of each of the sixteen areas (only
    `scope.area` with one): `by_area`'s figures, grouped by area in five queries rather than a dozen per area."""

    def grouped(query: Select[Any], key: Any) -> dict[str, Any]:
        return {area: value for area, value in conn.execute(query.group_by(key))}

    activities = grouped(select_activities(scope, A.c.area, func.count()), A.c.area)
    hours = grouped(select_attendances(scope, A.c.area, func.coalesce(func.sum(AT.c.hours), 0)), A.c.area)
    contributions = grouped(select_contributions(scope, C.c.area, func.count()), C.c.area)
    involved = union(
        select_attendances(scope, AT.c.participant_id.label("pid"), A.c.area.label("area")),
        select_contributions(scope, CP.c.participant_id.label("pid"), C.c.area.label("area"), people=True),
    ).subquery("involved_areas")
    people = grouped(
        select(involved.c.area, func.count(func.distinct(involved.c.pid))).select_from(involved), involved.c.area
    )
    linked = select(CH.c.area, func.count(func.distinct(CH.c.change_id))).select_from(linked_changes(scope))
    changes = grouped(changes_where(scope, linked, decided_only=False), CH.c.area)
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
        select_activities(scope, A.c.area.label("area")),
        select_attendances(scope, A.c.area.label("area")),
        select_contributions(scope, C.c.area.label("area")),
        changes_where(scope, select(CH.c.area.label("area")).select_from(linked_changes(scope)), decided_only=False),
    )
    active = set(conn.execute(busy).scalars())
    return {area: headline(conn, replace(scope, area=area)) if area in active else Headline() for area in wanted}


def reach(conn: Connection, scope: Scope) -> dict[str, dict[str, int]]:
    """Involved participants by role and by each voluntary demographic field (no suppression here)."""
    involved = select_involved(scope)
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
        PE.c.org_id == scope.org_id, during(PE.c.recorded_on, scope)
    )
    for day, type_, count in conn.execute(day_type.group_by(PE.c.recorded_on, PE.c.type)):
        accepted[first_of_month(as_date(day))] += count
        by_type[type_] += count
    rejected: dict[date, Counter[str]] = defaultdict(Counter)
    resolved = 0
    day_reason = select(DL.c.recorded_on, DL.c.expectation, func.count(), func.count(DL.c.resolved_by)).where(
        DL.c.org_id == scope.org_id, during(DL.c.recorded_on, scope)
    )
    for day, expectation, count, fixed in conn.execute(day_reason.group_by(DL.c.recorded_on, DL.c.expectation)):
        rejected[first_of_month(as_date(day))][expectation] += count
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
