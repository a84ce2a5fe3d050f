"""The JSON API: `POST /api/v1/events` takes one event (an object) or a batch (an array of up to 1,000)."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, jsonify, request
from pydantic import ValidationError

from impact.eventlog import LogUnavailable
from impact.recording import record
from ingest import get_event_log, get_settings
from ingest.openapi import openapi_document
from schemas.events import BATCH_ADAPTER, EVENT_ADAPTER, error_path, event_json_schema

bp = Blueprint("api", __name__, url_prefix="/api/v1")
RETRY_AFTER_S = 5


def wants_json() -> bool:
    return request.path.startswith(bp.url_prefix or "/api")


def problem(status: int, message: str, **extra: Any) -> tuple[Response, int]:
    """An error as JSON with a message a person can act on."""
    return jsonify(error=message, status=status, **extra), status


def _field_errors(exc: ValidationError) -> list[dict[str, str]]:
    errors = []
    for error in exc.errors(include_url=False):
        loc = error["loc"]
        if error["type"] in {"union_tag_invalid", "union_tag_not_found"}:
            loc = (*loc, "type")  # the event type itself is what is wrong
        errors.append({"path": error_path(loc), "message": error["msg"].removeprefix("Value error, ")})
    return errors


@bp.post("/events")
def post_events() -> Any:
    if not request.is_json:
        return problem(415, "Send the events as JSON with the header Content-Type: application/json.")
    try:
        body = json.loads(request.get_data(cache=False))
    except (ValueError, UnicodeDecodeError) as exc:
        return problem(400, f"The body is not valid JSON: {exc}.")
    except RecursionError:
        return problem(400, "The body nests too deeply to be an event or a batch of events.")
    batch = isinstance(body, list)
    if not batch and not isinstance(body, dict):
        return problem(422, "Send one event as a JSON object, or a batch as a JSON array of objects.")
    try:
        events = BATCH_ADAPTER.validate_python(body) if batch else [EVENT_ADAPTER.validate_python(body)]
    except ValidationError as exc:
        errors = _field_errors(exc)
        count = len(errors)
        return problem(
            422,
            f"{count} field{'s' if count != 1 else ''} need{'s' if count == 1 else ''} correcting; "
            "nothing in this request was stored.",
            errors=errors,
        )
    ids = [str(event.event_id) for event in events]
    if len(set(ids)) != len(ids):
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        return problem(422, f"Each event in a batch needs its own event_id; repeated: {', '.join(repeated)}.")
    settings = get_settings()
    try:
        stored = record(get_event_log(), settings.topic, events, recorded_by="api")
    except LogUnavailable:
        response, status = problem(
            503,
            "The event log did not confirm the write, so these events are not accepted. Send the same request "
            "again with these event_ids in a little while: a repeated event_id is recognised and never counted twice.",
            event_ids=ids,
        )
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
        return response, status
    return jsonify(accepted=len(stored), event_ids=[str(event.event_id) for event in stored]), 202


@bp.get("/openapi.json")
def openapi() -> Any:
    """The OpenAPI 3.1 document of this API."""
    return jsonify(openapi_document())


@bp.get("/schema")
def schema() -> Any:
    """The JSON Schema of an event, generated from the same models that validate requests."""
    return jsonify(event_json_schema())
