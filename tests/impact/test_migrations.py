"""Alembic migrations: they make exactly the tables the models describe, on SQLite and PostgreSQL.

When a model changes without a migration, test_upgrade_makes_the_tables_the_models_describe fails:
write one with `make migration m="what changed"`.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from click.testing import CliRunner
from sqlalchemy import Engine, inspect, text
from sqlmodel import SQLModel

from impact.cli import main
from impact.db import BASELINE, MIGRATIONS, alembic_config, make_engine, upgrade
from impact.migrations import context_options

HEAD = ScriptDirectory(str(MIGRATIONS)).get_current_head()


@pytest.fixture(params=["sqlite", "postgres"])
def blank(request: pytest.FixtureRequest, database_url_factory: Callable[[str], str]) -> Iterator[Engine]:
    """An engine on an empty database (no tables, no alembic_version), on SQLite and PostgreSQL."""
    engine = make_engine(database_url_factory(request.param))
    yield engine
    engine.dispose()


def differences(engine: Engine) -> list[Any]:
    """What autogenerate would write: the models against the database's tables (empty when they agree)."""
    with engine.connect() as connection:
        return list(
            compare_metadata(
                MigrationContext.configure(connection, opts=context_options(connection)), SQLModel.metadata
            )
        )


def version(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def test_upgrade_makes_the_tables_the_models_describe(blank: Engine) -> None:
    upgrade(blank)

    assert version(blank) == HEAD
    found = differences(blank)
    assert not found, f'the models and the migrations disagree; write a migration: make migration m="..."\n{found}'


def test_alembic_version_lives_in_the_engines_schema(blank: Engine) -> None:
    upgrade(blank)

    with blank.connect() as connection:
        assert inspect(connection).has_table("alembic_version")
        if blank.dialect.name == "postgresql":
            schema = connection.scalar(text("SELECT current_schema()"))
            assert schema is not None and schema.startswith("t_")  # the test's own schema, from the URL


def test_downgrade_to_base_then_upgrade_again(blank: Engine) -> None:
    upgrade(blank)
    with blank.begin() as connection:
        command.downgrade(alembic_config(connection), "base")
    with blank.connect() as connection:
        assert set(inspect(connection).get_table_names()) <= {"alembic_version"}

    upgrade(blank)

    assert version(blank) == HEAD
    assert not differences(blank)


def test_a_database_made_by_create_all_is_stamped_at_head(blank: Engine) -> None:
    SQLModel.metadata.create_all(blank)
    assert version(blank) is None

    upgrade(blank)

    assert version(blank) == HEAD
    assert not differences(blank)


def test_a_database_from_before_migrations_is_stamped_at_the_baseline_and_upgraded(blank: Engine) -> None:
    upgrade(blank, BASELINE)  # the tables as create_all made them before migrations...
    with blank.begin() as connection:
        connection.execute(text("DROP TABLE alembic_version"))  # ...with no record of a revision
        connection.execute(text("INSERT INTO processedevent (event_id, org_id) VALUES ('e-1', 'mind-leeds')"))

    upgrade(blank)

    assert version(blank) == HEAD
    assert not differences(blank)
    with blank.connect() as connection:  # later revisions keep the rows already there
        assert connection.scalar(text("SELECT org_id FROM processedevent WHERE event_id = 'e-1'")) == "mind-leeds"


def test_monthly_metrics_are_dropped_and_a_downgrade_recreates_them(blank: Engine) -> None:
    upgrade(blank, "0005")
    with blank.connect() as connection:
        assert inspect(connection).has_table("monthlymetric")

    upgrade(blank)

    with blank.connect() as connection:
        assert not inspect(connection).has_table("monthlymetric")
    with blank.begin() as connection:
        command.downgrade(alembic_config(connection), "0005")
    with blank.connect() as connection:
        assert inspect(connection).has_table("monthlymetric")
        assert connection.scalar(text("SELECT count(*) FROM monthlymetric")) == 0


STARTING_SERVICE = """
import sys
from impact.db import make_engine, upgrade
engine = make_engine(sys.argv[1])
print("ready", flush=True)
sys.stdin.readline()  # every service starts upgrading at the same moment
upgrade(engine)
"""

pytestmark = pytest.mark.twins  # SQL behaviour can differ: on SQLite and PostgreSQL


def test_services_starting_together_take_turns(blank: Engine) -> None:
    url = blank.url.render_as_string(hide_password=False)
    services = [
        subprocess.Popen(
            [sys.executable, "-c", STARTING_SERVICE, url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    try:
        for service in services:
            assert service.stdout is not None and service.stdout.readline() == "ready\n"
        for service in services:
            assert service.stdin is not None
            service.stdin.write("go\n")
            service.stdin.flush()
        outcomes = [(service.communicate(timeout=60)[1], service.returncode) for service in services]
    finally:
        for service in services:  # a failed start leaves no process or open pipe behind
            service.kill()
            service.communicate()
    for stderr, returncode in outcomes:
        assert returncode == 0, stderr[-2000:]

    assert version(blank) == HEAD
    assert not differences(blank)


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_impact_db_upgrade_migrates_and_can_run_again(
    kind: str, database_url_factory: Callable[[str], str], tmp_path: Path
) -> None:
    url = database_url_factory(kind)
    env = {"IMPACT_DATABASE_URL": url, "IMPACT_DATA_DIR": str(tmp_path / "var"), "IMPACT_ENV": "development"}

    for _ in range(2):
        result = CliRunner().invoke(main, ["db", "upgrade"], env=env)
        assert result.exit_code == 0, result.output
        assert "up to date" in result.output

    engine = make_engine(url)
    try:
        assert version(engine) == HEAD
        assert not differences(engine)
    finally:
        engine.dispose()


def test_impact_db_registers_every_table() -> None:
    """`impact db upgrade` and `make migration` see only the tables importing impact.db registers."""
    script = "import impact.db, sqlmodel; print(' '.join(sorted(sqlmodel.SQLModel.metadata.tables)))"
    alone = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.split()

    missing = sorted(set(SQLModel.metadata.tables) - set(alone))
    assert not missing, f"import the modules defining {missing} in impact/db.py"


def test_revisions_import_nothing_but_alembic_and_sqlalchemy() -> None:
    for revision in (MIGRATIONS / "versions").glob("*.py"):
        assert "sqlmodel" not in revision.read_text(), f"{revision.name}: render the column types as sa.* types"
