"""``python -m geo report``: the daily bulletin, the weekly summary, the monthly analysis."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from geo.cli.shared import engine as _engine
from geo.cli.shared import out, parse_moment

report_app = typer.Typer(help="Reports: daily, weekly, monthly (Markdown, HTML, CSVs and, with --pdf, A4 PDF).",
                         no_args_is_help=True)

Day = Annotated[str | None, typer.Option("--date", help="A day of the period, e.g. 2026-10-31; default: the "
                                                         "last day with complaints.")]
Folder = Annotated[Path, typer.Option("--out", help="The folder the files are written to.")]
Pdf = Annotated[bool, typer.Option("--pdf", help="Also print it to an A4 PDF (with Debian's chromium).")]


def _report(kind: str, day: str | None, folder: Path, pdf: bool = False) -> None:
    from geo.act.reports_db import build_report, write_report

    report = build_report(_engine(), kind, parse_moment(day, "--date").date() if day else None)
    written = write_report(report, folder)
    if pdf:
        from geo.show.pdf import report_pdf

        printed = folder / f"{report.stem}.pdf"
        printed.write_bytes(report_pdf(report))
        out.print(f"printed {printed} ({printed.stat().st_size >> 10:,} KB)")
    out.print(f"{report.title}: {report.period.first:%Y-%m-%d} to {report.period.last:%Y-%m-%d}")
    for section in report.sections:
        out.print(f"  {section.title}: {section.lines[0] if section.lines else ''}", markup=False)
    out.print(f"wrote {len(written)} files to {folder}/: {written[0].name}, {written[1].name} and "
              f"{len(written) - 2} CSVs")


@report_app.command("daily")
def daily_command(day: Day = None, folder: Folder = Path("reports"), pdf: Pdf = False) -> None:
    """The daily bulletin: one day against the same weekday of the weeks before."""
    _report("daily", day, folder, pdf)


@report_app.command("weekly")
def weekly_command(day: Day = None, folder: Folder = Path("reports"), pdf: Pdf = False) -> None:
    """The weekly summary: the ISO week (Monday to Sunday) holding the day."""
    _report("weekly", day, folder, pdf)


@report_app.command("monthly")
def monthly_command(day: Day = None, folder: Folder = Path("reports"), pdf: Pdf = False) -> None:
    """The monthly analysis: the calendar month holding the day."""
    _report("monthly", day, folder, pdf)
