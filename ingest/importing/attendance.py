"""Attendance files: a row per person at an activity; an activity's first row creates it, later rows agree."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine

from ingest.importing.cells import Row, moment, shown, shown_value
from ingest.importing.checker import Checker, present
from ingest.importing.read import Table
from schemas.events import Envelope


@dataclass
class _ActivitySeen:
    line: int | None  # the line that creates it in this file; None when the read models hold it
    title: str | None
    area: str | None
    level: str | None
    day: date | None
    duration: float | None


class AttendanceChecker(Checker):
    event_types = ("activity.held", "session.attended")
    columns_of = {
        "activity_id": "activity_id",
        "title": "activity_title",
        "area": "area",
        "level": "level",
        "date": "date",
        "occurred_at": "date",
        "duration_hours": "duration_hours",
        "participant_id": "participant_id",
        "hours": "hours",
        "session_role": "session_role",
    }

    def __init__(self, table: Table, org_id: str, engine: Engine, now: datetime) -> None:
        super().__init__(table, org_id, engine, now)
        self.activities: dict[str, _ActivitySeen] = {
            aid: _ActivitySeen(None, a.title, a.area, a.level, a.held_on, a.duration_hours)
            for aid, a in self.register.activities.items()
        }
        self.attended: dict[tuple[str, str], int] = {}

    def wanted(self, rows: list[Row]) -> dict[str, set[str]]:
        return {
            "participants": {row.text("participant_id") for row in rows} - {""},
            "activities": {row.text("activity_id") for row in rows} - {""},
        }

    def row(self, row: Row) -> list[Envelope]:
        aid, pid = row.text("activity_id"), row.text("participant_id")
        title = row.text("activity_title") or None
        area, level = row.choice("area"), row.choice("level")
        day, duration = row.day("date", self.now), row.hours("duration_hours")
        events: list[Envelope] = []
        if not aid:
            row.problem("activity_id", "is empty; fill it in")
        elif aid not in self.activities:
            # The first row of an activity creates it: every detail is needed.
            # What a later row is compared with: only the details that were good on this line.
            good = {name: name not in row.problems for name in ("activity_title", "area", "level", "duration_hours")}
            self.activities[aid] = _ActivitySeen(
                row.line,
                title if good["activity_title"] else None,
                area if good["area"] else None,
                level if good["level"] else None,
                day,
                duration if isinstance(duration, float) and good["duration_hours"] else None,
            )
            payload = present(
                activity_id=aid,
                title=title,
                area=area,
                level=level,
                date=day.isoformat() if day else None,
                duration_hours=duration,
            )
            for name, value in (("activity_title", title), ("area", area), ("level", level), ("date", day)):
                if value is None:
                    row.problem(name, f"is empty; activity {shown(aid)} is new, so it needs one")
            if duration is None:
                row.problem("duration_hours", f"is empty; activity {shown(aid)} is new, so it needs one")
            held = self.event(row, "activity.held", moment(day, self.now) if day else self.now, payload)
            if held:
                events.append(held)
        else:
            self.agree(row, aid, title=title, area=area, level=level, day=day, duration=duration)
        activity = self.activities.get(aid)
        if not pid:
            row.problem("participant_id", "is empty; fill it in")
        else:
            self.participant(row, "participant_id", pid)
            key = (aid, pid)
            resent = str(self.event_id(row.line, "session.attended")) in self.register.recorded
            if key in self.attended:
                row.problem("participant_id", f"{shown(pid)} is also on line {self.attended[key]} for this activity")
            elif key in self.register.attendances and not resent:
                row.problem(
                    "participant_id",
                    f"{shown(pid)} is already recorded as attending {shown(aid)} — was this file imported before?",
                )
            self.attended.setdefault(key, row.line)
        hours = row.hours("hours")
        if hours is None and activity is not None:
            hours = activity.duration
        if isinstance(hours, float) and activity and activity.duration and hours > activity.duration:
            row.problem("hours", f"is more than the activity lasted ({activity.duration:g} hours)")
        payload = present(activity_id=aid, participant_id=pid, hours=hours, session_role=row.choice("session_role"))
        held_on = activity.day if activity and activity.day else None
        attended = self.event(row, "session.attended", moment(held_on, self.now) if held_on else self.now, payload)
        if attended:
            events.append(attended)
        return events

    def agree(self, row: Row, aid: str, **given: Any) -> None:
        """Later rows of an activity (or rows naming a recorded one) must agree with its details."""
        known = self.activities[aid]
        where = f"on line {known.line}" if known.line else "as recorded"
        pairs = {
            "activity_title": (given["title"], known.title),
            "area": (given["area"], known.area),
            "level": (given["level"], known.level),
            "date": (given["day"], known.day),
            "duration_hours": (given["duration"], known.duration),
        }
        for name, (mine, theirs) in pairs.items():
            if mine is None or theirs is None or name in row.problems:
                continue
            same = str(mine).casefold() == str(theirs).casefold() if name == "activity_title" else mine == theirs
            if not same:
                theirs_shown = shown_value(name, theirs)
                row.problem(
                    name, f"differs from activity {shown(aid)} {where} ({theirs_shown}); one activity has one {name}"
                )
