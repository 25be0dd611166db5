"""The command line: ``python -m geo --help``.

Every command prints what it did; an error is one line on stderr and a non-zero exit code
(set ``WHISTLE_DEBUG=1`` to see the traceback of an unexpected one).
"""

from __future__ import annotations

import logging
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from geo.cli_detect import detect_app
from geo.cli_governance import governance_app
from geo.cli_projects import project_app
from geo.cli_reports import report_app
from geo.cli_shared import TZ, err, out
from geo.cli_shared import engine as _engine
from geo.cli_shared import parse_moment as _parse_moment
from geo.cli_users import users_app
from geo.cli_whistle import whistle_app
from geo.errors import ValidationError, WhistleError
from geo.settings import load_settings

app = typer.Typer(help="Whistle: spatial governance for the 12345 citizen hotline.",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
db_app = typer.Typer(help="The database: the embedded PostGIS cluster and the schema.",
                     no_args_is_help=True)
boundaries_app = typer.Typer(help="Jurisdiction boundaries: build, import, list.",
                             no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(boundaries_app, name="boundaries")
app.add_typer(detect_app, name="detect")
app.add_typer(whistle_app, name="whistle")
app.add_typer(governance_app, name="governance")
app.add_typer(project_app, name="project")
app.add_typer(report_app, name="report")
app.add_typer(users_app, name="users")


class Level(StrEnum):
    """A jurisdiction level."""

    district = "district"
    township = "township"


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


@boundaries_app.command("build")
def boundaries_build() -> None:
    """Rebuild the approximate township polygons from boundaries/sources/."""
    from boundaries import build

    result = build.build()
    build.write(result)
    counts = result.report["counts"]
    out.print(f"built {counts['townships_built']:,} townships in {len(result.districts)} districts "
              f"-> {build.TOWNSHIPS_FILE}")
    for unit in result.report["unplaced_units"]:
        out.print(f"  not placed: {unit['code']} {unit['name']} ({unit['district']}): {unit['reason']}")


@boundaries_app.command("import")
def boundaries_import(
    file: Annotated[Path, typer.Argument(help="A GeoJSON, Shapefile or GeoPackage.")],
    level: Annotated[Level, typer.Option(help="Which level the file holds.")],
    code_field: Annotated[str, typer.Option(help="The field holding each unit's code.")],
    name_field: Annotated[str, typer.Option(help="The field holding each unit's name.")],
    parent_field: Annotated[str | None, typer.Option(
        help="The field holding a township's district code; by overlap when omitted.")] = None,
    source_crs: Annotated[str | None, typer.Option(
        help="The file's CRS when it declares none, e.g. EPSG:4326.")] = None,
    valid_from: Annotated[str | None, typer.Option(
        help="From when the set is valid (ISO date or time, Asia/Shanghai); now by default.")] = None,
    source: Annotated[str | None, typer.Option(help="Who published the polygons.")] = None,
) -> None:
    """Load official polygons, replacing the current set and keeping it as a dated version."""
    from geo.jurisdictions import prepare_boundaries, read_boundary_file
    from geo.store.jurisdictions import load_boundaries

    settings = load_settings()
    start = _parse_moment(valid_from) if valid_from else None
    frame = read_boundary_file(file, code_field=code_field, name_field=name_field,
                               parent_field=parent_field, source_crs=source_crs)
    prepared = prepare_boundaries(
        frame, level=level.value, metric_crs=settings.metric_crs,
        overlap_tolerance_m2=settings.overlap_tolerance_m2,
        display_tolerance_m=settings.display_tolerance_m,
    )
    loaded = load_boundaries(_engine(), prepared, source=source or file.name, approximate=False,
                             valid_from=start, settings=settings)
    replaced = f", replacing set {loaded.replaced_set_id}" if loaded.replaced_set_id else ""
    out.print(f"loaded {loaded.features:,} {loaded.level} units as set {loaded.set_id}{replaced}")
    for line in prepared.report.lines()[1:]:
        out.print(f"  {line}")


@boundaries_app.command("load-shipped")
def boundaries_load_shipped(
    force: Annotated[bool, typer.Option(help="Load even when boundaries are already there.")] = False,
) -> None:
    """Load the shipped districts and approximate townships (when none are loaded)."""
    from boundaries.shipped import load_shipped

    loaded = load_shipped(_engine(), only_if_empty=not force)
    if not loaded:
        out.print("boundaries already loaded; nothing to do (--force reloads)")
    for item in loaded:
        out.print(f"loaded {item.features:,} {item.level} units as set {item.set_id}")


@boundaries_app.command("list")
def boundaries_list() -> None:
    """List every boundary set with the period it is valid for."""
    from geo.store.jurisdictions import boundary_sets

    sets = boundary_sets(_engine())
    table = Table()
    for header in ("set", "level", "units", "approx.", "valid from", "valid to"):
        table.add_column(header, no_wrap=True)
    table.add_column("source", overflow="fold")
    for row in sets.itertuples():
        table.add_row(str(row.id), row.level, f"{row.feature_count:,}", "yes" if row.approximate else "no",
                      _when(row.valid_from), _when(row.valid_to) or "current",
                      row.source)
    out.print(table)


@app.command("ingest")
def ingest(
    path: Annotated[Path, typer.Argument(help="A CSV, Parquet or JSON Lines export.")],
    mapping: Annotated[Path | None, typer.Option(help="A YAML/JSON file mapping fields to columns.")] = None,
    map_: Annotated[list[str] | None, typer.Option("--map", help="field=column, repeatable.")] = None,
    crs: Annotated[str | None, typer.Option(help="Coordinate system of lon/lat: wgs84, gcj02, bd09.")] = None,
    encoding: Annotated[str, typer.Option(help="Text encoding (gbk for many Chinese exports).")] = "utf-8",
) -> None:
    """Load a hotline export: every row ends in the complaints or in the rejected rows."""
    from geo.ingest import load_mapping

    chosen = load_mapping(mapping).with_options(map_, crs)
    _ingest_with_progress(_engine(), path, chosen, encoding=encoding)


def _ingest_with_progress(engine, path: Path, mapping, **options) -> None:
    """Ingest one file behind a progress bar (bytes read), then print the summary."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    from geo.ingest import ingest_file

    size = path.stat().st_size if path.is_file() else 0
    with Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                  TimeRemainingColumn(), console=err, transient=True) as bar:
        task = bar.add_task(f"ingesting {escape(path.name)}", total=size or None)
        summary = ingest_file(engine, path, mapping, **options,
                              progress=lambda done, _total: bar.update(task, completed=done))
    _print_summary(summary)


def _print_summary(summary) -> None:
    out.print(f"run {summary.run_id}: {summary.rows:,} rows from {escape(summary.source)}")
    table = Table(show_header=False, box=None)
    for label, value in (("inserted", summary.inserted), ("updated", summary.updated),
                         ("unchanged", summary.unchanged), ("rejected", summary.rejected),
                         ("unclassified (accepted)", summary.unclassified),
                         ("on a boundary line", summary.on_boundary)):
        table.add_row(label, f"{value:,}")
    for precision, count in sorted(summary.precision.items()):
        table.add_row(f"located by {precision}", f"{count:,}")
    for reason, count in sorted(summary.rejected_by_reason.items()):
        table.add_row(f"  rejected: {reason}", f"{count:,}")
    out.print(table)
    if summary.rejected:
        out.print(f"see them with: python -m geo rejected --run {summary.run_id}")


@app.command("rejected")
def rejected(
    run: Annotated[int | None, typer.Option(help="Only the rows of this ingest run.")] = None,
    reason: Annotated[str | None, typer.Option(help="Only this reason code (e.g. outside).")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Include rows accepted since.")] = False,
    limit: Annotated[int, typer.Option(help="Rows to list.")] = 20,
    export: Annotated[Path | None, typer.Option(help="Write every matching row to this CSV.")] = None,
) -> None:
    """List rejected rows, or export them to fix and ingest again."""
    from geo.ingest.rejected import export_rejected, rejected_rows

    rows = rejected_rows(_engine(), run_id=run, reason=reason, include_resolved=all_,
                         limit=None if export else limit)
    if export is not None:
        written = export_rejected(rows, export)
        out.print(f"wrote {written:,} rejected rows to {escape(str(export))}; fix them and run "
                  f"python -m geo ingest {escape(str(export))}")
        return
    if rows.empty:
        out.print("no rejected rows")
        return
    table = Table()
    for header in ("run", "file", "line", "id", "reason"):
        table.add_column(header, overflow="fold")
    for row in rows.itertuples():
        table.add_row(str(row.run_id), escape(row.source), str(row.line), escape(str(row.source_id or "")),
                      escape(row.reason))
    out.print(table)


@app.command("demo")
def demo(
    days: Annotated[int, typer.Option(help="Days of complaints.")] = 90,
    per_day: Annotated[int, typer.Option(help="Mean complaints per day.")] = 30_000,
    seed: Annotated[int, typer.Option(help="Seed of every random draw.")] = 7,
    end: Annotated[str | None, typer.Option(help="First day after the period (default: today, Beijing).")] = None,
    folder: Annotated[Path | None, typer.Option(help="Where to write the export and its truth.")] = None,
    only_if_empty: Annotated[bool, typer.Option(help="Do nothing when complaints are already loaded.")] = False,
) -> None:
    """Generate a synthetic Beijing export with its ground truth, and ingest it."""
    import pandas as pd
    import sqlalchemy as sa

    from geo import synth
    from geo.ingest import Mapping
    from geo.store.jurisdictions import current_jurisdictions

    engine = _engine()
    if only_if_empty:
        with engine.connect() as conn:
            if conn.execute(sa.text("SELECT EXISTS (SELECT 1 FROM complaint)")).scalar():
                out.print("complaints already loaded; no demo generated")
                return
    settings = load_settings()
    folder = folder or settings.home / "var" / "demo"
    end_day = pd.Timestamp(end) if end else pd.Timestamp.now(tz=TZ).normalize()
    townships = current_jurisdictions(engine, "township", display=False)
    with err.status(f"generating {days} days x {per_day:,} complaints (seed {seed})"):
        generated = synth.generate(townships, days=days, per_day=per_day, seed=seed, end=end_day)
        data, truth = synth.write(generated, folder)
    out.print(f"wrote {len(generated.frame):,} rows to {escape(str(data))} and the truth to {escape(str(truth))}")
    _ingest_with_progress(engine, data, Mapping(dict(synth.MAPPING)), now=generated.truth_end)


def _when(moment) -> str:
    import pandas as pd

    if moment is None or pd.isna(moment):
        return ""
    return moment.tz_convert(TZ).strftime("%Y-%m-%d")


def main() -> None:
    """Run the command line, turning errors into one line and an exit code."""
    logging.basicConfig(level=os.environ.get("WHISTLE_LOG", "WARNING"),
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        app()
    except WhistleError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(1)
    except Exception as exc:  # the last line of defence: one line, not a traceback
        if os.environ.get("WHISTLE_DEBUG"):
            raise
        err.print(f"[red]unexpected error:[/red] {type(exc).__name__}: {escape(str(exc))} "
                  "(set WHISTLE_DEBUG=1 for the traceback)", highlight=False, soft_wrap=True)
        sys.exit(2)
