"""Fixtures of the feedback sender's tests: a real SMTP server (aiosmtpd) and the stack around it."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Engine

from impact.eventlog import open_event_log
from impact.settings import Settings
from ingest import create_app as create_ingest
from processors.quality import QualityGate
from tests.factories import add_organisation, free_port, issue_token
from tests.processors.sending import EMBEDDED, ORG, OTHER, Inbox, Stack


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture(params=[EMBEDDED])
def stack(
    request: pytest.FixtureRequest,
    log_settings: Callable[[str], Settings],
    engine_factory: Callable[[str], Engine],
    smtp: tuple[Inbox, int],
    gate: QualityGate,
) -> Iterator[Stack]:
    log_kind, db_kind = request.param
    engine = engine_factory(db_kind)
    inbox, port = smtp
    settings = log_settings(log_kind).model_copy(
        update={
            "database_url": engine.url.render_as_string(hide_password=False),
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "smtp_security": "none",
            "smtp_timeout_seconds": 5.0,
            "mail_from": "Involvement Impact <feedback@impact.example.org>",
            "public_url": "https://impact.example.org",
            "feedback_retry_seconds": 60.0,
            "feedback_max_attempts": 3,
        }
    )
    with open_event_log(settings) as event_log:
        app = create_ingest(settings, event_log, test_config={"TESTING": True}, engine=engine)
        api = {}
        for org in (ORG, OTHER):
            add_organisation(engine, org, name="North Carers" if org == ORG else "")
            api[org] = app.test_client()
            api[org].environ_base["HTTP_AUTHORIZATION"] = f"Bearer {issue_token(engine, org)}"
        yield Stack(settings, engine, event_log, api, gate, inbox)
