"""The complaint points lose their GiST index: no query searches them by shape.

Every spatial question about complaints goes through their H3 cell (``h3``) or their
township, and a GiST index costs every load most of all its indexes (0.8 s of 4.4 s for
150,000 rows inserted, measured for issue 22). The point itself stays.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_complaint_geom", table_name="complaint")


def downgrade() -> None:
    op.create_index("ix_complaint_geom", "complaint", ["geom"], postgresql_using="gist")
