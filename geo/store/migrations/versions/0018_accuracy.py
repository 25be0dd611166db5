"""The location's accuracy a channel measured (a phone's GPS), in metres; none: the rules' default.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("complaint", sa.Column("accuracy_m", sa.REAL()))
    op.create_check_constraint("ck_complaint_accuracy", "complaint", "accuracy_m IS NULL OR accuracy_m > 0")


def downgrade() -> None:
    op.drop_constraint("ck_complaint_accuracy", "complaint")
    op.drop_column("complaint", "accuracy_m")
