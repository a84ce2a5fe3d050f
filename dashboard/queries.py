"""Read-model queries behind the dashboard: the database aggregates, Python only shapes the few result rows.

The dashboard never reads the event log (ARCHITECTURE.md); every query is scoped to one organisation, the
signed-in reader's: nothing here lists or reads across organisations.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, exists, func, union
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from dashboard.formatting import first_of_month, months_between
from impact.accounts import Organisation
from schemas.readmodels import (
    OVERALL,
    Attendance,
    Change,
    ChangeLink,
    Contribution,
    ContributionParticipant,
    MonthlyMetric,
)
from schemas.vocab import INFLUENCING_STATUSES

_INFLUENCING = sorted(status.value for status in INFLUENCING_STATUSES)


@dataclass(frozen=True)
class Headline:
    """The five headline figures of one organisation over one period."""

    participants_involved: int
    involvement_hours: float
    contributions: int
    changes_influenced: int
    influenced_contributions: int

    @property
    def influence_rate(self) -> float | None:
        """Share of the period's contributions linked to an agreed or implemented change; None if none."""
        if self.contributions == 0:
            return None
        return self.influenced_contributions / self.contributions


@dataclass(frozen=True)
class MonthlyFigures:
    """One month of the trend: what the `OVERALL` monthly metric row says, or zeros when there is none."""

    month: date
    participants_involved: int
    involvement_hours: float
    contributions: int


def organisation_name(*, session: Session, org_id: str) -> str | None:
    """The organisation's name as its admin gave it, or None when there is no such organisation."""
    organisation = session.get(Organisation, org_id)
    return organisation.name if organisation else None


def headline_figures(*, session: Session, org_id: str, start: date, end: date) -> Headline:
    """The headline figures for `org_id` from `start` to `end` inclusive, in one round trip."""
    attended = select(Attendance.participant_id).where(
        Attendance.org_id == org_id, col(Attendance.attended_on).between(start, end)
    )
    contributed = (
        select(ContributionParticipant.participant_id)
        .join(
            Contribution,
            and_(
                col(Contribution.org_id) == ContributionParticipant.org_id,
                col(Contribution.contribution_id) == ContributionParticipant.contribution_id,
            ),
        )
        .where(ContributionParticipant.org_id == org_id, col(Contribution.made_on).between(start, end))
    )
    # UNION (not UNION ALL) removes duplicates, so counting its rows counts distinct people
    involved = union(attended, contributed).subquery()
    participants_involved = select(func.count()).select_from(involved).scalar_subquery()

    involvement_hours = (
        select(func.coalesce(func.sum(Attendance.hours), 0.0))
        .where(Attendance.org_id == org_id, col(Attendance.attended_on).between(start, end))
        .scalar_subquery()
    )

    made_in_period = and_(col(Contribution.org_id) == org_id, col(Contribution.made_on).between(start, end))
    contributions = select(func.count()).select_from(Contribution).where(made_in_period).scalar_subquery()

    has_link = (
        exists()
        .where(col(ChangeLink.org_id) == Change.org_id, col(ChangeLink.change_id) == Change.change_id)
        .correlate(Change)
    )
    changes_influenced = (
        select(func.count())
        .select_from(Change)
        .where(
            Change.org_id == org_id,
            func.coalesce(Change.decided_on, Change.recorded_on).between(start, end),
            has_link,
        )
        .scalar_subquery()
    )

    # IN, not a join: a contribution linked to two influencing changes counts once; and the links are
    # read once per organisation rather than searched once per contribution
    influencing_links = (
        select(ChangeLink.contribution_id)
        .join(
            Change,
            and_(col(Change.org_id) == ChangeLink.org_id, col(Change.change_id) == ChangeLink.change_id),
        )
        .where(ChangeLink.org_id == org_id, col(Change.status).in_(_INFLUENCING))
    )
    linked_to_influencing_change = col(Contribution.contribution_id).in_(influencing_links)
    influenced_contributions = (
        select(func.count())
        .select_from(Contribution)
        .where(made_in_period, linked_to_influencing_change)
        .scalar_subquery()
    )

    # SQLAlchemy Core: SQLModel's select and exec are typed for at most four columns
    row = (
        session.connection()
        .execute(
            sa_select(
                participants_involved,
                involvement_hours,
                contributions,
                changes_influenced,
                influenced_contributions,
            )
        )
        .one()
    )
    return Headline(
        participants_involved=int(row[0]),
        involvement_hours=float(row[1]),
        contributions=int(row[2]),
        changes_influenced=int(row[3]),
        influenced_contributions=int(row[4]),
    )


def monthly_trend(*, session: Session, org_id: str, start: date, end: date) -> list[MonthlyFigures]:
    """Overall monthly figures from start's month to end, one per month, zeros where no row exists."""
    statement = (
        select(MonthlyMetric)
        .where(
            MonthlyMetric.org_id == org_id,
            MonthlyMetric.area == OVERALL,
            col(MonthlyMetric.month).between(first_of_month(start), end),
        )
        .order_by(col(MonthlyMetric.month))
    )
    by_month = {metric.month: metric for metric in session.exec(statement)}
    trend = []
    for month in months_between(start, end):
        metric = by_month.get(month)
        trend.append(
            MonthlyFigures(
                month=month,
                participants_involved=metric.participants_involved if metric else 0,
                involvement_hours=metric.involvement_hours if metric else 0.0,
                contributions=metric.contributions if metric else 0,
            )
        )
    return trend
