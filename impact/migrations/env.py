"""Alembic's environment: runs on the connection (and transaction) that impact.db.upgrade hands over."""

from alembic import context

import impact.db  # noqa: F401  (registers every table in SQLModel.metadata)
from impact.migrations import context_options

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with impact.db.upgrade or `impact db upgrade`, which pass a connection")
context.configure(connection=connection, **context_options(connection))
with context.begin_transaction():
    context.run_migrations()
