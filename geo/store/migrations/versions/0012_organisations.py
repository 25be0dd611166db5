"""Organisations apart from areas: street offices, district offices, departments and the city.

An organisation has its own id and covers jurisdiction codes of a boundary set
(``organisation_area``), as FixMyStreet's bodies cover MapIt's areas of a generation. Users,
whistle addressees and projects point at organisations, so a boundary set that re-codes or
splits a township keeps its users signing in to the right area and its calls addressed.

Today's data moves across: one street office per current township, one district office per
current district, one organisation per department and one for the city; street-office users
and township addressees go to their township's office, department addressees and project leads
to their department, the other users to the city.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""

from __future__ import annotations

import h3
import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

OFFICES = (("township", "street_office", "so-"), ("district", "district_office", "do-"))


def upgrade() -> None:
    op.create_table(
        "organisation",
        sa.Column("id", sa.Integer(), sa.Identity(), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("code", sa.String(64), nullable=False, unique=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("kind IN ('street_office', 'district_office', 'department', 'city')",
                           name="ck_organisation_kind"),
    )
    op.create_table(
        "organisation_area",
        sa.Column("organisation_id", sa.Integer(), sa.ForeignKey("organisation.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("set_id", sa.Integer(), sa.ForeignKey("boundary_set.id", ondelete="CASCADE"), nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("organisation_id", "set_id", "code", name="pk_organisation_area"),
    )
    op.create_index("ix_organisation_area_set_code", "organisation_area", ["set_id", "code"], unique=True)
    for level, kind, prefix in OFFICES:
        op.execute(f"""
            INSERT INTO organisation (kind, code, name)
            SELECT '{kind}', '{prefix}' || code, name FROM jurisdiction
            WHERE level = '{level}' AND valid_to IS NULL ORDER BY code""")
        op.execute(f"""
            INSERT INTO organisation_area (organisation_id, set_id, code)
            SELECT o.id, j.set_id, j.code FROM jurisdiction j JOIN organisation o ON o.code = '{prefix}' || j.code
            WHERE j.level = '{level}' AND j.valid_to IS NULL""")
    op.execute("INSERT INTO organisation (kind, code, name) SELECT 'department', 'dept-' || code, name_zh "
               "FROM department ORDER BY code")
    op.execute("INSERT INTO organisation (kind, code, name) VALUES ('city', 'city', 'City')")

    op.add_column("app_user", sa.Column("organisation_id", sa.Integer(), sa.ForeignKey("organisation.id")))
    op.execute("UPDATE app_user SET organisation_id = (SELECT id FROM organisation WHERE code = 'so-' || township_code) "
               "WHERE township_code IS NOT NULL")
    op.execute("UPDATE app_user SET organisation_id = (SELECT id FROM organisation WHERE code = 'city') "
               "WHERE township_code IS NULL")
    op.drop_constraint("ck_app_user_township", "app_user", type_="check")
    op.drop_column("app_user", "township_code")
    op.alter_column("app_user", "organisation_id", nullable=False)

    op.add_column("whistle_addressee", sa.Column("organisation_id", sa.Integer(), sa.ForeignKey("organisation.id")))
    op.execute("UPDATE whistle_addressee a SET organisation_id = o.id FROM organisation o "
               "WHERE o.code = CASE a.kind WHEN 'township' THEN 'so-' ELSE 'dept-' END || a.code")
    op.alter_column("whistle_addressee", "organisation_id", nullable=False)
    op.create_index("ix_whistle_addressee_organisation", "whistle_addressee", ["organisation_id", "call_id"])

    op.add_column("project", sa.Column("owner_id", sa.Integer(), sa.ForeignKey("organisation.id")))
    op.execute("UPDATE project p SET owner_id = o.id FROM organisation o WHERE o.code = 'dept-' || p.lead_department")
    op.execute("UPDATE project SET owner_id = (SELECT id FROM organisation WHERE code = 'city') WHERE owner_id IS NULL")
    op.alter_column("project", "owner_id", nullable=False)
    # The organisations a project names: its lead and partners, and the offices of its area.
    op.add_column("project", sa.Column("organisations", sa.ARRAY(sa.Integer()), nullable=False,
                                       server_default="{}"))
    op.create_index("ix_project_organisations", "project", ["organisations"], postgresql_using="gin")
    conn = op.get_bind()
    for project_id, cells in conn.execute(sa.text("SELECT id, cells FROM project")).all():
        centres = [h3.cell_to_latlng(h3.int_to_str(int(c))) for c in cells]
        conn.execute(sa.text("""
            UPDATE project p SET organisations = ARRAY(
                SELECT DISTINCT x FROM unnest(ARRAY[p.owner_id] || ARRAY(
                    SELECT o.id FROM organisation o
                    WHERE o.code = 'dept-' || p.lead_department OR o.code = ANY(ARRAY(
                        SELECT 'dept-' || d FROM unnest(p.partners) d))) || ARRAY(
                    SELECT a.organisation_id FROM organisation_area a
                    JOIN jurisdiction j ON j.set_id = a.set_id AND j.code = a.code AND j.valid_to IS NULL
                        AND j.level = 'township'
                    WHERE j.code = ANY(p.townships) OR ST_Intersects(j.geom, p.area)
                       OR EXISTS (SELECT 1 FROM unnest(CAST(:lons AS float8[]), CAST(:lats AS float8[])) AS c(lon, lat)
                                  WHERE ST_Contains(j.geom, ST_SetSRID(ST_MakePoint(c.lon, c.lat), 4326))))) x
                ORDER BY x)
            WHERE p.id = :id"""), {"id": project_id, "lons": [lng for _, lng in centres],
                                    "lats": [lat for lat, _ in centres]})


def downgrade() -> None:
    op.drop_index("ix_project_organisations", table_name="project")
    op.drop_column("project", "organisations")
    op.drop_column("project", "owner_id")
    op.drop_index("ix_whistle_addressee_organisation", table_name="whistle_addressee")
    op.drop_column("whistle_addressee", "organisation_id")
    op.add_column("app_user", sa.Column("township_code", sa.String(32)))
    op.execute("UPDATE app_user u SET township_code = a.code FROM organisation_area a "
               "JOIN boundary_set s ON s.id = a.set_id AND s.valid_to IS NULL AND s.level = 'township' "
               "WHERE a.organisation_id = u.organisation_id AND u.role = 'street_office'")
    op.drop_column("app_user", "organisation_id")
    op.create_check_constraint("ck_app_user_township", "app_user",
                               "(role = 'street_office') = (township_code IS NOT NULL)")
    op.drop_table("organisation_area")
    op.drop_table("organisation")
