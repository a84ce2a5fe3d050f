"""Real-service fixtures: SQLite files, PostgreSQL schemas, and a Kafka-protocol broker (noida-db).

Outside CI a missing PostgreSQL or broker skips the tests that need it; with CI set it fails them.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, create_engine, text

from impact.db import create_tables, make_engine
from impact.eventlog import EventLog, open_event_log
from impact.settings import LogBackend, Settings
from processors.consumer import Processor
from processors.quality import QualityGate

IN_CI = bool(os.environ.get("CI"))
POSTGRES_URL = os.environ.get("IMPACT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def unavailable(message: str) -> None:
    """A missing service: a failure in CI, a skip on a developer's machine."""
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.1)
    return False


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


@pytest.fixture
def engine_factory(database_url_factory: Callable[[str], str]) -> Iterator[Callable[[str], Engine]]:
    """`factory("sqlite" | "postgres")` -> an engine on a fresh database with the read-model tables."""
    engines: list[Engine] = []

    def factory(kind: str) -> Engine:
        engine = make_engine(database_url_factory(kind))
        create_tables(engine)
        engines.append(engine)
        return engine

    yield factory
    for engine in engines:
        engine.dispose()


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


def _noida() -> str:
    found = shutil.which("noida-db") or str(Path(sys.executable).with_name("noida-db"))
    return found if Path(found).exists() else ""


class Broker:
    """A noida-db Kafka-protocol broker of our own, on `port`, keeping its data in `data_dir`."""

    def __init__(self, data_dir: Path, port: int) -> None:
        self.binary = _noida()
        if not self.binary:
            unavailable("noida-db is not installed (pip install -e '.[dev]')")
        self.data_dir, self.port = data_dir, port
        self.bootstrap = f"127.0.0.1:{port}"

    def start(self) -> None:
        where = ["--data-dir", str(self.data_dir), "--host", "127.0.0.1", "--only", "kafka"]
        started = subprocess.run(
            [self.binary, "up", *where, "--kafka-port", str(self.port)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if started.returncode != 0 or not _wait_for_port(self.port, 30):
            unavailable(f"the Kafka-protocol broker did not start: {started.stdout[-500:]} {started.stderr[-500:]}")

    def stop(self) -> None:
        down = [self.binary, "down", "--data-dir", str(self.data_dir)]
        subprocess.run(down, capture_output=True, timeout=60, check=False)


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
            "env": "test",
            "data_dir": tmp_path / f"var-{suffix}",
            "secret_key": "t" * 40,
            "password_hashing": "fast",
            "topic": f"events-{suffix}",
            "dead_letter_topic": f"dead-{suffix}",
            "consumer_group": f"group-{suffix}",
            "poll_timeout_ms": 200,
            "reference_wait_seconds": 0,  # a missing reference is dead-lettered at once, unless a test waits
        }
        if kind == "kafka":
            values.update(event_log=LogBackend.kafka, kafka_bootstrap=request.getfixturevalue("kafka_bootstrap"))
        return Settings.model_validate(values)

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


def process_all(settings: Settings, engine: Engine, gate: QualityGate, batch_size: int = 10) -> None:
    """Run the processor over everything in the settings' log, then return."""
    with open_event_log(settings) as event_log:
        processor = Processor.for_settings(settings, engine=engine, event_log=event_log, gate=gate)
        processor.run(threading.Event(), batch_size=batch_size, poll_timeout_ms=200, until_caught_up=True)


# --- Organisations, accounts and signed-in clients ---------------------------------------------

PASSWORD = "correct horse battery staple"


def add_organisation(engine: Engine, org_id: str, *, name: str = "") -> dict[str, str]:
    """An organisation with one account per role; returns {role: e-mail}. Every password is PASSWORD."""
    from sqlmodel import Session

    from impact.auth.accounts import Role, create_account, create_organisation

    emails = {}
    with Session(engine) as session:
        create_organisation(session=session, org_id=org_id, name=name or org_id.replace("-", " ").title())
        for role in Role:
            email = f"{role}@{org_id}.example.org"
            create_account(
                session=session,
                org_id=org_id,
                email=email,
                name=f"{role.title()} of {org_id}",
                role=role,
                password=PASSWORD,
            )
            emails[str(role)] = email
        session.commit()
    return emails


_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(client: FlaskClient, path: str) -> str:
    """The CSRF token of the form on the page at `path`."""
    page = client.get(path)
    found = _CSRF.search(page.get_data(as_text=True))
    assert found, f"no CSRF token on {path} ({page.status_code})"
    return found.group(1)


def sign_in(client: FlaskClient, email: str, password: str = PASSWORD) -> None:
    token = csrf_from(client, "/login")
    response = client.post("/login", data={"email": email, "password": password, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]


def issue_token(engine: Engine, org_id: str, name: str = "test client") -> str:
    """A live API token's secret for `org_id`."""
    from sqlmodel import Session

    from impact.auth.accounts import issue_token as issue

    with Session(engine) as session:
        _token, secret = issue(session=session, org_id=org_id, name=name)
        session.commit()
    return secret
