"""The embedded event log: one SQLite file in WAL mode, for one machine with no server to install.

Durable: `append` returns after the transaction commits with synchronous=FULL. Safe for several
processes: appends take SQLite's write lock (BEGIN IMMEDIATE), so offsets are dense and ordered.
Each topic has one partition, so every key's records stay in order. A group's committed
positions live in the same file.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from impact.eventlog.base import EventLog, LogConsumer, LogUnavailable, Message, Record, StartPositions

PARTITION = 0
_SCHEMA = """
CREATE TABLE IF NOT EXISTS record (
    topic TEXT NOT NULL, part INTEGER NOT NULL, pos INTEGER NOT NULL,
    key TEXT NOT NULL, value BLOB NOT NULL, appended_at TEXT NOT NULL,
    PRIMARY KEY (topic, part, pos)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS group_position (
    group_id TEXT NOT NULL, topic TEXT NOT NULL, part INTEGER NOT NULL, next_pos INTEGER NOT NULL,
    PRIMARY KEY (group_id, topic, part)
) WITHOUT ROWID;
"""


class EmbeddedLog(EventLog):
    def __init__(self, path: Path, busy_timeout_ms: int = 10_000) -> None:
        self.path = Path(path)
        self._busy_timeout_ms = busy_timeout_ms
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            conn.executescript(_SCHEMA)
            self._conn = conn
        return self._conn

    @contextmanager
    def _transaction(self, mode: str = "DEFERRED") -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                conn = self._connect()
                conn.execute(f"BEGIN {mode}")
                try:
                    yield conn
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            except (sqlite3.Error, OSError) as exc:
                # A failed COMMIT can leave the connection inside a transaction: start afresh next time.
                if self._conn is not None:
                    self._conn.close()
                    self._conn = None
                raise LogUnavailable(f"embedded log {self.path}: {exc}") from exc

    def append(self, topic: str, records: Sequence[Record]) -> None:
        if not records:
            return
        now = datetime.now(UTC).isoformat()
        with self._transaction("IMMEDIATE") as conn:
            (start,) = conn.execute(
                "SELECT COALESCE(MAX(pos) + 1, 0) FROM record WHERE topic = ? AND part = ?", (topic, PARTITION)
            ).fetchone()
            conn.executemany(
                "INSERT INTO record (topic, part, pos, key, value, appended_at) VALUES (?, ?, ?, ?, ?, ?)",
                [(topic, PARTITION, start + i, r.key, r.value, now) for i, r in enumerate(records)],
            )

    def read(self, topic: str, position: int, limit: int) -> list[Message]:
        with self._transaction() as conn:
            rows = conn.execute(
                "SELECT pos, key, value FROM record WHERE topic = ? AND part = ? AND pos >= ? ORDER BY pos LIMIT ?",
                (topic, PARTITION, position, limit),
            ).fetchall()
        return [Message(topic, PARTITION, pos, key, bytes(value)) for pos, key, value in rows]

    def committed(self, group: str, topic: str) -> dict[int, int]:
        with self._transaction() as conn:
            rows = conn.execute(
                "SELECT part, next_pos FROM group_position WHERE group_id = ? AND topic = ?", (group, topic)
            ).fetchall()
        return dict(rows)

    def commit(self, group: str, topic: str, positions: dict[int, int]) -> None:
        with self._transaction("IMMEDIATE") as conn:
            conn.executemany(
                "INSERT INTO group_position (group_id, topic, part, next_pos) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (group_id, topic, part) DO UPDATE SET next_pos = excluded.next_pos",
                [(group, topic, part, pos) for part, pos in positions.items()],
            )

    def consumer(self, topic: str, group: str, start_positions: StartPositions | None = None) -> LogConsumer:
        return EmbeddedConsumer(self, topic, group, start_positions)

    def end_positions(self, topic: str) -> dict[int, int]:
        with self._transaction() as conn:
            (end,) = conn.execute(
                "SELECT COALESCE(MAX(pos) + 1, 0) FROM record WHERE topic = ? AND part = ?", (topic, PARTITION)
            ).fetchone()
        return {PARTITION: end}

    def ping(self) -> None:
        with self._transaction() as conn:
            conn.execute("SELECT 1").fetchone()

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


class EmbeddedConsumer(LogConsumer):
    """Reads the topic's single partition from the stored position; polls the file while idle."""

    IDLE_SLEEP_S = 0.02

    def __init__(self, log: EmbeddedLog, topic: str, group: str, start_positions: StartPositions | None) -> None:
        self._log, self._topic, self._group = log, topic, group
        stored = start_positions([PARTITION]) if start_positions else {}
        committed = log.committed(group, topic)
        self._position = stored.get(PARTITION, committed.get(PARTITION, 0))

    def poll(self, max_records: int, timeout_ms: int) -> list[Message]:
        deadline = time.monotonic() + timeout_ms / 1000
        while True:
            messages = self._log.read(self._topic, self._position, max_records)
            if messages:
                self._position = messages[-1].offset + 1
                return messages
            if time.monotonic() >= deadline:
                return []
            time.sleep(self.IDLE_SLEEP_S)

    def commit(self, positions: dict[int, int]) -> None:
        self._log.commit(self._group, self._topic, positions)

    def close(self) -> None:
        pass
