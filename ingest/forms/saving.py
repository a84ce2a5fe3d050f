"""Read your writes: what became of the events a staff form has just recorded, until the processor has them.

A form records events in the log and redirects; the processor folds them into the read models a moment
later. `confirm` (ingest/forms/common.py) waits briefly, then the next page says the record is saved, is
being saved (the page follows it through `GET /staff/saving`, ingest/static/saving.js), or was refused,
with a link to it in "Needs attention". Only the page reads the read models here; whether an event is
accepted never depends on them.
"""

from __future__ import annotations

import base64
import binascii
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from flask import current_app, jsonify, render_template, request, session, url_for
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError

from impact.auth.sessions import get_engine
from ingest.forms.common import bp, org_id
from schemas.readmodels import DeadLetter, ParkedEvent, ProcessedEvent

State = Literal["saved", "saving", "rejected"]

FOLLOWED = 40  # the most event ids a page follows (the last ones recorded: an organisation's log is ordered)
POLL_SECONDS = 0.1  # how often `wait` looks while the form waits
JUST_SAVED_SECONDS = 600  # how long a record page may say "being saved" for something this browser recorded
JUST_SAVED_KEPT = 5  # the most records remembered in the session (references and short text only)
SAVING = "It is being saved and will show here in a moment."
SAVED = "Saved."
# What a parked event waits for (schemas.quality.WAIT_FOR), in the words of the page.
WAITING_FOR = {
    "participant_registered": "the participant",
    "activity_recorded": "the activity",
    "contributions_recorded": "the contribution",
    "change_recorded": "the change",
}


@dataclass(frozen=True)
class Progress:
    """Where a save stands: every event folded (saved), some still on the way (saving), or one refused."""

    state: State
    waiting_for: str = ""  # saving, with an event parked until what it refers to arrives
    reason: str = ""  # rejected: the first dead letter's reason
    problem: str = ""  # rejected: that dead letter's event id
    refused: int = 0
    total: int = 0

    def problem_url(self) -> str | None:
        return url_for("problems.correct", event_id=self.problem) if self.problem else None

    def notice(self) -> str:
        """The words the notice ends with (saving, rejected) or is (saved)."""
        if self.state == "saved":
            return SAVED
        if self.state == "rejected":
            part = f" ({self.refused} of the {self.total} records; the others are saved)" if self.total > 1 else ""
            return f"Not saved{part}: {_in_sentence(self.reason)}"
        if self.waiting_for:
            return f"It is being saved: it is waiting for {self.waiting_for} it refers to, which has not arrived yet."
        return SAVING


def _in_sentence(reason: str) -> str:
    """A reason after a colon: its first word in lower case, unless it is an abbreviation ("GX", "ID")."""
    return reason[:1].lower() + reason[1:] if reason[1:2].islower() else reason


def progress(engine: Engine, org: str, event_ids: Sequence[str]) -> Progress:
    """What has become of `event_ids` of organisation `org` in the read models."""
    ids = list(dict.fromkeys(event_ids))
    if not ids:
        return Progress("saved")
    dead, p, parked = DeadLetter.__table__.c, ProcessedEvent.__table__.c, ParkedEvent.__table__.c  # type: ignore[attr-defined]
    with engine.connect() as conn:
        letters = conn.execute(
            select(dead.event_id, dead.reason, dead.resolved_by)
            .where(dead.org_id == org, dead.event_id.in_(ids))
            .order_by(dead.dead_at, dead.event_id)
        ).all()
        refused = [row for row in letters if row.resolved_by is None]
        if refused:
            return Progress(
                "rejected", reason=refused[0].reason, problem=refused[0].event_id, refused=len(refused), total=len(ids)
            )
        done = {row.event_id for row in letters}  # refused, then corrected: what it became is saved
        done.update(conn.scalars(select(p.event_id).where(p.org_id == org, p.event_id.in_(ids))))
        if done.issuperset(ids):
            return Progress("saved", total=len(ids))
        waiting = conn.scalars(
            select(parked.expectation).where(parked.org_id == org, parked.event_id.in_(ids)).limit(1)
        ).first()
    return Progress("saving", waiting_for=WAITING_FOR.get(waiting or "", "what" if waiting else ""), total=len(ids))


def wait(engine: Engine, org: str, event_ids: Sequence[str], seconds: float) -> Progress:
    """`progress`, looked at until it is no longer "saving" or `seconds` have passed (0: once)."""
    deadline = time.monotonic() + seconds
    while True:
        found = progress(engine, org, event_ids)
        if found.state != "saving" or time.monotonic() + POLL_SECONDS > deadline:
            return found
        time.sleep(POLL_SECONDS)


# --- The signed list of event ids a page follows -------------------------------------------------------------


def _signer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="saving")


def followed(event_ids: Sequence[str]) -> list[str]:
    """The event ids a page follows: the last FOLLOWED (each organisation's log is in order, so once the
    last are folded the earlier are too; a refusal among the earlier ones shows in Needs attention)."""
    return list(dict.fromkeys(event_ids))[-FOLLOWED:]


def token_for(org: str, event_ids: Sequence[str]) -> str:
    """The ids (16 bytes each), signed for the organisation, so nobody can ask about anyone else's."""
    packed = base64.urlsafe_b64encode(b"".join(uuid.UUID(i).bytes for i in followed(event_ids))).decode()
    return str(_signer().dumps([org, packed.rstrip("=")]))


def ids_of(token: str, org: str) -> list[str] | None:
    """The event ids of a token signed for `org`, or None (tampered, or another organisation's)."""
    try:
        signed_for, packed = _signer().loads(token)
        raw = base64.urlsafe_b64decode(str(packed) + "=" * (-len(str(packed)) % 4))
    except (BadSignature, ValueError, TypeError, binascii.Error):
        return None
    if signed_for != org or not raw or len(raw) % 16 or len(raw) > 16 * FOLLOWED:
        return None
    return [str(uuid.UUID(bytes=raw[i : i + 16])) for i in range(0, len(raw), 16)]


@bp.get("/saving")
def saving() -> Any:
    """Where the save a page follows stands: {state: saved|saving|rejected, message, problem_url}."""
    token = request.args.get("ids", "")
    if not token:
        return jsonify(message="Say which save to look at (ids)."), 400
    ids = ids_of(token, org_id())
    if ids is None:
        return jsonify(message="Nothing saved by this organisation matches that link."), 404
    try:
        found = progress(get_engine(), org_id(), ids)
    except SQLAlchemyError:
        found = Progress("saving")  # the read models cannot say just now: the page asks again
    response = jsonify(state=found.state, message=found.notice(), problem_url=found.problem_url())
    response.headers["Cache-Control"] = "no-store"
    return response


# --- What this browser has just saved ------------------------------------------------------------------------

# Which record an event is about: the kind (a type's first word, or "activity" for attendance) and its key.
KINDS = {
    "participant": "participant_id",
    "activity": "activity_id",
    "contribution": "contribution_id",
    "change": "change_id",
}
SESSION_KEY = "just_saved"


def records_of(events: Iterable[Any]) -> list[tuple[str, str, str]]:
    """(kind, reference, the last event id about it) of each record the events are about, once each."""
    found: dict[tuple[str, str], str] = {}
    for event in events:
        kind = str(event.type).split(".")[0]
        kind = "activity" if kind == "session" else kind
        payload: Any = event.payload
        reference = getattr(payload, KINDS[kind], None) if kind in KINDS else None
        if isinstance(reference, str):
            found[kind, reference] = str(event.event_id)
    return [(kind, reference, event_id) for (kind, reference), event_id in found.items()]


def remember(org: str, records: Sequence[tuple[str, str, str]], text: str) -> None:
    """Keep, in the session, that this browser has just saved `records` (with the notice's own text)."""
    now = int(time.time())
    saved_now = {(kind, reference) for kind, reference, _event in records}
    kept = [entry for entry in _entries() if entry[0] != org or (entry[1], entry[2]) not in saved_now]
    kept += [[org, kind, reference, text[:160], now, event_id] for kind, reference, event_id in records]
    session[SESSION_KEY] = kept[-JUST_SAVED_KEPT:]


def just_saved(kind: str, record_id: str) -> str | None:
    """What this browser has just saved about a record of the signed-in organisation that the read models do
    not show yet (so its page can say "Being saved: …" instead of "not found"), or None."""
    entry = _entry(kind, record_id)
    return str(entry[3]) if entry else None


def being_saved(kind: str, record_id: str) -> tuple[str, int] | None:
    """The page of a record this browser has just saved, while the read models do not have it yet: what was
    saved, followed (saving.js) until the record's own page can be shown; or None (then: not found)."""
    entry = _entry(kind, record_id)
    if entry is None:
        return None
    org = org_id()
    try:
        found = progress(get_engine(), org, [entry[5]])
    except SQLAlchemyError:
        found = Progress("saving")
    notice: dict[str, str | None] = {
        "text": f"Being saved: {entry[3]}",
        "state": found.notice(),
        "token": token_for(org, [entry[5]]),
    }
    if found.state == "rejected":
        notice = {"text": found.notice(), "link": found.problem_url()}
    return render_template("being_saved.html", notice=notice, rejected=found.state == "rejected"), 200


def _entry(kind: str, record_id: str) -> list[Any] | None:
    org = org_id()
    for entry in reversed(_entries()):
        if entry[:3] == [org, kind, record_id]:
            return entry
    return None


def _entries() -> list[list[Any]]:
    """The session's recent saves, [org, kind, reference, text, when, event id], the stale and malformed left out."""
    stored = session.get(SESSION_KEY)
    oldest = time.time() - JUST_SAVED_SECONDS
    if not isinstance(stored, list):
        return []
    return [e for e in stored if isinstance(e, list) and len(e) == 6 and isinstance(e[4], int) and e[4] >= oldest]
