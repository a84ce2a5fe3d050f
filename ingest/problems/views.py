"""The pages of records that need attention: the list of open dead letters, and the correction form of one.

The form comes from `formgen` (one field per payload field); the dead letters from `queries`, always
of the signed-in person's organisation.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, render_template, request, url_for
from sqlalchemy.exc import SQLAlchemyError

from impact.auth.sessions import CAN_LOG, get_engine, guard, signed_in
from ingest.forms.common import (
    blank,
    confirm,
    derived_id,
    moment_of,
    opened,
    org_id,
    parse_day,
    posted,
    render_form,
    save,
    validate,
)
from ingest.problems.formgen import (
    OCCURRED,
    as_text,
    labels_of,
    payload_of,
    placer,
    sections,
    shown,
    specs_of,
    stored_value,
)
from ingest.problems.names import FIELD_OF, Named, limits, named, register
from ingest.problems.queries import find_letter, open_count, open_letters, read
from schemas.events import LATEST_VERSION, WITHHELD
from schemas.readmodels import DeadLetter
from schemas.vocab import EVENT_LABELS, EventType, label

CORRECTIONS = uuid.UUID("3c1f0a52-7d4e-4b8e-9a61-2f5d8c0e7b13")  # the namespace of correction event ids

bp = Blueprint("problems", __name__, url_prefix="/staff/problems")

guard(bp, CAN_LOG)  # staff and admins of the organisation, like the other staff pages

# Where a problem across several fields is shown when its message names no field.
ACROSS_FIELDS = {
    "participant.registered": "preferred_channel",
    "change.recorded": "links",
    "change.status_changed": "decided_on",
}
WITHHELD_HINT = "This was withheld to protect personal data: type it again."


def kind(event_type: str) -> str:
    """What kind of record an event type is, in the words every page uses (schemas.vocab.EVENT_LABELS)."""
    try:
        return EVENT_LABELS[EventType(event_type)]
    except ValueError:
        return "Unreadable record" if not event_type else label(event_type.replace(".", " "))


@dataclass(frozen=True)
class Problem:
    """One entry of the list: the dead letter, its kind of record, the records it names, and the check's limits."""

    letter: DeadLetter
    kind: str
    named: list[Named]
    limits: str


def letter_or_404(org: str, event_id: str) -> DeadLetter:
    found = find_letter(org, event_id, engine=get_engine())
    if found is None:
        abort(404)
    return found


@bp.app_context_processor
def _nav() -> dict[str, Any]:
    """`open_problems()` for the navigation: how many records of the organisation need attention."""

    def open_problems() -> int:
        try:
            return open_count(signed_in().org_id, engine=get_engine())
        except SQLAlchemyError:  # a count in the navigation never breaks a page
            return 0

    return {"open_problems": open_problems}


@bp.get("/")
def index() -> Any:
    stored = [read(letter) for letter in open_letters(org_id(), engine=get_engine())]
    known = register(org_id(), (item.payload for item in stored), engine=get_engine())
    rows = [Problem(item.letter, kind(item.letter.type), named(item, known), limits(item, known)) for item in stored]
    return render_template("problems.html", rows=rows)


@bp.route("/<event_id>", methods=["GET", "POST"])
def correct(event_id: str) -> Any:
    letter = letter_or_404(org_id(), event_id)
    stored = read(letter)
    what = kind(letter.type)
    known = register(org_id(), [stored.payload], engine=get_engine())
    rule = limits(stored, known)
    context: dict[str, Any] = {
        "letter": letter,
        "kind": what,
        "stored": stored,
        "named": named(stored, known),
        "limits": rule,
    }
    if not stored.correctable:
        return render_template("problems_correct.html", parts=[], recorded=[], form={}, errors={}, labels={}, **context)
    parts = sections(letter.type)
    specs = specs_of(parts)
    labels = labels_of(parts)
    recorded = [(spec.label, shown(spec, stored_value(stored.payload, spec.path))) for spec in specs]
    withheld = {spec.name for spec in specs if stored_value(stored.payload, spec.path) == WITHHELD}
    # The check's limits go beside the field they are about (for hours, instead of the general "at most 24").
    beside = next((name for name in FIELD_OF.get(letter.expectation, ()) if name in labels), "")
    hints = {
        spec.name: " ".join(
            part
            for part in (
                rule if spec.name == beside else "",
                "" if spec.name == beside and spec.kind == "number" else spec.hint,
                WITHHELD_HINT if spec.name in withheld else "",
            )
            if part
        )
        for spec in specs
    }
    context |= {"parts": parts, "recorded": recorded, "hints": hints, "withheld": withheld}
    day = stored.occurred.date().isoformat() if stored.occurred else ""
    form = blank(labels, **{spec.name: as_text(spec, stored_value(stored.payload, spec.path)) for spec in specs})
    form[OCCURRED] = day
    errors: dict[str, str] = {}
    if request.method == "POST":
        form = posted(labels)
        # One correction per dead letter, whoever sends it and from however many tabs: a second, different
        # one is refused at the door (the same id with other content) instead of counting twice.
        correction_id = str(derived_id(CORRECTIONS, letter.event_id))
        if letter.resolved_by:  # corrected already: a resend of that same form is answered as before
            if letter.resolved_by == correction_id:
                return confirm(_sent(what), url_for("problems.index"))
            return render_template("problems_correct.html", form=form, errors={}, labels=labels, **context), 409
        payload = payload_of(parts, form, errors)
        occurred_on = parse_day(form[OCCURRED], errors, OCCURRED)
        if occurred_on is None:
            occurred_at = ""
        elif stored.occurred is not None and occurred_on == stored.occurred.date():
            occurred_at = stored.occurred.isoformat()  # unchanged: exactly as first recorded
        else:
            occurred_at = moment_of(occurred_on, opened(form["submission"])).isoformat()
        raw = {
            "event_id": correction_id,
            "type": letter.type,
            "org_id": org_id(),
            "occurred_at": occurred_at,
            "schema_version": LATEST_VERSION.get(letter.type, 1),
            "corrects": letter.event_id,
            "payload": payload,
        }
        fallback = ACROSS_FIELDS.get(letter.type, specs[0].name if specs else OCCURRED)
        choose = {spec.name: f"Choose {spec.label.lower()}." for spec in specs if spec.kind in {"select", "yesno"}}
        event = validate(raw, errors, place=placer(parts, fallback), labels=labels, choose=choose)
        if event is not None and save([event], errors, specs[0].name if specs else OCCURRED):
            return confirm(_sent(what), url_for("problems.index"))
    return render_form("problems_correct.html", form=form, errors=errors, labels=labels, **context)


def _sent(what: str) -> str:
    return (
        f"Correction sent: the {what.lower()} will be checked again in a few seconds. Once it is accepted it "
        "leaves this list; if something is still wrong, it comes back here with what to fix."
    )
