"""Emerging hot spots: each cell's pattern and the trend of its z-scores.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("hotspot_cell", sa.Column("pattern", sa.String(32)))
    op.add_column("hotspot_cell", sa.Column("trend_z", sa.Float()))
    op.add_column("hotspot_cell", sa.Column("trend_p", sa.Float()))
    op.add_column("hotspot_run", sa.Column("steps", sa.SmallInteger()))
    op.add_column("hotspot_run", sa.Column("step", sa.String(16)))


def downgrade() -> None:
    for column in ("pattern", "trend_z", "trend_p"):
        op.drop_column("hotspot_cell", column)
    op.drop_column("hotspot_run", "steps")
    op.drop_column("hotspot_run", "step")
