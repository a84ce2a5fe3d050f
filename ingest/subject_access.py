"""Subject access: everything the organisation holds about one participant, as JSON or as CSV.

`gather` builds one document with a section per kind of record: the register entry, attendances, what
they said and the changes it is linked to, the feedback they were sent, the feedback outbox, their
private links (when made, when they expire, whether revoked: never the link itself), and records that
need attention (dead letters) or wait for a reference (parked events) naming them. Nothing of another
participant is in it: a contribution made with others keeps its text but not their names or references.
The CSV is the same document in long form (`section,record,field,value`), formula-safe.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any, cast

from flask import Blueprint, Response, abort
from sqlalchemy import Connection, Table, and_, func, select
from sqlmodel import SQLModel

from impact.auth.sessions import CAN_LOG, get_engine, guard, signed_in
from impact.feedback.links import LINKS
from impact.feedback.outbox import ITEMS
from impact.feedback.outcomes import organisation_name, stories
from impact.spreadsheet import to_csv
from schemas.events import without_personal_data
from schemas.readmodels import (
    Activity,
    Attendance,
    ContributionParticipant,
    DeadLetter,
    Feedback,
    ParkedEvent,
    Participant,
)

bp = Blueprint("subject_access", __name__, url_prefix="/staff/participants")
guard(bp, CAN_LOG)  # staff and admins of the organisation; never cached (guard sets no-store)


def _t(model: type[SQLModel]) -> Table:
    return cast(Table, model.__table__)  # type: ignore[attr-defined]


P, A, AT, CP = _t(Participant), _t(Activity), _t(Attendance), _t(ContributionParticipant)
FB, DL, PE = _t(Feedback), _t(DeadLetter), _t(ParkedEvent)
REGISTER_FIELDS = [c.name for c in P.columns if c.name != "org_id"]
NOTES = [
    "Everything this organisation holds about the person on this platform, on the day it was made.",
    "A contribution made together with other people is included with its text; the others are not named.",
    "Private links are listed by when they were made and when they expire; the links themselves are never included.",
    "Records that need attention are events about them that were sent but not accepted; personal details in "
    "them are withheld (they are in the register entry above).",
]


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def _row(row: Any, fields: list[str]) -> dict[str, Any]:
    return {name: _plain(getattr(row, name)) for name in fields}


def _names_them(payload: dict[str, Any], participant_id: str) -> bool:
    ids = payload.get("participant_ids")
    return payload.get("participant_id") == participant_id or (isinstance(ids, list) and participant_id in ids)


def _events_naming(conn: Connection, table: Table, org_id: str, participant_id: str) -> list[tuple[Any, dict]]:
    """Stored events (dead letters, parked events) whose payload names the person, with only their part."""
    query = select(table).where(table.c.org_id == org_id, table.c.event_json.contains(participant_id, autoescape=True))
    found = []
    for row in conn.execute(query.limit(1000)):
        try:
            document = json.loads(row.event_json)
        except ValueError:
            continue
        payload = document.get("payload") if isinstance(document, dict) else None
        if not isinstance(payload, dict) or not _names_them(payload, participant_id):
            continue
        payload = without_personal_data(document).get("payload") or {}
        if "participant_ids" in payload:
            payload = {**payload, "participant_ids": [participant_id]}  # the others are not theirs to see
        found.append((row, {"type": document.get("type"), "occurred_at": document.get("occurred_at"), **payload}))
    return found


def gather(conn: Connection, org_id: str, participant_id: str, *, now: datetime | None = None) -> dict[str, Any] | None:
    """The whole export for one person of one organisation (None if the organisation has no such person)."""
    entry = conn.execute(select(P).where(P.c.org_id == org_id, P.c.participant_id == participant_id)).first()
    if entry is None:
        return None
    mine = and_(CP.c.org_id == org_id, CP.c.participant_id == participant_id)
    shared: dict[str, int] = dict(
        conn.execute(
            select(CP.c.contribution_id, func.count())
            .where(CP.c.org_id == org_id, CP.c.contribution_id.in_(select(CP.c.contribution_id).where(mine)))
            .group_by(CP.c.contribution_id)
        ).all()
    )
    attended = conn.execute(
        select(AT, A.c.title, A.c.held_on, A.c.area, A.c.level)
        .select_from(AT.outerjoin(A, and_(A.c.org_id == AT.c.org_id, A.c.activity_id == AT.c.activity_id)))
        .where(AT.c.org_id == org_id, AT.c.participant_id == participant_id)
        .order_by(AT.c.attended_on, AT.c.activity_id)
    ).all()
    feedback = conn.execute(
        select(FB).where(FB.c.org_id == org_id, FB.c.participant_id == participant_id).order_by(FB.c.sent_at)
    ).all()
    items = conn.execute(
        select(ITEMS)
        .where(ITEMS.c.org_id == org_id, ITEMS.c.participant_id == participant_id)
        .order_by(ITEMS.c.decided_on, ITEMS.c.change_id)
    ).all()
    links = conn.execute(
        select(LINKS.c.created_at, LINKS.c.expires_at, LINKS.c.revoked_at)
        .where(LINKS.c.org_id == org_id, LINKS.c.participant_id == participant_id)
        .order_by(LINKS.c.created_at)
    ).all()
    return {
        "about": {
            "organisation": organisation_name(conn, org_id),
            "participant_id": participant_id,
            "made_at": _plain(now or datetime.now(UTC)),
            "notes": NOTES,
        },
        "register": _row(entry, REGISTER_FIELDS),
        "attendances": [
            {
                "activity_id": row.activity_id,
                "activity_title": row.title,
                "activity_date": _plain(row.held_on),
                "area": row.area,
                "level": row.level,
                "attended_on": _plain(row.attended_on),
                "hours": row.hours,
                "role_in_session": row.session_role,
            }
            for row in attended
        ],
        "contributions": [
            {
                "contribution_id": story.said.contribution_id,
                "made_on": _plain(story.said.made_on),
                "area": story.said.area,
                "text": story.said.text,
                "activity": story.said.activity_title,
                "made_with_others": shared.get(story.said.contribution_id, 1) > 1,
                "changes": [
                    {
                        "change_id": decision.change_id,
                        "title": decision.title,
                        "what_the_organisation_did": decision.description,
                        "status": decision.status,
                        "note": decision.note,
                        "decided_on": _plain(decision.decided_on),
                        "influence": strength,
                    }
                    for decision, strength in story.changes
                ],
            }
            for story in reversed(stories(conn, org_id, participant_id))
        ],
        "feedback_sent": [_row(row, ["change_id", "channel", "sent_at"]) for row in feedback],
        "feedback_outbox": [
            _row(row, ["change_id", "decided_on", "state", "channel", "attempts", "last_error", "sent_at"])
            for row in items
        ],
        "private_links": [_row(row, ["created_at", "expires_at", "revoked_at"]) for row in links],
        "records_needing_attention": [
            {"reason": row.reason, "dead_at": _plain(row.dead_at), "corrected": row.resolved_by is not None, **event}
            for row, event in _events_naming(conn, DL, org_id, participant_id)
        ],
        "records_waiting": [
            {"waiting_for": row.expectation, **event} for row, event in _events_naming(conn, PE, org_id, participant_id)
        ],
    }


def _flat(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _flat(inner, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list):
        if not value:
            yield prefix, ""
        for number, inner in enumerate(value, 1):
            yield from _flat(inner, f"{prefix}.{number}")
    elif isinstance(value, bool):
        yield prefix, "true" if value else "false"
    else:
        yield prefix, value


def long_rows(document: dict[str, Any]) -> Iterator[tuple[Any, ...]]:
    """The document as `section, record, field, value` rows (a record numbers the entries of a section)."""
    yield "section", "record", "field", "value"
    for section, content in document.items():
        records = content if isinstance(content, list) else [content]
        for number, record in enumerate(records, 1):
            for name, value in _flat(record):
                yield section, number, name, value


def _document(participant_id: str) -> dict[str, Any]:
    with get_engine().connect() as conn:
        document = gather(conn, signed_in().org_id, participant_id)
    if document is None:
        abort(404)
    return document


def _attachment(body: str, mimetype: str, participant_id: str, extension: str) -> Response:
    name = f"subject-access-{participant_id.replace(':', '-')}-{datetime.now(UTC):%Y-%m-%d}.{extension}"
    return Response(
        body,
        mimetype=mimetype,
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )


@bp.get("/<participant_id>/export.json")
def export_json(participant_id: str) -> Response:
    body = json.dumps(_document(participant_id), indent=2, ensure_ascii=False)
    return _attachment(body, "application/json", participant_id, "json")


@bp.get("/<participant_id>/export.csv")
def export_csv(participant_id: str) -> Response:
    body = "\ufeff" + to_csv(long_rows(_document(participant_id)))  # the mark tells spreadsheets it is UTF-8
    return _attachment(body, "text/csv", participant_id, "csv")
