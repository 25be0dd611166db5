"""The governance month's talk list (末位约谈) is named for what it is, not for its default size.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.alter_column("governance_month", "bottom_ten", new_column_name="talk_list")


def downgrade() -> None:
    op.alter_column("governance_month", "talk_list", new_column_name="bottom_ten")
