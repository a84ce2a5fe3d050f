"""The read-model database: one engine per process, created from settings, never at import time."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Engine, event, inspect
from sqlmodel import Session, SQLModel, create_engine

from impact.auth import accounts, tokens
from impact.eventlog import recording, sealing
from impact.feedback import links, outbox
from impact.migrations import context_options
from impact.settings import Settings
from schemas import readmodels

# Importing a module registers its tables in SQLModel's metadata, which migrations compare with the database:
# organisations and accounts; API tokens; ingest's receipts; participants' keys; their links; the feedback
# outbox; and the read models.
TABLE_MODULES = (accounts, tokens, recording, sealing, links, outbox, readmodels)

MIGRATIONS = Path(__file__).with_name("migrations")
BASELINE = "0001"  # the tables as `create_all` made them before there were migrations
_LOCK_KEY = 7_413_370  # with the schema's hash: one upgrade at a time per PostgreSQL schema


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA busy_timeout = 10000")  # first: switching to WAL below takes a lock, and may wait
    _use_wal(cursor)
    cursor.execute("PRAGMA synchronous = NORMAL")  # WAL + NORMAL: committed data survives a process kill
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA secure_delete = ON")  # erased personal data is overwritten, not left in free pages
    cursor.close()


def _use_wal(cursor: Any) -> None:
    """Switch the file to WAL (which it then keeps), unless it already is. The switch needs the database to
    itself, and SQLite answers "database is locked" at once, without its busy timeout, while another
    connection holds it (services starting together on a new file): so wait, and try again, for up to 10 s."""
    if str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
        return
    deadline = time.monotonic() + 10
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite files get WAL and a busy timeout so services can share them."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def engine_for(settings: Settings) -> Engine:
    return make_engine(settings.sqlalchemy_url)


def alembic_config(connection: Connection) -> Config:
    """Alembic's configuration, made in code: migrations in impact/migrations, run on `connection`."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database to `revision` with Alembic: every service runs this on start.

    The whole upgrade is one transaction holding a lock (PostgreSQL: `pg_advisory_xact_lock` keyed by
    the current schema; SQLite: `BEGIN IMMEDIATE`), so services starting together take turns and the
    later ones find nothing to do. `alembic_version` lives in the engine's current schema (search_path).

    A database made by `create_all` before migrations (tables but no `alembic_version`) is stamped
    first: at head when its tables already match the models, otherwise at the baseline revision
    (the tables as they were before migrations), and then upgraded from there.
    """
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_LOCK_KEY}, hashtext(current_schema()))")
        elif connection.dialect.name == "sqlite":
            connection.exec_driver_sql("BEGIN IMMEDIATE")  # takes the write lock now, not at the first write
        config = alembic_config(connection)
        context = MigrationContext.configure(connection, opts=context_options(connection))
        if context.get_current_revision() is None and _has_tables(connection):
            command.stamp(config, BASELINE if compare_metadata(context, SQLModel.metadata) else "head")
        command.upgrade(config, revision)


def _has_tables(connection: Connection) -> bool:
    return not SQLModel.metadata.tables.keys().isdisjoint(inspect(connection).get_table_names())


def create_tables(engine: Engine) -> None:
    """The tables the migrations make: `upgrade`, kept under this name for callers and tests.

    A fresh SQLite database takes ~0.1 s this way against ~0.06 s with `create_all`: cheap enough for
    every test to run on the migrated schema rather than on one the migrations might not produce.
    """
    upgrade(engine)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session whose work commits at the end of the block, or rolls back on error."""
    with Session(engine) as session, session.begin():
        yield session
