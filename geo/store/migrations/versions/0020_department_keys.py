"""A department's API key names the department: its system reads and answers the calls addressed to it.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("api_key", sa.Column("organisation_id", sa.Integer(), sa.ForeignKey("organisation.id")))


def downgrade() -> None:
    op.drop_column("api_key", "organisation_id")
