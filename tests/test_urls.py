"""Every address answers with and without its trailing slash, on both services: `/staff/participants` and
`/staff/participants/` are the same page, never one a 404 (a redirect to the other is fine)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import RequestRedirect

from tests.factories import add_organisation, settings_for_test, sign_in

CONVERTER = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")
DASH_OWN = ("/_dash-", "/_reload-hash", "/_favicon.ico")  # Dash's machine addresses, never typed by a person
SAMPLE = {"int": "1", "float": "1.5", "uuid": "3f0c8e52-6a1d-4c0b-9a57-1d2e8b7c4f10", "path": "p-0001"}


def _sample_path(rule: str) -> str:
    """The rule with each variable filled with a value its converter accepts."""
    return CONVERTER.sub(lambda m: SAMPLE.get(m.group(1) or "", "p-0001"), rule)


def _twins(app: Flask) -> Iterator[tuple[str, str, str]]:
    """(rule, path without the slash, path with it) for every GET rule (static files left out)."""
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or set()) or rule.endpoint.endswith("static") or rule.rule == "/":
            continue
        if rule.rule.startswith(DASH_OWN) or rule.rule == "/<path:path>":
            continue  # Dash's own: its scripts ask for these exact addresses; pages are below the catch-all
        path = _sample_path(rule.rule).rstrip("/")
        yield rule.rule, path, path + "/"


def _routed(app: Flask, path: str) -> str:
    """The endpoint `path` reaches (following a slash redirect); raises NotFound if none."""
    adapter = app.url_map.bind("localhost")
    try:
        endpoint, _ = adapter.match(path, method="GET")
    except RequestRedirect as redirect:
        endpoint, _ = adapter.match(redirect.new_url.removeprefix("http://localhost"), method="GET")
    except MethodNotAllowed:  # pragma: no cover - a GET rule always allows GET
        raise
    return str(endpoint)


def _check_routing(app: Flask) -> list[str]:
    wrong = []
    for rule, bare, slashed in _twins(app):
        try:
            endpoints = {_routed(app, bare), _routed(app, slashed)}
        except NotFound:
            wrong.append(f"{rule}: one of {bare} and {slashed} is not found")
            continue
        if len(endpoints) != 1:
            wrong.append(f"{rule}: {bare} and {slashed} reach {sorted(endpoints)}")
    return wrong


@pytest.fixture
def ingest_app(tmp_path: Path, engine: Engine) -> Flask:
    from ingest import create_app

    return create_app(settings_for_test(tmp_path), engine=engine)


@pytest.fixture
def dashboard_app(tmp_path: Path, engine: Engine) -> Flask:
    from dashboard import create_app

    return create_app(settings_for_test(tmp_path), engine=engine).server


def test_every_ingest_rule_is_reached_with_and_without_its_slash(ingest_app: Flask) -> None:
    assert not _check_routing(ingest_app)


def test_every_dashboard_rule_is_reached_with_and_without_its_slash(dashboard_app: Flask) -> None:
    assert not _check_routing(dashboard_app)


def test_every_dashboard_page_is_the_same_page_with_and_without_its_slash() -> None:
    """Dash serves every page from its catch-all rule and picks the page from the address in the browser."""
    from dashboard import shell

    for page in shell.PAGES:
        bare = page.path.rstrip("/") or "/"
        assert shell.page_for(bare, "/") is page
        assert shell.page_for(bare + "/", "/") is page


def _outcome(client: FlaskClient, path: str) -> tuple[int, str]:
    """The status and final address of a GET, after any redirects."""
    response = client.get(path, follow_redirects=True)
    return response.status_code, response.request.path.rstrip("/")


def _pages(app: Flask) -> list[str]:
    """The GET rules without variables: the pages a signed-in admin can open as they are."""
    return sorted({bare for rule, bare, _ in _twins(app) if "<" not in rule})


@pytest.mark.parametrize("service", ["ingest", "dashboard"])
def test_every_page_answers_alike_with_and_without_its_slash(
    service: str, request: pytest.FixtureRequest, engine: Engine
) -> None:
    app: Flask = request.getfixturevalue(f"{service}_app")
    accounts = add_organisation(engine, "slash-org")
    client = app.test_client()
    sign_in(client, accounts["admin"])
    pages = _pages(app)
    assert "/login" in pages
    if service == "ingest":
        assert {"/staff/participants", "/staff/feedback", "/healthz"} <= set(pages)
    differ = {}
    for bare in pages:
        if bare in {"/logout", "/login"}:  # sign-out would end the session the others need; sign-in is below
            continue
        plain, slashed = _outcome(client, bare), _outcome(client, bare + "/")
        if plain != slashed or plain[0] == 404:
            differ[bare] = (plain, slashed)
    assert not differ
    visitor = app.test_client()
    assert _outcome(visitor, "/login") == _outcome(visitor, "/login/")
