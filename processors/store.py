"""The SQL adapter: looks up references and writes one batch's rows, dead letters and log positions
in a single transaction, so a crash at any moment neither loses nor double-counts an event.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Connection, Engine, Table, and_, delete, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import SQLModel

from impact.eventlog import Message, sealing
from processors.frame import Register
from processors.projection import Projection, primary_key
from processors.records import DeadLetterRecord, ParkedRecord, ProcessedRecord
from schemas.events import StoredEvent
from schemas.readmodels import (
    READ_MODELS,
    Activity,
    Change,
    ConsumerOffset,
    Contribution,
    DeadLetter,
    ParkedEvent,
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
PARKED, DEAD = table(ParkedEvent), table(DeadLetter)


@dataclass
class Effects:
    """What a batch does besides folding rows: parking, erasure, corrections (all in its transaction)."""

    parked: list[ParkedRecord] = field(default_factory=list)  # events waiting for a reference
    unparked: list[str] = field(default_factory=list)  # event ids no longer waiting (settled, or parked again)
    erased: list[tuple[str, str]] = field(default_factory=list)  # (org_id, participant_id) whose keys go
    corrected: list[tuple[str, str, str]] = field(default_factory=list)  # (org_id, dead event id, corrected by)


class ReadModelStore:
    def __init__(self, engine: Engine, group: str, topic: str) -> None:
        self.engine, self.group, self.topic = engine, group, topic
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    def empty(self) -> None:
        """Delete every row of every read model, positions included, in one transaction."""
        with self.engine.begin() as conn:
            for model in reversed(READ_MODELS):
                conn.execute(delete(table(model)))

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

    def settled(self, event_ids: Sequence[str]) -> tuple[set[str], set[str]]:
        """Of these event ids: those already folded or dead-lettered, and those waiting (parked)."""
        done: set[str] = set()
        waiting: set[str] = set()
        with self.engine.connect() as conn:
            for chunk in _chunks(list(event_ids)):
                for found, t in ((done, PROCESSED), (done, DEAD), (waiting, PARKED)):
                    found.update(conn.execute(select(t.c.event_id).where(t.c.event_id.in_(chunk))).scalars())
        return done, waiting

    def parked(self, limit: int) -> dict[str, tuple[Message, StoredEvent]]:
        """The oldest waiting events (by place in the log), as messages again, by event id."""
        p = PARKED.c
        query = select(p.event_id, p.event_json, p.log_partition, p.log_offset).order_by(p.log_offset).limit(limit)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return {
            row.event_id: (
                message := Message(self.topic, row.log_partition, row.log_offset, "", row.event_json.encode()),
                StoredEvent.from_bytes(message.value),
            )
            for row in rows
        }

    def has_parked(self) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(select(PARKED.c.event_id).limit(1)).first() is not None

    def keys(self, events: Sequence[StoredEvent]) -> dict[tuple[str, str], bytes | None]:
        """The participants' keys that open the sealed registrations among `events`."""
        if not any(event.type in sealing.SEALED_TYPES for event in events):
            return {}
        with self.engine.connect() as conn:
            return sealing.keys_for(conn, events)

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
        accepted: Sequence[ProcessedRecord],
        dead_letters: Sequence[DeadLetterRecord],
        positions: dict[int, int],
        expected: dict[int, int],
        effects: Effects | None = None,
    ) -> None:
        """Rows, processed event ids, dead letters and the new positions: all or nothing.

        `expected` is where this processor believes each partition stands. The positions move first,
        as a compare-and-set, so a second processor on the same group fails here (PositionConflict)
        before writing anything, instead of applying the same events again.
        """
        with self.engine.begin() as conn:
            self._advance(conn, positions, expected)
            for model, where in projection.deletes:
                t = table(model)
                conn.execute(delete(t).where(*(t.c[name] == value for name, value in where.items())))
            for model, rows in projection.rows.items():
                self._upsert(conn, model, list(rows.values()))
            for model, key, values in projection.patches:
                t = table(model)
                matches = [t.c[name] == value for name, value in zip(primary_key(model), key, strict=True)]
                conn.execute(update(t).where(*matches).values(**values))
            self._ignore_existing(conn, ProcessedEvent, [record.row() for record in accepted])
            self._ignore_existing(conn, DeadLetter, [letter.row() for letter in dead_letters])
            if effects is not None:
                self._apply(conn, effects)
        if effects is not None and effects.erased and self.engine.dialect.name == "sqlite":
            # Older copies of the erased rows' pages linger in the write-ahead log until a checkpoint.
            with self.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")

    def _apply(self, conn: Connection, effects: Effects) -> None:
        for chunk in _chunks(effects.unparked):
            conn.execute(delete(PARKED).where(PARKED.c.event_id.in_(chunk)))
        for chunk in _chunks([record.row() for record in effects.parked]):
            conn.execute(self._insert(PARKED).on_conflict_do_nothing(), list(chunk))
        sealing.destroy(conn, effects.erased)
        for org_id, dead_id, by in effects.corrected:
            mine = and_(DEAD.c.org_id == org_id, DEAD.c.event_id == dead_id, DEAD.c.resolved_by.is_(None))
            conn.execute(update(DEAD).where(mine).values(resolved_by=by))

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
