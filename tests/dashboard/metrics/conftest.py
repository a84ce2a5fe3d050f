"""The story of tests/dashboard/metrics/story.py, processed once per database kind for the whole package."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from impact.db import create_tables, make_engine
from impact.eventlog import open_event_log
from impact.eventlog.recording import record
from impact.settings import Settings
from processors.quality import QualityGate
from tests.dashboard.metrics.story import (
    add_quality_rows,
    org_a_events,
    org_b_events,
)
from tests.factories import POSTGRES_URL, process_all


@pytest.fixture(scope="package", params=["sqlite", "postgres"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, gate: QualityGate
) -> Iterator[Engine]:
    """The story above, processed once per database kind for the whole package."""
    where = tmp_path_factory.mktemp("metrics")
    schema = ""
    if request.param == "sqlite":
        url = f"sqlite:///{where / 'readmodels.db'}"
    else:
        admin: Engine = request.getfixturevalue("postgres_admin")
        schema = f"t_{uuid.uuid4().hex[:12]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = f"{POSTGRES_URL}{'&' if '?' in POSTGRES_URL else '?'}options=-csearch_path%3D{schema}"
    engine = make_engine(url)
    create_tables(engine)
    suffix = uuid.uuid4().hex[:10]
    settings = Settings.model_validate(
        {
            "env": "test",
            "data_dir": where / "var",
            "secret_key": "t" * 40,
            "topic": f"events-{suffix}",
            "dead_letter_topic": f"dead-{suffix}",
            "consumer_group": f"group-{suffix}",
            "poll_timeout_ms": 200,
        }
    )
    with open_event_log(settings) as event_log:
        record(event_log, settings.topic, [*org_a_events(), *org_b_events()], recorded_by="test")
    process_all(settings, engine, gate, batch_size=50)
    with engine.begin() as conn:
        add_quality_rows(conn)
    yield engine
    engine.dispose()
    if schema:
        with request.getfixturevalue("postgres_admin").connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
