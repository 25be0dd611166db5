"""``python -m geo db``: the embedded PostGIS cluster and the schema."""

from __future__ import annotations

from typing import Annotated

import typer

from geo.cli.shared import engine as _engine
from geo.cli.shared import out
from geo.errors import ValidationError
from geo.settings import load_settings

db_app = typer.Typer(help="The database: the embedded PostGIS cluster and the schema.",
                     no_args_is_help=True)


def _local_cluster():
    from geo.store.engine import local_cluster

    settings = load_settings()
    if not settings.uses_local_cluster:
        raise ValidationError("DATABASE_URL is set: the platform uses that server and runs no cluster")
    return local_cluster(settings)


@db_app.command("start")
def db_start() -> None:
    """Start the embedded PostGIS cluster (created on first use) and upgrade the schema."""
    status = _local_cluster().start()
    out.print(f"database {status.describe()}")
    db_upgrade()


@db_app.command("stop")
def db_stop() -> None:
    """Stop the embedded cluster."""
    out.print(f"database {_local_cluster().stop().describe()}")


@db_app.command("status")
def db_status() -> None:
    """Say whether the database is there, running, and at the newest schema."""
    settings = load_settings()
    if settings.uses_local_cluster:
        status = _local_cluster().status()
        out.print(f"embedded cluster: {status.describe()}")
        if not status.running:
            return
    from geo.store.migrate import current_revision, head_revision

    engine = _engine()
    current, head = current_revision(engine), head_revision()
    state = "up to date" if current == head else f"behind: run `python -m geo db upgrade` (head {head})"
    out.print(f"schema revision {current or 'none'}: {state}")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or upgrade the schema to the newest migration."""
    from geo.store.migrate import upgrade

    out.print(f"schema at revision {upgrade(_engine())}")


@db_app.command("reset")
def db_reset(
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete the embedded cluster's data (every table) and start afresh."""
    cluster = _local_cluster()
    if not yes:
        typer.confirm(f"Delete everything in {cluster.root}?", abort=True)
    cluster.reset()
    out.print(f"deleted {cluster.root}")
    db_start()
