"""The JSON API: `POST /api/v1/events` takes one event (an object) or a batch (an array of up to 1,000).

Callers authenticate with an API token (`Authorization: Bearer ii_...`) that belongs to one
organisation; every event they send must be that organisation's. The OpenAPI document and the
JSON Schema are public: they describe the API, not anyone's data.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, g, jsonify, request
from pydantic import ValidationError
from sqlmodel import Session

from impact.auth.sessions import get_engine
from impact.auth.tokens import ApiToken, token_for
from impact.eventlog import LogUnavailable
from impact.eventlog.recording import ReusedEventId, record
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


PUBLIC = {"api.openapi", "api.schema"}


@bp.before_request
def _authenticate() -> Any:
    """Every call but the documents needs a live token; the token fixes the organisation."""
    if request.endpoint in PUBLIC:
        return None
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        return _unauthorised("Send an API token in the header Authorization: Bearer <token>.")
    with Session(get_engine()) as session:
        token = token_for(session=session, secret=secret.strip())
        if token is None:
            return _unauthorised("This API token is not recognised or has been revoked; ask an admin for a new one.")
        session.expunge(token)
    g.api_token = token
    return None


def _unauthorised(message: str) -> tuple[Response, int]:
    response, status = problem(401, message)
    response.headers["WWW-Authenticate"] = 'Bearer realm="involvement-impact"'
    return response, status


@bp.post("/events")
def post_events() -> Any:
    token: ApiToken = g.api_token
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
    foreign = [i for i, event in enumerate(events) if event.org_id != token.org_id]
    if foreign:
        where = ", ".join(f"[{i}].org_id" if batch else "org_id" for i in foreign[:10])
        return problem(
            403,
            f"This token records for organisation '{token.org_id}' only; nothing in this request was stored. "
            f"Correct: {where}.",
        )
    settings = get_settings()
    try:
        recorded = record(get_event_log(), settings.topic, events, recorded_by=f"token:{token.id}", engine=get_engine())
    except ReusedEventId as exc:
        return problem(409, f"{exc} Nothing in this request was stored.", event_ids=exc.event_ids)
    except LogUnavailable:
        response, status = problem(
            503,
            "The event log did not confirm the write, so these events are not accepted. Send the same request "
            "again with these event_ids in a little while: a repeated event_id is recognised and never counted twice.",
            event_ids=ids,
        )
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
        return response, status
    return jsonify(accepted=len(recorded.event_ids), event_ids=recorded.event_ids), 202


@bp.get("/openapi.json")
def openapi() -> Any:
    """The OpenAPI 3.1 document of this API."""
    return jsonify(openapi_document())


@bp.get("/schema")
def schema() -> Any:
    """The JSON Schema of an event, generated from the same models that validate requests."""
    return jsonify(event_json_schema())
