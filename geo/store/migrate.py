"""Create and upgrade the schema with Alembic (never with ``create_all``)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from geoalchemy2 import alembic_helpers

from geo.store.engine import Bind, transaction

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """What the models describe: every object but the task queue's, which procrastinate owns
    (its schema is applied by migration 0016, not modelled)."""
    table = getattr(obj, "table", obj) if type_ != "table" else obj
    if str(getattr(table, "name", name) or "").startswith("procrastinate_"):
        return False
    return alembic_helpers.include_object(obj, name, type_, reflected, compare_to)


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade(bind: Bind, revision: str = "head") -> str:
    """Upgrade the schema to ``revision`` (the newest by default).

    Parameters
    ----------
    bind : Engine or Connection
        Where to run the migrations.
    revision : str
        The Alembic revision to reach.

    Returns
    -------
    str
        The revision the database is at afterwards.
    """
    config = _config()
    with transaction(bind) as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
        reached = current_revision(conn) or ""
        if reached >= "0002":
            # Reference data ships with the code, so it follows every upgrade.
            from geo.act.categories_db import sync_categories

            sync_categories(conn)
        if reached >= "0012":
            # Every department is an organisation that calls and projects can address.
            from geo.act.organisations_db import sync_departments

            sync_departments(conn)
        return reached


def current_revision(bind: Bind) -> str | None:
    """Return the schema revision of the database, or None before the first migration."""
    with transaction(bind) as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str:
    """Return the newest revision that the code knows."""
    return ScriptDirectory.from_config(_config()).get_current_head() or ""
