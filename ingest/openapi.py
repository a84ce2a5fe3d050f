"""The OpenAPI 3.1 document of the ingest API, built from the same models that validate requests."""

from __future__ import annotations

from typing import Any

from schemas.events import MAX_BATCH, event_json_schema

_PROBLEM = {
    "type": "object",
    "required": ["error", "status"],
    "properties": {
        "error": {"type": "string", "description": "What went wrong, in words a person can act on."},
        "status": {"type": "integer"},
        "errors": {
            "type": "array",
            "description": "For 422: every field that needs correcting.",
            "items": {
                "type": "object",
                "required": ["path", "message"],
                "properties": {"path": {"type": "string"}, "message": {"type": "string"}},
            },
        },
        "event_ids": {
            "type": "array",
            "items": {"type": "string", "format": "uuid"},
            "description": "For 503: the ids to send again; a repeated event_id is never counted twice.",
        },
    },
}


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def openapi_document() -> dict[str, Any]:
    schema = event_json_schema()
    definitions = schema.pop("$defs")
    schema.pop("$schema", None)
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "Involvement Impact ingest API",
            "version": "1",
            "description": "Record involvement events: one as an object, or up to "
            f"{MAX_BATCH:,} as an array. A 202 means every event is durably in the event log. "
            "Authenticate with an API token of your organisation (an admin issues one): "
            "`Authorization: Bearer ii_...`. Every event's org_id must be the token's organisation. "
            "Supply your own event_id to make retries safe: the same event_id with the same event gets "
            "the same answer and is stored once; with a different event it is refused (409).",
        },
        "security": [{"apiToken": []}],
        "paths": {
            "/api/v1/events": {
                "post": {
                    "operationId": "recordEvents",
                    "summary": "Record one involvement event, or a batch",
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/EventOrBatch"}}},
                    },
                    "responses": {
                        "202": {
                            "description": "Every event is durably in the log.",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Accepted"}}},
                        },
                        "400": _problem("The body is not JSON."),
                        "401": _problem("No API token, or one that is unknown or revoked."),
                        "403": _problem("An event belongs to another organisation than the token's."),
                        "409": _problem("An event_id already names a different event; nothing was stored."),
                        "413": _problem("The body is larger than the limit."),
                        "415": _problem("The body is not sent as application/json."),
                        "422": _problem("Some fields need correcting; nothing was stored."),
                        "503": _problem("The log did not confirm the write; send the same events again later."),
                    },
                }
            },
            "/api/v1/openapi.json": {
                "get": {
                    "operationId": "openapiDocument",
                    "summary": "This OpenAPI 3.1 document",
                    "security": [],
                    "responses": {"200": {"description": "The OpenAPI document of this API."}},
                }
            },
            "/api/v1/schema": {
                "get": {
                    "operationId": "eventSchema",
                    "summary": "The JSON Schema of an event or a batch",
                    "security": [],
                    "responses": {"200": {"description": "JSON Schema (draft 2020-12)."}},
                }
            },
        },
        "components": {
            "securitySchemes": {
                "apiToken": {"type": "http", "scheme": "bearer", "description": "An API token: ii_ and 43 characters."}
            },
            "schemas": {
                **definitions,
                "EventOrBatch": schema,
                "Accepted": {
                    "type": "object",
                    "required": ["accepted", "event_ids"],
                    "properties": {
                        "accepted": {"type": "integer", "minimum": 1},
                        "event_ids": {"type": "array", "items": {"type": "string", "format": "uuid"}},
                    },
                },
                "Problem": _PROBLEM,
            },
        },
    }
    # The models' references point at "#/$defs/..."; in OpenAPI they live under components.
    return _rebase(document)


def _rebase(node: Any) -> Any:
    """Point every reference (in $ref and in discriminator mappings) at components/schemas."""
    if isinstance(node, dict):
        return {key: _rebase(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_rebase(item) for item in node]
    if isinstance(node, str) and node.startswith("#/$defs/"):
        return "#/components/schemas/" + node.removeprefix("#/$defs/")
    return node
