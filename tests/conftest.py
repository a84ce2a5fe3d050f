"""Fixtures: SQLite files, PostgreSQL schemas, a Kafka-protocol broker (noida-db), event logs, Chromium.

The helpers test modules call (organisations, sign-in, tokens, ports, the broker) are in tests/factories.py.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text

from impact.db import create_tables, make_engine
from impact.eventlog import EventLog, open_event_log
from impact.settings import LogBackend, Settings
from processors.quality import QualityGate
from tests.factories import POSTGRES_URL, Broker, free_port, settings_for_test, unavailable


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashing() -> Iterator[None]:
    """One round of PBKDF2 instead of scrypt at production cost: accounts are made in hundreds of tests."""
    from impact.auth import accounts

    accounts.configure(Settings(env="test", password_hashing="fast"))
    yield
    accounts.configure(Settings(env="test", password_hashing="scrypt"))


# --- PostgreSQL -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[Engine]:
    engine = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means "not reachable"
        engine.dispose()
        unavailable(f"PostgreSQL is not reachable at {POSTGRES_URL}: {exc}")
    yield engine
    engine.dispose()


@pytest.fixture
def database_url_factory(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Callable[[str], str]]:
    """`factory("sqlite" | "postgres")` -> a fresh, empty database URL (a new PostgreSQL schema each call)."""
    schemas: list[str] = []

    def factory(kind: str) -> str:
        if kind == "sqlite":
            return f"sqlite:///{tmp_path / f'readmodels-{uuid.uuid4().hex[:8]}.db'}"
        admin: Engine = request.getfixturevalue("postgres_admin")
        schema = f"t_{uuid.uuid4().hex[:12]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        schemas.append(schema)
        separator = "&" if "?" in POSTGRES_URL else "?"
        return f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"

    yield factory
    if schemas:
        admin: Engine = request.getfixturevalue("postgres_admin")
        with admin.connect() as conn:
            for schema in schemas:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file the migrations made, once per session: each test's database starts as a copy of it."""
    path = tmp_path_factory.mktemp("template") / "migrated.db"
    engine = make_engine(f"sqlite:///{path}")
    create_tables(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")  # everything in the main file, so a copy is whole
    engine.dispose()
    return path


@pytest.fixture
def engine_factory(
    database_url_factory: Callable[[str], str], migrated_sqlite: Path
) -> Iterator[Callable[[str], Engine]]:
    """`factory("sqlite" | "postgres")` -> an engine on a fresh database with the tables the migrations make
    (on SQLite, a copy of the session's migrated file: the same schema, without migrating again per test)."""
    engines: list[Engine] = []

    def factory(kind: str) -> Engine:
        url = database_url_factory(kind)
        if kind == "sqlite":
            shutil.copyfile(migrated_sqlite, url.removeprefix("sqlite:///"))
        engine = make_engine(url)
        if kind != "sqlite":
            create_tables(engine)
        engines.append(engine)
        return engine

    yield factory
    for engine in engines:
        engine.dispose()


# The slowest files first (measured): `make test` hands each worker one file at a time, so the file still
# running when every other has finished is then a short one, not a two-minute one.
SLOWEST_FIRST = (
    "tests/system/test_browser_accessibility.py",
    "tests/system/test_browser_wcag_staff.py",
    "tests/system/test_browser_reflow.py",
    "tests/processors/test_replay.py",
    "tests/impact/test_cli.py",
    "tests/ingest/test_openapi.py",
    "tests/system/test_browser_forms.py",
    "tests/processors/test_memory.py",
    "tests/system/test_browser_journey.py",
    "tests/processors/test_feedback_sender.py",
    "tests/ingest/test_ingest.py",
    "tests/processors/test_processing.py",
    "tests/system/test_end_to_end.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    rank = {path: place for place, path in enumerate(SLOWEST_FIRST)}

    def place(item: pytest.Item) -> int:
        return rank.get(item.path.relative_to(config.rootpath).as_posix(), len(rank))

    items.sort(key=place)  # stable: within a file, and among the rest, the order stays as collected


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """`engine` is SQLite; a test (or module) marked `twins` runs on PostgreSQL as well, because its SQL
    behaviour can differ between them (metrics, the store, migrations, outbox claims, the log)."""
    if "engine" in metafunc.fixturenames:
        kinds = ["sqlite", "postgres"] if metafunc.definition.get_closest_marker("twins") else ["sqlite"]
        metafunc.parametrize("engine", kinds, indirect=True)


@pytest.fixture
def engine(request: pytest.FixtureRequest, engine_factory: Callable[[str], Engine]) -> Engine:
    """A read-model database with its tables: SQLite, and PostgreSQL too for tests marked `twins`."""
    return engine_factory(getattr(request, "param", "sqlite"))


# --- The Kafka-protocol broker ----------------------------------------------------------------


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Kafka-protocol broker on a free port, for the whole session; stopped afterwards."""
    broker = Broker(tmp_path_factory.mktemp("broker"), free_port())
    broker.start()
    yield broker.bootstrap
    broker.stop()


# --- Event logs -------------------------------------------------------------------------------


@pytest.fixture
def log_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[str], Settings]:
    """`factory("embedded" | "kafka")` -> settings for a fresh log with its own topics."""

    def factory(kind: str) -> Settings:
        suffix = uuid.uuid4().hex[:10]
        values: dict[str, object] = {
            "topic": f"events-{suffix}",
            "dead_letter_topic": f"dead-{suffix}",
            "consumer_group": f"group-{suffix}",
            "reference_wait_seconds": 0,  # a missing reference is dead-lettered at once, unless a test waits
        }
        if kind == "kafka":
            values.update(event_log=LogBackend.kafka, kafka_bootstrap=request.getfixturevalue("kafka_bootstrap"))
        return settings_for_test(tmp_path / f"var-{suffix}", **values)

    return factory


@pytest.fixture
def settings(log_settings: Callable[[str], Settings], engine: Engine) -> Settings:
    """Settings for an embedded log and the `engine` fixture's database (the staff pages' tests)."""
    return log_settings("embedded").model_copy(update={"database_url": engine.url.render_as_string(False)})


@pytest.fixture
def event_log(settings: Settings) -> Iterator[EventLog]:
    log = open_event_log(settings)
    yield log
    log.close()


# --- Headless Chromium ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from tests.system.browser import CHROMIUM, launch  # skips (fails in CI) without Playwright

    if not CHROMIUM.exists():
        unavailable(f"{CHROMIUM} is not installed (apt-get install chromium)")
    with launch() as chromium:
        yield chromium


@pytest.fixture(scope="module")
def axe() -> str:
    from tests.system.browser import axe_script

    try:
        return axe_script()
    except FileNotFoundError as exc:
        unavailable(f"axe-core is not available: {exc}")
        raise  # unreachable: unavailable() always raises


# --- Processing ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def gate() -> QualityGate:
    return QualityGate()  # Great Expectations takes seconds to set up: once per session
