"""``python -m geo project``: open remediation projects, tick off tasks, follow their effect."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from geo.cli.shared import engine as _engine
from geo.cli.shared import out, parse_moment, zone

project_app = typer.Typer(help="Remediation projects: create, list, show, tick off tasks.", no_args_is_help=True)

Actor = Annotated[str, typer.Option("--as", help="Who acts (stored with the event).")]


def _day(text: str, option: str) -> date:
    return parse_moment(text, option).date()


@project_app.command("create")
def create_command(kind: Annotated[str, typer.Option(help="problem_of_month, governance_plan or proactive.")],
                   title: Annotated[str, typer.Option(help="What the project is about.")],
                   lead: Annotated[str, typer.Option(help="The lead department (departments.csv code).")],
                   category: Annotated[list[str], typer.Option(help="A target category (repeat for more).")],
                   start: Annotated[str, typer.Option(help="First day, e.g. 2026-04-01.")],
                   end: Annotated[str, typer.Option(help="Last day.")],
                   actor: Actor,
                   township: Annotated[list[str] | None, typer.Option(help="A target township (repeat).")] = None,
                   cell: Annotated[list[str] | None, typer.Option(help="A target H3 cell, hex (repeat).")] = None,
                   partner: Annotated[list[str] | None, typer.Option(help="A partner department (repeat).")] = None,
                   target: Annotated[float | None, typer.Option(help="Target reduction in percent (30).")] = None,
                   task: Annotated[list[str] | None, typer.Option(help="A task as 'title|owner|due date'.")] = None,
                   ) -> None:
    """Open a project on townships or H3 cells (a drawn polygon: from the app)."""
    from geo.act.projects import ProjectSpec
    from geo.act.projects_db import create_project
    from geo.errors import ValidationError

    tasks = []
    for text in task or []:
        parts = text.split("|")
        if len(parts) != 3:
            raise ValidationError(f"task {text!r} is not 'title|owner|due date'")
        tasks.append(dict(zip(("title", "owner", "due_on"), parts, strict=True)))
    spec = ProjectSpec(kind=kind, title=title, lead_department=lead, categories=list(category),
                       starts_on=_day(start, "--start"), ends_on=_day(end, "--end"), townships=list(township or []),
                       cells=list(cell or []), partners=list(partner or []),
                       targets={} if target is None else {"reduction_pct": target}, tasks=tasks)
    project_id = create_project(_engine(), spec, actor=actor, now=datetime.now(zone()))
    out.print(f"project {project_id} created")


@project_app.command("list")
def list_command(township: Annotated[str | None, typer.Option(help="Only projects on this township.")] = None,
                 kind: Annotated[str | None, typer.Option(help="Only this kind.")] = None) -> None:
    """Projects with progress and effect, newest first."""
    from geo.act.projects_db import projects

    found = projects(_engine(), today=datetime.now(zone()).date(), township=township, kind=kind)
    if found.empty:
        out.print("no projects")
        return
    table = Table("id", "kind", "title", "state", "start", "end", "progress", "effect (DiD)", "verdict")
    for row in found.itertuples(index=False):
        table.add_row(str(row.id), row.kind, escape(row.title), row.state, str(row.starts_on), str(row.ends_on),
                      _share(row.progress), _effect(row.did_pct, row.did_low, row.did_high), row.verdict)
    out.print(table)


@project_app.command("show")
def show_command(project: Annotated[int, typer.Argument(help="The project's id.")]) -> None:
    """One project: its area, tasks, events and half-monthly effect."""
    from geo.act.projects import progress
    from geo.act.projects_db import project_detail

    detail = project_detail(_engine(), project)
    p, found = detail.project, detail.effect
    done = int(detail.tasks["done_at"].notna().sum())
    out.print(f"[bold]{escape(p['title'])}[/] ({p['kind']}, version {p['version']}), led by {p['lead_department']}"
              f"{' with ' + ', '.join(p['partners']) if len(p['partners']) else ''}")
    area = ", ".join(p["townships"]) if len(p["townships"]) else f"{len(p['cells'])} cells"
    out.print(f"{p['starts_on']} to {p['ends_on']}; area: {area}; categories: {', '.join(p['categories'])}; "
              f"progress {_share(progress(done, len(detail.tasks)))}")
    out.print(f"effect: {_effect(found.did_pct, found.did_low, found.did_high)} against the neighbours; "
              f"{_pct(found.change_pct)} against the baseline; {_pct(found.year_earlier_pct)} against a year "
              f"earlier; [bold]{found.verdict}[/]")
    tasks = Table("id", "task", "owner", "due", "done by")
    for row in detail.tasks.itertuples(index=False):
        done_by = row.done_by if isinstance(row.done_by, str) else ""
        tasks.add_row(str(row.id), escape(row.title), escape(row.owner), str(row.due_on), escape(done_by))
    out.print(tasks)
    halves = Table("half-month", "phase", "complaints", "neighbours", "vs baseline", "a year earlier")
    for row in found.table.tail(12).itertuples(index=False):
        halves.add_row(f"{row.half_month:%Y-%m-%d}", row.phase, f"{row.treated:.0f}", _count(row.control),
                       _pct(row.change_pct), _count(row.year_earlier))
    out.print(halves)
    for row in detail.events.head(10).itertuples(index=False):
        out.print(f"{row.at.astimezone(zone()):%Y-%m-%d %H:%M} {escape(row.actor)}: {row.action}"
                  f"{' - ' + escape(row.note) if isinstance(row.note, str) else ''}")


@project_app.command("task")
def task_command(task: Annotated[int, typer.Argument(help="The task's id (see `project show`).")], actor: Actor,
                 done: Annotated[bool, typer.Option("--done/--undo", help="Tick off, or back on.")] = True,
                 version: Annotated[int | None, typer.Option(help="The project's version you were shown.")] = None,
                 ) -> None:
    """Tick a task off (or back on)."""
    from geo.act.projects_db import set_task

    set_task(_engine(), task, done=done, actor=actor, now=datetime.now(zone()), expected_version=version)
    out.print(f"task {task} {'done' if done else 'reopened'}")


def _share(value: float | None) -> str:
    return "no tasks" if value is None or value != value else f"{100 * value:.0f} %"


def _pct(value: float | None) -> str:
    return "n/a" if value is None or value != value else f"{value:+.1f} %"


def _count(value: float | None) -> str:
    return "" if value is None or value != value else f"{value:.0f}"


def _effect(estimate: float | None, low: float | None, high: float | None) -> str:
    if estimate is None or estimate != estimate:
        return "n/a"
    return f"{estimate:+.1f} % ({low:+.1f} to {high:+.1f})"


@project_app.command("demo")
def demo_command() -> None:
    """Open the demo's two problems of the month (每月一题) on its commonest problems, unless one exists."""
    from geo.demo.projects_db import demo_projects

    opened = demo_projects(_engine(), now=datetime.now(zone()))
    out.print(f"opened projects {', '.join(map(str, opened))}" if opened else "a problem of the month exists already")
