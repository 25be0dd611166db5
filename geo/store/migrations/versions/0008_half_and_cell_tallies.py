"""Half-monthly township tallies and daily cell tallies.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

COUNTS = ("volume", "dispatched", "on_time", "outcomes", "resolved", "callbacks", "satisfied")


def upgrade() -> None:
    op.create_table(
        "township_half",
        sa.Column("half", sa.Date(), primary_key=True),
        sa.Column("township_code", sa.String(32), primary_key=True),
        sa.Column("category", sa.String(48), primary_key=True),
        *[sa.Column(name, sa.Integer(), nullable=False) for name in COUNTS])
    op.create_index("ix_township_half_township", "township_half", ["township_code", "category", "half"],
                    postgresql_include=["volume"])
    op.create_table(
        "cell_day",
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("h3", sa.BigInteger(), primary_key=True),
        sa.Column("category", sa.String(48), primary_key=True),
        sa.Column("volume", sa.Integer(), nullable=False))
    # A cell project reads a few categories of a few hundred cells over two years: with the
    # volume in the index that is an index-only scan.
    op.create_index("ix_cell_day_cell", "cell_day", ["h3", "category", "day"], postgresql_include=["volume"])
    from geo.store.tally import refresh_tally

    refresh_tally(op.get_bind())


def downgrade() -> None:
    op.drop_table("cell_day")
    op.drop_table("township_half")
