"""The SQL adapter: looks up references and writes one batch's rows, dead letters and log positions
in a single transaction, so a crash at any moment neither loses nor double-counts an event.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from sqlalchemy import Engine, and_, delete, func, select, tuple_, union, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, SQLModel

from processors.frame import Register
from processors.projection import Projection, primary_key
from schemas.readmodels import (
    OVERALL,
    Activity,
    Attendance,
    Change,
    Contribution,
    ContributionParticipant,
    ConsumerOffset,
    DeadLetter,
    MonthlyMetric,
    Participant,
    ProcessedEvent,
)

_CHUNK = 500  # keeps IN lists and multi-row VALUES well inside every database's limits


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


class ReadModelStore:
    def __init__(self, engine: Engine, group: str, topic: str) -> None:
        self.engine, self.group, self.topic = engine, group, topic
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    def positions(self, partitions: list[int]) -> dict[int, int]:
        """The stored next-offset of each partition (what a restarted consumer seeks to)."""
        with Session(self.engine) as session:
            rows = session.exec(
                select(ConsumerOffset.partition, ConsumerOffset.next_offset).where(  # type: ignore[call-overload]
                    ConsumerOffset.group_id == self.group, ConsumerOffset.topic == self.topic
                )
            ).all()
        stored = {int(partition): int(offset) for partition, offset in rows}
        # The database is the authority: a partition it has never seen starts at the beginning, whatever
        # the log's own group offsets say (so a rebuilt database replays everything).
        return {p: stored.get(p, 0) for p in partitions}

    def processed(self, event_ids: Sequence[str]) -> set[str]:
        seen: set[str] = set()
        with Session(self.engine) as session:
            for chunk in _chunks(list(event_ids)):
                query = select(ProcessedEvent.event_id).where(ProcessedEvent.event_id.in_(chunk))  # type: ignore[attr-defined]
                seen.update(session.exec(query).all())  # type: ignore[call-overload]
        return seen

    def known(self, wanted: Register) -> Register:
        """Which of the wanted identifiers the read models already hold."""
        found = Register()
        with Session(self.engine) as session:
            for model, keys, target in (
                (Participant, wanted.participants, found.participants),
                (Contribution, wanted.contributions, found.contributions),
                (Change, wanted.changes, found.changes),
            ):
                id_column = getattr(model, primary_key(model)[1])
                for chunk in _chunks(sorted(keys)):
                    query = select(model.org_id, id_column).where(tuple_(model.org_id, id_column).in_(chunk))  # type: ignore[attr-defined]
                    target.update((org, key) for org, key in session.exec(query).all())  # type: ignore[call-overload]
            for chunk in _chunks(sorted(wanted.activities)):
                query = select(Activity.org_id, Activity.activity_id, Activity.duration_hours).where(
                    tuple_(Activity.org_id, Activity.activity_id).in_(chunk)
                )
                for org, activity_id, duration in session.exec(query).all():  # type: ignore[call-overload]
                    found.activities[(org, activity_id)] = duration
        return found

    def write_batch(
        self,
        *,
        projection: Projection,
        accepted: Sequence[tuple[str, str]],
        dead_letters: Sequence[dict[str, Any]],
        positions: dict[int, int],
    ) -> None:
        """Rows, processed event ids, dead letters and the new positions: all or nothing."""
        with Session(self.engine) as session, session.begin():
            for model, rows in projection.rows.items():
                self._upsert(session, model, list(rows.values()))
            for model, key, values in projection.patches:
                columns = [getattr(model, name) for name in primary_key(model)]
                session.exec(update(model).where(*(c == k for c, k in zip(columns, key, strict=True))).values(**values))  # type: ignore[call-overload]
            self._ignore_existing(session, ProcessedEvent, [{"event_id": e, "org_id": o} for e, o in accepted])
            self._ignore_existing(session, DeadLetter, list(dead_letters))
            for org_id, month in sorted(projection.months):
                self._recompute_month(session, org_id, month)
            self._upsert(
                session,
                ConsumerOffset,
                [
                    {"group_id": self.group, "topic": self.topic, "partition": p, "next_offset": offset}
                    for p, offset in positions.items()
                ],
            )

    def _upsert(self, session: Session, model: type[SQLModel], rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        keys = primary_key(model)
        for chunk in _chunks(rows):
            stmt = self._insert(model.__table__)  # type: ignore[attr-defined]
            updates = {c.name: stmt.excluded[c.name] for c in model.__table__.columns if c.name not in keys}  # type: ignore[attr-defined]
            if updates:
                stmt = stmt.on_conflict_do_update(index_elements=list(keys), set_=updates)
            else:
                stmt = stmt.on_conflict_do_nothing(index_elements=list(keys))
            session.execute(stmt, list(chunk))

    def _ignore_existing(self, session: Session, model: type[SQLModel], rows: list[dict[str, Any]]) -> None:
        for chunk in _chunks(rows):
            stmt = self._insert(model.__table__).on_conflict_do_nothing()  # type: ignore[attr-defined]
            session.execute(stmt, list(chunk))

    def _recompute_month(self, session: Session, org_id: str, month: date) -> None:
        """Rebuild one organisation-month of metrics from the facts (exact, and idempotent)."""
        end = _next_month(month)
        figures: dict[str, dict[str, Any]] = defaultdict(dict)

        activities = select(Activity.area, func.count()).where(
            Activity.org_id == org_id, Activity.held_on >= month, Activity.held_on < end
        )
        for area, count in session.execute(activities.group_by(Activity.area)):
            figures[area]["activities"] = count

        joined = and_(Attendance.org_id == Activity.org_id, Attendance.activity_id == Activity.activity_id)
        in_month = and_(Attendance.org_id == org_id, Attendance.attended_on >= month, Attendance.attended_on < end)
        attendances = (
            select(Activity.area, func.count(), func.sum(Attendance.hours)).join_from(Attendance, Activity, joined)
        ).where(in_month)
        for area, count, hours in session.execute(attendances.group_by(Activity.area)):
            figures[area]["attendances"] = count
            figures[area]["involvement_hours"] = float(hours or 0)

        contributions = select(Contribution.area, func.count()).where(
            Contribution.org_id == org_id, Contribution.made_on >= month, Contribution.made_on < end
        )
        for area, count in session.execute(contributions.group_by(Contribution.area)):
            figures[area]["contributions"] = count

        involved = union(
            select(Activity.area.label("area"), Attendance.participant_id.label("pid"))  # type: ignore[attr-defined]
            .join_from(Attendance, Activity, joined)
            .where(in_month),
            select(Contribution.area.label("area"), ContributionParticipant.participant_id.label("pid"))  # type: ignore[attr-defined]
            .join_from(
                Contribution,
                ContributionParticipant,
                and_(
                    ContributionParticipant.org_id == Contribution.org_id,
                    ContributionParticipant.contribution_id == Contribution.contribution_id,
                ),
            )
            .where(Contribution.org_id == org_id, Contribution.made_on >= month, Contribution.made_on < end),
        ).subquery()
        by_area = select(involved.c.area, func.count(func.distinct(involved.c.pid))).group_by(involved.c.area)
        for area, count in session.execute(by_area):
            figures[area]["participants_involved"] = count
        overall_people = session.execute(select(func.count(func.distinct(involved.c.pid)))).scalar_one()

        rows = [{"org_id": org_id, "month": month, "area": area, **values} for area, values in figures.items()]
        if rows:
            totals: dict[str, Any] = {
                name: sum(row.get(name, 0) for row in rows)
                for name in ("activities", "attendances", "involvement_hours", "contributions")
            }
            rows.append(
                {"org_id": org_id, "month": month, "area": OVERALL, **totals, "participants_involved": overall_people}
            )
        session.exec(delete(MonthlyMetric).where(MonthlyMetric.org_id == org_id, MonthlyMetric.month == month))  # type: ignore[call-overload]
        defaults = {"participants_involved": 0, "activities": 0, "attendances": 0, "involvement_hours": 0.0}
        for row in rows:
            session.add(MonthlyMetric(**{**defaults, "contributions": 0, **row}))
