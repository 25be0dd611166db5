"""Hot spot runs and their cells.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hotspot_run",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolution", sa.SmallInteger(), nullable=False),
        sa.Column("k", sa.SmallInteger(), nullable=False),
        sa.Column("alpha", sa.Float(), nullable=False),
        sa.Column("category", sa.String(48)),
        sa.Column("theme", sa.String(48)),
        sa.Column("cells", sa.Integer(), nullable=False),
        sa.Column("complaints", sa.Integer(), nullable=False),
        sa.Column("params", JSONB(), nullable=False, server_default="{}"),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("kind IN ('gi', 'emerging')", name="ck_hotspot_run_kind"),
        sa.CheckConstraint("period_end > period_start", name="ck_hotspot_run_period"),
    )
    op.create_table(
        "hotspot_cell",
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("hotspot_run.id", ondelete="CASCADE"), nullable=False),
        sa.Column("h3", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("z", sa.Float(), nullable=False),
        sa.Column("p", sa.Float(), nullable=False),
        sa.Column("bin", sa.SmallInteger(), nullable=False),
        sa.Column("significant", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "h3", name="pk_hotspot_cell"),
    )


def downgrade() -> None:
    op.drop_table("hotspot_cell")
    op.drop_table("hotspot_run")
