"""The models tell the truth: SQLAlchemy's metadata equals the schema the migrations make."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from geo.store.migrate import include_object
from geo.store.models import Base

pytestmark = pytest.mark.db


def _differences(engine) -> list:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={
            "include_object": include_object, "compare_type": True,
            "target_metadata": Base.metadata})
        return compare_metadata(context, Base.metadata)


def test_a_migrated_database_equals_the_models(empty_db_url):
    """What ``alembic check`` runs: no table, column, type, index or constraint differs."""
    engine = sa.create_engine(empty_db_url)
    try:
        assert _differences(engine) == []
    finally:
        engine.dispose()
