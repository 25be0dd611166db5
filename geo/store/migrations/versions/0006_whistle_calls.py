"""Whistle calls with their addressees, complaints and events; remediation projects and tasks.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "project",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("lead_department", sa.String(48), nullable=False),
        sa.Column("partners", ARRAY(sa.String(48)), nullable=False, server_default="{}"),
        sa.Column("townships", ARRAY(sa.String(32)), nullable=False, server_default="{}"),
        sa.Column("cells", ARRAY(sa.BigInteger()), nullable=False, server_default="{}"),
        sa.Column("area", Geometry("MULTIPOLYGON", srid=4326, spatial_index=False)),
        sa.Column("categories", ARRAY(sa.String(48)), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("targets", JSONB(), nullable=False, server_default="{}"),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
        sa.CheckConstraint("kind IN ('problem_of_month', 'governance_plan', 'proactive')", name="ck_project_kind"),
        sa.CheckConstraint("ends_on > starts_on", name="ck_project_period"),
        sa.CheckConstraint("cardinality(categories) >= 1", name="ck_project_categories"),
    )
    op.create_index("ix_project_area", "project", ["area"], postgresql_using="gist")
    op.create_table(
        "project_task",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("project_id", sa.Integer(), sa.ForeignKey("project.id", ondelete="CASCADE"), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("owner", sa.Text(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True)),
        sa.Column("done_by", sa.Text()),
    )
    op.create_index("ix_project_task_project", "project_task", ["project_id"])
    op.create_table(
        "project_event",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("project_id", sa.Integer(), sa.ForeignKey("project.id", ondelete="CASCADE"), nullable=False),
        sa.Column("task_id", sa.Integer(), sa.ForeignKey("project_task.id", ondelete="CASCADE")),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("action", sa.String(24), nullable=False),
        sa.Column("note", sa.Text()),
    )
    op.create_index("ix_project_event_project", "project_event", ["project_id", "at"])
    op.create_table(
        "whistle_call",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("case_id", sa.BigInteger(), sa.ForeignKey("border_case.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("categories", ARRAY(sa.String(48)), nullable=False),
        sa.Column("townships", ARRAY(sa.String(32)), nullable=False),
        sa.Column("districts", ARRAY(sa.String(32)), nullable=False),
        sa.Column("project_id", sa.Integer(), sa.ForeignKey("project.id", ondelete="SET NULL")),
        sa.Column("complaints", sa.Integer(), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True)),
        sa.Column("closed_at", sa.DateTime(timezone=True)),
        sa.Column("reopened", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("escalation", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
        sa.CheckConstraint("kind IN ('emergency', 'enforcement', 'key_work')", name="ck_whistle_call_kind"),
        sa.CheckConstraint("state IN ('raised', 'resolved', 'closed')", name="ck_whistle_call_state"),
        sa.CheckConstraint("cardinality(townships) >= 2", name="ck_whistle_call_townships"),
    )
    # One call at a time per case: new complaints join it, and raising again changes nothing.
    op.create_index("ux_whistle_call_open_case", "whistle_call", ["case_id"], unique=True,
                    postgresql_where=sa.text("state <> 'closed'"))
    op.create_index("ix_whistle_call_state", "whistle_call", ["state", "deadline_at"])
    op.create_index("ix_whistle_call_townships", "whistle_call", ["townships"], postgresql_using="gin")
    op.create_table(
        "whistle_addressee",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("call_id", sa.BigInteger(), sa.ForeignKey("whistle_call.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("code", sa.String(48), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True)),
        sa.Column("done_at", sa.DateTime(timezone=True)),
        sa.Column("late", sa.Boolean(), nullable=False, server_default="false"),
        sa.Column("times_late", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("escalation", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("escalated_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("call_id", "kind", "code", name="uq_whistle_addressee"),
        sa.CheckConstraint("kind IN ('township', 'department')", name="ck_whistle_addressee_kind"),
        sa.CheckConstraint("state IN ('pending', 'reported', 'done')", name="ck_whistle_addressee_state"),
        sa.CheckConstraint("escalation BETWEEN 0 AND 2", name="ck_whistle_addressee_escalation"),
    )
    op.create_index("ix_whistle_addressee_due", "whistle_addressee", ["deadline_at"],
                    postgresql_where=sa.text("state = 'pending'"))
    op.create_table(
        "whistle_call_complaint",
        sa.Column("call_id", sa.BigInteger(), sa.ForeignKey("whistle_call.id", ondelete="CASCADE"), nullable=False),
        sa.Column("complaint_id", sa.BigInteger(), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("call_id", "complaint_id", name="pk_whistle_call_complaint"),
    )
    op.create_table(
        "whistle_event",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("call_id", sa.BigInteger(), sa.ForeignKey("whistle_call.id", ondelete="CASCADE"), nullable=False),
        sa.Column("addressee_id", sa.BigInteger(), sa.ForeignKey("whistle_addressee.id", ondelete="CASCADE")),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("from_state", sa.String(16)),
        sa.Column("to_state", sa.String(16)),
        sa.Column("note", sa.Text()),
    )
    op.create_index("ix_whistle_event_call", "whistle_event", ["call_id", "at"])


def downgrade() -> None:
    for table in ("whistle_event", "whistle_call_complaint", "whistle_addressee", "whistle_call", "project_event",
                  "project_task", "project"):
        op.drop_table(table)
