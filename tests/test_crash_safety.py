"""Crash safety: a processor killed with SIGKILL mid-batch and restarted ends exactly where an
uninterrupted run ends, on both stacks (positions are stored in the same transaction as rows).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlmodel import Session, SQLModel

from impact.demo import demo_events
from impact.eventlog import open_event_log
from impact.recording import record
from impact.settings import Settings
from processors.quality import QualityGate
from schemas.readmodels import ConsumerOffset
from tests.conftest import process_all

pytestmark = pytest.mark.timeout(300)
VOLATILE = {"dead_at", "group_id"}


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every read-model row, without columns that legitimately differ between runs."""
    tables: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            columns = [c for c in table.columns if c.name not in VOLATILE]
            rows = conn.execute(select(*columns)).all()
            tables[table.name] = sorted(tuple(row) for row in rows)
    return tables


def progress(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.exec(select(func.coalesce(func.sum(ConsumerOffset.next_offset), 0))).one()[0])  # type: ignore[call-overload]


def environment(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMPACT_")}
    for name, value in settings.model_dump(mode="json").items():
        if value is not None:
            env[f"IMPACT_{name.upper()}"] = str(value)
    return env


@pytest.mark.parametrize(
    "kinds", [("embedded", "sqlite"), ("kafka", "postgres")], ids=["embedded+sqlite", "kafka+postgres"]
)
def test_sigkill_mid_batch_then_restart_matches_an_uninterrupted_run(
    kinds: tuple[str, str],
    log_settings: Callable[[str], Settings],
    engine_factory: Callable[[str], Engine],
    gate: QualityGate,
) -> None:
    log_kind, db_kind = kinds
    base = log_settings(log_kind)
    events = demo_events(today=datetime.now(UTC).date())
    with open_event_log(base) as event_log:
        record(event_log, base.topic, events, recorded_by="test")
    total = len(events)

    reference = engine_factory(db_kind)
    reference_settings = base.model_copy(update={"consumer_group": base.consumer_group + "-reference"})
    process_all(reference_settings, reference, gate, batch_size=40)
    expected = snapshot(reference)
    assert sum(len(rows) for rows in expected.values()) > total

    crashed = engine_factory(db_kind)
    settings = base.model_copy(
        update={"database_url": crashed.url.render_as_string(hide_password=False), "batch_size": 40}
    )
    command = [sys.executable, "-m", "impact.cli", "process", "--until-caught-up"]
    chooser = random.Random(7)
    kills = []
    for share in (0.15, 0.4, 0.65, 0.85):
        child = subprocess.Popen(command, env=environment(settings), stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while progress(crashed) < share * total and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.005)
        time.sleep(chooser.uniform(0, 0.15))  # somewhere inside the next batch
        before = progress(crashed)
        child.send_signal(signal.SIGKILL)
        child.wait(30)
        kills.append((before, progress(crashed)))
        assert child.returncode == -signal.SIGKILL, "killed while still working"
    assert all(0 < before < total for before, _ in kills), kills
    finished = subprocess.run(command, env=environment(settings), capture_output=True, timeout=240, check=False)
    assert finished.returncode == 0, finished.stderr[-2000:]

    assert progress(crashed) == total
    assert snapshot(crashed) == expected
