"""The OpenAPI 3.1 document, and a schema-driven fuzz run of the API in which nothing answers 5xx."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from impact.db import create_tables, engine_for
from impact.eventlog import open_event_log
from impact.settings import Settings
from ingest import create_app
from ingest.openapi import openapi_document
from tests.factories import add_organisation, issue_token


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


@pytest.fixture(scope="module")
def fuzz_client(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """One app for every example of a hypothesis test (a function-scoped fixture is not reset between them)."""
    settings = Settings.model_validate(
        {"env": "test", "data_dir": tmp_path_factory.mktemp("fuzz-auth"), "secret_key": "t" * 40}
    )
    engine = engine_for(settings)
    create_tables(engine)
    add_organisation(engine, ORG)
    issue_token(engine, ORG)
    event_log = open_event_log(settings)
    yield create_app(settings, event_log, test_config={"TESTING": True}, engine=engine).test_client()
    event_log.close()
    engine.dispose()


def test_the_document_is_served(app) -> None:  # type: ignore[no-untyped-def]
    response = app.test_client().get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.get_json() == openapi_document()


# How many generated requests each part of the run aims at: 1,200, with up to 50 more to the documents.
# Hypothesis may run fewer than max_examples (it skips duplicates and cases it cannot build; the documents
# take no parameters, so they get a single case), so the target leaves a clear margin over the 1,000 the
# last test requires.
EXAMPLES = {"positive": 575, "negative": 475}
AUTH_EXAMPLES = 150
CASES: dict[str, int] = {}  # filled in as the runs go; the last test checks the total


def _operations(app) -> dict[str, schemathesis.APIOperation]:  # type: ignore[no-untyped-def]
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    found = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        found[f"{operation.method.upper()} {operation.path}"] = operation
    return found


def test_the_document_lists_every_route_of_the_api(app) -> None:  # type: ignore[no-untyped-def]
    """So fuzzing the document's operations is fuzzing the whole API: a new route must be documented.

    Schemathesis leaves out the operation that serves the document itself; test_the_document_is_served
    covers that one.
    """
    served = {
        f"{method} {rule.rule}"
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/")
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }
    documented = {f"{method.upper()} {path}" for path, item in openapi_document()["paths"].items() for method in item}
    assert served == documented == {"POST /api/v1/events", "GET /api/v1/schema", "GET /api/v1/openapi.json"}
    assert set(_operations(app)) == documented - {"GET /api/v1/openapi.json"}


def _fuzz(app, operation: schemathesis.APIOperation, mode: schemathesis.GenerationMode, examples: int) -> set[int]:  # type: ignore[no-untyped-def]
    failures: list[str] = []
    statuses: set[int] = set()
    calls = 0

    @settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
        phases=[Phase.generate],  # a failure is reported as found: shrinking costs more than it tells here
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def one_request(case: schemathesis.Case) -> None:
        nonlocal calls
        if mode == schemathesis.GenerationMode.POSITIVE:
            case.body = _as_the_token_org(case.body)
        response = case.call(headers={"Authorization": f"Bearer {app.config['FUZZ_TOKEN']}"})
        calls += 1
        statuses.add(response.status_code)
        if response.status_code >= 500:
            failures.append(f"{response.status_code} for {case.method} {case.path} {case.body!r:.300}")

    one_request()
    CASES[f"{operation.method.upper()} {operation.path} {mode.value}"] = calls
    assert failures == []
    return statuses


@pytest.mark.parametrize("mode", [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE])
def test_fuzzing_the_api_from_its_document_never_gets_a_5xx(app, mode: schemathesis.GenerationMode) -> None:  # type: ignore[no-untyped-def]
    """Valid events (positive) and events that break the schema (negative): never a server error."""
    statuses = _fuzz(app, _operations(app)["POST /api/v1/events"], mode, EXAMPLES[mode.value])
    assert statuses & ({202} if mode == schemathesis.GenerationMode.POSITIVE else {400, 422}), statuses


def test_fuzzing_the_documents_operations_never_gets_a_5xx(app) -> None:  # type: ignore[no-untyped-def]
    """The public documents take no parameters: each generated request is answered 200."""
    for name, operation in _operations(app).items():
        if name.startswith("GET "):
            assert _fuzz(app, operation, schemathesis.GenerationMode.POSITIVE, 50) == {200}, name


@settings(
    max_examples=AUTH_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
    phases=[Phase.generate],
)
@given(
    header=st.one_of(
        st.text(alphabet=st.characters(codec="latin-1", exclude_categories=["Cc"]), max_size=200),
        st.builds(lambda s: f"Bearer {s}", st.text(st.characters(codec="latin-1", exclude_categories=["Cc"]))),
        st.builds(lambda s: f"Bearer ii_{s}", st.from_regex(r"[A-Za-z0-9_-]{0,60}", fullmatch=True)),
    )
)
def test_any_other_authorization_header_gets_401_never_a_5xx(fuzz_client, header: str) -> None:  # type: ignore[no-untyped-def]
    event = {
        "type": "participant.erased",
        "org_id": ORG,
        "occurred_at": "2025-01-01T00:00:00Z",
        "payload": {"participant_id": "p-1"},
    }
    response = fuzz_client.post("/api/v1/events", json=event, headers={"Authorization": header})
    CASES["POST /api/v1/events authorization"] = CASES.get("POST /api/v1/events authorization", 0) + 1
    assert response.status_code == 401, (header, response.status_code)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_the_fuzz_run_sent_at_least_a_thousand_requests() -> None:
    """Run after the fuzz tests in this file (pytest keeps the file's order): 1,000 cases or more in all."""
    if len(CASES) < 4:
        pytest.skip(f"only part of the fuzz run was selected: {CASES}")
    assert sum(CASES.values()) >= 1000, CASES
    print(f"fuzz cases: {CASES}")
