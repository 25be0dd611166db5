"""``python -m geo api-keys | api | worker | clock``: the live platform's parts, one at a time."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from geo.cli.shared import engine as _engine
from geo.cli.shared import out, parse_moment

keys_app = typer.Typer(help="The API's keys: one per channel or department system.", no_args_is_help=True)
clock_app = typer.Typer(help="The platform's one clock (the API, the worker and the app read it).",
                        no_args_is_help=True)


@keys_app.command("add")
def keys_add(name: str,
             kind: Annotated[str, typer.Option(help="channel (posts complaints), department or callback "
                                                    "(post status updates).")] = "channel",
             channel: Annotated[str | None, typer.Option(help="A channel's: phone, web, wechat, weibo or app.")] = None,
             department: Annotated[str | None, typer.Option(
                 help="A department's key: the department's code (its system reads and reports on the whistle "
                      "calls addressed to it).")] = None,
             ) -> None:
    """Create a key and print it once (only its hash is stored)."""
    from geo.api.keys_db import add_key

    key = add_key(_engine(), name, kind, channel, department)
    out.print(f"key {escape(name)} ({kind}): {key}")
    out.print("keep it now: it is not shown again")


@keys_app.command("list")
def keys_list() -> None:
    """Every key: name, kind, channel, its first characters, created, last used, revoked."""
    import pandas as pd

    from geo.api.keys_db import list_keys

    grid = Table("name", "kind", "channel", "key", "created", "last used", "revoked")
    stamp = lambda v: "" if pd.isna(v) else f"{v:%Y-%m-%d %H:%M}"  # noqa: E731
    for row in list_keys(_engine()).itertuples(index=False):
        grid.add_row(escape(row.name), row.kind, row.channel or "", f"{row.prefix}…", stamp(row.created_at),
                     stamp(row.last_used_at), stamp(row.revoked_at))
    out.print(grid)


@keys_app.command("revoke")
def keys_revoke(name: str) -> None:
    """Revoke a key: every request with it is refused from now on."""
    from geo.api.keys_db import revoke_key

    revoke_key(_engine(), name)
    out.print(f"key {escape(name)} revoked")


def api(host: Annotated[str, typer.Option(help="The address to listen on.")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="The port.")] = 8311,
        workers: Annotated[int, typer.Option(help="Server processes.")] = 1) -> None:
    """Serve the Open311 API (uvicorn) until Ctrl-C."""
    import uvicorn

    _engine().dispose()  # the database answers (and the local cluster is up) before serving
    # httptools and uvloop, the compiled parser and loop (uvicorn[standard]'s): GET /health at
    # 50/s cost the server 15 % of a core against 19 % with h11 and asyncio's loop.
    uvicorn.run("geo.api.app:create_app", factory=True, host=host, port=port, workers=workers,
                log_level="warning", access_log=False, http="httptools", loop="uvloop")


def worker(name: Annotated[str | None, typer.Option(help="The worker's name in the queue.")] = None) -> None:
    """Run the worker (the queue's jobs and the hotline's rhythm) until Ctrl-C."""
    import logging

    from geo.worker.tasks import Worker

    logging.getLogger("whistle").setLevel(logging.INFO)
    out.print("worker started: border checks on arrival, escalation at deadlines, the rhythm")
    Worker(_engine()).run(name=name)


@clock_app.command("set")
def clock_set(at: Annotated[str, typer.Argument(help="The moment the clock shows now (ISO; 'latest': the "
                                                     "newest complaint).")],
              speed: Annotated[float, typer.Option(help="Clock seconds per wall second.")] = 1.0) -> None:
    """Set the platform's clock: a replay from ``AT`` at ``SPEED``."""
    from geo.act.whistle_db import latest_complaint
    from geo.store.clock_db import set_clock

    engine = _engine()
    moment = latest_complaint(engine) if at == "latest" else parse_moment(at, "AT")
    setting = set_clock(engine, moment, speed)
    out.print(f"the clock shows {setting.origin:%Y-%m-%d %H:%M:%S %z} and runs {setting.speed:g}× as fast")


@clock_app.command("show")
def clock_show() -> None:
    """What the platform's clock says."""
    from geo.cli.shared import zone
    from geo.store.clock_db import clock_setting

    setting = clock_setting(_engine())
    if setting is None:
        out.print("the wall clock")
    else:
        out.print(f"a replay: now {setting.clock()().astimezone(zone()):%Y-%m-%d %H:%M:%S}, {setting.speed:g}× as fast")


@clock_app.command("clear")
def clock_clear() -> None:
    """Back to the wall clock."""
    from geo.store.clock_db import clear_clock

    clear_clock(_engine())
    out.print("the platform runs on the wall clock")
