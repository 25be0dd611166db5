"""SQLAlchemy 2.0 models. The schema itself is made by the Alembic migrations beside this."""

from __future__ import annotations

from datetime import datetime

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    """Base of every model."""


class BoundarySet(Base):
    """One version ("generation") of the jurisdictions of a level.

    The current set of a level has ``valid_to`` NULL. Loading a new set closes the previous
    one at the new set's ``valid_from``, so a complaint is located against the set that was
    valid when it was received.
    """

    __tablename__ = "boundary_set"
    __table_args__ = (
        CheckConstraint("level IN ('district', 'township')", name="ck_boundary_set_level"),
        CheckConstraint("valid_to IS NULL OR valid_to > valid_from", name="ck_boundary_set_period"),
        Index("uq_boundary_set_current", "level", unique=True,
              postgresql_where=text("valid_to IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    level: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(Text)
    approximate: Mapped[bool] = mapped_column(Boolean)
    feature_count: Mapped[int] = mapped_column(Integer)
    loaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    valid_from: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    valid_to: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    report: Mapped[dict] = mapped_column(JSON, default=dict)


class Jurisdiction(Base):
    """A district or township polygon of one boundary set."""

    __tablename__ = "jurisdiction"
    __table_args__ = (
        UniqueConstraint("set_id", "code", name="uq_jurisdiction_set_code"),
        CheckConstraint("level IN ('district', 'township')", name="ck_jurisdiction_level"),
        CheckConstraint("kind IS NULL OR kind IN ('street', 'township', 'town', 'other')",
                        name="ck_jurisdiction_kind"),
        Index("ix_jurisdiction_geom", "geom", postgresql_using="gist"),
        Index("ix_jurisdiction_current", "level", "code", postgresql_where=text("valid_to IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    set_id: Mapped[int] = mapped_column(ForeignKey("boundary_set.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(Text)
    level: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str | None] = mapped_column(String(16))
    parent_code: Mapped[str | None] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(Text)
    approximate: Mapped[bool] = mapped_column(Boolean)
    area_km2: Mapped[float] = mapped_column()
    valid_from: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    valid_to: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    geom: Mapped[WKBElement] = mapped_column(
        Geometry("MULTIPOLYGON", srid=4326, spatial_index=False, nullable=False))
    # Simplified for drawing (shared edges kept shared): pages never ship full outlines.
    geom_display: Mapped[WKBElement] = mapped_column(
        Geometry("MULTIPOLYGON", srid=4326, spatial_index=False, nullable=False))
