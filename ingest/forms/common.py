"""What every staff form shares: the blueprint, submissions recorded once, validation into field errors."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, time
from typing import Any

from flask import Blueprint, Response, flash, g, redirect, render_template, request
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from impact.auth.sessions import CAN_LOG, get_engine, guard, signed_in
from impact.eventlog import LogUnavailable
from impact.eventlog.recording import ReusedEventId, record
from ingest import get_event_log, get_settings
from schemas.events import EVENT_ADAPTER, Envelope
from schemas.vocab import AREA_LABELS, label

bp = Blueprint("forms", __name__, url_prefix="/staff")

SAVE_FAILED = "The record could not be saved just now. What you entered is kept below: send it again in a minute."
ALREADY_USED = "This form was already sent with different details. Reload the page to start a new record."


guard(bp, CAN_LOG)  # every page here, present and future: sign in first, with a role that records


def org_id() -> str:
    return signed_in().org_id


def area_choices() -> list[tuple[str, str]]:
    return sorted(((str(key), text) for key, text in AREA_LABELS.items()), key=lambda item: item[1])


def choices(values: Iterable[Any]) -> list[tuple[str, str]]:
    return [(str(value), label(value)) for value in values]


# --- Submissions ------------------------------------------------------------------------------


def submission(value: str | None = None) -> str:
    """The form's own reference, "<uuid>.<when the form was first shown, in ms>", kept across re-renders.

    Its id makes a resubmit or a double click record once; its time is the moment of facts dated "now",
    so a resubmission describes exactly the same event.
    """
    if value:
        ident, _, millis = value.partition(".")
        try:
            uuid.UUID(ident)
            shown = datetime.fromtimestamp(int(millis) / 1000, UTC)
        except (ValueError, OverflowError, OSError):
            pass
        else:
            if shown <= datetime.now(UTC):
                return f"{ident}.{millis}"
    return f"{uuid.uuid4()}.{int(datetime.now(UTC).timestamp() * 1000)}"


def submission_id(value: str) -> uuid.UUID:
    return uuid.UUID(submission(value).partition(".")[0])


def opened(value: str) -> datetime:
    """When the form was first shown: the moment of a fact recorded "now"."""
    return datetime.fromtimestamp(int(submission(value).partition(".")[2]) / 1000, UTC)


def derived_id(submission: uuid.UUID, part: str) -> uuid.UUID:
    """The event id of one part of a submission (for example one attendee): the same on every resubmit."""
    return uuid.uuid5(submission, part)


def new_reference(prefix: str, submission: uuid.UUID) -> str:
    """A reference for a new record when staff leave it blank (stable across resubmits)."""
    return f"{prefix}-{submission.hex[:10]}"


def moment_of(day: date, at: datetime) -> datetime:
    """A day's moment: `at` (when the form was shown) on that day, else midday UTC, never in the future."""
    if day == at.date():
        return at
    return min(datetime.combine(day, time(12), tzinfo=UTC), datetime.now(UTC))


def parse_day(value: str, errors: dict[str, str], name: str, *, required: bool = True) -> date | None:
    """A date field (YYYY-MM-DD from the date picker), never in the future; records an error otherwise."""
    value = value.strip()
    if not value:
        if required:
            errors.setdefault(name, "Enter the date.")
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        errors.setdefault(name, "Enter a real date, for example 2026-03-27.")
        return None
    if day > datetime.now(UTC).date():
        errors.setdefault(name, "The date cannot be in the future.")
        return None
    return day


Placement = Callable[[tuple[int | str, ...]], str]


def placer(labels: dict[str, str], fallback: str, renames: dict[str, str] | None = None) -> Placement:
    """Where an error belongs: the deepest part of its location that names a field of the form."""
    renames = renames or {}

    def place(loc: tuple[int | str, ...]) -> str:
        for part in reversed(loc):
            if isinstance(part, str):
                name = renames.get(part, part)
                if name in labels:
                    return name
        return fallback

    return place


def validate(
    raw: dict[str, Any],
    errors: dict[str, str],
    *,
    place: Placement,
    labels: dict[str, str],
    choose: dict[str, str] | None = None,
) -> Any:
    """The event `raw` describes, or None with each problem added to `errors` under its form field."""
    choose = choose or {}
    try:
        event: Envelope = EVENT_ADAPTER.validate_python(raw)
    except ValidationError as exc:
        checked = bool(errors)  # the form's own checks ran first and say the same things in its words
        for error in exc.errors(include_url=False):
            name = place(error["loc"])
            if error["type"] == "value_error" and error["loc"][-1:] == ("payload",):
                if checked:
                    continue
                # A rule across fields: file it under the first field its message names.
                name = next((key for key in labels if key in str(error["msg"])), name)
            errors.setdefault(name, _message(name, error, labels, choose))
        return None
    return event if not errors else None


def _message(name: str, error: Any, labels: dict[str, str], choose: dict[str, str]) -> str:
    kind, context = error["type"], error.get("ctx") or {}
    what = labels.get(name, name).lower()
    if name in choose and kind in {"enum", "literal_error", "missing", "bool_parsing", "bool_type"}:
        return choose[name]
    if kind in {"string_too_short", "missing", "too_short"}:
        return f"Enter {what}."
    if kind == "string_too_long":
        return f"Use {context.get('max_length', 'fewer')} characters or fewer for {what}."
    if kind in {"float_parsing", "float_type"}:
        return f"Enter {what} as a number, for example 1.5."
    if kind in {"greater_than", "less_than_equal"}:
        return "Enter a number more than 0 and at most 24."
    message = str(error["msg"]).removeprefix("Value error, ")
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")


def save(events: list[Envelope], errors: dict[str, str], field: str) -> bool:
    """Record the events durably; on failure add an error to `field` and keep the form as typed."""
    try:
        record(
            get_event_log(),
            get_settings().topic,
            events,
            recorded_by=f"account:{signed_in().account_id}",
            engine=get_engine(),
        )
    except LogUnavailable:
        errors[field] = SAVE_FAILED
        return False
    except ReusedEventId:
        errors[field] = ALREADY_USED
        return False
    g.saved_events = [*g.get("saved_events", []), *events]  # for `confirm`: the page follows them
    return True


def confirm(message: str, to: str) -> Response:
    """Post/redirect/get with a confirmation the next page announces, never contradicting that page.

    What `save` has just recorded reaches the read models a moment later: wait up to `save_wait_seconds`
    for the processor, then say it is saved (the message), is being saved (the page follows it), or was
    refused (with a link to it in "Needs attention").
    """
    from ingest.forms import saving  # here, not above: saving adds its route to this module's `bp`

    events: list[Envelope] = g.pop("saved_events", [])
    if not events:
        flash(message, "success")
        return redirect(to)  # type: ignore[return-value]
    org, ids = org_id(), [str(event.event_id) for event in events]
    try:
        found = saving.wait(get_engine(), org, saving.followed(ids), get_settings().save_wait_seconds)
    except SQLAlchemyError:
        found = saving.Progress("saving")  # the read models cannot say just now: the page asks again
    if found.state == "saved":
        flash(message, "success")
    elif found.state == "rejected":
        # A dict, kept as it is by the session's serializer; base.html shows its text and link.
        flash({"text": found.notice(), "link": found.problem_url()}, "error")  # type: ignore[arg-type]
    else:
        notice = {"text": message, "state": found.notice(), "token": saving.token_for(org, ids)}
        flash(notice, "saving")  # type: ignore[arg-type]
        saving.remember(org, saving.records_of(events), message)
    return redirect(to)  # type: ignore[return-value]


def render_form(template: str, **context: Any) -> tuple[str, int]:
    """A form page: 200, or 422 with its errors (503 if the log was down). The error summary lists the
    problems in the order of the fields on the page."""
    errors, labels = context.get("errors") or {}, context.get("labels") or {}
    order = {name: i for i, name in enumerate(labels)}
    context["errors"] = dict(sorted(errors.items(), key=lambda item: order.get(item[0], len(order))))
    return render_template(template, **context), failed(errors) if errors else 200


def posted(labels: dict[str, str]) -> dict[str, Any]:
    """The form as sent: each field's text, and the submission it belongs to."""
    form: dict[str, Any] = {name: request.form.get(name, "") for name in labels}
    form["submission"] = submission(request.form.get("submission"))
    return form


def blank(labels: dict[str, str], **values: Any) -> dict[str, Any]:
    """A new form: empty fields (or `values`) and a new submission."""
    return {name: "" for name in labels} | values | {"submission": submission()}


def failed(errors: dict[str, str]) -> int:
    """The status of a re-rendered form: 503 if the log was down, else 422."""
    return 503 if SAVE_FAILED in errors.values() else 422
