"""Staff forms: record involvement in a browser, with inline errors and CSRF protection."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time
from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from pydantic import ValidationError

from impact.eventlog import LogUnavailable
from impact.recording import record
from ingest import get_event_log, get_settings
from schemas.events import EVENT_ADAPTER
from schemas.vocab import AREA_LABELS

bp = Blueprint("forms", __name__, url_prefix="/staff")


@bp.after_request
def _not_cached(response: Response) -> Response:
    # A form page restored from the browser's cache would resubmit an old submission id.
    response.headers["Cache-Control"] = "no-store"
    return response


CONTRIBUTION_FIELDS = {
    "org_id": "Organisation",
    "participant_ids": "Participant IDs",
    "activity_id": "Activity ID",
    "area": "Activity area",
    "made_on": "Date it was said",
    "text": "What they said",
}


def _occurred_at(day: date) -> datetime:
    """A day's moment: now if it is today (never in the future), else midday UTC."""
    now = datetime.now(UTC)
    return now if day == now.date() else datetime.combine(day, time(12), tzinfo=UTC)


def _field_for(loc: tuple[int | str, ...]) -> str:
    """The form field a validation error belongs to (the first part of its location naming one)."""
    for part in loc:
        if part == "occurred_at":
            return "made_on"
        if isinstance(part, str) and part in CONTRIBUTION_FIELDS:
            return part
    return "text"


def _submission_id(value: str | None) -> str:
    """The form's own event id: kept across re-renders, so a resubmit or double click records once."""
    try:
        return str(uuid.UUID(value or ""))
    except ValueError:
        return str(uuid.uuid4())


def _contribution(form: dict[str, str]) -> tuple[Any, dict[str, str]]:
    """The event the form describes, or the errors per field."""
    errors: dict[str, str] = {}
    try:
        day = date.fromisoformat(form.get("made_on", ""))
    except ValueError:
        errors["made_on"] = "Enter the date as a real date, for example 2026-03-27."
        day = datetime.now(UTC).date()
    if day > datetime.now(UTC).date():
        errors["made_on"] = "The date cannot be in the future."
    participant_ids = [p.strip() for p in form.get("participant_ids", "").replace("\n", ",").split(",") if p.strip()]
    raw = {
        "event_id": form["event_id"],
        "type": "contribution.made",
        "org_id": form.get("org_id", "").strip(),
        "occurred_at": _occurred_at(day).isoformat(),
        "payload": {
            "contribution_id": f"c-{uuid.UUID(form['event_id']).hex[:12]}",
            "participant_ids": participant_ids,
            "activity_id": form.get("activity_id", "").strip() or None,
            "area": form.get("area", ""),
            "text": form.get("text", ""),
        },
    }
    try:
        event = EVENT_ADAPTER.validate_python(raw)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            name = _field_for(error["loc"])
            message = error["msg"].removeprefix("Value error, ")
            if name == "participant_ids" and error["type"] == "too_short":
                message = "Enter at least one participant ID."
            elif name == "area":
                message = "Choose the activity area."
            elif name == "text" and error["type"] == "string_too_short":
                message = "Enter what they said."
            errors.setdefault(name, message)
        return None, errors
    return (event if not errors else None), errors


@bp.route("/contributions/new", methods=["GET", "POST"])
def new_contribution() -> Any:
    form: dict[str, str] = {"made_on": datetime.now(UTC).date().isoformat(), "event_id": _submission_id(None)}
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        form = {name: request.form.get(name, "") for name in CONTRIBUTION_FIELDS}
        form["event_id"] = _submission_id(request.form.get("event_id"))
        event, errors = _contribution(form)
        if event is not None:
            try:
                record(get_event_log(), get_settings().topic, [event], recorded_by="form")
            except LogUnavailable:
                errors["text"] = (
                    "The record could not be saved just now. Your entry is kept below: submit it again in a minute."
                )
                status = 503
            else:
                flash(f"Contribution recorded (reference {event.payload.contribution_id}).", "success")
                return redirect(url_for("forms.new_contribution", org_id=form["org_id"]))
        status = status if status != 200 else 422
    else:
        form["org_id"] = request.args.get("org_id", "")
    return (
        render_template(
            "contribution_form.html",
            form=form,
            errors=errors,
            fields=CONTRIBUTION_FIELDS,
            areas=sorted(AREA_LABELS.items(), key=lambda item: item[1]),
        ),
        status,
    )
