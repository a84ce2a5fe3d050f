"""Participants files: one registration per row, each person once, none already registered."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine

from ingest.importing.cells import Row, day_start
from ingest.importing.checker import Checker, present
from ingest.importing.columns import DEMOGRAPHICS
from ingest.importing.read import Table
from schemas.events import Envelope
from schemas.vocab import label


class ParticipantsChecker(Checker):
    event_types = ("participant.registered",)
    columns_of = {
        "participant_id": "participant_id",
        "display_name": "display_name",
        "role": "role",
        "email": "email",
        "phone": "phone",
        "postal_address": "postal_address",
        "consent_to_contact": "consent_to_contact",
        "preferred_channel": "preferred_channel",
        **{name: name for name in DEMOGRAPHICS},
        "": "preferred_channel",  # the model's own check: a channel needs its contact detail
    }

    def __init__(self, table: Table, org_id: str, engine: Engine, now: datetime) -> None:
        super().__init__(table, org_id, engine, now)
        self.seen: dict[str, int] = {}

    def wanted(self, rows: list[Row]) -> dict[str, set[str]]:
        return {"participants": {row.text("participant_id") for row in rows} - {""}}

    def row(self, row: Row) -> list[Envelope]:
        event_type = self.event_types[0]
        pid = row.text("participant_id") or self.generated("p", row.line, event_type)
        self.new_record(
            row, "participant_id", pid, event_type, self.register.participants, once="list each person once"
        )
        consent = row.flag("consent_to_contact")
        channel = row.choice("preferred_channel")
        contact = {name: row.text(name) for name in ("email", "phone", "postal_address") if row.text(name)}
        needs = {"email": "email", "phone": "phone", "post": "postal_address"}
        if consent is True and channel in needs and needs[channel] not in contact:
            row.problem("preferred_channel", f"is {label(channel)}, so {needs[channel]} needs filling in")
        payload = present(
            participant_id=pid,
            display_name=row.text("display_name"),
            role=row.choice("role"),
            contact=contact or None,
            consent_to_contact=consent,
            preferred_channel=channel,
            demographics=present(**{name: row.choice(name) for name in DEMOGRAPHICS}),
        )
        event = self.event(row, event_type, day_start(self.now), payload)
        return [event] if event else []
