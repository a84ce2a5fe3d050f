"""Monthly metrics are no longer kept: the processors recomputed them in every batch and nothing read them

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 18:43:27.765340
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_table("monthlymetric")


def downgrade() -> None:
    # Recreated empty: a replay of the log (`impact replay`) on the older code fills it again.
    op.create_table(
        "monthlymetric",
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("area", sa.String(length=20), nullable=False),
        sa.Column("participants_involved", sa.Integer(), nullable=False),
        sa.Column("activities", sa.Integer(), nullable=False),
        sa.Column("attendances", sa.Integer(), nullable=False),
        sa.Column("involvement_hours", sa.Float(), nullable=False),
        sa.Column("contributions", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "month", "area"),
    )
