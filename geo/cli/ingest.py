"""``python -m geo ingest``, ``rejected`` and ``demo``: files in, rejected rows out, the demo city."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from geo.cli.shared import engine as _engine
from geo.cli.shared import err, out, zone
from geo.ingest.summary import UNMAPPED_SHOWN
from geo.settings import load_settings


def ingest(
    path: Annotated[Path, typer.Argument(help="A CSV, Parquet or JSON Lines export.")],
    mapping: Annotated[Path | None, typer.Option(help="A YAML/JSON file mapping fields to columns.")] = None,
    map_: Annotated[list[str] | None, typer.Option("--map", help="field=column, repeatable.")] = None,
    crs: Annotated[str | None, typer.Option(help="Coordinate system of lon/lat: wgs84, gcj02, bd09.")] = None,
    timezone: Annotated[str | None, typer.Option(
        help="The zone of times written without one (an IANA name); the city's by default.")] = None,
    format_: Annotated[list[str] | None, typer.Option(
        "--format", help="field=strptime format, repeatable, e.g. 'received_at=%m/%d/%Y %I:%M:%S %p'.")] = None,
    encoding: Annotated[str, typer.Option(help="Text encoding (gbk for many Chinese exports).")] = "utf-8",
    bounded: Annotated[bool, typer.Option(help="Apply the upload limits (WHISTLE_UPLOAD_*), as the app does.")] = False,
    json_: Annotated[bool, typer.Option("--json", help="Print the summary as one JSON object, no progress.")] = False,
) -> None:
    """Load a hotline export: every row ends in the complaints or in the rejected rows."""
    from geo.ingest.run_db import load_mapping

    chosen = load_mapping(mapping).with_options(map_, crs, timezone, format_)
    options = {"encoding": encoding, "limits": load_settings().upload_limits if bounded else None}
    if json_:
        import json

        from geo.ingest.run_db import ingest_file

        summary = ingest_file(_engine(), path, chosen, **options)
        print(json.dumps({"run_id": summary.run_id, "source": summary.source, **summary.as_dict()},
                         ensure_ascii=False))
        return
    _ingest_with_progress(_engine(), path, chosen, **options)


def _ingest_with_progress(engine, path: Path, mapping, **options) -> None:
    """Ingest one file behind a progress bar (bytes read), then print the summary."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    from geo.ingest.run_db import ingest_file

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
    if summary.unmapped:
        out.print("category values that matched no category (map them under values: category: in the mapping):")
        for value, count in summary.unmapped.most_common(UNMAPPED_SHOWN):
            out.print(f"  {escape(value)}: {count:,}")
    if summary.rejected:
        out.print(f"see them with: python -m geo rejected --run {summary.run_id}")


def rejected(
    run: Annotated[int | None, typer.Option(help="Only the rows of this ingest run.")] = None,
    reason: Annotated[str | None, typer.Option(help="Only this reason code (e.g. outside).")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Include rows accepted since.")] = False,
    limit: Annotated[int, typer.Option(help="Rows to list.")] = 20,
    export: Annotated[Path | None, typer.Option(help="Write every matching row to this CSV.")] = None,
) -> None:
    """List rejected rows, or export them to fix and ingest again."""
    from geo.ingest.rejected_db import export_rejected, rejected_rows

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


def demo(
    days: Annotated[int, typer.Option(help="Days of complaints.")] = 90,
    per_day: Annotated[int, typer.Option(help="Mean complaints per day.")] = 30_000,
    seed: Annotated[int, typer.Option(help="Seed of every random draw.")] = 7,
    end: Annotated[str | None, typer.Option(help="First day after the period (default: today in the city).")] = None,
    folder: Annotated[Path | None, typer.Option(help="Where to write the export and its truth.")] = None,
    only_if_empty: Annotated[bool, typer.Option(help="Do nothing when complaints are already loaded.")] = False,
) -> None:
    """Generate a synthetic Beijing export with its ground truth, and ingest it."""
    import pandas as pd
    import sqlalchemy as sa

    from geo.demo import synth
    from geo.ingest.run_db import Mapping
    from geo.locate.jurisdictions_db import current_jurisdictions

    engine = _engine()
    if only_if_empty:
        with engine.connect() as conn:
            if conn.execute(sa.text("SELECT EXISTS (SELECT 1 FROM complaint)")).scalar():
                out.print("complaints already loaded; no demo generated")
                return
    settings = load_settings()
    folder = folder or settings.home / "var" / "demo"
    end_day = pd.Timestamp(end) if end else pd.Timestamp.now(tz=zone()).normalize()
    townships = current_jurisdictions(engine, "township", display=False)
    with err.status(f"generating {days} days x {per_day:,} complaints (seed {seed})"):
        generated = synth.generate(townships, days=days, per_day=per_day, seed=seed, end=end_day)
        data, truth = synth.write(generated, folder)
    out.print(f"wrote {len(generated.frame):,} rows to {escape(str(data))} (readable by you only: like a hotline's "
              f"export it holds callers' numbers in full) and the truth to {escape(str(truth))}")
    _ingest_with_progress(engine, data, Mapping(dict(synth.MAPPING)), now=generated.truth_end)
