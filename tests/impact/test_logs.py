"""Structured logs: every line a service writes to stderr is one JSON object, access and error lines included."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.request
from contextlib import closing
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from impact.auth.accounts import create_organisation
from impact.auth.tokens import issue_token
from impact.db import create_tables, engine_for
from impact.demo import demo_events
from impact.eventlog import open_event_log
from impact.eventlog.recording import record
from impact.logs import JsonFormatter
from impact.settings import Settings
from tests.factories import free_port, get, wait_for

pytestmark = pytest.mark.timeout(180)

FIELDS = {"time", "service", "level", "logger", "message"}


def impact_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMPACT_")}
    return env | {"IMPACT_DATA_DIR": str(data_dir), "IMPACT_ENV": "development", "IMPACT_WORKERS": "1"} | extra


def parsed(stderr: str) -> list[dict[str, Any]]:
    """Every line as a JSON object with the common fields; fails on the first line that is not one."""
    entries = []
    for number, line in enumerate(stderr.splitlines(), 1):
        try:
            entry = json.loads(line)
        except ValueError:
            pytest.fail(f"stderr line {number} is not JSON: {line!r}")
        assert isinstance(entry, dict) and entry.keys() >= FIELDS, line
        entries.append(entry)
    return entries


def test_a_message_with_quotes_newlines_and_an_exception_is_one_json_line() -> None:
    record = logging.LogRecord("impact.x", logging.ERROR, __file__, 1, 'he said "no" \\ then\nleft', (), None)
    try:
        raise ValueError('a "quoted" failure')
    except ValueError:
        record.exc_info = sys.exc_info()
    record.status = 422  # given as extra=
    line = JsonFormatter("ingest").format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == 'he said "no" \\ then\nleft'
    assert (entry["service"], entry["level"], entry["logger"], entry["status"]) == ("ingest", "ERROR", "impact.x", 422)
    assert 'ValueError: a "quoted" failure' in entry["exception"]


def request(url: str, *, data: bytes | None = None, token: str = "") -> int:
    headers = {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data, headers=headers), timeout=10) as answer:  # noqa: S310
            return int(answer.status)
    except urllib.error.HTTPError as refused:
        refused.close()
        return refused.code


def test_gunicorn_served_ingest_logs_access_and_errors_as_json_lines(tmp_path: Path) -> None:
    port = free_port()
    data_dir = tmp_path / "var"
    errors = (tmp_path / "ingest.err").open("w")
    ingest = subprocess.Popen(
        [sys.executable, "-m", "impact.cli", "ingest"],
        env=impact_env(data_dir, IMPACT_INGEST_PORT=str(port)),
        stderr=errors,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        assert wait_for(lambda: get(f"{base}/healthz")[0] == 200, 60), "ingest starts"
        engine = engine_for(Settings(data_dir=data_dir))
        with Session(engine) as session:
            create_organisation(session=session, org_id="mind-leeds", name="Mind in Leeds")
            _token, secret = issue_token(session=session, org_id="mind-leeds", name="logs test")
            session.commit()
        engine.dispose()

        assert request(f'{base}/no/"such"/page') == 404
        assert request(f"{base}/api/v1/events", data=b'{"event_type": "say \\"hi\\""}', token=secret) == 422
        # A broken database (the tokens' table gone): the request fails inside the app, which logs the error.
        with closing(sqlite3.connect(data_dir / "impact.db")) as database:
            database.execute('DROP TABLE "apitoken"')
            database.commit()
        assert request(f"{base}/api/v1/events", data=b"{}", token=secret) == 500
    finally:
        ingest.terminate()
        ingest.wait(timeout=30)
        errors.close()
    entries = parsed((tmp_path / "ingest.err").read_text())
    assert {entry["service"] for entry in entries} == {"ingest"}
    access = [entry for entry in entries if entry["logger"] == "gunicorn.access"]
    assert {(entry["method"], entry["path"], entry["status"]) for entry in access} >= {
        ("GET", '/no/"such"/page', 404),
        ("POST", "/api/v1/events", 422),
        ("POST", "/api/v1/events", 500),
    }
    failures = [entry for entry in entries if entry["level"] == "ERROR"]
    assert failures and all('"' in entry["exception"] for entry in failures), failures


def test_the_processor_logs_json_lines_and_no_library_chatter(tmp_path: Path) -> None:
    settings = Settings(env="test", data_dir=tmp_path / "var", password_hashing="fast")
    engine = engine_for(settings)
    create_tables(engine)
    with open_event_log(settings) as event_log:
        record(event_log, settings.topic, demo_events(today=date.today())[:300], recorded_by="demo", engine=engine)
    engine.dispose()
    done = subprocess.run(
        [sys.executable, "-m", "impact.cli", "process", "--until-caught-up"],
        env=impact_env(settings.data_dir, IMPACT_PROCESSOR_HEALTH_PORT=str(free_port())),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    entries = parsed(done.stderr)
    assert any(entry["message"].startswith("batch accepted=") for entry in entries), "the batches are logged"
    assert not [entry for entry in entries if entry["logger"].startswith("great_expectations")]
    assert {entry["service"] for entry in entries} == {"processor"}
