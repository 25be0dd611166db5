"""Complaints, their categories and departments, ingest runs and rejected rows.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import geoalchemy2
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _tz(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "department",
        sa.Column("code", sa.String(48), primary_key=True),
        sa.Column("name_zh", sa.Text(), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=False),
    )
    op.create_table(
        "category",
        sa.Column("code", sa.String(48), primary_key=True),
        sa.Column("name_zh", sa.Text(), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=False),
        sa.Column("theme", sa.String(48), nullable=False),
        sa.Column("departments", ARRAY(sa.Text()), nullable=False),
        sa.Column("enforcement", sa.Boolean(), nullable=False),
        sa.Column("emergency", sa.Boolean(), nullable=False),
    )
    op.create_table(
        "ingest_run",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        _tz("finished_at"),
        sa.Column("rows", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("inserted", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("updated", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("unchanged", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("rejected", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("summary", JSONB(), nullable=False, server_default="{}"),
    )
    op.create_index("ix_ingest_run_sha256", "ingest_run", ["sha256"])
    # No foreign keys on complaint: a row-by-row referential check tripled the time of a bulk
    # load. The loader checks categories, runs and boundary sets for the whole batch at once.
    op.create_table(
        "complaint",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("source_id", sa.Text(), nullable=False, unique=True),
        _tz("received_at", nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("category", sa.String(48), nullable=False),
        sa.Column("category_raw", sa.Text()),
        sa.Column("text", sa.Text()),
        sa.Column("address", sa.Text()),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon_orig", sa.Float()),
        sa.Column("lat_orig", sa.Float()),
        sa.Column("crs_orig", sa.String(8)),
        sa.Column("geom", geoalchemy2.Geometry("POINT", srid=4326, spatial_index=False, nullable=False),
                  nullable=False),
        sa.Column("footprint", geoalchemy2.Geometry("GEOMETRY", srid=4326, spatial_index=False)),
        sa.Column("precision", sa.String(16), nullable=False),
        sa.Column("h3", sa.BigInteger()),
        sa.Column("township_code", sa.String(32)),
        sa.Column("district_code", sa.String(32)),
        sa.Column("on_boundary", sa.Boolean(), nullable=False),
        sa.Column("boundary_set_id", sa.Integer()),
        sa.Column("phone_hash", sa.String(32)),
        sa.Column("phone_masked", sa.String(32)),
        sa.Column("dispatches", JSONB()),
        _tz("dispatched_at"),
        sa.Column("returned_count", sa.Integer(), nullable=False, server_default="0"),
        _tz("responded_at"),
        sa.Column("resolved", sa.Boolean()),
        _tz("resolved_at"),
        sa.Column("satisfaction", sa.String(24)),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("updated_run_id", sa.Integer()),
        sa.CheckConstraint("precision IN ('point', 'community', 'township')", name="ck_complaint_precision"),
        sa.CheckConstraint("channel IN ('phone', 'web', 'wechat', 'weibo', 'app', 'other')",
                           name="ck_complaint_channel"),
        sa.CheckConstraint("satisfaction IS NULL OR satisfaction IN "
                           "('satisfied', 'basically_satisfied', 'unsatisfied')",
                           name="ck_complaint_satisfaction"),
        sa.CheckConstraint("precision = 'township' OR h3 IS NOT NULL", name="ck_complaint_cell"),
    )
    op.create_index("ix_complaint_geom", "complaint", ["geom"], postgresql_using="gist")
    op.create_index("ix_complaint_township_received", "complaint", ["township_code", "received_at"])
    op.create_index("ix_complaint_h3", "complaint", ["h3"])
    op.create_index("ix_complaint_received", "complaint", ["received_at"])
    op.create_table(
        "rejected_row",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("ingest_run.id"), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Text()),
        sa.Column("reason_code", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("raw", JSONB(), nullable=False),
        sa.Column("rejected_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("resolved_run_id", sa.Integer(), sa.ForeignKey("ingest_run.id")),
        sa.UniqueConstraint("sha256", "line", name="uq_rejected_row_file_line"),
    )
    op.create_index("ix_rejected_row_run_id", "rejected_row", ["run_id"])
    op.create_index("ix_rejected_row_open", "rejected_row", ["source_id"],
                    postgresql_where=sa.text("resolved_run_id IS NULL"))


def downgrade() -> None:
    for table in ("rejected_row", "complaint", "ingest_run", "category", "department"):
        op.drop_table(table)
