"""The worker: the rhythm (pure), the jobs on an injected clock, and the real worker process on
the queue, raising and escalating on time, and surviving kill -9."""

from __future__ import annotations

import shutil
import signal
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests
import sqlalchemy as sa

from geo.act.whistle import WhistleRules
from geo.api.keys_db import add_key
from geo.errors import ValidationError
from geo.settings import DATA_DIR
from geo.store.clock_db import set_clock
from geo.worker.jobs_db import pending_deadlines
from geo.worker.rhythm import WorkerRules, due
from tests.conftest import create_database, drop_database
from tests.live import GUANGANMENWAI, TAIPINGQIAO, line_point, log_of, process, served_api

TZ = ZoneInfo("Asia/Shanghai")
RULES = WorkerRules.load()


def test_the_rhythm_names_each_jobs_period_in_the_citys_time():
    monday_8 = datetime(2026, 11, 2, 8, 5, tzinfo=TZ)
    assert due(monday_8, RULES, "Asia/Shanghai") == {
        "borders": "2026-11-02T08:05", "hotspots": "2026-11-02T08:00", "emerging": "2026-11-02",
        "daily": "2026-11-01"}
    assert due(monday_8 + timedelta(minutes=30), RULES, "Asia/Shanghai")["weekly"] == "2026-10-26"
    first = datetime(2026, 12, 1, 9, 30, tzinfo=TZ)
    assert due(first, RULES, "Asia/Shanghai")["governance"] == "2026-12"
    assert due(first, RULES, "Asia/Shanghai")["monthly"] == "2026-11"
    # 23:30 UTC on 30 November is 07:30 on 1 December in Beijing: the day is Beijing's.
    late = datetime(2026, 11, 30, 23, 30, tzinfo=ZoneInfo("UTC"))
    assert "daily" not in due(late, RULES, "Asia/Shanghai")
    assert due(late, RULES, "UTC")["daily"] == "2026-11-29"
    with pytest.raises(ValidationError, match="timezone-aware"):
        due(datetime(2026, 11, 2, 8), RULES, "Asia/Shanghai")


def test_bad_worker_rules_are_named(tmp_path):
    text = (DATA_DIR / "worker.toml").read_text(encoding="utf-8")
    for old, new, message in (('daily_at = "08:00"', 'daily_at = "8 am"', "daily_at"),
                              ("stalled_seconds = 20", "stalled_seconds = 5", "stalled_seconds"),
                              ("every_minutes = 5", "every_minutes = 7", "every_minutes")):
        path = tmp_path / "worker.toml"
        path.write_text(text.replace(old, new), encoding="utf-8")
        with pytest.raises(ValidationError, match=message):
            WorkerRules.load(path)


@pytest.fixture
def live(pg_cluster, boundaries_template, tmp_path):
    """A database with boundaries, keys, fast queue rules, and the API serving it."""
    url = create_database(pg_cluster, boundaries_template)
    engine = sa.create_engine(url)
    rules = tmp_path / "rules"
    shutil.copytree(DATA_DIR, rules, ignore=shutil.ignore_patterns("*.csv", "*.yaml"))
    worker_rules = (rules / "worker.toml").read_text(encoding="utf-8")
    (rules / "worker.toml").write_text(worker_rules.replace("heartbeat_seconds = 5", "heartbeat_seconds = 1")
                                       .replace("stalled_seconds = 20", "stalled_seconds = 3")
                                       .replace("sweep_seconds = 30", "sweep_seconds = 2"), encoding="utf-8")
    env = {"DATABASE_URL": url, "WHISTLE_RULES_DIR": str(rules), "WHISTLE_LOG": "INFO"}
    key = add_key(engine, "wechat-mini", "channel", "wechat")
    try:
        with served_api(env) as base:
            yield engine, env, base, key
    finally:
        engine.dispose()
        drop_database(pg_cluster, url)


def _post_gas_leak(base: str, key: str, rid: str, lon: float, lat: float) -> None:
    answer = requests.post(f"{base}/open311/v2/requests.json", timeout=30, data={
        "api_key": key, "service_code": "gas_leak", "lat": f"{lat:.6f}", "long": f"{lon:.6f}",
        "description": "楼道里有燃气味", "attribute[channel_request_id]": rid})
    assert answer.status_code == 200, answer.text


def _wait(engine, sql: str, timeout: float, child=None, **params):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            row = conn.execute(sa.text(sql), params).first()
        if row is not None and row[0]:
            return row
        if child is not None and child.poll() is not None:
            raise AssertionError(f"the worker exited:\n{log_of(child)}")
        time.sleep(0.25)
    raise AssertionError(f"waited {timeout:g} s for {sql}" + ("" if child is None else f"\n{log_of(child)}"))


@pytest.mark.slow
def test_the_worker_raises_a_call_on_arrival_and_escalates_at_the_deadline(live):
    """An emergency 5 m from a shared line: the call is raised within seconds of the request,
    and the addressees who do not report are escalated by the platform at the deadline (on a
    replay clock 60 times as fast, so that the 30-minute deadline comes in 30 s)."""
    engine, env, base, key = live
    start = datetime.now(TZ).replace(microsecond=0)
    set_clock(engine, start, speed=60)
    lon, lat = line_point(engine)
    with process(["worker"], env) as worker:
        sent = time.monotonic()
        _post_gas_leak(base, key, "LIVE-GAS-1", lon, lat)
        _wait(engine, "SELECT count(*) FROM whistle_call WHERE kind = 'emergency'", 30, worker)
        raised_after = time.monotonic() - sent
        call = _wait(engine, "SELECT id, townships FROM whistle_call", 5)
        assert set(call.townships) == {GUANGANMENWAI, TAIPINGQIAO}
        deadline = _wait(engine, "SELECT min(deadline_at) FROM whistle_addressee", 5)[0]
        scheduled = pending_deadlines(engine, start)
        assert scheduled[0] == deadline.replace(microsecond=0) + timedelta(seconds=1)
        assert scheduled[1] == scheduled[0] + WhistleRules.load().city_after
        event = _wait(engine, "SELECT at, actor FROM whistle_event WHERE action = 'escalated'", 90, worker)
        assert event.actor == "rules"
        assert timedelta(0) <= event.at - deadline <= timedelta(seconds=60)
        with engine.connect() as conn:
            levels = conn.execute(sa.text("SELECT DISTINCT escalation FROM whistle_addressee")).scalars().all()
            calls = conn.execute(sa.text("SELECT count(*) FROM whistle_call")).scalar()
        assert levels == [1]
        assert calls == 1
        # A second complaint on the same spot joins the open call instead of raising another.
        _post_gas_leak(base, key, "LIVE-GAS-2", lon, lat)
        _wait(engine, "SELECT count(*) = 2 FROM whistle_call_complaint", 30, worker)
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM whistle_call")).scalar() == 1
    assert raised_after < 20


@pytest.mark.slow
def test_a_worker_killed_mid_job_loses_nothing_and_raises_no_second_call(live):
    """kill -9 while a job holds its transaction open: the job runs again on the next worker
    and the case has exactly one call."""
    engine, env, base, key = live
    set_clock(engine, datetime.now(TZ).replace(microsecond=0), speed=1)
    lon, lat = line_point(engine)
    blocker = engine.connect()
    # The rules wait for this lock (raise_calls takes it first): the job is caught mid-way.
    blocker.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": 0x57484953})
    try:
        with process(["worker"], env) as first:
            _post_gas_leak(base, key, "LIVE-KILL-1", lon, lat)
            _wait(engine, "SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'whistle.arrivals' "
                          "AND status = 'doing'", 30, first)
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
    finally:
        blocker.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": 0x57484953})
        blocker.close()
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM whistle_call")).scalar() == 0
    with process(["worker"], env) as second:
        # The stopped worker's job is found stalled (after its heartbeat's timeout) and run to its end
        # (a successful job is deleted); a sweep may raise the call first, the job then joins it.
        _wait(engine, "SELECT count(*) = 0 FROM procrastinate_jobs WHERE task_name = 'whistle.arrivals'", 90,
              second)
        _wait(engine, "SELECT count(*) FROM whistle_call", 30, second)
        with open(second.log_path, encoding="utf-8", errors="replace") as handle:
            assert "runs again" in handle.read(), log_of(second)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM whistle_call")).scalar() == 1
        assert conn.execute(sa.text("SELECT count(*) FROM whistle_call_complaint")).scalar() == 1


@pytest.mark.slow
def test_serve_runs_every_part_restarts_a_crashed_one_and_stops_them_all(live):
    """``geo serve`` on free ports: the API answers, a posted emergency is raised by its worker,
    a killed worker is started again, and SIGINT stops every part."""
    import subprocess

    from tests.browser import free_port

    engine, env, _base, key = live
    api_port, app_port = free_port(), free_port()
    lon, lat = line_point(engine)
    with process(["serve", "--api-port", str(api_port), "--app-port", str(app_port)], env) as supervisor:
        base = f"http://127.0.0.1:{api_port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(base + "/health", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, log_of(supervisor)
            time.sleep(0.3)
        _post_gas_leak(base, key, "SERVE-GAS-1", lon, lat)
        _wait(engine, "SELECT count(*) FROM whistle_call", 40, supervisor)
        workers = subprocess.run(["pgrep", "-P", str(supervisor.pid), "-f", "geo worker"], capture_output=True,
                                 text=True).stdout.split()
        assert len(workers) == 1
        subprocess.run(["kill", "-9", workers[0]], check=True)
        deadline = time.monotonic() + 30
        while "worker stopped" not in log_of(supervisor):
            assert time.monotonic() < deadline, log_of(supervisor)
            time.sleep(0.3)
        supervisor.send_signal(signal.SIGINT)
        assert supervisor.wait(timeout=40) == 0, log_of(supervisor)
    assert "Whistle stopped" in log_of(supervisor)
    left = subprocess.run(["pgrep", "-P", str(supervisor.pid)], capture_output=True, text=True).stdout
    assert left == ""
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{api_port}/health", timeout=2)
