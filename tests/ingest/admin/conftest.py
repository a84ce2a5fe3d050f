"""Fixtures of the admin tests: an app on an embedded log, two organisations, and an operator."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from sqlalchemy import Engine

from impact.eventlog import EventLog, open_event_log
from impact.settings import Settings
from ingest import create_app
from tests.factories import add_organisation
from tests.ingest.admin.helpers import make_operator


@pytest.fixture
def event_log(log_settings: Callable[[str], Settings]) -> Iterator[tuple[Settings, EventLog]]:
    settings = log_settings("embedded")
    log = open_event_log(settings)
    yield settings, log
    log.close()


@pytest.fixture
def app(engine: Engine, event_log: tuple[Settings, EventLog]) -> Flask:
    settings, log = event_log
    return create_app(settings, log, test_config={"TESTING": True}, engine=engine)  # CSRF stays on


@pytest.fixture
def orgs(engine: Engine) -> dict[str, dict[str, str]]:
    """Two organisations, each with one account per role: {org_id: {role: e-mail}}."""
    return {org_id: add_organisation(engine, org_id) for org_id in ("mind-leeds", "carers-east")}


@pytest.fixture
def operator(engine: Engine) -> dict[str, str]:
    """The organisation that runs the platform, with one account per role: {role: e-mail}."""
    emails = add_organisation(engine, "impact-platform", name="Involvement Impact (platform)")
    make_operator(engine, "impact-platform")
    return emails
