"""Organisations keep their contact details (phone, postal address, reply address, web address) for participants

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 21:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = (("phone", 40), ("postal_address", 300), ("reply_email", 320), ("website", 200))


def upgrade() -> None:
    with op.batch_alter_table("organisation", schema=None) as batch_op:
        for name, length in _COLUMNS:
            batch_op.add_column(sa.Column(name, sa.String(length=length), server_default="", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("organisation", schema=None) as batch_op:
        for name, _length in reversed(_COLUMNS):
            batch_op.drop_column(name)
