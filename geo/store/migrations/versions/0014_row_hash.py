"""Each complaint keeps a hash of the source row it was last stored from.

Re-ingesting a file then compares hashes and passes every unchanged row by without checking,
locating or loading it again. Rows stored before have none; the next load of them fills it in.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("complaint", sa.Column("row_hash", sa.BigInteger()))


def downgrade() -> None:
    op.drop_column("complaint", "row_hash")
