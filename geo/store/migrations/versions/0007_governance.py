"""Daily tallies per township and category, and the monthly governance classes.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

COUNTS = ("volume", "dispatched", "on_time", "outcomes", "resolved", "callbacks", "satisfied")


def _counts() -> list[sa.Column]:
    return [sa.Column(name, sa.Integer(), nullable=False) for name in COUNTS]


def upgrade() -> None:
    op.create_table(
        "township_day",
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("township_code", sa.String(32), primary_key=True),
        sa.Column("category", sa.String(48), primary_key=True),
        *_counts())
    # Projects read a few (township, category) pairs over two years; a township's page reads all
    # its categories (40 short range scans).
    op.create_index("ix_township_day_township", "township_day", ["township_code", "category", "day"])
    # Cell projects read a few categories in a few hundred cells: the category in the index
    # spares fetching every other complaint of those cells. It serves h3-only lookups as before.
    op.drop_index("ix_complaint_h3", table_name="complaint")
    op.create_index("ix_complaint_h3_category", "complaint", ["h3", "category"])
    op.create_table(
        "governance_month",
        sa.Column("month", sa.Date(), primary_key=True),
        sa.Column("township_code", sa.String(32), primary_key=True),
        *_counts(),
        *[sa.Column(name, sa.Float()) for name in ("response_rate", "resolution_rate", "satisfaction_rate",
                                                     "composite", "position", "rank_shift")],
        sa.Column("volume_rank", sa.Integer(), nullable=False),
        sa.Column("composite_rank", sa.Integer()),
        sa.Column("bottom_rank", sa.Integer()),
        *[sa.Column(name, sa.Boolean(), nullable=False)
          for name in ("top", "bottom_ten", "governance", "entered", "exited", "watched", "rebound",
                       "early_warning")],
        sa.Column("performance", sa.String(16)),
        sa.Column("top_count", sa.Integer(), nullable=False),
        sa.Column("calm", sa.Integer(), nullable=False),
        sa.Column("watch_left", sa.Integer(), nullable=False),
        sa.Column("last_exit", sa.Date()),
        sa.Column("label", sa.String(16), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("performance IS NULL OR performance IN ('advanced', 'improving', 'rectification')",
                           name="ck_governance_month_performance"))
    # Tally what is already stored, so an upgraded database ranks at once.
    from geo.store.tally import refresh_tally

    refresh_tally(op.get_bind())


def downgrade() -> None:
    op.drop_index("ix_complaint_h3_category", table_name="complaint")
    op.create_index("ix_complaint_h3", "complaint", ["h3"])
    op.drop_table("governance_month")
    op.drop_table("township_day")
