"""The city's daily tally, weekly cell tallies for heat maps of long periods; the daily cell
tally's key covers its volume.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

COUNTS = ("volume", "dispatched", "on_time", "outcomes", "resolved", "callbacks", "satisfied")

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A heat map sums a period of cells: with the volume in the key's index that is an
    # index-only scan, where the rows of one day lie scattered over the table.
    op.execute("ALTER TABLE cell_day DROP CONSTRAINT cell_day_pkey, "
               "ADD CONSTRAINT cell_day_pkey PRIMARY KEY (day, h3, category) INCLUDE (volume)")
    op.create_table(
        "cell_week",
        sa.Column("week", sa.Date(), nullable=False),
        sa.Column("h3", sa.BigInteger(), nullable=False),
        sa.Column("volume", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("week", "h3", name="cell_week_pkey", postgresql_include=["volume"]))
    op.create_table(
        "city_day",
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("category", sa.String(48), primary_key=True),
        *[sa.Column(name, sa.Integer(), nullable=False) for name in COUNTS])
    from geo.store.tally import refresh_tally

    refresh_tally(op.get_bind(), tables=("cell_week", "city_day"))


def downgrade() -> None:
    op.drop_table("city_day")
    op.drop_table("cell_week")
    op.execute("ALTER TABLE cell_day DROP CONSTRAINT cell_day_pkey, "
               "ADD CONSTRAINT cell_day_pkey PRIMARY KEY (day, h3, category)")
