"""The SQL adapter: looks up references and writes one batch's rows, dead letters and log positions
in a single transaction, so a crash at any moment neither loses nor double-counts an event.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any, cast

from sqlalchemy import Connection, Engine, Table, and_, delete, func, select, tuple_, union, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import SQLModel

from impact.months import add_months
from processors.frame import Register
from processors.projection import Projection, primary_key
from schemas.readmodels import (
    OVERALL,
    Activity,
    Attendance,
    Change,
    ConsumerOffset,
    Contribution,
    ContributionParticipant,
    DeadLetter,
    MonthlyMetric,
    Participant,
    ProcessedEvent,
)

_CHUNK = 500  # keeps IN lists and multi-row VALUES well inside every database's limits


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class PositionConflict(Exception):
    """Another processor in the same group moved the stored positions: this batch must not be written."""


def table(model: type[SQLModel]) -> Table:
    """The Core table behind a SQLModel class (typed columns for queries)."""
    return cast(Table, model.__table__)  # type: ignore[attr-defined]


OFFSETS, PROCESSED, ACTIVITY = table(ConsumerOffset), table(ProcessedEvent), table(Activity)
ATTENDANCE, CONTRIBUTION, CONTRIBUTORS = table(Attendance), table(Contribution), table(ContributionParticipant)
METRIC = table(MonthlyMetric)


class ReadModelStore:
    def __init__(self, engine: Engine, group: str, topic: str) -> None:
        self.engine, self.group, self.topic = engine, group, topic
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    def positions(self, partitions: list[int]) -> dict[int, int]:
        """The stored next-offset of each partition (what a restarted consumer seeks to)."""
        query = select(OFFSETS.c.partition, OFFSETS.c.next_offset).where(
            OFFSETS.c.group_id == self.group, OFFSETS.c.topic == self.topic
        )
        with self.engine.connect() as conn:
            stored = {int(partition): int(offset) for partition, offset in conn.execute(query)}
        # The database is the authority: a partition it has never seen starts at the beginning, whatever
        # the log's own group offsets say (so a rebuilt database replays everything).
        return {p: stored.get(p, 0) for p in partitions}

    def processed(self, event_ids: Sequence[str]) -> set[str]:
        seen: set[str] = set()
        with self.engine.connect() as conn:
            for chunk in _chunks(list(event_ids)):
                seen.update(conn.execute(select(PROCESSED.c.event_id).where(PROCESSED.c.event_id.in_(chunk))).scalars())
        return seen

    def known(self, wanted: Register) -> Register:
        """Which of the wanted identifiers the read models already hold."""
        found = Register()
        with self.engine.connect() as conn:
            for model, keys, target in (
                (Participant, wanted.participants, found.participants),
                (Contribution, wanted.contributions, found.contributions),
                (Change, wanted.changes, found.changes),
            ):
                t = table(model)
                org, key = (t.c[name] for name in primary_key(model))
                for chunk in _chunks(sorted(keys)):
                    rows = conn.execute(select(org, key).where(tuple_(org, key).in_(chunk)))
                    target.update((row[0], row[1]) for row in rows)
            a = ACTIVITY.c
            for chunk in _chunks(sorted(wanted.activities)):
                rows = conn.execute(
                    select(a.org_id, a.activity_id, a.duration_hours).where(tuple_(a.org_id, a.activity_id).in_(chunk))
                )
                for row in rows:
                    found.activities[(row.org_id, row.activity_id)] = row.duration_hours
        return found

    def write_batch(
        self,
        *,
        projection: Projection,
        accepted: Sequence[tuple[str, str]],
        dead_letters: Sequence[dict[str, Any]],
        positions: dict[int, int],
        expected: dict[int, int],
    ) -> None:
        """Rows, processed event ids, dead letters and the new positions: all or nothing.

        `expected` is where this processor believes each partition stands. The positions move first,
        as a compare-and-set, so a second processor on the same group fails here (PositionConflict)
        before writing anything, instead of applying the same events again.
        """
        with self.engine.begin() as conn:
            self._advance(conn, positions, expected)
            for model, rows in projection.rows.items():
                self._upsert(conn, model, list(rows.values()))
            for model, key, values in projection.patches:
                t = table(model)
                matches = [t.c[name] == value for name, value in zip(primary_key(model), key, strict=True)]
                conn.execute(update(t).where(*matches).values(**values))
            self._ignore_existing(conn, ProcessedEvent, [{"event_id": e, "org_id": o} for e, o in accepted])
            self._ignore_existing(conn, DeadLetter, list(dead_letters))
            for org_id, month in sorted(projection.months):
                self._recompute_month(conn, org_id, month)

    def _advance(self, conn: Connection, positions: dict[int, int], expected: dict[int, int]) -> None:
        o = OFFSETS.c
        for partition, offset in sorted(positions.items()):
            mine = and_(o.group_id == self.group, o.topic == self.topic, o.partition == partition)
            start = expected.get(partition, 0)
            moved = conn.execute(update(OFFSETS).where(mine, o.next_offset == start).values(next_offset=offset))
            if moved.rowcount == 1:
                continue
            row = {"group_id": self.group, "topic": self.topic, "partition": partition, "next_offset": offset}
            # RETURNING, not rowcount: drivers report -1 for an INSERT ... ON CONFLICT DO NOTHING.
            first = self._insert(OFFSETS).values(row).on_conflict_do_nothing().returning(o.partition)
            if start != 0 or conn.execute(first).first() is None:
                raise PositionConflict(f"partition {partition} is no longer at {start}: another processor moved it")

    def _upsert(self, conn: Connection, model: type[SQLModel], rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        keys = primary_key(model)
        t = table(model)
        for chunk in _chunks(rows):
            stmt = self._insert(t)
            updates = {c.name: stmt.excluded[c.name] for c in t.columns if c.name not in keys}
            upsert = (
                stmt.on_conflict_do_update(index_elements=list(keys), set_=updates)
                if updates
                else stmt.on_conflict_do_nothing(index_elements=list(keys))
            )
            conn.execute(upsert, list(chunk))

    def _ignore_existing(self, conn: Connection, model: type[SQLModel], rows: list[dict[str, Any]]) -> None:
        for chunk in _chunks(rows):
            conn.execute(self._insert(table(model)).on_conflict_do_nothing(), list(chunk))

    def _recompute_month(self, conn: Connection, org_id: str, month: date) -> None:
        """Rebuild one organisation-month of metrics from the facts (exact, and idempotent)."""
        end = add_months(month, 1)
        a, at, c, cp = ACTIVITY.c, ATTENDANCE.c, CONTRIBUTION.c, CONTRIBUTORS.c
        figures: dict[str, dict[str, Any]] = defaultdict(dict)

        activities = select(a.area, func.count()).where(a.org_id == org_id, a.held_on >= month, a.held_on < end)
        for area, count in conn.execute(activities.group_by(a.area)):
            figures[area]["activities"] = count

        joined = and_(at.org_id == a.org_id, at.activity_id == a.activity_id)
        in_month = and_(at.org_id == org_id, at.attended_on >= month, at.attended_on < end)
        attendances = select(a.area, func.count(), func.sum(at.hours)).select_from(ATTENDANCE.join(ACTIVITY, joined))
        for area, count, hours in conn.execute(attendances.where(in_month).group_by(a.area)):
            figures[area]["attendances"] = count
            figures[area]["involvement_hours"] = float(hours or 0)

        contributed = and_(c.org_id == org_id, c.made_on >= month, c.made_on < end)
        for area, count in conn.execute(select(c.area, func.count()).where(contributed).group_by(c.area)):
            figures[area]["contributions"] = count

        involved = union(
            select(a.area.label("area"), at.participant_id.label("pid"))
            .select_from(ATTENDANCE.join(ACTIVITY, joined))
            .where(in_month),
            select(c.area.label("area"), cp.participant_id.label("pid"))
            .select_from(
                CONTRIBUTION.join(CONTRIBUTORS, and_(cp.org_id == c.org_id, cp.contribution_id == c.contribution_id))
            )
            .where(contributed),
        ).subquery()
        by_area = select(involved.c.area, func.count(func.distinct(involved.c.pid))).group_by(involved.c.area)
        for area, count in conn.execute(by_area):
            figures[area]["participants_involved"] = count
        overall_people = conn.execute(select(func.count(func.distinct(involved.c.pid)))).scalar_one()

        zero: dict[str, Any] = {
            "participants_involved": 0,
            "activities": 0,
            "attendances": 0,
            "involvement_hours": 0.0,
            "contributions": 0,
        }
        rows = [{**zero, "org_id": org_id, "month": month, "area": area, **values} for area, values in figures.items()]
        if rows:
            totals = {name: sum(row[name] for row in rows) for name in zero if name != "participants_involved"}
            rows.append(
                {
                    **zero,
                    **totals,
                    "org_id": org_id,
                    "month": month,
                    "area": OVERALL,
                    "participants_involved": overall_people,
                }
            )
        conn.execute(delete(METRIC).where(METRIC.c.org_id == org_id, METRIC.c.month == month))
        if rows:
            conn.execute(METRIC.insert(), rows)
