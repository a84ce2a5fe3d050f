"""Contributions files: what people said, naming registered participants and, if any, a recorded activity."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import Engine

from ingest.importing.cells import Row, moment, shown
from ingest.importing.checker import Checker, present
from ingest.importing.read import Table
from schemas.events import Envelope


class ContributionsChecker(Checker):
    event_types = ("contribution.made",)
    columns_of = {
        "contribution_id": "contribution_id",
        "participant_ids": "participant_ids",
        "activity_id": "activity_id",
        "area": "area",
        "text": "text",
        "occurred_at": "date",
    }

    def __init__(self, table: Table, org_id: str, engine: Engine, now: datetime) -> None:
        super().__init__(table, org_id, engine, now)
        self.seen: dict[str, int] = {}

    @staticmethod
    def ids(row: Row) -> list[str]:
        return list(
            dict.fromkeys(part.strip() for part in re.split(r"[;,]", row.text("participant_ids")) if part.strip())
        )

    def wanted(self, rows: list[Row]) -> dict[str, set[str]]:
        return {
            "participants": {pid for row in rows for pid in self.ids(row)},
            "activities": {row.text("activity_id") for row in rows} - {""},
            "contributions": {row.text("contribution_id") for row in rows} - {""},
        }

    def row(self, row: Row) -> list[Envelope]:
        event_type = self.event_types[0]
        cid = row.text("contribution_id") or self.generated("c", row.line, event_type)
        self.new_record(
            row, "contribution_id", cid, event_type, self.register.contributions, once="each contribution once"
        )
        pids = self.ids(row)
        for pid in pids:
            self.participant(row, "participant_ids", pid)
        aid = row.text("activity_id")
        if aid and aid not in self.register.activities:
            row.problem("activity_id", f"{shown(aid)} is not a recorded activity of your organisation; record it first")
        day = row.day("date", self.now)
        if day is None and "date" not in row.problems:
            row.problem("date", "is empty; fill it in")
        payload = present(
            contribution_id=cid,
            participant_ids=pids,
            activity_id=aid or None,
            area=row.choice("area"),
            text=row.text("text"),
        )
        event = self.event(row, event_type, moment(day, self.now) if day else self.now, payload)
        return [event] if event else []
