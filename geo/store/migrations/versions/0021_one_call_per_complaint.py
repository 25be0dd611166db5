"""A complaint answers to one whistle call: the rules look a complaint up on every call.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_whistle_call_complaint_complaint", "whistle_call_complaint", ["complaint_id"])


def downgrade() -> None:
    op.drop_index("ix_whistle_call_complaint_complaint", "whistle_call_complaint")
