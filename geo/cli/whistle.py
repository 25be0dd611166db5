"""``python -m geo whistle``: raise cross-jurisdiction calls, list them, act on them.

Every action names who acts (``--as``) and may name the call's version it was shown
(``--version``): if someone acted in between, it is refused. ``--at`` sets the clock (for
replaying a day, or ``latest`` for the demo's last complaint); it defaults to now.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from geo.cli.shared import engine as _engine
from geo.cli.shared import out, parse_moment, zone

whistle_app = typer.Typer(help="Cross-jurisdiction whistle calls: raise, list, show, report, resolve, close.",
                          no_args_is_help=True)

At = Annotated[str | None, typer.Option("--at", help="The clock, e.g. 2026-11-20T09:30 (the city's time), or "
                                                      "'latest' (the newest stored complaint); default now.")]
Actor = Annotated[str, typer.Option("--as", help="Who acts (stored with the event).")]
Note = Annotated[str | None, typer.Option(help="A note stored with the event.")]
Version = Annotated[int | None, typer.Option("--version", help="The call's version you were shown.")]
CallId = Annotated[int, typer.Argument(help="The call's id (see `whistle list`).")]


def _now(at: str | None) -> datetime:
    if at == "latest":
        from geo.act.whistle_db import latest_complaint

        return latest_complaint(_engine())
    return parse_moment(at, "--at") if at else datetime.now(zone())


@whistle_app.command("raise")
def raise_command(at: At = None) -> None:
    """Raise calls from the stored border cases by the whistle rules (the city's whistle.toml); join new complaints."""
    from geo.act.whistle_db import raise_calls

    done = raise_calls(_engine(), now=_now(at))
    out.print(f"{done.raised} raised, {done.joined} joined by new complaints ({done.reopened} reopened), "
              f"{done.complaints} complaint(s) attached")


@whistle_app.command("escalate")
def escalate_command(call: Annotated[int | None, typer.Argument(
                         help="Escalate this call by hand; without it, escalate every late addressee.")] = None,
                     actor: Actor = "coordinator", note: Note = None, version: Version = None, at: At = None) -> None:
    """Escalate late addressees to the district, then the city (or one call by hand)."""
    from geo.act.whistle_db import escalate, escalate_due

    if call is None:
        moved = escalate_due(_engine(), now=_now(at))
        out.print(f"{moved} addressee(s) escalated")
        return
    new = escalate(_engine(), call, actor=actor, now=_now(at), note=note, expected_version=version)
    out.print(f"call {call} escalated (version {new})")


@whistle_app.command("list")
def list_command(state: Annotated[str | None, typer.Option(help="raised, resolved or closed (all: every state).")]
                 = "raised",
                 kind: Annotated[str | None, typer.Option(help="emergency, key_work or enforcement.")] = None,
                 district: Annotated[str | None, typer.Option(help="Only calls on this district (its code).")] = None,
                 township: Annotated[str | None, typer.Option(help="Only calls on this township (its code).")] = None,
                 late: Annotated[bool, typer.Option("--late", help="Only calls with a late addressee.")] = False,
                 search: Annotated[str | None, typer.Option(help="A call no., a complaint's id or a piece of its "
                                                                 "address.")] = None,
                 page: Annotated[int, typer.Option(min=1, help="The page of the queue.")] = 1,
                 at: At = None) -> None:
    """Calls, most urgent first (emergencies, then late addressees, then the nearest deadline), a page
    of ``[queue] page_size`` (whistle.toml) at a time."""
    from geo.act.whistle import QueueFilter, WhistleRules
    from geo.act.whistle_db import calls

    size = WhistleRules.load().queue.page_size
    where = QueueFilter(state=None if state == "all" else state, kind=kind, district=district, township=township,
                        late=late, search=search)
    found = calls(_engine(), now=_now(at), where=where, limit=size, offset=(page - 1) * size)
    if found.empty:
        out.print("no whistle calls" + (f" on page {page}" if page > 1 else ""))
        return
    table = Table("id", "kind", "state", "townships", "categories", "complaints", "deadline", "pending", "late",
                  "level", "version")
    for row in found.itertuples(index=False):
        table.add_row(str(row.id), row.kind, row.state, ", ".join(row.townships), escape(", ".join(row.categories)),
                      str(row.complaints), f"{row.deadline_at.astimezone(zone()):%Y-%m-%d %H:%M}", str(row.pending),
                      str(row.late), ("township", "district", "city")[row.escalation], str(row.version))
    out.print(table)
    total = int(found["total"].iloc[0])
    out.print(f"calls {(page - 1) * size + 1:,}–{(page - 1) * size + len(found):,} of {total:,}"
              f" (page {page} of {-(-total // size):,})", highlight=False)


@whistle_app.command("show")
def show_command(call: CallId) -> None:
    """One call: its addressees and deadlines, its complaints (phones masked) and its history."""
    from geo.act.whistle_db import call_detail

    detail = call_detail(_engine(), call)
    c = detail.call
    out.print(f"call {c['id']} · {c['kind']} · {c['state']} · version {c['version']} · case {c['case_id']} "
              f"({c['case_kind']}) · townships {', '.join(c['townships'])}", highlight=False)
    addressees = Table("addressee", "kind", "state", "deadline", "reported", "done", "late", "level")
    for row in detail.addressees.itertuples(index=False):
        addressees.add_row(row.code, row.kind, row.state, _time(row.deadline_at), _time(row.reported_at),
                           _time(row.done_at), "yes" if row.late else "", ("-", "district", "city")[row.escalation])
    out.print(addressees)
    complaints = Table("complaint", "received", "category", "township", "phone", "text")
    for row in detail.complaints.itertuples(index=False):
        complaints.add_row(escape(row.source_id), _time(row.received_at), row.category, row.township_code or "",
                           row.phone_masked or "", escape((row.text or "")[:80]))
    out.print(complaints)
    events = Table("at", "who", "action", "from", "to", "note")
    for row in detail.events.itertuples(index=False):
        events.add_row(_time(row.at), escape(row.actor), row.action, row.from_state or "", row.to_state or "",
                       escape(row.note or ""))
    out.print(events)


def _time(moment) -> str:
    import pandas as pd

    return "" if pd.isna(moment) else f"{moment.astimezone(zone()):%m-%d %H:%M}"


@whistle_app.command("report")
def report_command(call: CallId, codes: Annotated[list[str], typer.Argument(
                       help="The township or department code(s) of the addressees who report.")],
                   actor: Actor = "duty-officer",
                   done: Annotated[bool, typer.Option("--done", help="Report the part done (a pending addressee "
                                                                     "is checked in first).")] = False,
                   note: Note = None, version: Version = None, at: At = None) -> None:
    """Addressees check in (report); with --done, they report their parts done, in one step."""
    from geo.act.whistle_db import check_in

    new = check_in(_engine(), call, codes, actor=actor, now=_now(at), done=done, note=note, expected_version=version)
    out.print(f"call {call}: {', '.join(codes)} {'done' if done else 'reported'} (version {new})")


@whistle_app.command("resolve")
def resolve_command(call: CallId, actor: Actor = "coordinator", note: Note = None, version: Version = None,
                    at: At = None) -> None:
    """Mark a call resolved (every addressee done)."""
    from geo.act.whistle_db import resolve

    new = resolve(_engine(), call, actor=actor, now=_now(at), note=note, expected_version=version)
    out.print(f"call {call} resolved (version {new})")


@whistle_app.command("close")
def close_command(call: CallId, actor: Actor = "coordinator", note: Note = None, version: Version = None,
                  at: At = None) -> None:
    """Close a resolved call."""
    from geo.act.whistle_db import close

    new = close(_engine(), call, actor=actor, now=_now(at), note=note, expected_version=version)
    out.print(f"call {call} closed (version {new})")
