"""Alembic environment: runs on a connection handed over by geo.store.migrate, or on the
URL from the settings when `alembic` is run by hand (e.g. `alembic revision --autogenerate`)."""

from __future__ import annotations

from alembic import context
from geoalchemy2 import alembic_helpers
from sqlalchemy import create_engine

from geo.store.engine import database_url
from geo.store.migrate import include_object
from geo.store.models import Base

config = context.config


def _configure(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        include_object=include_object,
        process_revision_directives=alembic_helpers.writer,
        render_item=alembic_helpers.render_item,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _configure(connection)
else:
    engine = create_engine(database_url(start=True))
    with engine.connect() as conn:
        _configure(conn)
    engine.dispose()
