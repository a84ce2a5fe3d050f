"""Query building blocks over the read models: table handles, the scope's filters, and joins that never cross
organisations. Each returns SQLAlchemy Core (a `Select`, a join or a condition); nothing here runs a query."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, Table, and_, extract, func, or_, select, union
from sqlalchemy.sql.expression import FromClause

from dashboard.metrics.scope import Scope
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
from schemas.vocab import DECIDED_STATUSES, INFLUENCING_STATUSES, ChangeStatus

DECIDED = sorted(status.value for status in DECIDED_STATUSES)
INFLUENCING = sorted(status.value for status in INFLUENCING_STATUSES)


def table_of(model: type[Any]) -> Table:
    """The Core table of a SQLModel class (its columns as `table.c`)."""
    return cast(Table, model.__table__)


A, AT, C, CP = table_of(Activity), table_of(Attendance), table_of(Contribution), table_of(ContributionParticipant)
CH, CL, FB, P = table_of(Change), table_of(ChangeLink), table_of(Feedback), table_of(Participant)
PE, DL = table_of(ProcessedEvent), table_of(DeadLetter)


def during(column: Any, scope: Scope) -> ColumnElement[bool]:
    return and_(column >= scope.start, column < scope.end)


def same(left: FromClause, right: FromClause, key: str) -> ColumnElement[bool]:
    """A join on the organisation and one identifier (never on the identifier alone)."""
    return and_(left.c.org_id == right.c.org_id, left.c[key] == right.c[key])


def select_activities(scope: Scope, *columns: Any) -> Select[Any]:
    query = select(*columns).where(A.c.org_id == scope.org_id, during(A.c.held_on, scope))
    if scope.area:
        query = query.where(A.c.area == scope.area)
    if scope.level:
        query = query.where(A.c.level == scope.level)
    return query


def select_attendances(scope: Scope, *columns: Any) -> Select[Any]:
    """Attendances of the scope, joined to their activity (which carries the area and the level)."""
    query = (
        select(*columns)
        .select_from(AT.join(A, same(A, AT, "activity_id")))
        .where(AT.c.org_id == scope.org_id, during(AT.c.attended_on, scope))
    )
    if scope.area:
        query = query.where(A.c.area == scope.area)
    if scope.level:
        query = query.where(A.c.level == scope.level)
    return query


def select_contributions(scope: Scope, *columns: Any, people: bool = False) -> Select[Any]:
    """Contributions of the scope; with `people`, one row per contributing participant."""
    joined: FromClause = C
    if people:
        joined = joined.join(CP, same(CP, C, "contribution_id"))
    if scope.level:
        joined = joined.join(A, same(A, C, "activity_id"))
    query = select(*columns).select_from(joined).where(C.c.org_id == scope.org_id, during(C.c.made_on, scope))
    if scope.area:
        query = query.where(C.c.area == scope.area)
    if scope.level:
        query = query.where(A.c.level == scope.level)
    return query


def select_involved(scope: Scope) -> Any:
    """The distinct participants involved in the scope (one column, `pid`)."""
    return union(
        select_attendances(scope, AT.c.participant_id.label("pid")),
        select_contributions(scope, CP.c.participant_id.label("pid"), people=True),
    ).subquery("involved")


def linked_changes(scope: Scope) -> FromClause:
    """Changes joined to their links and the linked contributions (and, with a level, their activities)."""
    joined = CH.join(CL, same(CL, CH, "change_id")).join(C, same(C, CL, "contribution_id"))
    if scope.level:
        joined = joined.join(A, same(A, C, "activity_id"))
    return joined


def changes_where(scope: Scope, query: Select[Any], *, decided_only: bool) -> Select[Any]:
    decided = and_(CH.c.status.in_(DECIDED), during(CH.c.decided_on, scope))
    proposed = and_(CH.c.status == ChangeStatus.proposed.value, during(CH.c.recorded_on, scope))
    query = query.where(CH.c.org_id == scope.org_id, decided if decided_only else or_(decided, proposed))
    if scope.area:
        query = query.where(CH.c.area == scope.area)
    if scope.level:
        query = query.where(A.c.level == scope.level)
    return query


def as_date(value: date | datetime) -> date:
    if isinstance(value, datetime):
        return (value.astimezone(UTC) if value.tzinfo else value).date()
    return value


def month_number(column: Any) -> Any:
    """A month as one integer (year * 12 + month - 1), on SQLite and PostgreSQL alike."""
    return extract("year", column) * 12 + extract("month", column) - 1


def feedback_pairs(scope: Scope, *columns: Any) -> Any:
    """Every (participant, decided change) pair owed a summary in the scope, as a subquery: `pid`,
    `change_id`, `decided`, any labelled `columns` of the change (or its links), and `sent`, the time of the
    first summary (NULL while none was sent). See "Feedback closure rate" above."""
    owed = changes_where(
        scope,
        select(
            CP.c.participant_id.label("pid"),
            CH.c.change_id.label("change_id"),
            CH.c.decided_on.label("decided"),
            *columns,
        )
        .distinct()
        .select_from(
            linked_changes(scope).join(CP, same(CP, C, "contribution_id")).join(P, same(P, CP, "participant_id"))
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
