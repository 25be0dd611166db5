"""The app's users: role, township (street offices), bcrypt password hash; and their sign-ins.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "app_user",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("username", sa.String(32), nullable=False, unique=True),
        sa.Column("display_name", sa.Text(), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("township_code", sa.String(32)),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("last_login_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint("role IN ('supervisor', 'street_office', 'coordinator')", name="ck_app_user_role"),
        # A street office works for one township; the other roles see the whole city.
        sa.CheckConstraint("(role = 'street_office') = (township_code IS NOT NULL)", name="ck_app_user_township"))
    op.create_table(
        "login_event",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("username", sa.String(32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("ok", sa.Boolean(), nullable=False))
    op.create_index("ix_login_event_username", "login_event", ["username", "at"])


def downgrade() -> None:
    op.drop_table("login_event")
    op.drop_table("app_user")
