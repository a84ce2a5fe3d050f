"""Fixtures of the browser tests: the served stack, the dashboard beside it, tabs, a page, and a11y-org signed in."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from impact.db import create_tables, make_engine
from impact.eventlog import open_event_log
from ingest import create_app as create_ingest
from processors.quality import QualityGate
from tests.factories import settings_for_test
from tests.system.browser import (
    Browser,
    Page,
    serve,
)
from tests.system.staff_browser import (
    SignedIn,
    Stack,
    Tabs,
)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, gate: QualityGate) -> Iterator[Stack]:
    root: Path = tmp_path_factory.mktemp("browser")
    settings = settings_for_test(
        root / "var",
        database_url=f"sqlite:///{root / 'impact.db'}",
        topic="events",
        dead_letter_topic="dead-letters",
        consumer_group="browser-tests",
    )
    engine = make_engine(settings.sqlalchemy_url)
    create_tables(engine)
    with open_event_log(settings) as event_log, serve(create_ingest(settings, event_log, engine=engine)) as url:
        yield Stack(settings, engine, event_log, gate, url)
    engine.dispose()


@pytest.fixture(scope="module")
def dashboard_url(stack: Stack) -> Iterator[str]:
    """The dashboard on the same database (imported here: the staff tests do not depend on it)."""
    from dashboard import create_app as create_dashboard

    with serve(create_dashboard(stack.settings, stack.engine).server) as url:
        yield url


@pytest.fixture
def tabs(browser: Browser) -> Iterator[Tabs]:
    """Fails the test if a script threw or a dialog opened in any of its pages."""
    opened = Tabs(browser)
    yield opened
    opened.close()
    assert opened.errors == [], f"scripts threw in the page: {opened.errors}"
    assert opened.dialogs == [], f"dialogs opened (a script ran): {opened.dialogs}"


@pytest.fixture
def page(tabs: Tabs) -> Page:
    return tabs.open()


@pytest.fixture(scope="module")
def a11y(request: pytest.FixtureRequest, stack: Stack, browser: Browser) -> SignedIn:
    return SignedIn(request, stack, browser)
