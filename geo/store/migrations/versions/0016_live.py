"""Live: API keys, status updates by API, the shared clock, the rhythm's runs and the task queue.

The task queue is procrastinate's schema (its tables and functions, in this database: no
second store), applied here as the pinned version ships it; a procrastinate upgrade brings
its own migration files, to be applied in a later revision.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from procrastinate.schema import SchemaManager
from sqlalchemy.dialects.postgresql import JSONB

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

_STAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "api_key",
        sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(16)),
        sa.Column("prefix", sa.String(12), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", _STAMP, nullable=False, server_default=sa.func.now()),
        sa.Column("revoked_at", _STAMP),
        sa.Column("last_used_at", _STAMP),
        sa.CheckConstraint("kind IN ('channel', 'department', 'callback')", name="ck_api_key_kind"),
    )
    op.create_table(
        "request_update",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("key_id", sa.Integer, sa.ForeignKey("api_key.id"), nullable=False),
        sa.Column("external_id", sa.Text, nullable=False),
        sa.Column("complaint_id", sa.BigInteger, sa.ForeignKey("complaint.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("unit", sa.Text),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("updated_at", _STAMP, nullable=False),
        sa.Column("received_at", _STAMP, nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint("key_id", "external_id", name="uq_request_update_external"),
    )
    op.create_index("ix_request_update_updated", "request_update", ["updated_at"])
    op.create_index("ix_request_update_complaint", "request_update", ["complaint_id"])
    op.create_table(
        "platform_clock",
        sa.Column("id", sa.SmallInteger, primary_key=True),
        sa.Column("origin", _STAMP, nullable=False),
        sa.Column("wall_origin", _STAMP, nullable=False),
        sa.Column("speed", sa.Float, nullable=False),
        sa.CheckConstraint("id = 1", name="ck_platform_clock_one"),
        sa.CheckConstraint("speed > 0", name="ck_platform_clock_speed"),
    )
    op.create_table(
        "rhythm_run",
        sa.Column("job", sa.String(32), nullable=False),
        sa.Column("period", sa.String(32), nullable=False),
        sa.Column("started_at", _STAMP, nullable=False, server_default=sa.func.now()),
        sa.Column("finished_at", _STAMP),
        sa.Column("result", JSONB, nullable=False),
        sa.PrimaryKeyConstraint("job", "period", name="pk_rhythm_run"),
    )
    # Through the driver's own connection, as one script: the schema's functions hold colons
    # and percent signs that SQLAlchemy or a parameterised execute would read as parameters.
    op.get_bind().connection.dbapi_connection.execute(SchemaManager.get_schema())


def downgrade() -> None:
    op.get_bind().connection.dbapi_connection.execute("""
        DROP TABLE IF EXISTS procrastinate_events, procrastinate_periodic_defers, procrastinate_jobs,
            procrastinate_workers CASCADE;
        DO $$ DECLARE f record; BEGIN
            FOR f IN SELECT oid::regprocedure AS signature FROM pg_proc WHERE proname LIKE 'procrastinate\\_%' LOOP
                EXECUTE 'DROP FUNCTION ' || f.signature || ' CASCADE';
            END LOOP;
        END $$;
        DROP TYPE IF EXISTS procrastinate_job_status, procrastinate_job_event_type,
            procrastinate_job_to_defer_v1 CASCADE;""")
    for table in ("rhythm_run", "platform_clock", "request_update", "api_key"):
        op.drop_table(table)
