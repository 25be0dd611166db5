"""The replay: a generated day posted through the real API ends as the same day ingested in bulk."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
import sqlalchemy as sa

from geo.api.keys_db import add_key
from geo.demo import synth
from geo.demo.replay import Event, _form, events, play
from geo.ingest.mapping import Mapping
from geo.ingest.run_db import ingest_file
from geo.locate.jurisdictions_db import current_jurisdictions
from tests.conftest import create_database, drop_database
from tests.helpers import geo
from tests.live import line_point, plant, served_api

pytestmark = [pytest.mark.db, pytest.mark.slow]
TALLIES = ("township_day", "city_day", "cell_day", "township_half", "cell_week")
STATUS = ("source_id", "category", "township_code", "h3", "dispatched_at", "returned_count", "responded_at",
          "resolved", "resolved_at", "satisfaction", "phone_hash")


def _state(engine) -> dict:
    with engine.connect() as conn:
        state = {t: sorted(map(tuple, conn.execute(sa.text(f"SELECT * FROM {t}")).all())) for t in TALLIES}
        state["complaint"] = sorted(map(tuple, conn.execute(sa.text(
            f"SELECT {', '.join(STATUS)}, jsonb_array_length(coalesce(dispatches, '[]')) FROM complaint")).all()))
    return state


def test_a_replayed_day_equals_the_same_day_ingested_in_bulk(pg_cluster, boundaries_template, tmp_path):
    """Every complaint of a generated day and every later hand-off, response, outcome and
    callback, posted through the API, leave the complaints and all five tallies exactly as a
    bulk ingest of the day's export does (its planted bad rows rejected either way)."""
    live_url, bulk_url = (create_database(pg_cluster, boundaries_template) for _ in range(2))
    live, bulk = sa.create_engine(live_url), sa.create_engine(bulk_url)
    try:
        towns = current_jurisdictions(live, "township", display=False)
        # A day three days back: its later hand-offs and callbacks are all past too (the API
        # refuses an update from the future).
        end = pd.Timestamp.now(tz="Asia/Shanghai").normalize() - pd.Timedelta(days=2)
        export, _truth = synth.write(synth.generate(towns, days=1, per_day=150, seed=5, end=end), tmp_path)
        keys = {channel: add_key(live, f"replay-{channel}", "channel", channel)
                for channel in ("phone", "web", "wechat", "weibo", "app")}
        keys["department"] = add_key(live, "replay-departments", "department")
        keys["callback"] = add_key(live, "replay-callback", "callback")
        timeline = events(pd.read_parquet(export), dict(synth.MAPPING), keys)
        assert sum(e.path != "requests.json" for e in timeline) > sum(e.path == "requests.json" for e in timeline)
        # A clock past the last event: everything is due at once, the hardest order there is.
        after = lambda: datetime.now(UTC) + timedelta(days=3)  # noqa: E731
        with served_api({"DATABASE_URL": live_url}) as base:
            tally = play(timeline, base, after, sleep=lambda s: None, wall_per_clock=0.0)
        assert tally.sent == len(timeline)
        assert tally.failed == 0
        assert tally.accepted + tally.rejected == tally.sent
        assert set(tally.by_status) <= {200, 400, 404}, tally.by_status
        summary = ingest_file(bulk, export, Mapping(dict(synth.MAPPING)))
        assert summary.rejected > 0, "the export plants bad rows"
        replayed, loaded = _state(live), _state(bulk)
        assert len(replayed["complaint"]) == summary.inserted
        for name in ("complaint", *TALLIES):
            assert replayed[name] == loaded[name], name
    finally:
        live.dispose()
        bulk.dispose()
        for url in (live_url, bulk_url):
            drop_database(pg_cluster, url)


def test_geo_replay_plays_the_day_after_the_history_ahead_of_the_wall_clock(pg_cluster, boundaries_template,
                                                                          tmp_path):
    """``python -m geo replay`` on a platform whose history ends now plays the next day, every
    post ahead of the wall clock: the API follows the replay's clock from the first post (none
    is refused as "from the future"), and what it stores equals the export ingested in bulk."""
    live_url, bulk_url = (create_database(pg_cluster, boundaries_template) for _ in range(2))
    live, bulk = sa.create_engine(live_url), sa.create_engine(bulk_url)
    env = {"DATABASE_URL": live_url, "WHISTLE_HOME": str(tmp_path), "WHISTLE_LOG": "WARNING"}
    now = datetime.now(UTC)
    try:
        plant(live, tmp_path, "history", [("HISTORY-1", "gas_leak", now, line_point(live))], now=now)
        with served_api(env) as base:
            done = geo("replay", "--days", "1", "--per-day", "40", "--speed", "20000", "--api", base, env=env)
        said = " ".join(done.stdout.split())
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr
        assert " 0 failed" in said, said
        assert "h of the clock" in said, said
        assert "95 % within" in said, said
        export = tmp_path / "var" / "replay" / "complaints.parquet"
        summary = ingest_file(bulk, export, Mapping(dict(synth.MAPPING)), now=pd.Timestamp(now) + pd.Timedelta(days=9))
        with live.connect() as conn:
            first = conn.execute(sa.text(
                "SELECT min(received_at) FROM complaint WHERE source_id <> 'HISTORY-1'")).scalar()
            refused = conn.execute(sa.text("SELECT count(*) FROM rejected_row WHERE reason ILIKE '%future%'")).scalar()
        assert first > now, "the replayed day comes after the history"
        assert refused == 0
        replayed = [row for row in _state(live)["complaint"] if row[0] != "HISTORY-1"]
        assert replayed == _state(bulk)["complaint"]
        assert len(replayed) == summary.inserted > 0
    finally:
        live.dispose()
        bulk.dispose()
        for url in (live_url, bulk_url):
            drop_database(pg_cluster, url)


def test_a_replayed_post_leaves_out_the_fields_it_has_no_value_for():
    """A hand-off without a unit is posted without the field, not with the text "None"."""
    event = Event(pd.Timestamp("2026-11-02 08:00", tz=synth.ZONE), 0, "servicerequestupdates.json", "wk_x",
                  {"service_request_id": "A-1", "unit": None, "status": "open"})
    assert _form(event) == {"api_key": "wk_x", "service_request_id": "A-1", "status": "open"}
