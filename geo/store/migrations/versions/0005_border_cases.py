"""Border cases: the shared lines, detection runs, cases and their complaints.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "border_line",
        sa.Column("a", sa.String(32), nullable=False),
        sa.Column("b", sa.String(32), nullable=False),
        sa.Column("length_m", sa.Float(), nullable=False),
        sa.Column("geom", Geometry("GEOMETRY", srid=4326, spatial_index=False), nullable=False),
        sa.PrimaryKeyConstraint("a", "b", name="pk_border_line"),
        sa.CheckConstraint("a < b", name="ck_border_line_order"),
    )
    op.create_index("ix_border_line_geom", "border_line", ["geom"], postgresql_using="gist")
    op.create_table(
        "border_run",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("params", JSONB(), nullable=False, server_default="{}"),
        sa.Column("found", JSONB(), nullable=False, server_default="{}"),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("period_end > period_start", name="ck_border_run_period"),
    )
    op.create_table(
        "border_case",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("key", sa.Text(), nullable=False, unique=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("townships", ARRAY(sa.String(32)), nullable=False),
        sa.Column("districts", ARRAY(sa.String(32)), nullable=False),
        sa.Column("category", sa.String(48)),
        sa.Column("theme", sa.String(48)),
        sa.Column("complaints", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("first_seen", sa.DateTime(timezone=True)),
        sa.Column("last_seen", sa.DateTime(timezone=True)),
        sa.Column("distance_m", sa.Float()),
        sa.Column("geom", Geometry("GEOMETRY", srid=4326, spatial_index=False)),
        sa.Column("first_run_id", sa.Integer(), sa.ForeignKey("border_run.id"), nullable=False),
        sa.Column("last_run_id", sa.Integer(), sa.ForeignKey("border_run.id"), nullable=False),
        sa.CheckConstraint("kind IN ('near', 'across', 'cluster', 'pingpong')", name="ck_border_case_kind"),
        sa.CheckConstraint("cardinality(townships) >= 2", name="ck_border_case_townships"),
    )
    op.create_index("ix_border_case_geom", "border_case", ["geom"], postgresql_using="gist")
    op.create_index("ix_border_case_last_seen", "border_case", ["last_seen"])
    op.create_index("ix_border_case_townships", "border_case", ["townships"], postgresql_using="gin")
    op.create_table(
        "border_case_complaint",
        sa.Column("case_id", sa.BigInteger(), sa.ForeignKey("border_case.id", ondelete="CASCADE"), nullable=False),
        sa.Column("complaint_id", sa.BigInteger(), nullable=False),
        sa.Column("distance_m", sa.Float()),
        sa.PrimaryKeyConstraint("case_id", "complaint_id", name="pk_border_case_complaint"),
    )
    op.create_index("ix_border_case_complaint_complaint", "border_case_complaint", ["complaint_id"])
    # Ping-pong candidates are few; this keeps finding them a lookup, not a scan.
    op.create_index("ix_complaint_returned", "complaint", ["received_at"],
                    postgresql_where=sa.text("returned_count >= 2"))


def downgrade() -> None:
    op.drop_index("ix_complaint_returned", table_name="complaint")
    op.drop_table("border_case_complaint")
    op.drop_table("border_case")
    op.drop_table("border_run")
    op.drop_table("border_line")
