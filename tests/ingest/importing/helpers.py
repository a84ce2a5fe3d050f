"""Shared by the import tests: the example files, and sending a file as staff do."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from flask.testing import FlaskClient
from openpyxl import Workbook
from sqlalchemy import Engine
from sqlmodel import Session, select

from impact.eventlog import EventLog
from impact.eventlog.embedded import EmbeddedLog
from impact.settings import Settings
from schemas.events import StoredEvent
from schemas.readmodels import DeadLetter
from tests.factories import csrf_from

ORG = "mind-leeds"
PAGE = "/staff/import/"
PEOPLE_HEADER = [
    "participant_id",
    "display_name",
    "role",
    "email",
    "consent_to_contact",
    "preferred_channel",
    "age_band",
]
ATTENDANCE_HEADER = [
    "activity_id",
    "activity_title",
    "area",
    "level",
    "date",
    "duration_hours",
    "participant_id",
    "hours",
    "session_role",
]
CONTRIBUTION_HEADER = ["contribution_id", "participant_ids", "activity_id", "area", "date", "text"]
PEOPLE = [
    ["P1", "Ann Carter", "Carer", "ann@example.org", "yes", "Email", "45 to 54"],
    ["P2", "Bilal Shah", "service_user", "", "no", "", "prefer_not_to_say"],
    ["P3", "Chris O'Neill", "patient", "", "", "", ""],
]
ATTENDANCE = [
    ["A1", "Carers' forum", "Support", "Co-production", "27/03/2026", "2", "P1", "", "Speaker"],
    ["A1", "", "", "", "", "", "P2", "1.5", ""],
    ["A2", "Board meeting", "governance", "user_led", "2026-04-02", "3", "P1", "3", "panel_member"],
    ["A2", "Board meeting", "Governance", "User led", "02/04/2026", "3", "P3", "", ""],
]
CONTRIBUTIONS = [
    ["C1", "P1; P2", "A1", "Support", "27/03/2026", "Evening meetings would let working carers come."],
    ["", "P3", "", "Strategy, policy and planning", "2026-04-02", "Put the plan in plain English."],
]


def as_csv(header: Sequence[str], rows: Sequence[Sequence[Any]], encoding: str = "utf-8") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def as_xlsx(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def send(client: FlaskClient, data: bytes, filename: str, kind: str = "detect") -> Any:
    token = csrf_from(client, PAGE)
    return client.post(
        PAGE,
        data={"csrf_token": token, "kind": kind, "file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )


def imported(client: FlaskClient, data: bytes, filename: str, kind: str = "detect") -> str:
    """Send a file that must import; the confirmation page's text."""
    response = send(client, data, filename, kind)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client.get(response.headers["Location"]).get_data(as_text=True)


def stored(event_log: EventLog, settings: Settings) -> list[StoredEvent]:
    assert isinstance(event_log, EmbeddedLog)
    return [StoredEvent.from_bytes(m.value) for m in event_log.read(settings.topic, 0, 100_000)]


def rows_of(engine: Engine, model: type, *order: Any) -> list[Any]:
    with Session(engine) as session:
        return list(session.exec(select(model).where(model.org_id == ORG).order_by(*order)).all())  # type: ignore[attr-defined]


def no_dead_letters(engine: Engine) -> None:
    with Session(engine) as session:
        dead = session.exec(select(DeadLetter)).all()
    assert not dead, [(d.expectation, d.reason) for d in dead]


def staff_account_id(engine: Engine) -> int:
    from impact.auth.accounts import StaffAccount

    with Session(engine) as session:
        account = session.exec(select(StaffAccount).where(StaffAccount.email == f"staff@{ORG}.example.org")).one()
    return int(account.id or 0)
