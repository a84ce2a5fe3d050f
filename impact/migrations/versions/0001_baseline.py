"""Baseline: every table as `create_all` made it before there were migrations.

Revision ID: 0001
Revises:
Create Date: 2026-11-22 05:42:31.108542
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "activity",
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("activity_id", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("area", sa.String(length=20), nullable=False),
        sa.Column("level", sa.String(length=20), nullable=False),
        sa.Column("held_on", sa.Date(), nullable=False),
        sa.Column("duration_hours", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "activity_id"),
    )
    op.create_index(op.f("ix_activity_held_on"), "activity", ["held_on"], unique=False)
    op.create_table(
        "attendance",
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("activity_id", sa.String(length=64), nullable=False),
        sa.Column("participant_id", sa.String(length=64), nullable=False),
        sa.Column("hours", sa.Float(), nullable=False),
        sa.Column("session_role", sa.String(length=20), nullable=False),
        sa.Column("attended_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_index(op.f("ix_attendance_attended_on"), "attendance", ["attended_on"], unique=False)
    op.create_index(op.f("ix_attendance_org_id"), "attendance", ["org_id"], unique=False)
    op.create_table(
        "change",
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("change_id", sa.String(length=64), nullable=False),
        sa.Column("area", sa.String(length=20), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.String(length=4000), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("status_note", sa.String(length=2000), nullable=True),
        sa.Column("recorded_on", sa.Date(), nullable=False),
        sa.Column("decided_on", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("org_id", "change_id"),
    )
    op.create_index(op.f("ix_change_decided_on"), "change", ["decided_on"], unique=False)
    op.create_table(
        "changelink",
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("change_id", sa.String(length=64), nullable=False),
        sa.Column("contribution_id", sa.String(length=64), nullable=False),
        sa.Column("strength", sa.String(length=20), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "change_id", "contribution_id"),
    )
    op.create_table(
        "consumeroffset",
        sa.Column("group_id", sa.String(length=100), nullable=False),
        sa.Column("topic", sa.String(length=200), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("next_offset", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("group_id", "topic", "partition"),
    )
    op.create_table(
        "contribution",
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("contribution_id", sa.String(length=64), nullable=False),
        sa.Column("activity_id", sa.String(length=64), nullable=True),
        sa.Column("area", sa.String(length=20), nullable=False),
        sa.Column("text", sa.String(length=4000), nullable=False),
        sa.Column("made_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "contribution_id"),
    )
    op.create_index(op.f("ix_contribution_made_on"), "contribution", ["made_on"], unique=False)
    op.create_table(
        "contributionparticipant",
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("contribution_id", sa.String(length=64), nullable=False),
        sa.Column("participant_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "contribution_id", "participant_id"),
    )
    op.create_table(
        "deadletter",
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("expectation", sa.String(length=120), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("event_json", sa.String(), nullable=False),
        sa.Column("log_partition", sa.Integer(), nullable=False),
        sa.Column("log_offset", sa.Integer(), nullable=False),
        sa.Column("dead_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_index(op.f("ix_deadletter_org_id"), "deadletter", ["org_id"], unique=False)
    op.create_table(
        "feedback",
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("change_id", sa.String(length=64), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("participant_id", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id", "change_id"),
    )
    op.create_index(op.f("ix_feedback_org_id"), "feedback", ["org_id"], unique=False)
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
    op.create_table(
        "organisation",
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("operator", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("org_id"),
    )
    op.create_table(
        "participant",
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("participant_id", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=120), nullable=True),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("postal_address", sa.String(length=400), nullable=True),
        sa.Column("consent_to_contact", sa.Boolean(), nullable=False),
        sa.Column("preferred_channel", sa.String(length=20), nullable=True),
        sa.Column("age_band", sa.String(length=20), nullable=True),
        sa.Column("gender", sa.String(length=20), nullable=True),
        sa.Column("ethnicity", sa.String(length=20), nullable=True),
        sa.Column("disability", sa.String(length=20), nullable=True),
        sa.Column("region", sa.String(length=20), nullable=True),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("erased", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "participant_id"),
    )
    op.create_table(
        "processedevent",
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_table(
        "receipt",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_table(
        "apitoken",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisation.org_id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index(op.f("ix_apitoken_org_id"), "apitoken", ["org_id"], unique=False)
    op.create_table(
        "staffaccount",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("password_hash", sa.String(length=300), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("must_change_password", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisation.org_id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("email"),
    )
    op.create_index(op.f("ix_staffaccount_org_id"), "staffaccount", ["org_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_staffaccount_org_id"), table_name="staffaccount")
    op.drop_table("staffaccount")
    op.drop_index(op.f("ix_apitoken_org_id"), table_name="apitoken")
    op.drop_table("apitoken")
    op.drop_table("receipt")
    op.drop_table("processedevent")
    op.drop_table("participant")
    op.drop_table("organisation")
    op.drop_table("monthlymetric")
    op.drop_index(op.f("ix_feedback_org_id"), table_name="feedback")
    op.drop_table("feedback")
    op.drop_index(op.f("ix_deadletter_org_id"), table_name="deadletter")
    op.drop_table("deadletter")
    op.drop_table("contributionparticipant")
    op.drop_index(op.f("ix_contribution_made_on"), table_name="contribution")
    op.drop_table("contribution")
    op.drop_table("consumeroffset")
    op.drop_table("changelink")
    op.drop_index(op.f("ix_change_decided_on"), table_name="change")
    op.drop_table("change")
    op.drop_index(op.f("ix_attendance_org_id"), table_name="attendance")
    op.drop_index(op.f("ix_attendance_attended_on"), table_name="attendance")
    op.drop_table("attendance")
    op.drop_index(op.f("ix_activity_held_on"), table_name="activity")
    op.drop_table("activity")
