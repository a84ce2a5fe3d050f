"""Records that need attention: the organisation's dead letters, and a form to correct and resubmit each.

A dead letter is an event the processors refused, with the expectation it failed and a sentence a staff
member can act on. Staff see their organisation's open ones (not yet corrected), open one, and correct it
in a form generated from the event's stored payload: one labelled field per payload field. The
correction is a new event of the same type whose `corrects` names the dead letter; it is recorded like
any other form's event (once, however often the form is sent) and checked again by the processors,
which mark the dead letter resolved when they have processed it.

Personal fields of a participant's registration are withheld in the stored copy: they start empty and
must be typed again. Another organisation's dead letter is "not found".
"""

from __future__ import annotations

import json
import types
import typing
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum
from typing import Any, Union

from flask import Blueprint, abort, render_template, request, url_for
from pydantic import BaseModel
from sqlalchemy import func
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select

from impact.auth.sessions import CAN_LOG, get_engine, guard, signed_in
from ingest.forms.common import (
    area_choices,
    blank,
    choices,
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
from schemas.events import LATEST_VERSION, PAYLOADS, UPCASTERS, WITHHELD, StoredEvent
from schemas.readmodels import DeadLetter
from schemas.vocab import Area, label

CORRECTIONS = uuid.UUID("3c1f0a52-7d4e-4b8e-9a61-2f5d8c0e7b13")  # the namespace of correction event ids

bp = Blueprint("problems", __name__, url_prefix="/staff/problems")

guard(bp, CAN_LOG)  # staff and admins of the organisation, like the other staff pages

LIST_LIMIT = 2000

# What kind of record each event type is, in staff's words.
KINDS = {
    "participant.registered": "Participant registration",
    "participant.consent_changed": "Consent to be contacted",
    "participant.erased": "Request to erase a participant",
    "activity.held": "Activity",
    "session.attended": "Attendance",
    "contribution.made": "Contribution",
    "change.recorded": "Change",
    "change.status_changed": "Change of status",
    "feedback.sent": "Feedback sent",
}

# The label of each payload field (the same name means the same thing in every event type).
FIELD_LABELS = {
    "participant_id": "Participant reference",
    "display_name": "Name",
    "role": "Role",
    "contact": "Contact details",
    "email": "E-mail address",
    "phone": "Phone number",
    "postal_address": "Postal address",
    "consent_to_contact": "Agrees to be told what came of their involvement",
    "preferred_channel": "How they would like to hear",
    "demographics": "Equality monitoring",
    "age_band": "Age",
    "gender": "Gender",
    "ethnicity": "Ethnic group",
    "disability": "Disability",
    "region": "Region",
    "consent": "Agrees to be contacted",
    "channel": "How they would like to hear",
    "activity_id": "Activity reference",
    "title": "Title",
    "area": "Area of work",
    "level": "Level of involvement",
    "date": "Date held",
    "duration_hours": "Length in hours",
    "hours": "Hours",
    "session_role": "Their role in the session",
    "contribution_id": "Contribution reference",
    "participant_ids": "Participant references",
    "text": "What they said",
    "change_id": "Change reference",
    "description": "What the organisation did or will do",
    "status": "Status",
    "decided_on": "Date decided",
    "links": "Contributions that influenced it",
    "strength": "strength",
    "note": "Note",
    "change_ids": "Change references",
}
FIELD_HINTS = {
    "participant_id": "The person's reference, as shown on the Participants page.",
    "activity_id": "The activity's reference, as shown on its page.",
    "change_id": "The change's reference, as shown on its page.",
    "hours": "A number more than 0 and at most 24, for example 1.5.",
    "duration_hours": "A number more than 0 and at most 24, for example 1.5.",
    "participant_ids": "One reference per line.",
    "change_ids": "One reference per line.",
    "decided_on": "Needed unless the change is only proposed.",
    "note": "Needed if the change is declined: say why.",
}
# Where a problem across several fields is shown when its message names no field.
ACROSS_FIELDS = {
    "participant.registered": "preferred_channel",
    "change.recorded": "links",
    "change.status_changed": "decided_on",
}
OCCURRED = "occurred_on"
OCCURRED_LABEL = "Date it happened"
YES_NO = [("yes", "Yes"), ("no", "No")]
WITHHELD_HINT = "This was withheld to protect personal data: type it again."
NOT_GIVEN = "Not given"


# --- The form, generated from the payload model -----------------------------------------------


@dataclass(frozen=True)
class Spec:
    """One field of the correction form: where its value lives in the payload, and how it is typed."""

    name: str  # the form field (and element id): "hours", or "contact-email" inside a group
    path: tuple[str, ...]  # where in the payload: ("hours",) or ("contact", "email")
    label: str
    kind: str  # text | textarea | number | date | select | yesno | lines | rows
    required: bool
    options: list[tuple[str, str]] = field(default_factory=list)
    hint: str = ""
    max_length: int = 4000
    columns: tuple[str, ...] = ()  # for "rows": the fields of each line ("contribution_id", "strength")
    vocab: dict[str, frozenset[str]] = field(default_factory=dict)  # for "rows": each column's allowed values


@dataclass(frozen=True)
class Section:
    """Fields shown together: a whole payload field, or a group of them under a legend."""

    legend: str | None
    name: str | None
    fields: list[Spec]
    optional: bool = False  # the group may be left empty
    nullable: bool = False  # an empty group is sent as None (else as a group of empty answers)


def _unwrap(annotation: Any) -> tuple[Any, bool, list[Any]]:
    """(the type, whether None is allowed, metadata found in Annotated) of a field's annotation."""
    optional = False
    if typing.get_origin(annotation) in (Union, types.UnionType):
        args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        optional = len(args) < len(typing.get_args(annotation))
        annotation = args[0] if len(args) == 1 else str
    metadata: list[Any] = []
    if typing.get_origin(annotation) is typing.Annotated:
        annotation, *metadata = typing.get_args(annotation)
    return annotation, optional, metadata


def _max_length(metadata: list[Any]) -> int | None:
    return next((int(m.max_length) for m in metadata if getattr(m, "max_length", None)), None)


def _spec(name: str, path: tuple[str, ...], info: Any) -> Spec:
    kind_of, optional, metadata = _unwrap(info.annotation)
    metadata = [*info.metadata, *metadata]
    required = info.is_required() and not optional
    common: dict[str, Any] = {
        "name": name,
        "path": path,
        "label": FIELD_LABELS.get(path[-1], label(path[-1])),
        "required": required,
        "hint": FIELD_HINTS.get(path[-1], ""),
    }
    if isinstance(kind_of, type) and issubclass(kind_of, Enum):
        options = area_choices() if kind_of is Area else choices(kind_of)
        return Spec(kind="select", options=options, **common)
    if kind_of is bool:
        return Spec(kind="yesno", options=YES_NO, **common)
    if kind_of in (float, int):
        return Spec(kind="number", **common)
    if kind_of is date:
        return Spec(kind="date", **common)
    if typing.get_origin(kind_of) is list:
        item, _optional, _metadata = _unwrap(typing.get_args(kind_of)[0])
        if isinstance(item, type) and issubclass(item, BaseModel):
            columns = tuple(item.model_fields)
            vocab = {}
            for column, column_info in item.model_fields.items():
                column_type = _unwrap(column_info.annotation)[0]
                if isinstance(column_type, type) and issubclass(column_type, Enum):
                    vocab[column] = frozenset(str(value) for value in column_type)
            example = " ".join(sorted(vocab[c])[0] if c in vocab else f"{c.split('_')[0][:1]}-1a2b3c" for c in columns)
            words = " then ".join(
                f"the {FIELD_LABELS.get(c, label(c)).lower()}"
                + (f" ({', '.join(sorted(vocab[c]))})" if c in vocab else "")
                for c in columns
            )
            common["hint"] = f"One per line: {words}, separated by a space. For example: {example}"
            return Spec(kind="rows", columns=columns, vocab=vocab, **common)
        return Spec(kind="lines", **common)
    length = _max_length(metadata)  # references have none: they are short
    if length is not None and length >= 400:
        return Spec(kind="textarea", max_length=length, **common)
    return Spec(kind="text", max_length=length or 200, **common)


def sections(event_type: str) -> list[Section]:
    """The correction form of an event type: its payload fields in the model's order, groups flattened."""
    out = []
    for name, info in PAYLOADS[event_type].model_fields.items():
        kind_of, optional, _metadata = _unwrap(info.annotation)
        if isinstance(kind_of, type) and issubclass(kind_of, BaseModel):
            specs = [_spec(f"{name}-{child}", (name, child), sub) for child, sub in kind_of.model_fields.items()]
            legend = FIELD_LABELS.get(name, label(name))
            out.append(Section(legend, name, specs, optional or not info.is_required(), optional))
        else:
            out.append(Section(None, None, [_spec(name, (name,), info)]))
    return out


def _specs(parts: list[Section]) -> list[Spec]:
    return [spec for section in parts for spec in section.fields]


def _labels(parts: list[Section]) -> dict[str, str]:
    """Each form field's label, in the order of the page (the error summary follows it)."""
    return {spec.name: spec.label for spec in _specs(parts)} | {OCCURRED: OCCURRED_LABEL}


# --- Stored values into the form, and the form into a payload ---------------------------------


def _stored(payload: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = payload
    for part in path:
        if value == WITHHELD:
            return WITHHELD
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _as_text(spec: Spec, value: Any) -> str:
    """A stored value as the form's field shows it."""
    if value is None or value == WITHHELD:
        return ""
    if spec.kind == "yesno" and isinstance(value, bool):
        return "yes" if value else "no"
    if spec.kind == "number" and isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:g}"
    if spec.kind == "lines" and isinstance(value, list):
        return "\n".join(str(item) for item in value)
    if spec.kind == "rows" and isinstance(value, list):
        lines = [
            " ".join(str(row.get(c, "")) for c in spec.columns) if isinstance(row, dict) else str(row) for row in value
        ]
        return "\n".join(lines)
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def _shown(spec: Spec, value: Any) -> str:
    """A stored value as the page shows what was recorded."""
    if value == WITHHELD:
        return "Withheld (personal data)"
    if value is None or value in ("", []):
        return NOT_GIVEN
    if spec.kind == "select":
        return dict(spec.options).get(str(value), str(value))
    if spec.kind == "yesno" and isinstance(value, bool):
        return "Yes" if value else "No"
    if spec.kind == "rows" and isinstance(value, list):
        rows = [
            f"{row.get(spec.columns[0], '')} ({', '.join(str(row.get(c, '')) for c in spec.columns[1:])})"
            if isinstance(row, dict) and spec.columns
            else str(row)
            for row in value
        ]
        return "; ".join(rows)
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return _as_text(spec, value)


def _value(spec: Spec, text: str, errors: dict[str, str]) -> Any:
    """What the payload gets from a field as typed (the schema then checks it)."""
    what = spec.label.lower()
    if spec.kind in {"textarea"}:
        if not text.strip():
            if spec.required:
                errors.setdefault(spec.name, f"Enter {what}.")
                return ""
            return None
        return text
    text = text.strip()
    if spec.kind == "lines":
        items = [line.strip() for line in text.splitlines() if line.strip()]
        if spec.required and not items:
            errors.setdefault(spec.name, f"Enter at least one of the {what}, one per line.")
        return items
    if spec.kind == "rows":
        return _rows(spec, text, errors)
    if not text:
        if spec.required:
            choose = spec.kind in {"select", "yesno"}
            errors.setdefault(spec.name, f"Choose {what}." if choose else f"Enter {what}.")
            return ""
        return None
    if spec.kind == "yesno":
        return {"yes": True, "no": False}.get(text, text)
    if spec.kind == "date":
        day = parse_day(text, errors, spec.name, required=spec.required)
        return day.isoformat() if day else text
    if spec.kind == "number":
        try:
            return float(text)
        except ValueError:
            return text  # the schema says how to write it
    return text


def _rows(spec: Spec, text: str, errors: dict[str, str]) -> list[dict[str, str]]:
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        parts = line.replace(",", " ").split()
        if not parts:
            continue
        if len(parts) != len(spec.columns):
            errors.setdefault(spec.name, f"Line {number} does not fit. {spec.hint}")
            continue
        row = dict(zip(spec.columns, parts, strict=True))
        for column, allowed in spec.vocab.items():
            if row[column] not in allowed:
                words = FIELD_LABELS.get(column, label(column))
                errors.setdefault(spec.name, f"Line {number}: the {words} must be one of {', '.join(sorted(allowed))}.")
        rows.append(row)
    return rows


def _payload(parts: list[Section], form: dict[str, Any], errors: dict[str, str]) -> dict[str, Any]:
    payload: dict[str, Any] = {}
    for section in parts:
        values = {spec.path[-1]: _value(spec, form[spec.name], errors) for spec in section.fields}
        if section.name is None:
            spec = section.fields[0]
            if values[spec.path[-1]] is None and not spec.required and spec.kind in {"yesno", "select", "rows"}:
                continue  # unanswered: the schema's default
            payload.update(values)
        elif section.nullable and all(value is None for value in values.values()):
            payload[section.name] = None
        else:
            payload[section.name] = values
    return payload


def _place(parts: list[Section], fallback: str) -> Any:
    """Where a schema error belongs: the payload field (or group member) its location names."""
    names = {spec.path: spec.name for spec in _specs(parts)}

    def place(loc: tuple[int | str, ...]) -> str:
        if "occurred_at" in loc:
            return OCCURRED
        if "payload" not in loc:
            return fallback
        path = tuple(part for part in loc[loc.index("payload") + 1 :] if isinstance(part, str))
        for length in (2, 1):
            if path[:length] in names:
                return names[path[:length]]
        return fallback

    return place


# --- Queries (always scoped to the signed-in organisation) ------------------------------------


def open_letters(org: str) -> list[DeadLetter]:
    with Session(get_engine()) as session:
        query = (
            select(DeadLetter)
            .where(DeadLetter.org_id == org, col(DeadLetter.resolved_by).is_(None))
            .order_by(col(DeadLetter.dead_at).desc(), col(DeadLetter.event_id))
            .limit(LIST_LIMIT)
        )
        return list(session.exec(query).all())


def open_count(org: str) -> int:
    with Session(get_engine()) as session:
        query = (
            select(func.count())
            .select_from(DeadLetter)
            .where(DeadLetter.org_id == org, col(DeadLetter.resolved_by).is_(None))
        )
        return int(session.exec(query).one())


def letter_or_404(org: str, event_id: str) -> DeadLetter:
    with Session(get_engine()) as session:
        found = session.get(DeadLetter, event_id)
    if found is None or found.org_id != org or not org:
        abort(404)
    return found


@dataclass(frozen=True)
class Stored:
    """A dead letter's event as far as it can be read: None fields mean it cannot be corrected here."""

    letter: DeadLetter
    document: dict[str, Any] | None
    payload: dict[str, Any]
    occurred: datetime | None

    @property
    def correctable(self) -> bool:
        try:
            uuid.UUID(self.letter.event_id)
        except ValueError:
            return False
        return self.document is not None and self.letter.type in PAYLOADS


def read(letter: DeadLetter) -> Stored:
    try:
        document = json.loads(letter.event_json)
    except ValueError:
        document = None
    if not isinstance(document, dict) or document.get("type") != letter.type:
        return Stored(letter, None, {}, None)
    payload = document.get("payload")
    try:
        occurred: datetime | None = datetime.fromisoformat(str(document.get("occurred_at")))
    except ValueError:
        occurred = None
    return Stored(letter, document, _latest(document, payload) if isinstance(payload, dict) else {}, occurred)


def _latest(document: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
    """The stored payload upcast to the latest version of its type, which is what the form shows and sends."""
    try:
        event = StoredEvent.model_validate(document)
    except ValueError:
        return payload
    version = event.schema_version
    while (event.type, version) in UPCASTERS:
        try:
            payload, version = UPCASTERS[(event.type, version)](event, payload), version + 1
        except (KeyError, TypeError, ValueError):
            break
    return payload


def kind(event_type: str) -> str:
    return KINDS.get(event_type, "Unreadable record" if not event_type else label(event_type.replace(".", " ")))


def brief(letter: DeadLetter) -> str:
    """The references that identify a record in the list (never free text or personal data)."""
    stored = read(letter)
    parts = []
    for key, value in stored.payload.items():
        if key.endswith("_id") and isinstance(value, str) and value != WITHHELD:
            parts.append(f"{FIELD_LABELS.get(key, label(key))}: {value}")
        elif key.endswith("_ids") and isinstance(value, list):
            parts.append(f"{FIELD_LABELS.get(key, label(key))}: {', '.join(str(v) for v in value[:5])}")
    return "; ".join(parts)


@bp.app_context_processor
def _nav() -> dict[str, Any]:
    """`open_problems()` for the navigation: how many records of the organisation need attention."""

    def open_problems() -> int:
        try:
            return open_count(signed_in().org_id)
        except SQLAlchemyError:  # a count in the navigation never breaks a page
            return 0

    return {"open_problems": open_problems}


# --- Pages ------------------------------------------------------------------------------------


@bp.get("/")
def index() -> Any:
    letters = open_letters(org_id())
    rows = [(letter, kind(letter.type), brief(letter)) for letter in letters]
    return render_template("problems.html", rows=rows)


@bp.route("/<event_id>", methods=["GET", "POST"])
def correct(event_id: str) -> Any:
    letter = letter_or_404(org_id(), event_id)
    stored = read(letter)
    what = kind(letter.type)
    context: dict[str, Any] = {"letter": letter, "kind": what, "stored": stored}
    if not stored.correctable:
        return render_template("problems_correct.html", parts=[], recorded=[], form={}, errors={}, labels={}, **context)
    parts = sections(letter.type)
    specs = _specs(parts)
    labels = _labels(parts)
    recorded = [(spec.label, _shown(spec, _stored(stored.payload, spec.path))) for spec in specs]
    withheld = {spec.name for spec in specs if _stored(stored.payload, spec.path) == WITHHELD}
    hints = {
        spec.name: " ".join(filter(None, (spec.hint, WITHHELD_HINT if spec.name in withheld else ""))) for spec in specs
    }
    context |= {"parts": parts, "recorded": recorded, "hints": hints, "withheld": withheld}
    day = stored.occurred.date().isoformat() if stored.occurred else ""
    form = blank(labels, **{spec.name: _as_text(spec, _stored(stored.payload, spec.path)) for spec in specs})
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
        payload = _payload(parts, form, errors)
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
        event = validate(raw, errors, place=_place(parts, fallback), labels=labels, choose=choose)
        if event is not None and save([event], errors, specs[0].name if specs else OCCURRED):
            return confirm(_sent(what), url_for("problems.index"))
    return render_form("problems_correct.html", form=form, errors=errors, labels=labels, **context)


def _sent(what: str) -> str:
    return (
        f"Correction sent: the {what.lower()} will be checked again in a few seconds. Once it is accepted it "
        "leaves this list; if something is still wrong, it comes back here with what to fix."
    )
