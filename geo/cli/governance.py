"""``python -m geo governance``: the monthly ranking of townships and their classes."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from geo.cli.shared import engine as _engine
from geo.cli.shared import out

governance_app = typer.Typer(help="The monthly exam paper: rates, ranking and governance classes.",
                             no_args_is_help=True)

Month = Annotated[str | None, typer.Option(help="The month, e.g. 2026-10.")]


@governance_app.command("run")
def run_command(since: Annotated[str | None, typer.Option(
                    help="Reclassify from this month on; default: the last classified month.")] = None,
                rebuild: Annotated[bool, typer.Option(help="Classify every month afresh.")] = False) -> None:
    """Classify townships month by month (by the city's governance rules) and store the result."""
    from geo.act.governance_db import month_start, run_governance

    result = run_governance(_engine(), since=month_start(since) if since else None, rebuild=rebuild)
    if result.empty:
        out.print("no complaints tallied yet: nothing to classify")
        return
    for month, rows in result.groupby("month"):
        labels = rows["label"].value_counts()
        summary = ", ".join(f"{labels[name]} {name}" for name in labels.index if name != "none")
        out.print(f"{month:%Y-%m}: {len(rows)} townships, {int(rows['composite'].notna().sum())} ranked; {summary}")


@governance_app.command("show")
def show_command(month: Month = None,
                 label: Annotated[str | None, typer.Option(
                     help="Only this label: governance, early_warning, rectification, improving, advanced, "
                          "watch.")] = None,
                 limit: Annotated[int, typer.Option(help="At most this many rows.")] = 40) -> None:
    """A month's ranking with the three rates and classes (the last classified month by default)."""
    from geo.act.governance import composite_text, rate_text, rates_without_data
    from geo.act.governance_db import month_start, ranking

    table = ranking(_engine(), month_start(month) if month else None, label=label)
    if table.empty:
        out.print("nothing classified for that month; run `python -m geo governance run`")
        return
    grid = Table("rank", "township", "code", "district", "volume", "vol. rank", "response", "resolution",
                 "satisfaction", "composite", "label", "talk list", title=f"{table['month'].iat[0]:%Y-%m}")
    for row in table.head(limit).itertuples(index=False):
        grid.add_row(_int(row.composite_rank), row.name, row.township_code, row.district or "", str(row.volume),
                     str(row.volume_rank), rate_text(row.response_rate, row.dispatched),
                     rate_text(row.resolution_rate, row.outcomes), rate_text(row.satisfaction_rate, row.callbacks),
                     composite_text(row), row.label + (" (rebound)" if row.rebound else ""),
                     "yes" if row.talk_list else "")
    out.print(grid)
    for name in rates_without_data(table):
        out.print(f"{name.replace('_', ' ')}: no rate data (no complaint of the month carries it); "
                  "the composite and its ranking are left out")


@governance_app.command("tally")
def tally_command(start: Annotated[str | None, typer.Option(help="First day, e.g. 2026-10-01.")] = None,
                  end: Annotated[str | None, typer.Option(help="Last day.")] = None) -> None:
    """Rebuild the daily tallies (after changing response_hours in governance.toml)."""
    from geo.cli.shared import parse_moment
    from geo.store.tally import refresh_tally

    first = parse_moment(start, "--start").date() if start else None
    last = parse_moment(end, "--end").date() if end else None
    out.print(f"{refresh_tally(_engine(), first, last)} tally rows")


def _int(value) -> str:
    return "" if value is None or value != value else str(int(value))
