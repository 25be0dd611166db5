"""Proposed whistles and disputes: a call may be proposed (blown or dismissed later) and of the
kind "dispute"; a dismissed proposal is no longer open, as a closed call is not.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    _checks("('emergency', 'enforcement', 'key_work', 'dispute')", "('proposed', 'raised', 'resolved', 'closed', "
            "'dismissed')")
    op.drop_index("ux_whistle_call_open_case", "whistle_call")
    op.create_index("ux_whistle_call_open_case", "whistle_call", ["case_id"], unique=True,
                    postgresql_where=sa.text("state NOT IN ('closed', 'dismissed')"))


def downgrade() -> None:
    op.execute("DELETE FROM whistle_call WHERE state IN ('proposed', 'dismissed') OR kind = 'dispute'")
    _checks("('emergency', 'enforcement', 'key_work')", "('raised', 'resolved', 'closed')")
    op.drop_index("ux_whistle_call_open_case", "whistle_call")
    op.create_index("ux_whistle_call_open_case", "whistle_call", ["case_id"], unique=True,
                    postgresql_where=sa.text("state <> 'closed'"))


def _checks(kinds: str, states: str) -> None:
    for name, check in (("ck_whistle_call_kind", f"kind IN {kinds}"), ("ck_whistle_call_state", f"state IN {states}")):
        op.drop_constraint(name, "whistle_call")
        op.create_check_constraint(name, "whistle_call", check)
