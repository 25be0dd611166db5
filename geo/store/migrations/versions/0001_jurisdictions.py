"""Jurisdictions and their versioned boundary sets.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import geoalchemy2
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.create_table(
        "boundary_set",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("approximate", sa.Boolean(), nullable=False),
        sa.Column("feature_count", sa.Integer(), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_to", sa.DateTime(timezone=True), nullable=True),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.CheckConstraint("level IN ('district', 'township')", name="ck_boundary_set_level"),
        sa.CheckConstraint("valid_to IS NULL OR valid_to > valid_from", name="ck_boundary_set_period"),
    )
    op.create_index("uq_boundary_set_current", "boundary_set", ["level"], unique=True,
                    postgresql_where=sa.text("valid_to IS NULL"))
    op.create_table(
        "jurisdiction",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("set_id", sa.Integer(), sa.ForeignKey("boundary_set.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(16), nullable=True),
        sa.Column("parent_code", sa.String(32), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("approximate", sa.Boolean(), nullable=False),
        sa.Column("area_km2", sa.Float(), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_to", sa.DateTime(timezone=True), nullable=True),
        sa.Column("geom", geoalchemy2.Geometry("MULTIPOLYGON", srid=4326, spatial_index=False,
                                               nullable=False), nullable=False),
        sa.Column("geom_display", geoalchemy2.Geometry("MULTIPOLYGON", srid=4326, spatial_index=False,
                                                       nullable=False), nullable=False),
        sa.UniqueConstraint("set_id", "code", name="uq_jurisdiction_set_code"),
        sa.CheckConstraint("level IN ('district', 'township')", name="ck_jurisdiction_level"),
        sa.CheckConstraint("kind IS NULL OR kind IN ('street', 'township', 'town', 'other')",
                           name="ck_jurisdiction_kind"),
    )
    op.create_index("ix_jurisdiction_set_id", "jurisdiction", ["set_id"])
    op.create_index("ix_jurisdiction_geom", "jurisdiction", ["geom"], postgresql_using="gist")
    op.create_index("ix_jurisdiction_current", "jurisdiction", ["level", "code"],
                    postgresql_where=sa.text("valid_to IS NULL"))


def downgrade() -> None:
    op.drop_table("jurisdiction")
    op.drop_table("boundary_set")
