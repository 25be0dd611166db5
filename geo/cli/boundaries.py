"""``python -m geo boundaries``: build, import and list jurisdiction boundary sets."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from geo.cli.shared import engine as _engine
from geo.cli.shared import out, when
from geo.cli.shared import parse_moment as _parse_moment
from geo.settings import load_settings

boundaries_app = typer.Typer(help="Jurisdiction boundaries: build, import, list.",
                             no_args_is_help=True)


class Level(StrEnum):
    """A jurisdiction level."""

    district = "district"
    township = "township"


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
        help="From when the set is valid (ISO date or time, in the city's zone); now by default.")] = None,
    source: Annotated[str | None, typer.Option(help="Who published the polygons.")] = None,
) -> None:
    """Load official polygons, replacing the current set and keeping it as a dated version."""
    from geo.locate.jurisdictions import prepare_boundaries, read_boundary_file
    from geo.locate.jurisdictions_db import load_boundaries

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
    moved = [change for change in loaded.organisations if change.change != "kept"]
    if moved:
        out.print(f"organisations: {len(moved)} changed with the new set (the others keep their areas)")
        for change in moved:
            out.print(f"  {escape(change.describe())}")


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
    from geo.locate.jurisdictions_db import boundary_sets

    sets = boundary_sets(_engine())
    table = Table()
    for header in ("set", "level", "units", "approx.", "valid from", "valid to"):
        table.add_column(header, no_wrap=True)
    table.add_column("source", overflow="fold")
    for row in sets.itertuples():
        table.add_row(str(row.id), row.level, f"{row.feature_count:,}", "yes" if row.approximate else "no",
                      when(row.valid_from), when(row.valid_to) or "current",
                      row.source)
    out.print(table)
