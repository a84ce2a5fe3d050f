"""The event log port: append durably, consume in a group from stored positions.

Positions are "next offset to read" per partition, as in Kafka. A consumer starts each assigned
partition at the position `start_positions` returns (the processors keep theirs in the read-model
database), else at the group's committed position, else at the beginning.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from dataclasses import dataclass

StartPositions = Callable[[list[int]], dict[int, int]]


class LogUnavailable(Exception):
    """The log could not durably take (or give) records; nothing was reported as stored."""


@dataclass(frozen=True, slots=True)
class Record:
    """What a producer appends: the key orders records (all records of one key stay in order)."""

    key: str
    value: bytes


@dataclass(frozen=True, slots=True)
class Message:
    """What a consumer reads: a record with its place in the log."""

    topic: str
    partition: int
    offset: int
    key: str
    value: bytes


class LogConsumer(abc.ABC):
    @abc.abstractmethod
    def poll(self, max_records: int, timeout_ms: int) -> list[Message]:
        """Up to max_records messages, in offset order within each partition; [] after timeout_ms."""

    @abc.abstractmethod
    def commit(self, positions: dict[int, int]) -> None:
        """Store the group's next-offset for each partition in the log itself."""

    @abc.abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> LogConsumer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class EventLog(abc.ABC):
    @abc.abstractmethod
    def append(self, topic: str, records: Sequence[Record]) -> None:
        """Return only once every record is durably stored; raise LogUnavailable otherwise."""

    @abc.abstractmethod
    def consumer(self, topic: str, group: str, start_positions: StartPositions | None = None) -> LogConsumer:
        """A consumer in `group` over every partition of `topic` it is assigned."""

    @abc.abstractmethod
    def end_positions(self, topic: str) -> dict[int, int]:
        """The next offset that would be written, per partition (how far the log goes)."""

    @abc.abstractmethod
    def ping(self) -> None:
        """Raise LogUnavailable when the log cannot be reached."""

    @abc.abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> EventLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
