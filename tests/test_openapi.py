"""The OpenAPI 3.1 document, and a schema-driven fuzz run of the API in which nothing answers 5xx."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from jsonschema import Draft202012Validator

from impact.db import create_tables, engine_for
from impact.eventlog import open_event_log
from impact.settings import Settings
from ingest import create_app
from ingest.openapi import openapi_document
from tests.conftest import add_organisation, issue_token


def test_the_document_is_openapi_3_1_with_valid_schemas() -> None:
    document = openapi_document()
    assert document["openapi"] == "3.1.0"
    assert document["security"] == [{"apiToken": []}]
    assert document["components"]["securitySchemes"]["apiToken"]["scheme"] == "bearer"
    assert "$defs" not in json.dumps(document), "every reference points into components"
    for schema in document["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)


ORG = "mind-leeds"


@pytest.fixture
def app(log_settings: Callable[[str], Settings]):  # type: ignore[no-untyped-def]
    settings = log_settings("embedded")
    engine = engine_for(settings)
    create_tables(engine)
    add_organisation(engine, ORG)
    event_log = open_event_log(settings)
    app = create_app(settings, event_log, test_config={"TESTING": True}, engine=engine)
    app.config["FUZZ_TOKEN"] = issue_token(engine, ORG)
    yield app
    event_log.close()
    engine.dispose()


def _as_the_token_org(body: Any) -> Any:
    """Generated events name random organisations; a valid event of the token's organisation reaches storage."""
    if isinstance(body, dict) and isinstance(body.get("org_id"), str):
        return body | {"org_id": ORG}
    if isinstance(body, list):
        return [_as_the_token_org(item) for item in body]
    return body


def test_the_document_is_served(app) -> None:  # type: ignore[no-untyped-def]
    response = app.test_client().get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.get_json() == openapi_document()


@pytest.mark.parametrize("mode", [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE])
def test_fuzzing_the_api_from_its_document_never_gets_a_5xx(app, mode: schemathesis.GenerationMode) -> None:  # type: ignore[no-untyped-def]
    """Valid events (positive) and events that break the schema (negative): never a server error."""
    operation = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)["/api/v1/events"]["POST"]
    failures: list[str] = []
    statuses: set[int] = set()

    @settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(case=operation.as_strategy(generation_mode=mode))
    def one_request(case: schemathesis.Case) -> None:
        if mode == schemathesis.GenerationMode.POSITIVE:
            case.body = _as_the_token_org(case.body)
        response = case.call(headers={"Authorization": f"Bearer {app.config['FUZZ_TOKEN']}"})
        statuses.add(response.status_code)
        if response.status_code >= 500:
            failures.append(f"{response.status_code} for {case.body!r:.300}")

    one_request()
    assert failures == []
    assert statuses & ({202} if mode == schemathesis.GenerationMode.POSITIVE else {400, 422}), statuses
