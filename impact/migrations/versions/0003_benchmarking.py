"""Benchmarking: an organisation opts in to sharing its rates (as a median of five or more) with other members

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 08:43:24.843316
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("organisation", schema=None) as batch_op:
        # organisations already there stay out until an admin opts in
        batch_op.add_column(sa.Column("benchmarking", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("organisation", schema=None) as batch_op:
        batch_op.drop_column("benchmarking")
