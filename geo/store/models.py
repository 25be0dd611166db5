"""SQLAlchemy 2.0 models. The schema itself is made by the Alembic migrations beside this."""

from __future__ import annotations

from datetime import date, datetime

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    JSON,
    REAL,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
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


class Department(Base):
    """A city department or public-service company that complaints are dispatched to."""

    __tablename__ = "department"

    code: Mapped[str] = mapped_column(String(48), primary_key=True)
    name_zh: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str] = mapped_column(Text)


class Category(Base):
    """A complaint category, the city's table (``cities/<code>/categories.csv``)."""

    __tablename__ = "category"

    code: Mapped[str] = mapped_column(String(48), primary_key=True)
    name_zh: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str] = mapped_column(Text)
    theme: Mapped[str] = mapped_column(String(48))
    departments: Mapped[list[str]] = mapped_column(ARRAY(Text))
    enforcement: Mapped[bool] = mapped_column(Boolean)
    emergency: Mapped[bool] = mapped_column(Boolean)


class IngestRun(Base):
    """One load of one file: what came in and where every row went."""

    __tablename__ = "ingest_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    rows: Mapped[int] = mapped_column(Integer, default=0)
    inserted: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    summary: Mapped[dict] = mapped_column(JSONB, default=dict)


class Complaint(Base):
    """A located complaint. Coordinates are WGS84; the original ones are kept beside them.

    It has no foreign keys on purpose (row-by-row checks tripled bulk loads); the loader
    checks the references of each file at once.
    """

    __tablename__ = "complaint"
    __table_args__ = (
        # The ping-pong detection reads only complaints handed back at least twice.
        Index("ix_complaint_returned", "received_at", postgresql_where=text("returned_count >= 2")),
        CheckConstraint("precision IN ('point', 'community', 'township')", name="ck_complaint_precision"),
        CheckConstraint("channel IN ('phone', 'web', 'wechat', 'weibo', 'app', 'other')",
                        name="ck_complaint_channel"),
        CheckConstraint("satisfaction IS NULL OR satisfaction IN "
                        "('satisfied', 'basically_satisfied', 'unsatisfied')", name="ck_complaint_satisfaction"),
        CheckConstraint("precision = 'township' OR h3 IS NOT NULL", name="ck_complaint_cell"),
        CheckConstraint("accuracy_m IS NULL OR accuracy_m > 0", name="ck_complaint_accuracy"),
        Index("ix_complaint_township_received", "township_code", "received_at"),
        Index("ix_complaint_h3_category", "h3", "category"),
        Index("ix_complaint_received", "received_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    source_id: Mapped[str] = mapped_column(Text, unique=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    channel: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(48))
    category_raw: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str | None] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(Text)
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    lon_orig: Mapped[float | None] = mapped_column(Float)
    lat_orig: Mapped[float | None] = mapped_column(Float)
    crs_orig: Mapped[str | None] = mapped_column(String(8))
    geom: Mapped[WKBElement] = mapped_column(Geometry("POINT", srid=4326, spatial_index=False))
    footprint: Mapped[WKBElement | None] = mapped_column(Geometry("GEOMETRY", srid=4326, spatial_index=False))
    precision: Mapped[str] = mapped_column(String(16))
    # How far the point may lie from the problem, as the channel measured it (a phone's GPS);
    # none: the detect rules' default for its precision and coordinate system.
    accuracy_m: Mapped[float | None] = mapped_column(REAL)
    h3: Mapped[int | None] = mapped_column(BigInteger)
    township_code: Mapped[str | None] = mapped_column(String(32))
    district_code: Mapped[str | None] = mapped_column(String(32))
    on_boundary: Mapped[bool] = mapped_column(Boolean)
    boundary_set_id: Mapped[int | None] = mapped_column(Integer)
    phone_hash: Mapped[str | None] = mapped_column(String(32))
    phone_masked: Mapped[str | None] = mapped_column(String(32))
    # The source row's hash when it was last stored: an unchanged row is passed by on a re-load.
    row_hash: Mapped[int | None] = mapped_column(BigInteger)
    dispatches: Mapped[list | None] = mapped_column(JSONB)
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    returned_count: Mapped[int] = mapped_column(Integer)
    responded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved: Mapped[bool | None] = mapped_column(Boolean)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    satisfaction: Mapped[str | None] = mapped_column(String(24))
    run_id: Mapped[int] = mapped_column(Integer)
    updated_run_id: Mapped[int | None] = mapped_column(Integer)


class RejectedRow(Base):
    """A row that could not be accepted, kept as it came with a reason a person can act on."""

    __tablename__ = "rejected_row"
    __table_args__ = (
        UniqueConstraint("sha256", "line", name="uq_rejected_row_file_line"),
        Index("ix_rejected_row_open", "source_id", postgresql_where=text("resolved_run_id IS NULL")),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("ingest_run.id"), index=True)
    source: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    line: Mapped[int] = mapped_column(Integer)
    source_id: Mapped[str | None] = mapped_column(Text)
    reason_code: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    raw: Mapped[dict] = mapped_column(JSONB)
    rejected_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    resolved_run_id: Mapped[int | None] = mapped_column(ForeignKey("ingest_run.id"))


class HotspotRun(Base):
    """One Gi* computation: its period, filter and parameters."""

    __tablename__ = "hotspot_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    period_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    period_end: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    resolution: Mapped[int] = mapped_column(SmallInteger)
    k: Mapped[int] = mapped_column(SmallInteger)
    alpha: Mapped[float] = mapped_column(Float)
    category: Mapped[str | None] = mapped_column(String(48))
    theme: Mapped[str | None] = mapped_column(String(48))
    cells: Mapped[int] = mapped_column(Integer)
    complaints: Mapped[int] = mapped_column(Integer)
    params: Mapped[dict] = mapped_column(JSONB, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    steps: Mapped[int | None] = mapped_column(SmallInteger)
    step: Mapped[str | None] = mapped_column(String(16))


class HotspotCell(Base):
    """The Gi* result of one cell in one run (every cell of the service area, zeros included)."""

    __tablename__ = "hotspot_cell"

    run_id: Mapped[int] = mapped_column(ForeignKey("hotspot_run.id", ondelete="CASCADE"), primary_key=True)
    h3: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    z: Mapped[float] = mapped_column(Float)
    p: Mapped[float] = mapped_column(Float)
    bin: Mapped[int] = mapped_column(SmallInteger)
    significant: Mapped[bool] = mapped_column(Boolean)
    # Emerging runs only: the pattern over the steps, and the trend of the z-scores.
    pattern: Mapped[str | None] = mapped_column(String(32))
    trend_z: Mapped[float | None] = mapped_column(Float)
    trend_p: Mapped[float | None] = mapped_column(Float)


class BorderLine(Base):
    """The line two neighbouring townships share (of the current boundary set)."""

    __tablename__ = "border_line"
    __table_args__ = (
        Index("ix_border_line_geom", "geom", postgresql_using="gist"),
    )

    a: Mapped[str] = mapped_column(String(32), primary_key=True)
    b: Mapped[str] = mapped_column(String(32), primary_key=True)
    length_m: Mapped[float] = mapped_column(Float)
    geom: Mapped[WKBElement] = mapped_column(Geometry("GEOMETRY", srid=4326, spatial_index=False))


class BorderRun(Base):
    """One border detection: its period, parameters and what it found by kind."""

    __tablename__ = "border_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    period_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    period_end: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    params: Mapped[dict] = mapped_column(JSONB, default=dict)
    found: Mapped[dict] = mapped_column(JSONB, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class BorderCase(Base):
    """A case on or across a line between townships: every township involved, at least two.

    ``key`` is its identity across runs (kind, townships, place and problem), so that running
    the detection again adds complaints to the cases it already knows instead of doubling them.
    """

    __tablename__ = "border_case"
    __table_args__ = (
        Index("ix_border_case_geom", "geom", postgresql_using="gist"),
        Index("ix_border_case_last_seen", "last_seen"),
        Index("ix_border_case_townships", "townships", postgresql_using="gin"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    key: Mapped[str] = mapped_column(Text, unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    townships: Mapped[list[str]] = mapped_column(ARRAY(String(32)))
    districts: Mapped[list[str]] = mapped_column(ARRAY(String(32)))
    category: Mapped[str | None] = mapped_column(String(48))
    theme: Mapped[str | None] = mapped_column(String(48))
    complaints: Mapped[int] = mapped_column(Integer, default=0)
    first_seen: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_seen: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    distance_m: Mapped[float | None] = mapped_column(Float)
    geom: Mapped[WKBElement | None] = mapped_column(Geometry("GEOMETRY", srid=4326, spatial_index=False))
    first_run_id: Mapped[int] = mapped_column(ForeignKey("border_run.id"))
    last_run_id: Mapped[int] = mapped_column(ForeignKey("border_run.id"))


class BorderCaseComplaint(Base):
    """A complaint of a border case (with its distance to the line, for the first kind)."""

    __tablename__ = "border_case_complaint"
    __table_args__ = (
        Index("ix_border_case_complaint_complaint", "complaint_id"),
    )

    case_id: Mapped[int] = mapped_column(ForeignKey("border_case.id", ondelete="CASCADE"), primary_key=True)
    complaint_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    distance_m: Mapped[float | None] = mapped_column(Float)


class Project(Base):
    """A remediation project: a problem of the month, a governance-class plan or a proactive one.

    Its target area is any of townships, H3 cells and a drawn polygon; its effect is measured
    on complaints of its categories in that area (``geo/act/projects.py``).
    """

    __tablename__ = "project"
    __table_args__ = (
        Index("ix_project_area", "area", postgresql_using="gist"),
        Index("ix_project_organisations", "organisations", postgresql_using="gin"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))
    title: Mapped[str] = mapped_column(Text)
    lead_department: Mapped[str] = mapped_column(String(48))
    owner_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    """The organisation that opened the project (a street office, or the lead department)."""
    organisations: Mapped[list[int]] = mapped_column(ARRAY(Integer), server_default="{}")
    """The organisations it names: owner, lead and partners, the offices of its area (who see it)."""
    partners: Mapped[list[str]] = mapped_column(ARRAY(String(48)), default=list)
    townships: Mapped[list[str]] = mapped_column(ARRAY(String(32)), default=list)
    cells: Mapped[list[int]] = mapped_column(ARRAY(BigInteger), default=list)
    area: Mapped[WKBElement | None] = mapped_column(Geometry("MULTIPOLYGON", srid=4326, spatial_index=False))
    categories: Mapped[list[str]] = mapped_column(ARRAY(String(48)))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    targets: Mapped[dict] = mapped_column(JSONB, default=dict)
    created_by: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer, default=1)


class ProjectTask(Base):
    """A task of a project: its owner, due date and when (and by whom) it was done."""

    __tablename__ = "project_task"
    __table_args__ = (
        Index("ix_project_task_project", "project_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(Text)
    owner: Mapped[str] = mapped_column(Text)
    due_on: Mapped[date] = mapped_column(Date)
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    done_by: Mapped[str | None] = mapped_column(Text)


class ProjectEvent(Base):
    """Every change to a project or its tasks: who, when, what."""

    __tablename__ = "project_event"
    __table_args__ = (
        Index("ix_project_event_project", "project_id", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    task_id: Mapped[int | None] = mapped_column(ForeignKey("project_task.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(String(24))
    note: Mapped[str | None] = mapped_column(Text)


class WhistleCall(Base):
    """A cross-jurisdiction whistle call raised from a border case (one open call per case).

    ``version`` grows with every change: an action that names the version it was shown is
    refused if someone else acted first.
    """

    __tablename__ = "whistle_call"
    __table_args__ = (
        # One open call per case: new complaints join it instead of raising another.
        Index("ux_whistle_call_open_case", "case_id", unique=True,
              postgresql_where=text("state NOT IN ('closed', 'dismissed')")),
        Index("ix_whistle_call_state", "state", "deadline_at"),
        Index("ix_whistle_call_townships", "townships", postgresql_using="gin"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("border_case.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    categories: Mapped[list[str]] = mapped_column(ARRAY(String(48)))
    townships: Mapped[list[str]] = mapped_column(ARRAY(String(32)))
    districts: Mapped[list[str]] = mapped_column(ARRAY(String(32)))
    project_id: Mapped[int | None] = mapped_column(ForeignKey("project.id", ondelete="SET NULL"))
    complaints: Mapped[int] = mapped_column(Integer)
    raised_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    deadline_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reopened: Mapped[int] = mapped_column(Integer, default=0)
    escalation: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, default=1)


class WhistleAddressee(Base):
    """A township or department a call is addressed to, and whether it reported in time."""

    __tablename__ = "whistle_addressee"
    __table_args__ = (
        UniqueConstraint("call_id", "kind", "code", name="uq_whistle_addressee"),
        Index("ix_whistle_addressee_due", "deadline_at", postgresql_where=text("state = 'pending'")),
        Index("ix_whistle_addressee_organisation", "organisation_id", "call_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("whistle_call.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(48))
    """The township or department code when the call was raised (the organisation is who answers)."""
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    state: Mapped[str] = mapped_column(String(16))
    deadline_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reported_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    times_late: Mapped[int] = mapped_column(Integer, default=0)
    escalation: Mapped[int] = mapped_column(Integer, default=0)
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class WhistleCallComplaint(Base):
    """A complaint of a call, and when it joined."""

    __tablename__ = "whistle_call_complaint"
    # A complaint answers to one call: the rules look it up on every call before joining it to one.
    __table_args__ = (Index("ix_whistle_call_complaint_complaint", "complaint_id"),)

    call_id: Mapped[int] = mapped_column(ForeignKey("whistle_call.id", ondelete="CASCADE"), primary_key=True)
    complaint_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    joined_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class WhistleEvent(Base):
    """Every transition of a call or an addressee: who, when, what, and a note."""

    __tablename__ = "whistle_event"
    __table_args__ = (
        Index("ix_whistle_event_call", "call_id", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("whistle_call.id", ondelete="CASCADE"))
    addressee_id: Mapped[int | None] = mapped_column(ForeignKey("whistle_addressee.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(String(16))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)


class _RateCounts:
    """The counts behind the three rates (:data:`geo.act.governance.COUNTS`)."""

    volume: Mapped[int] = mapped_column(Integer)
    dispatched: Mapped[int] = mapped_column(Integer)
    on_time: Mapped[int] = mapped_column(Integer)
    outcomes: Mapped[int] = mapped_column(Integer)
    resolved: Mapped[int] = mapped_column(Integer)
    callbacks: Mapped[int] = mapped_column(Integer)
    satisfied: Mapped[int] = mapped_column(Integer)


class TownshipDay(_RateCounts, Base):
    """Counts of one day's complaints in a township and category (the city's day): derived data,
    refreshed by every ingest (:mod:`geo.store.tally`)."""

    __tablename__ = "township_day"
    __table_args__ = (Index("ix_township_day_township", "township_code", "category", "day"),)

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    township_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    category: Mapped[str] = mapped_column(String(48), primary_key=True)


class CityDay(_RateCounts, Base):
    """The daily tallies of every township summed per category: the city's key figures and
    trend read a few dozen rows a day instead of thousands."""

    __tablename__ = "city_day"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    category: Mapped[str] = mapped_column(String(48), primary_key=True)


class TownshipHalf(_RateCounts, Base):
    """The daily tallies of a township and category summed per half-month (the 1st to the
    15th, the 16th to the month's end): derived data, refreshed with them."""

    __tablename__ = "township_half"
    __table_args__ = (Index("ix_township_half_township", "township_code", "category", "half",
                            postgresql_include=["volume"]),)

    half: Mapped[date] = mapped_column(Date, primary_key=True)
    township_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    category: Mapped[str] = mapped_column(String(48), primary_key=True)


class CellDay(Base):
    """Complaints of one day in a res-9 H3 cell and category (the city's day): derived data,
    refreshed by every ingest (:mod:`geo.store.tally`)."""

    __tablename__ = "cell_day"
    __table_args__ = (PrimaryKeyConstraint("day", "h3", "category", name="cell_day_pkey",
                                           postgresql_include=["volume"]),
                      Index("ix_cell_day_cell", "h3", "category", "day", postgresql_include=["volume"]))

    day: Mapped[date] = mapped_column(Date)
    h3: Mapped[int] = mapped_column(BigInteger)
    category: Mapped[str] = mapped_column(String(48))
    volume: Mapped[int] = mapped_column(Integer)


class CellWeek(Base):
    """Complaints of one week (from a Monday, in the city's zone) in a res-9 H3 cell, all categories:
    summed from ``cell_day``, so that a long period's heat map reads a seventh of the rows."""

    __tablename__ = "cell_week"
    __table_args__ = (PrimaryKeyConstraint("week", "h3", name="cell_week_pkey", postgresql_include=["volume"]),)

    week: Mapped[date] = mapped_column(Date)
    h3: Mapped[int] = mapped_column(BigInteger)
    volume: Mapped[int] = mapped_column(Integer)


class GovernanceMonth(_RateCounts, Base):
    """A township's month on the exam paper: counts, rates, ranks and classes (:mod:`geo.act.governance`)."""

    __tablename__ = "governance_month"

    month: Mapped[date] = mapped_column(Date, primary_key=True)
    township_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    response_rate: Mapped[float | None] = mapped_column(Float)
    resolution_rate: Mapped[float | None] = mapped_column(Float)
    satisfaction_rate: Mapped[float | None] = mapped_column(Float)
    composite: Mapped[float | None] = mapped_column(Float)
    position: Mapped[float | None] = mapped_column(Float)
    rank_shift: Mapped[float | None] = mapped_column(Float)
    volume_rank: Mapped[int] = mapped_column(Integer)
    composite_rank: Mapped[int | None] = mapped_column(Integer)
    bottom_rank: Mapped[int | None] = mapped_column(Integer)
    top: Mapped[bool] = mapped_column(Boolean)
    talk_list: Mapped[bool] = mapped_column(Boolean)
    governance: Mapped[bool] = mapped_column(Boolean)
    entered: Mapped[bool] = mapped_column(Boolean)
    exited: Mapped[bool] = mapped_column(Boolean)
    watched: Mapped[bool] = mapped_column(Boolean)
    rebound: Mapped[bool] = mapped_column(Boolean)
    early_warning: Mapped[bool] = mapped_column(Boolean)
    performance: Mapped[str | None] = mapped_column(String(16))
    top_count: Mapped[int] = mapped_column(Integer)
    calm: Mapped[int] = mapped_column(Integer)
    watch_left: Mapped[int] = mapped_column(Integer)
    last_exit: Mapped[date | None] = mapped_column(Date)
    label: Mapped[str] = mapped_column(String(16))
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Organisation(Base):
    """A street office, district office, department or the city: who acts, apart from where.

    Its areas are jurisdiction codes of a boundary set (:class:`OrganisationArea`), so a new set
    that re-codes or splits a township moves the areas and keeps the organisation, its users,
    its calls and its projects (:mod:`geo.act.organisations`).
    """

    __tablename__ = "organisation"
    __table_args__ = (
        CheckConstraint("kind IN ('street_office', 'district_office', 'department', 'city')",
                        name="ck_organisation_kind"),
    )

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, server_default=true())
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class OrganisationArea(Base):
    """A jurisdiction of a boundary set that an organisation answers for (one organisation each)."""

    __tablename__ = "organisation_area"
    __table_args__ = (
        PrimaryKeyConstraint("organisation_id", "set_id", "code", name="pk_organisation_area"),
        Index("ix_organisation_area_set_code", "set_id", "code", unique=True),
    )

    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="CASCADE"))
    set_id: Mapped[int] = mapped_column(ForeignKey("boundary_set.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(32))


class AppUser(Base):
    """A user of the app (:mod:`geo.act.users`): a role and the organisation it works for."""

    __tablename__ = "app_user"
    __table_args__ = (
        CheckConstraint("role IN ('supervisor', 'street_office', 'coordinator')", name="ck_app_user_role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(32), unique=True)
    display_name: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(16))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    password_hash: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, server_default=true())
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    language: Mapped[str | None] = mapped_column(String(16))
    """The language the user reads the app in; None: the city's."""


class LoginEvent(Base):
    """One sign-in attempt, kept to slow down guessing (:func:`geo.act.users_db.authenticate`)."""

    __tablename__ = "login_event"
    __table_args__ = (Index("ix_login_event_username", "username", "at"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    username: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    ok: Mapped[bool] = mapped_column(Boolean)


class ApiKey(Base):
    """A key of a system that talks to the Open311 API (:mod:`geo.api.keys_db`): a hotline channel
    that sends complaints, or a department's or the callback centre's that sends updates.

    Only the key's SHA-256 is stored (a key is 32 random bytes, so a salted slow hash would
    add nothing); its first characters identify it in lists."""

    __tablename__ = "api_key"
    __table_args__ = (
        CheckConstraint("kind IN ('channel', 'department', 'callback')", name="ck_api_key_kind"),
    )

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str | None] = mapped_column(String(16))
    """The channel its complaints came in on (phone, web, wechat, weibo, app), for a channel's key."""
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"))
    """The department a department's key answers for (its system reads and reports on its calls)."""
    prefix: Mapped[str] = mapped_column(String(12))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RequestUpdate(Base):
    """A status update of a complaint received through the API (FixMyStreet's
    ``servicerequestupdates``): a dispatch, a response, a resolution or a callback."""

    __tablename__ = "request_update"
    __table_args__ = (
        UniqueConstraint("key_id", "external_id", name="uq_request_update_external"),
        Index("ix_request_update_updated", "updated_at"),
        Index("ix_request_update_complaint", "complaint_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    key_id: Mapped[int] = mapped_column(ForeignKey("api_key.id"))
    external_id: Mapped[str] = mapped_column(Text)
    """The sender's own id of the update: the same update sent twice is stored once."""
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaint.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(24))
    unit: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(8))
    description: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class PlatformClock(Base):
    """The one clock of the API, the worker and the app (:mod:`geo.store.clock_db`): the wall clock,
    or a replay that shows ``origin`` at ``wall_origin`` and runs ``speed`` times as fast."""

    __tablename__ = "platform_clock"
    __table_args__ = (CheckConstraint("id = 1", name="ck_platform_clock_one"),
                      CheckConstraint("speed > 0", name="ck_platform_clock_speed"))

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    origin: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    wall_origin: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    speed: Mapped[float] = mapped_column(Float)


class RhythmRun(Base):
    """A periodic job's run for one period of the hotline's rhythm (:mod:`geo.worker.rhythm`):
    the primary key makes a second worker's run of the same period a no-op."""

    __tablename__ = "rhythm_run"
    __table_args__ = (PrimaryKeyConstraint("job", "period", name="pk_rhythm_run"),)

    job: Mapped[str] = mapped_column(String(32))
    period: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    result: Mapped[dict] = mapped_column(JSONB, default=dict)
