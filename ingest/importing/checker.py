"""The checker every kind shares: event ids derived from the file, events validated through the API's models.

Each kind (participants.py, attendance.py, contributions.py) says which identifiers it needs from the
register and turns one row into events; this base class does what every kind does with them.
"""

from __future__ import annotations

import abc
import uuid
from collections.abc import Collection
from datetime import UTC, datetime, time, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Engine

from impact.eventlog.recording import digest as content_digest
from ingest.importing.cells import Row, shown
from ingest.importing.read import Table
from ingest.importing.register import load_register
from schemas.events import EVENT_ADAPTER, Envelope

_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://involvement-impact.example/import")


class Checker(abc.ABC):
    """Checks rows of one kind; `register` holds what the read models know, `events_of` every candidate id."""

    seen: dict[str, int]  # the new records' ids met so far in the file, with their lines (kinds that create)

    event_types: tuple[str, ...] = ()
    columns_of: dict[str, str] = {}

    def __init__(self, table: Table, org_id: str, engine: Engine, now: datetime) -> None:
        self.org_id, self.digest, self.now = org_id, table.digest, now
        self._ids: dict[tuple[int, str], uuid.UUID] = {}
        wanted = self.wanted([Row(line, table.header, cells) for line, cells in table.rows])
        event_ids = [str(self.event_id(line, t)) for line, _ in table.rows for t in self.event_types]
        self.register = load_register(engine, org_id, event_ids=event_ids, **wanted)

    @abc.abstractmethod
    def wanted(self, rows: list[Row]) -> dict[str, set[str]]:
        """The ids each kind of reference in these rows names (what the register must look up)."""

    @abc.abstractmethod
    def row(self, row: Row) -> list[Envelope]:
        """The events one row makes; its problems go on the row."""

    def event_id(self, line: int, event_type: str) -> uuid.UUID:
        """The id of the event a line makes: the same whenever this file is sent for this organisation."""
        key = (line, event_type)
        if key not in self._ids:
            self._ids[key] = uuid.uuid5(_NAMESPACE, f"{self.org_id}/{self.digest}/{line}/{event_type}")
        return self._ids[key]

    def generated(self, prefix: str, line: int, event_type: str) -> str:
        return f"{prefix}-{self.event_id(line, event_type).hex[:10]}"

    def new_record(
        self, row: Row, column: str, ident: str, event_type: str, known: Collection[str], *, once: str
    ) -> None:
        """`ident` names a new record: once in the file (`once` says how), and not already recorded, unless
        this very line was recorded before (the same file sent again)."""
        if ident in self.seen:
            row.problem(column, f"{shown(ident)} is also on line {self.seen[ident]}; {once}")
        else:
            self.seen[ident] = row.line
        resent = str(self.event_id(row.line, event_type)) in self.register.recorded
        if ident in known and not resent:
            what = "registered" if column == "participant_id" else "recorded"
            row.problem(column, f"{shown(ident)} is already {what} — was this file imported before?")

    def event(self, row: Row, event_type: str, occurred_at: datetime, payload: dict[str, Any]) -> Envelope | None:
        """Validate through the API's own event models; each problem goes to its column."""
        raw = {
            "event_id": str(self.event_id(row.line, event_type)),
            "type": event_type,
            "org_id": self.org_id,
            "occurred_at": occurred_at.isoformat(),
            "payload": payload,
        }
        try:
            event: Envelope = EVENT_ADAPTER.validate_python(raw)
        except ValidationError as exc:
            for error in exc.errors(include_url=False):
                row.problem(self.column(error["loc"]), reason(error))
            return None
        return self.as_claimed(event, raw)

    def as_claimed(self, event: Envelope, raw: dict[str, Any]) -> Envelope:
        """The event exactly as an earlier sending of this file claimed it, when that sending's append failed.

        The log refuses an event id whose claim names different content (impact.eventlog.recording). A line's
        event differs between sendings only in occurred_at, and only when that came from the day it was
        sent (a registration, see day_start) or the hour (before or after midday on the row's own day,
        see moment); the claim's digest tells which of those few instants the earlier sending used.
        """
        claim = self.register.claimed.get(raw["event_id"])
        if claim is None or content_digest(event) == claim[0]:
            return event
        known, claimed_at = claim
        claim_day = (claimed_at.astimezone(UTC) if claimed_at.tzinfo else claimed_at).date()
        days = {event.occurred_at.date(), *(claim_day + timedelta(days=n) for n in (-1, 0, 1))}
        for moment in sorted(datetime.combine(day, time(hour), tzinfo=UTC) for day in days for hour in (0, 12)):
            try:
                candidate: Envelope = EVENT_ADAPTER.validate_python({**raw, "occurred_at": moment.isoformat()})
            except ValidationError:
                continue  # a moment this line could not have had (in the future, say)
            if content_digest(candidate) == known:
                return candidate
        return event  # not this file's earlier event after all: the log refuses it (ReusedEventId)

    def column(self, loc: tuple[int | str, ...]) -> str:
        names = [part for part in loc if isinstance(part, str)]
        for name in reversed(names):
            if name in self.columns_of:
                return self.columns_of[name]
        return self.columns_of.get("", "row")

    def participant(self, row: Row, name: str, pid: str) -> None:
        """A reference to a participant: registered with this organisation, and not erased."""
        erased = self.register.participants.get(pid)
        if erased is None:
            row.problem(name, f"{shown(pid)} is not registered with your organisation; import or register them first")
        elif erased:
            row.problem(name, f"{shown(pid)} was erased; nothing more can be recorded for them")


def present(**values: Any) -> dict[str, Any]:
    """A payload without the fields left blank (so the model reports a required one as missing)."""
    return {name: value for name, value in values.items() if value is not None}


def reason(error: Any) -> str:
    """A reason a person can act on, for one pydantic error."""
    kind, context = error["type"], error.get("ctx") or {}
    if kind in {"missing", "string_too_short", "too_short"}:
        return "is empty; fill it in"
    if kind == "string_too_long":
        return f"is too long; use {context.get('max_length', 'fewer')} characters or fewer"
    if kind == "too_long":
        return f"names too many; use {context.get('max_length', 'fewer')} or fewer"
    if kind in {"float_parsing", "float_type"}:
        return "is not a number; enter hours as a number, for example 1.5"
    if kind in {"greater_than", "less_than_equal"}:
        return "must be more than 0 and at most 24 hours"
    if kind == "string_pattern_mismatch":
        return "is not a phone number we can use: 6 to 20 digits, spaces, brackets or hyphens, + at the start"
    if kind in {"enum", "literal_error"}:
        return "is not one of the allowed values"
    message = str(error["msg"]).removeprefix("Value error, ")
    if message.startswith("value is not a valid email address"):
        detail = message.partition(": ")[2]
        return "is not a valid e-mail address" + (f": {detail}" if detail else "")
    if message.startswith("use 1 to 64"):
        return "is not an ID we can use: " + message
    if message == "must not be in the future":
        return "is in the future; check the date"
    return message
