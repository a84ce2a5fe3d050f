"""Alembic migrations for every table in `SQLModel.metadata` (read models, accounts, receipts).

Services bring the database up to date on start with `impact.db.upgrade` (also `impact db upgrade`).
To change a table: edit the model, then `make migration m="what changed"`, read the new file in
`versions/` and fix what autogenerate cannot know (see README). tests/impact/test_migrations.py fails while
the models and the migrations disagree.
"""

from __future__ import annotations

from typing import Any, Literal

from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Connection
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime


def _render_item(type_: str, obj: Any, _context: AutogenContext) -> str | Literal[False]:
    """Write sqlmodel's column types as the plain SQLAlchemy types they store, e.g. sa.String(length=40):
    revisions then need no sqlmodel import and stay valid whatever sqlmodel does next."""
    if type_ == "type" and isinstance(obj, AutoString | UTCDateTime):
        return f"sa.{obj.impl_instance!r}"
    return False


def context_options(connection: Connection) -> dict[str, Any]:
    """How Alembic compares and renders: shared by env.py, `upgrade` and the tests."""
    return {
        "target_metadata": SQLModel.metadata,
        "render_as_batch": connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
        "render_item": _render_item,
        "compare_type": True,
    }
