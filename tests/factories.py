"""Factories the tests share: free ports, real services (the Kafka-protocol broker), organisations with
accounts, signed-in clients, API tokens and processing. Fixtures live in conftest.py; modules import these.

Outside CI a missing PostgreSQL or broker skips the tests that need it; with CI set it fails them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine

from impact.eventlog import open_event_log
from impact.settings import Settings
from processors.consumer import Processor
from processors.quality import QualityGate

IN_CI = bool(os.environ.get("CI"))
POSTGRES_URL = os.environ.get("IMPACT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def unavailable(message: str) -> None:
    """A missing service: a failure in CI, a skip on a developer's machine."""
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def settings_for_test(data_dir: Path, **overrides: object) -> Settings:
    """Settings for a test: env test, cheap password hashing, a fixed secret, quick polls, its own data_dir."""
    values: dict[str, object] = {
        "env": "test",
        "data_dir": data_dir,
        "secret_key": "t" * 40,
        "password_hashing": "fast",
        "poll_timeout_ms": 200,
        "save_wait_seconds": 0,  # the forms never wait for a processor: a test processes when it chooses
    }
    return Settings.model_validate(values | overrides)


# --- Ports and local services ---------------------------------------------------------------------


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


def wait_for(predicate: Callable[[], bool], timeout_s: float) -> bool:
    """Whether `predicate` came true within `timeout_s` (asked every half second)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.5)
    return False


def get(url: str) -> tuple[int, Any]:
    """(status, JSON or bytes) of a GET; (0, None) when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (a local URL)
            body = response.read()
            return response.status, json.loads(
                body
            ) if response.headers.get_content_type() == "application/json" else body
    except urllib.error.HTTPError as exc:
        return exc.code, None
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0, None


# --- The Kafka-protocol broker --------------------------------------------------------------------


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


# --- Processing ---------------------------------------------------------------------------------


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


def post_form(client: FlaskClient, path: str, fields: dict[str, Any]) -> Any:
    """Post the form at `path` as the browser would: with the CSRF token and submission id of the page."""
    page = client.get(path).get_data(as_text=True)
    token = _CSRF.search(page)
    submission = re.search(r'name="submission" value="([^"]+)"', page)
    assert token and submission, f"{path} has a CSRF token and a submission id"
    return client.post(path, data={"csrf_token": token.group(1), "submission": submission.group(1), **fields})


def summary_fields(response: Any) -> list[str]:
    """The fields a form's error summary links to, in its order."""
    return re.findall(r'<li><a href="#([^"]+)">', response.get_data(as_text=True))


def logged(event_log: Any, settings: Settings) -> list[Any]:
    """Every event in an embedded log's topic, in order."""
    from impact.eventlog.embedded import EmbeddedLog
    from schemas.events import StoredEvent

    assert isinstance(event_log, EmbeddedLog)
    return [StoredEvent.from_bytes(m.value) for m in event_log.read(settings.topic, 0, 10_000)]


def sign_in(client: FlaskClient, email: str, password: str = PASSWORD) -> None:
    token = csrf_from(client, "/login")
    response = client.post("/login", data={"email": email, "password": password, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]


def issue_token(engine: Engine, org_id: str, name: str = "test client") -> str:
    """A live API token's secret for `org_id`."""
    from sqlmodel import Session

    from impact.auth.tokens import issue_token as issue

    with Session(engine) as session:
        _token, secret = issue(session=session, org_id=org_id, name=name)
        session.commit()
    return secret
