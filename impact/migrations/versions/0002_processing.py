"""Processing: dead letters say when and what resolved them; parked events; personal keys; indexes by day

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 06:15:31.814747
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "parkedevent",
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("event_json", sa.String(), nullable=False),
        sa.Column("log_partition", sa.Integer(), nullable=False),
        sa.Column("log_offset", sa.Integer(), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expectation", sa.String(length=120), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_table(
        "personal_key",
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("participant_id", sa.String(length=64), nullable=False),
        sa.Column("key", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("org_id", "participant_id"),
    )
    with op.batch_alter_table("activity", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_activity_held_on"))
        batch_op.create_index("ix_activity_org_day", ["org_id", "held_on"], unique=False)

    with op.batch_alter_table("attendance", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attendance_attended_on"))
        batch_op.drop_index(batch_op.f("ix_attendance_org_id"))
        batch_op.create_index("ix_attendance_org_day", ["org_id", "attended_on"], unique=False)
        batch_op.create_index("ix_attendance_org_participant", ["org_id", "participant_id"], unique=False)

    with op.batch_alter_table("change", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_change_decided_on"))
        batch_op.create_index("ix_change_org_decided", ["org_id", "decided_on"], unique=False)

    with op.batch_alter_table("contribution", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contribution_made_on"))
        batch_op.create_index("ix_contribution_org_day", ["org_id", "made_on"], unique=False)

    with op.batch_alter_table("contributionparticipant", schema=None) as batch_op:
        batch_op.create_index("ix_contributionparticipant_org_participant", ["org_id", "participant_id"], unique=False)

    with op.batch_alter_table("deadletter", schema=None) as batch_op:
        batch_op.add_column(sa.Column("recorded_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("resolved_by", sa.String(length=36), nullable=True))
        batch_op.create_index("ix_deadletter_org_day", ["org_id", "recorded_on"], unique=False)

    with op.batch_alter_table("processedevent", schema=None) as batch_op:
        # rows folded before this revision get '' (the model's default): NOT NULL holds for them too
        batch_op.add_column(sa.Column("type", sa.String(length=40), server_default="", nullable=False))
        batch_op.add_column(sa.Column("recorded_on", sa.Date(), nullable=True))
        batch_op.create_index("ix_processedevent_org_day", ["org_id", "recorded_on"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("processedevent", schema=None) as batch_op:
        batch_op.drop_index("ix_processedevent_org_day")
        batch_op.drop_column("recorded_on")
        batch_op.drop_column("type")

    with op.batch_alter_table("deadletter", schema=None) as batch_op:
        batch_op.drop_index("ix_deadletter_org_day")
        batch_op.drop_column("resolved_by")
        batch_op.drop_column("recorded_on")

    with op.batch_alter_table("contributionparticipant", schema=None) as batch_op:
        batch_op.drop_index("ix_contributionparticipant_org_participant")

    with op.batch_alter_table("contribution", schema=None) as batch_op:
        batch_op.drop_index("ix_contribution_org_day")
        batch_op.create_index(batch_op.f("ix_contribution_made_on"), ["made_on"], unique=False)

    with op.batch_alter_table("change", schema=None) as batch_op:
        batch_op.drop_index("ix_change_org_decided")
        batch_op.create_index(batch_op.f("ix_change_decided_on"), ["decided_on"], unique=False)

    with op.batch_alter_table("attendance", schema=None) as batch_op:
        batch_op.drop_index("ix_attendance_org_participant")
        batch_op.drop_index("ix_attendance_org_day")
        batch_op.create_index(batch_op.f("ix_attendance_org_id"), ["org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_attendance_attended_on"), ["attended_on"], unique=False)

    with op.batch_alter_table("activity", schema=None) as batch_op:
        batch_op.drop_index("ix_activity_org_day")
        batch_op.create_index(batch_op.f("ix_activity_held_on"), ["held_on"], unique=False)

    op.drop_table("personal_key")
    op.drop_table("parkedevent")
