"""``python -m geo detect``: hot spots, emerging trends and border cases, each stored as a run.

With no subcommand, all three run over the same period. The period defaults to the rules' days
before the day after the newest complaint (the emerging trend to the rules' weeks before it).
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Annotated

import typer

from geo.cli.shared import engine as _engine
from geo.cli.shared import err, out, parse_moment, zone
from geo.detect.rules import detect_rules

detect_app = typer.Typer(help="Detect: hot spots (Gi*), emerging trends, border cases.")

From = Annotated[str | None, typer.Option("--from", "--start", help="First day (city time), e.g. 2026-09-01; "
                                          "default: the rules' days (hot spots, borders) or weeks (emerging) "
                                          "before --to.")]
To = Annotated[str | None, typer.Option("--to", "--end", help="Day after the last, e.g. 2026-10-01; default: the "
                                        "day after the newest complaint.")]
Res = Annotated[int | None, typer.Option("--res", "--resolution", help="H3 resolution of the statistic (9 or "
                                          "coarser); default: the detect rules.")]
Category = Annotated[str | None, typer.Option(help="Only this category code.")]
Theme = Annotated[str | None, typer.Option(help="Only this theme.")]
RULES = "default: the detect rules (the city's detect.toml, else the national one)"


@detect_app.callback(invoke_without_command=True)
def detect_all(
    ctx: typer.Context,
    start: From = None,
    end: To = None,
    resolution: Res = None,
    category: Category = None,
    theme: Theme = None,
    only_if_empty: Annotated[bool, typer.Option(help="Do nothing when detections are already stored.")] = False,
) -> None:
    """Run all three detections over one period (or name one: hotspots, emerging, borders)."""
    if ctx.invoked_subcommand is not None:
        return
    engine = _engine()
    if only_if_empty and _detected(engine):
        out.print("detections already stored; nothing run")
        return
    rules = detect_rules()
    first, last = _period(engine, start, end, timedelta(days=rules.hotspots.days))
    _hotspots(engine, first, last, resolution=resolution, category=category, theme=theme)
    early = first if start else last - timedelta(weeks=rules.emerging.weeks)
    _emerging(engine, early, last, resolution=resolution, category=category, theme=theme)
    _borders(engine, first, last, category=category, theme=theme)


@detect_app.command("hotspots")
def detect_hotspots(
    start: From = None,
    end: To = None,
    resolution: Res = None,
    k: Annotated[int | None, typer.Option(help=f"Ring distance of the neighbours; {RULES}.")] = None,
    alpha: Annotated[float | None, typer.Option(help=f"False discovery rate; {RULES}.")] = None,
    category: Category = None,
    theme: Theme = None,
) -> None:
    """Getis-Ord Gi* over every cell of the city for a period; stored as a run."""
    engine = _engine()
    first, last = _period(engine, start, end, timedelta(days=detect_rules().hotspots.days))
    _hotspots(engine, first, last, resolution=resolution, k=k, alpha=alpha, category=category, theme=theme)


@detect_app.command("emerging")
def detect_emerging(
    start: From = None,
    end: To = None,
    step: Annotated[str | None, typer.Option(help=f"Time step: week or half-month; {RULES}.")] = None,
    resolution: Res = None,
    k: Annotated[int | None, typer.Option(help=f"Ring distance of the neighbours; {RULES}.")] = None,
    min_rise: Annotated[float | None, typer.Option(
        help=f"Times its earlier level a new or consecutive hot spot must reach; 0: ArcGIS's rules alone; "
             f"{RULES}.")] = None,
    trend_fdr: Annotated[bool, typer.Option(
        help="Judge trends with the false discovery rate among mostly hot or cold cells.")] = True,
    category: Category = None,
    theme: Theme = None,
) -> None:
    """Emerging hot spots: Gi* per step, Mann-Kendall trend, ArcGIS's patterns; stored as a run."""
    engine = _engine()
    rules = detect_rules()
    first, last = _period(engine, start, end, timedelta(weeks=rules.emerging.weeks))
    rise = {} if min_rise is None else {"min_rise": min_rise or None}
    _emerging(engine, first, last, step=step, resolution=resolution, k=k, category=category, theme=theme,
              trend_fdr=trend_fdr, **rise)


@detect_app.command("borders")
def detect_borders(
    start: From = None,
    end: To = None,
    distance: Annotated[float | None, typer.Option(
        help=f"Metres from a shared line that count as on it; {RULES}.")] = None,
    window: Annotated[int | None, typer.Option(help=f"Days of a cluster's window; {RULES}.")] = None,
    category: Category = None,
    theme: Theme = None,
) -> None:
    """Border cases: near a line, across it, clusters spanning it, ping-pong; stored as a run."""
    engine = _engine()
    first, last = _period(engine, start, end, timedelta(days=detect_rules().hotspots.days))
    chosen = {name: value for name, value in (("distance_m", distance), ("window_days", window)) if value is not None}
    _borders(engine, first, last, category=category, theme=theme, **chosen)


def _detected(engine) -> bool:
    import sqlalchemy as sa

    with engine.connect() as conn:
        return bool(conn.execute(sa.text(
            "SELECT EXISTS (SELECT 1 FROM border_run) AND EXISTS (SELECT 1 FROM hotspot_run)")).scalar())


def _period(engine, start: str | None, end: str | None, span: timedelta) -> tuple[datetime, datetime]:
    import sqlalchemy as sa

    from geo.errors import ValidationError

    if end:
        last = parse_moment(end, "--to")
    else:
        with engine.connect() as conn:
            newest = conn.execute(sa.text("SELECT max(received_at) FROM complaint")).scalar()
        if newest is None:
            raise ValidationError("no complaints are stored; ingest some first (python -m geo ingest FILE)")
        day = newest.astimezone(zone()).replace(hour=0, minute=0, second=0, microsecond=0)
        last = day + timedelta(days=1)
    first = parse_moment(start, "--from") if start else last - span
    return first, last


def _hotspots(engine, first, last, **options) -> None:
    from geo.detect.hotspots_db import run_hotspots

    with err.status(f"Gi* from {first:%Y-%m-%d} to {last:%Y-%m-%d}"):
        result = run_hotspots(engine, first, last, **options)
    bins = result.cells["bin"].value_counts()
    out.print(f"hot spot run {result.run_id}: {len(result.cells):,} cells, "
              f"{int(result.cells['count'].sum()):,} complaints, {first:%Y-%m-%d} to {last:%Y-%m-%d}")
    for value, label in ((3, "hot 99 %"), (2, "hot 95 %"), (1, "hot 90 %"), (-1, "cold 90 %"),
                         (-2, "cold 95 %"), (-3, "cold 99 %")):
        out.print(f"  {label}: {int(bins.get(value, 0)):,} cells")


def _emerging(engine, first, last, **options) -> None:
    from geo.detect.hotspots_db import run_emerging

    with err.status(f"emerging hot spots from {first:%Y-%m-%d} to {last:%Y-%m-%d}"):
        result = run_emerging(engine, first, last, **options)
    out.print(f"emerging hot spot run {result.run_id}: {len(result.cells):,} cells, "
              f"{first:%Y-%m-%d} to {last:%Y-%m-%d} by {options.get('step') or detect_rules().emerging.step}")
    for pattern, count in result.cells["pattern"].value_counts().items():
        out.print(f"  {pattern}: {count:,}")


def _borders(engine, first, last, *, category, theme, **thresholds) -> None:
    from geo.detect.borders_db import run_borders

    params = dataclasses.replace(detect_rules().borders, **thresholds)
    params.check()
    with err.status("border cases") as status:
        result = run_borders(engine, first, last, params=params, category=category, theme=theme,
                             progress=lambda step: status.update(f"border cases: {step}"))
    out.print(f"border run {result.run_id}: {first:%Y-%m-%d} to {last:%Y-%m-%d}")
    labels = {"near": f"near the line (within {params.distance_m:g} m)", "across": "across the line (footprints)",
              "cluster": f"clusters across the line ({params.window_days}-day windows)",
              "pingpong": "ping-pong between neighbours"}
    for kind, label in labels.items():
        found = result.found[kind]
        out.print(f"  {label}: {found['cases']:,} cases, {found['complaints']:,} complaints")
