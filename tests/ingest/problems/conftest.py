"""The records-that-need-attention pages, served by a real ingest app on a real embedded log: one organisation
signed in as staff, and another beside it (whose records must never show)."""

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

ORG, OTHER = "mind-leeds", "south-voices"


@pytest.fixture
def settings(log_settings: Callable[[str], Settings], engine: Engine) -> Settings:
    # No wait for a reference that may still arrive: an unknown participant is dead-lettered at once.
    url = engine.url.render_as_string(False)
    return log_settings("embedded").model_copy(update={"database_url": url, "reference_wait_seconds": 0})


@pytest.fixture
def event_log(settings: Settings) -> Iterator[EventLog]:
    log = open_event_log(settings)
    yield log
    log.close()


@pytest.fixture
def app(settings: Settings, event_log: EventLog, engine: Engine) -> Flask:
    add_organisation(engine, ORG)
    add_organisation(engine, OTHER)
    return create_app(settings, event_log, test_config={"TESTING": True}, engine=engine)


@pytest.fixture
def staff(app: Flask) -> FlaskClient:
    client = app.test_client()
    sign_in(client, f"staff@{ORG}.example.org")
    return client
