"""Fixtures of the import tests: an embedded log, an organisation, and its staff signed in."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine

from impact.eventlog import EventLog, open_event_log
from impact.settings import Settings
from ingest import create_app
from tests.factories import add_organisation, sign_in
from tests.ingest.importing.helpers import ORG


@pytest.fixture
def settings(log_settings: Callable[[str], Settings]) -> Settings:
    return log_settings("embedded")


@pytest.fixture
def event_log(settings: Settings) -> Iterator[EventLog]:
    log = open_event_log(settings)
    yield log
    log.close()


@pytest.fixture
def emails(engine: Engine) -> dict[str, str]:
    return add_organisation(engine, ORG)


@pytest.fixture
def app(settings: Settings, event_log: EventLog, engine: Engine, emails: dict[str, str]) -> Flask:
    return create_app(settings, event_log, test_config={"TESTING": True}, engine=engine)


@pytest.fixture
def staff(app: Flask, emails: dict[str, str]) -> FlaskClient:
    client = app.test_client()
    sign_in(client, emails["staff"])
    return client
