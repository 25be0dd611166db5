"""``python -m geo serve`` and ``python -m geo replay``: the whole platform live, and a city that
keeps talking to it.

``serve`` is the supervisor: it starts the API (uvicorn), the worker and the app (Streamlit) as
processes of their own, restarts one that crashes (and says so), and stops them all cleanly on
Ctrl-C or SIGTERM. With ``--replay SPEED`` it also replays the demo city through the API.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from geo.cli.shared import engine as _engine
from geo.cli.shared import err, out, zone

ROOT = Path(__file__).resolve().parents[2]
STOP_WAIT_S = 60.0
"""How long a part has to stop after SIGTERM before it is killed: the worker finishes its running
job first, and a pass over the demo's border window takes about 25 s."""
RESTART_PAUSE_S = 2.0
"""How long a crashed part waits before it is started again (a part that crashes at once does
not spin)."""


def _parts(api_port: int, app_port: int, replay: float | None, days: int, per_day: int) -> dict[str, list[str]]:
    python = sys.executable
    parts = {
        "api": [python, "-m", "geo", "api", "--port", str(api_port)],
        "worker": [python, "-m", "geo", "worker"],
        "app": [python, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(app_port),
                "--server.headless", "true"],
    }
    if replay is not None:
        parts["replay"] = [python, "-m", "geo", "replay", "--speed", f"{replay:g}", "--days", str(days),
                           "--per-day", str(per_day), "--api", f"http://127.0.0.1:{api_port}"]
    return parts


def serve(api_port: Annotated[int, typer.Option(help="The Open311 API's port.")] = 8311,
          app_port: Annotated[int, typer.Option(help="The app's port.")] = 8501,
          replay: Annotated[float | None, typer.Option(help="Also replay the demo city live, this many "
                                                            "times as fast as the wall clock.")] = None,
          days: Annotated[int, typer.Option(help="Days the replay plays.")] = 1,
          per_day: Annotated[int, typer.Option(help="Complaints a day in the replay.")] = 30_000) -> None:
    """Run the API, the worker and the app (and a replay) until Ctrl-C; restart a part that crashes."""
    _engine().dispose()  # the database is up and migrated before the parts start
    parts = _parts(api_port, app_port, replay, days, per_day)
    running: dict[str, subprocess.Popen] = {}
    stopping = {"now": False}

    def stop(_signum, _frame) -> None:
        stopping["now"] = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    for name, command in parts.items():
        running[name] = subprocess.Popen(command, cwd=ROOT)
    out.print(f"Whistle is live: the app at http://localhost:{app_port}, the Open311 API at "
              f"http://localhost:{api_port}/open311/v2/ (discovery: /open311/discovery.json); Ctrl-C stops it")
    try:
        while not stopping["now"]:
            time.sleep(0.5)
            for name, child in list(running.items()):
                code = child.poll()
                if code is None:
                    continue
                if name == "replay" and code == 0:
                    out.print("the replay has played to its end; the platform goes on")
                    del running[name]
                    continue
                err.print(f"{name} stopped (exit {code}); starting it again in {RESTART_PAUSE_S:g} s",
                          highlight=False)
                time.sleep(RESTART_PAUSE_S)
                if not stopping["now"]:
                    running[name] = subprocess.Popen(parts[name], cwd=ROOT)
    finally:
        for child in running.values():
            if child.poll() is None:
                child.terminate()
        for name, child in running.items():
            try:
                child.wait(timeout=STOP_WAIT_S)
            except subprocess.TimeoutExpired:
                child.kill()
                err.print(f"{name} did not stop in {STOP_WAIT_S:g} s and was killed")
        out.print("Whistle stopped")


def replay(speed: Annotated[float, typer.Option(help="Clock seconds per wall second.")] = 60.0,
           days: Annotated[int, typer.Option(help="Days to play after the stored history.")] = 1,
           per_day: Annotated[int, typer.Option(help="Mean complaints a day.")] = 30_000,
           seed: Annotated[int, typer.Option(help="Seed of the generated days.")] = 11,
           api: Annotated[str, typer.Option(help="The API's base URL.")] = "http://127.0.0.1:8311",
           workers: Annotated[int, typer.Option(help="Requests in flight at once.", min=1, max=64)] = 40) -> None:
    """Play the demo city's next days through the API, each complaint and update at its time."""
    import pandas as pd
    import requests
    import sqlalchemy as sa

    from geo.api.keys_db import add_key
    from geo.demo import synth
    from geo.demo.replay import events, play
    from geo.errors import ValidationError
    from geo.locate.jurisdictions_db import current_jurisdictions
    from geo.settings import load_settings
    from geo.store.clock_db import REREAD_S, set_clock

    if not speed > 0:
        raise ValidationError(f"--speed must be above 0, not {speed:g}")
    engine = _engine()
    with engine.connect() as conn:
        latest = conn.execute(sa.text("SELECT max(received_at) FROM complaint")).scalar()
    here = zone()
    start_day = (pd.Timestamp(latest).tz_convert(here) if latest is not None else pd.Timestamp.now(tz=here)).normalize()
    start_day += pd.Timedelta(days=1) if latest is not None else pd.Timedelta(0)
    towns = current_jurisdictions(engine, "township", display=False)
    with err.status(f"generating {days} day(s) of the demo city from {start_day:%Y-%m-%d}"):
        generated = synth.generate(towns, days=days, per_day=per_day, seed=seed,
                                   end=start_day + pd.Timedelta(days=days))
        data, _truth = synth.write(generated, load_settings().home / "var" / "replay")
    stamp = f"{pd.Timestamp.now(tz=zone()):%Y%m%d%H%M%S}"
    keys = {channel: add_key(engine, f"replay-{channel}-{stamp}", "channel", channel)
            for channel in ("phone", "web", "wechat", "weibo", "app")}
    keys["department"] = add_key(engine, f"replay-departments-{stamp}", "department")
    keys["callback"] = add_key(engine, f"replay-callback-{stamp}", "callback")
    timeline = events(pd.read_parquet(data), dict(synth.MAPPING), keys)
    if not timeline:
        raise ValidationError("the generated days hold nothing to replay")
    for _ in range(60):  # the API may still be starting (make run starts everything at once)
        try:
            requests.get(f"{api}/health", timeout=2)
            break
        except requests.RequestException:
            time.sleep(1)
    # The clock starts a little before the first event: the API and the worker read the shared
    # clock again within REREAD_S, and until then they judge "from the future" on the old one.
    lead = pd.Timedelta(seconds=(REREAD_S + 1.0) * speed)
    setting = set_clock(engine, (timeline[0].at - lead).to_pydatetime(), speed)
    span = (timeline[-1].at - timeline[0].at).total_seconds()
    out.print(f"replaying {sum(e.path == 'requests.json' for e in timeline):,} complaints and "
              f"{sum(e.path != 'requests.json' for e in timeline):,} updates from {escape(str(data))}, "
              f"{speed:g}× as fast, through {escape(api)}: {span / 3600:,.1f} h of the clock, "
              f"{span / speed:,.0f} s of wall time")
    tally = play(timeline, api, setting.clock(), sleep=time.sleep, wall_per_clock=1 / speed, workers=workers)
    out.print(f"sent {tally.sent:,}: {tally.accepted:,} accepted, {tally.rejected:,} rejected with a reason, "
              f"{tally.failed:,} failed ({tally.by_status}); posted at most {tally.late_s:,.0f} s (clock) "
              f"after its moment, 95 % within {tally.late_quantile_s(0.95):,.0f} s")
