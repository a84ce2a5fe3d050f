"""Feedback to participants: the outbox, private links, and how often each person hears

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 11:46:18.361063
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "feedback_item",
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("participant_id", sa.String(length=64), nullable=False),
        sa.Column("change_id", sa.String(length=64), nullable=False),
        sa.Column("decided_on", sa.Date(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=True),
        sa.Column("found_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("message_id", sa.String(length=36), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recorded", sa.Boolean(), nullable=False),
        sa.Column("done_by", sa.String(length=120), nullable=True),
        sa.PrimaryKeyConstraint("org_id", "participant_id", "change_id"),
    )
    with op.batch_alter_table("feedback_item", schema=None) as batch_op:
        batch_op.create_index("ix_feedback_item_state_due", ["state", "due_at"], unique=False)

    op.create_table(
        "participant_link",
        sa.Column("link_id", sa.String(length=32), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("participant_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("link_id"),
    )
    with op.batch_alter_table("participant_link", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_participant_link_participant_id"), ["participant_id"], unique=False)

    with op.batch_alter_table("participant", schema=None) as batch_op:
        # people registered before this hear of each change as it is decided, as they did until now
        batch_op.add_column(
            sa.Column("feedback_frequency", sa.String(length=20), server_default="each_change", nullable=False)
        )

    # the feedback loop's way from a person to what they are owed, and what they were told
    with op.batch_alter_table("changelink", schema=None) as batch_op:
        batch_op.create_index("ix_changelink_org_contribution", ["org_id", "contribution_id"], unique=False)
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.create_index(
            "ix_feedback_org_participant_change", ["org_id", "participant_id", "change_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.drop_index("ix_feedback_org_participant_change")
    with op.batch_alter_table("changelink", schema=None) as batch_op:
        batch_op.drop_index("ix_changelink_org_contribution")

    with op.batch_alter_table("participant", schema=None) as batch_op:
        batch_op.drop_column("feedback_frequency")

    with op.batch_alter_table("participant_link", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_participant_link_participant_id"))

    op.drop_table("participant_link")
    with op.batch_alter_table("feedback_item", schema=None) as batch_op:
        batch_op.drop_index("ix_feedback_item_state_due")

    op.drop_table("feedback_item")
