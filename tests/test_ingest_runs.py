"""Ingest as a whole: versioned boundaries, a kill mid-load, the command line, the demo."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
import shapely
import sqlalchemy as sa

from geo.demo import synth
from geo.ingest.run_db import Mapping, ingest_file
from geo.locate.boundaries_db import boundary_index
from geo.locate.jurisdictions import prepare_boundaries
from geo.locate.jurisdictions_db import current_jurisdictions, load_boundaries
from tests.helpers import ROOT, geo
from tests.test_ingest import NOW, POINT, ingest, row, table, write_csv


def test_complaints_are_located_against_the_boundaries_of_their_time(complaints_engine, tmp_path):
    towns = current_jurisdictions(complaints_engine, "township", display=False)
    # From 2026-10-01 Guang'anmenwai and its neighbour Taipingqiao are merged into a new unit.
    merged = towns["code"].isin(["110102020", "110106002"])
    union = shapely.union_all(towns.loc[merged].geometry.values)
    new = pd.concat([towns.loc[~merged], towns.loc[merged].head(1).assign(code="110102999", name="合并街道",
                                                                         geometry=[union])])
    prepared = prepare_boundaries(new[["code", "name", "parent_code", "geometry"]].reset_index(drop=True),
                                  level="township")
    load_boundaries(complaints_engine, prepared, source="test", approximate=True,
                    valid_from=datetime(2026, 10, 1, tzinfo=ZoneInfo("Asia/Shanghai")))
    rows = [row(id="OLD", received_at="2026-09-30 23:59:59"), row(id="NEW", received_at="2026-10-01 00:00:00")]
    index = boundary_index(complaints_engine, cache_dir=tmp_path)
    ingest_file(complaints_engine, write_csv(tmp_path / "v.csv", rows), now=NOW, boundaries=index)
    got = table(complaints_engine, "SELECT source_id, township_code, boundary_set_id FROM complaint ORDER BY 1")
    assert got["township_code"].tolist() == ["110102999", "110102020"]
    assert got["boundary_set_id"].nunique() == 2


def _big_csv(path, size: int) -> None:
    rng = np.random.default_rng(5)
    frame = pd.DataFrame({
        "id": [f"K{i}" for i in range(size)], "received_at": "2026-11-01 08:30:00",
        "lon": rng.uniform(116.30, 116.45, size).round(6), "lat": rng.uniform(39.86, 39.96, size).round(6),
        "category": "违法建设", "text": "x" * 40,
    })
    frame.to_csv(path, index=False)


def test_a_loader_killed_mid_file_leaves_nothing_half_loaded(complaints_db_url, complaints_engine, tmp_path):
    path = tmp_path / "big.csv"
    _big_csv(path, 450_000)  # three batches: the kill lands in the first
    env = {**os.environ, "DATABASE_URL": complaints_db_url}
    loader = subprocess.Popen([sys.executable, "-m", "geo", "ingest", str(path)], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    copied = 0
    deadline = time.monotonic() + 240
    with complaints_engine.connect() as conn:
        while copied == 0 and loader.poll() is None and time.monotonic() < deadline:
            # The first batch is being copied in: the load is under way, the file not done.
            copied = conn.execute(sa.text("SELECT coalesce(max(tuples_processed), 0) FROM pg_stat_progress_copy")
                                  ).scalar()
            conn.rollback()
            time.sleep(0.02)
    assert copied > 0, loader.communicate()
    loader.send_signal(signal.SIGKILL)
    loader.wait()
    time.sleep(0.5)
    counts = table(complaints_engine, "SELECT (SELECT count(*) FROM complaint) c, (SELECT count(*) FROM ingest_run) r, "
                   "(SELECT count(*) FROM rejected_row) j")
    assert counts.iloc[0].tolist() == [0, 0, 0]
    done = geo("ingest", str(path), env={"DATABASE_URL": complaints_db_url})
    assert done.returncode == 0, done.stderr
    assert table(complaints_engine, "SELECT count(*) n FROM complaint")["n"].iloc[0] == 450_000


def test_the_command_line_ingests_with_a_mapping_and_exports_rejected_rows(complaints_db_url, tmp_path):
    rows = [{"工单编号": r["id"], "受理时间": r["received_at"], "经度": r["lon"], "纬度": r["lat"]}
            for r in (row(id="A"), row(id="B", lon=POINT[1], lat=POINT[0]))]
    path = write_csv(tmp_path / "export.csv", rows)
    env = {"DATABASE_URL": complaints_db_url}
    done = geo("ingest", str(path), "--map", "id=工单编号", "--map", "received_at=受理时间", "--map", "lon=经度",
               "--map", "lat=纬度", env=env)
    assert done.returncode == 0, done.stderr
    text = " ".join(done.stdout.split())
    assert "inserted 1" in text
    assert "rejected 1" in text
    assert "rejected: swapped 1" in text
    listed = geo("rejected", env=env)
    assert "longitude and latitude swapped" in " ".join(listed.stdout.split())
    export = tmp_path / "fix.csv"
    assert geo("rejected", "--export", str(export), env=env).returncode == 0
    fixed = pd.read_csv(export, dtype=str)
    fixed[["经度", "纬度"]] = fixed[["纬度", "经度"]].to_numpy()
    fixed.to_csv(export, index=False)
    again = geo("ingest", str(export), "--map", "id=工单编号", "--map", "received_at=受理时间", "--map", "lon=经度",
                "--map", "lat=纬度", env=env)
    assert "inserted 1" in " ".join(again.stdout.split())
    assert "no rejected rows" in geo("rejected", env=env).stdout
    missing = geo("ingest", str(tmp_path / "nope.csv"), env=env)
    assert missing.returncode == 1
    assert "does not exist" in missing.stderr
    assert "Traceback" not in missing.stderr


@pytest.fixture(scope="module")
def demo(townships):
    return synth.generate(townships, days=14, per_day=3000, seed=7, end="2026-11-22")


def test_the_demo_is_deterministic(townships):
    # Two small draws with one seed: every path of the generator runs in each (a shorter
    # period than the fixture's keeps this in the fast lane).
    first, again = (synth.generate(townships, days=3, per_day=1500, seed=7, end="2026-11-22") for _ in range(2))
    pd.testing.assert_frame_equal(first.frame, again.frame)
    assert json.dumps(first.truth, sort_keys=True) == json.dumps(again.truth, sort_keys=True)


def test_the_demo_exercises_every_path_and_its_truth_holds(complaints_engine, boundary_index, demo, tmp_path):
    data, truth_file = synth.write(demo, tmp_path)
    truth = json.loads(truth_file.read_text(encoding="utf-8"))
    summary = ingest_file(complaints_engine, data, Mapping(dict(synth.MAPPING)), now=demo.truth_end,
                          boundaries=boundary_index)
    assert summary.rows == truth["rows"] == len(demo.frame)
    for reason, planted in truth["bad_rows"].items():
        assert summary.rejected_by_reason[reason] >= planted, reason
    assert summary.precision["community"] > 0
    assert summary.unclassified > 0
    assert 0.1 < truth["shares"]["gcj02"] < 0.2
    assert truth["shares"]["address_only"] > 0.01
    # The case of DOMAIN.md: complaints on both sides of the Xicheng-Fengtai line.
    case = next(c for c in truth["border_clusters"] if c["domain_case"])
    assert case["townships"] == ["110102020", "110106002"]
    near = table(complaints_engine, "SELECT township_code, count(*) n FROM complaint WHERE ST_DWithin("
                 "geom::geography, ST_MakePoint(:x, :y)::geography, 120) GROUP BY 1", x=case["lon"], y=case["lat"])
    assert set(case["townships"]) <= set(near["township_code"])
    ids = [p["id"] for p in truth["ping_pong"]]
    returned = table(complaints_engine, "SELECT returned_count FROM complaint WHERE source_id = ANY(:ids)", ids=ids)
    assert len(returned) == len(ids)
    assert (returned["returned_count"] >= 2).all()
    kinds = {h["kind"] for h in truth["hotspots"]}
    assert kinds == {"persistent", "new", "diminishing"}
    assert len(truth["governance_class"]) == 5


TALLIES = ("township_day", "city_day", "cell_day", "township_half", "cell_week")


def _tallies(engine) -> dict[str, list]:
    with engine.connect() as conn:
        return _read_tallies(conn)


def _recounted(engine) -> dict[str, list]:
    """The tallies as a recount from the complaints makes them (rolled back after)."""
    from geo.store.tally import refresh_tally

    with engine.begin() as conn:
        refresh_tally(conn)
        recounted = _read_tallies(conn)
        conn.rollback()
    return recounted


def _read_tallies(conn) -> dict[str, list]:
    return {name: sorted(map(tuple, conn.execute(sa.text(f"SELECT * FROM {name}")).all())) for name in TALLIES}


@pytest.mark.slow
def test_two_ingests_at_once_both_land_and_the_tallies_equal_a_recount(complaints_engine, boundary_index, tmp_path):
    """Two files with different ids on the same days, loaded at the same moment: both land,
    and every tally equals a recount from the complaints (one failed on township_day_pkey)."""
    from concurrent.futures import ThreadPoolExecutor

    from geo.store.tally import refresh_tally

    rng = np.random.default_rng(9)
    files = []
    for name in ("a", "b"):
        rows = [row(id=f"{name}{i}", received_at=f"2026-11-{1 + i % 10:02d} {8 + i % 12:02d}:30:00",
                    lon=float(rng.uniform(116.30, 116.45)), lat=float(rng.uniform(39.86, 39.96)))
                for i in range(3_000)]
        files.append(write_csv(tmp_path / f"{name}.csv", rows))
    with ThreadPoolExecutor(2) as pool:
        done = list(pool.map(lambda p: ingest_file(complaints_engine, p, now=NOW, boundaries=boundary_index), files))
    assert [s.inserted for s in done] == [3_000, 3_000]
    assert table(complaints_engine, "SELECT count(*) n FROM complaint")["n"].iat[0] == 6_000
    loaded = _tallies(complaints_engine)
    refresh_tally(complaints_engine)
    assert loaded == _tallies(complaints_engine)
    assert table(complaints_engine, "SELECT sum(volume) n FROM township_day")["n"].iat[0] == 6_000


@pytest.mark.slow
def test_the_same_new_file_loaded_twice_at_once_lands_once(complaints_engine, boundary_index, tmp_path):
    """Both loads find no id stored and COPY the rows straight in; the second waits on the
    first's unique ids, then stages its rows and finds them unchanged: nothing lost, nothing
    twice, and every tally equals a recount."""
    from concurrent.futures import ThreadPoolExecutor

    from geo.store.tally import refresh_tally

    path = write_csv(tmp_path / "same.csv", _status_rows("S", 2_000, seed=5))
    with ThreadPoolExecutor(2) as pool:
        done = list(pool.map(lambda p: ingest_file(complaints_engine, p, now=NOW, boundaries=boundary_index),
                             [path, path]))
    assert sorted((s.inserted, s.updated, s.unchanged, s.rejected) for s in done) == [(0, 0, 2_000, 0),
                                                                                       (2_000, 0, 0, 0)]
    assert table(complaints_engine, "SELECT count(*) n FROM complaint")["n"].iat[0] == 2_000
    loaded = _tallies(complaints_engine)
    refresh_tally(complaints_engine)
    assert loaded == _tallies(complaints_engine)
    assert table(complaints_engine, "SELECT sum(volume) n FROM township_day")["n"].iat[0] == 2_000


def test_a_request_that_meets_the_same_id_loading_meanwhile_lands_once(complaints_engine, boundary_index):
    """A request's rows go into ``complaint`` without a savepoint: when another load stores the
    same id meanwhile (its transaction still open when the request looked it up), the request's
    COPY waits for it, meets the unique id, and the request runs again from its start, finding
    the complaint stored: one complaint, its tallies counted once."""
    import threading

    from geo.ingest.run_db import ingest_rows
    from geo.store.tally import refresh_tally

    sent = {k: str(v) for k, v in row(id="RACE-1").items()}
    holder = complaints_engine.connect()
    first = holder.begin()
    ingest_rows(holder, [sent], source="api:first", now=NOW, boundaries=boundary_index)
    done = {}
    second = threading.Thread(target=lambda: done.update(summary=ingest_rows(
        complaints_engine, [sent], source="api:second", now=NOW, boundaries=boundary_index)))
    second.start()
    time.sleep(1.0)  # the second's COPY now waits on the first's uncommitted id
    assert second.is_alive()
    first.commit()
    holder.close()
    second.join(30)
    summary = done["summary"]
    assert (summary.inserted, summary.updated, summary.unchanged, summary.rejected) == (0, 0, 1, 0)
    assert table(complaints_engine, "SELECT count(*) n FROM complaint")["n"].iat[0] == 1
    runs = table(complaints_engine, "SELECT source, inserted, unchanged FROM ingest_run ORDER BY id")
    assert runs.values.tolist() == [["api:first", 1, 0], ["api:second", 0, 1]]  # the lost try left no run
    loaded = _tallies(complaints_engine)
    refresh_tally(complaints_engine)
    assert loaded == _tallies(complaints_engine)


def _status_rows(prefix: str, count: int, seed: int, **fields) -> list[dict]:
    """Rows over a week that crosses a half-month and a Monday, at all hours (the local day
    differs from the UTC one before 08:00), with every status the three rates count."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(count):
        day, hour = 14 + i % 7, int(rng.integers(0, 24))
        dispatch = json.dumps([{"at": f"2026-10-{day:02d} {hour:02d}:40", "unit": "110102020",
                                "action": "dispatched"}]) if i % 3 else ""
        rows.append(row(id=f"{prefix}{i}", received_at=f"2026-10-{day:02d} {hour:02d}:{i % 60:02d}:00",
                        lon=float(rng.uniform(116.30, 116.45)), lat=float(rng.uniform(39.86, 39.96)),
                        dispatches=dispatch,
                        responded_at=f"2026-10-{day:02d} {hour:02d}:{50 + i % 10}" if i % 4 else "",
                        resolved=("是", "否", "")[i % 3], satisfaction=("满意", "不满意", "", "基本满意")[i % 4],
                        category=("违法建设", "噪音扰民", "供暖")[i % 3], **fields))
    return rows


def test_the_tallies_after_a_load_a_reload_and_a_partial_update_equal_a_recount(complaints_engine, boundary_index,
                                                                                tmp_path):
    """A load adds its new complaints to the tallies and moves the counts of those it updates
    from what they were to what they are: after each step, every tally equals a recount."""

    first = _status_rows("T", 1_500, seed=3)
    first += [row(id=f"A{i}", lon="", lat="", address="广安门外街道", received_at=f"2026-10-1{5 + i % 3} 07:{i:02d}:00")
              for i in range(30)]  # located by address only: a township, no cell
    loaded = ingest(complaints_engine, write_csv(tmp_path / "first.csv", first), boundary_index)
    assert loaded.inserted == len(first)
    after_load = _tallies(complaints_engine)
    assert after_load == _recounted(complaints_engine)
    assert sum(r[3] for r in after_load["township_day"]) == len(first)
    again = ingest(complaints_engine, write_csv(tmp_path / "again.csv", first), boundary_index)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, len(first))
    assert _tallies(complaints_engine) == after_load
    # Some complaints resolved and called back since, and new ones on the same days.
    changed = [{**r, "resolved": "是", "satisfaction": "满意"} for r in first[:400:7]]
    later = ingest(complaints_engine, write_csv(tmp_path / "later.csv", changed + _status_rows("N", 300, seed=4)),
                   boundary_index)
    assert later.inserted == 300
    assert later.updated > 0
    after_update = _tallies(complaints_engine)
    assert after_update != after_load
    assert after_update == _recounted(complaints_engine)


@pytest.mark.slow
def test_two_loads_in_one_transaction_count_each_complaint_once(complaints_engine, boundary_index, tmp_path):
    """The loader's temporary tables outlive a transaction (each load empties them): two loads
    in one caller's transaction still count each complaint once, as a recount does."""

    before = table(complaints_engine, "SELECT count(*) n FROM complaint")["n"].iat[0]
    with complaints_engine.connect() as conn, conn.begin():
        for name, seed in (("W", 5), ("X", 6)):
            ingest_file(conn, write_csv(tmp_path / f"{name}.csv", _status_rows(name, 200, seed=seed)), now=NOW,
                        boundaries=boundary_index)
    assert table(complaints_engine, "SELECT count(*) n FROM complaint")["n"].iat[0] == before + 400
    assert _tallies(complaints_engine) == _recounted(complaints_engine)


def test_requests_on_one_session_leave_its_staging_tables_empty_and_count_once(complaints_engine, boundary_index,
                                                                               monkeypatch):
    """The staging tables outlive each request's transaction, and each load empties them (by
    deleting, or by truncating once enough rows went through): on one connection, requests
    accepted, rejected and repeated, a load rolled back by its caller, and the truncations in
    between all leave the tables empty, and the tallies equal a recount."""
    from geo.ingest import load_db
    from geo.ingest.run_db import ingest_rows

    monkeypatch.setattr(load_db, "TRUNCATE_AFTER", 3)
    staging = ("complaint_loaded", "complaint_before", "complaint_accepted", "complaint_stage")
    as_text = lambda rows: [{k: str(v) for k, v in r.items()} for r in rows]  # noqa: E731
    requests = [[row(id=f"S{i}", received_at=f"2026-10-2{i % 3} 0{i % 9}:15:00")] for i in range(8)]
    requests += [[row(id="S1", resolved="是")], [row(id="S9", received_at="soon")],
                 [row(id=f"S{i}", received_at="2026-10-22 10:00:00") for i in range(10, 14)], requests[0]]
    with complaints_engine.connect() as conn:
        sizes = []
        for rows in requests:
            ingest_rows(conn, as_text(rows), source="api:stage", now=NOW, boundaries=boundary_index)
            assert {name: conn.execute(sa.text(f"SELECT count(*) FROM {name}")).scalar() for name in staging} \
                == dict.fromkeys(staging, 0)
            sizes.append(conn.execute(sa.text("SELECT pg_relation_size('complaint_accepted')")).scalar())
            conn.rollback()  # each request in a transaction of its own, as the API's
        with conn.begin():
            ingest_rows(conn, as_text([row(id="S20")]), source="api:stage", now=NOW, boundaries=boundary_index)
            conn.rollback()
        ingest_rows(conn, as_text([row(id="S21")]), source="api:stage", now=NOW, boundaries=boundary_index)
        assert conn.execute(sa.text("SELECT count(*) FROM complaint_accepted")).scalar() == 0
    assert 0 in sizes[1:]  # truncated on the way, not only deleted from
    stored = table(complaints_engine, "SELECT source_id FROM complaint WHERE source_id LIKE 'S%' ORDER BY 1")
    assert stored["source_id"].tolist() == sorted([f"S{i}" for i in (*range(8), *range(10, 14), 21)])
    assert _tallies(complaints_engine) == _recounted(complaints_engine)


def test_readers_never_wait_on_a_load(complaints_db_url, complaints_engine, boundary_index, tmp_path):
    """While a large file loads, a page's queries on complaint get no lock wait over 1 s (the
    load dropped the secondary indexes and held an exclusive lock until commit)."""
    import threading

    ingest_file(complaints_engine, write_csv(tmp_path / "seed.csv", [row(id="S1")]), now=NOW,
                boundaries=boundary_index)
    path = tmp_path / "big.csv"
    _big_csv(path, 120_000)
    loading = threading.Thread(target=ingest_file, args=(complaints_engine, path),
                               kwargs={"now": NOW, "boundaries": boundary_index})
    reader = sa.create_engine(complaints_db_url, connect_args={"options": "-c lock_timeout=1000"})
    asked = 0
    loading.start()
    try:
        while loading.is_alive():
            with reader.connect() as conn:
                conn.execute(sa.text("SELECT count(*) FROM complaint WHERE township_code = '110102020' "
                                     "AND received_at > now() - interval '400 days'")).scalar()
                asked += 1
            time.sleep(0.05)
    finally:
        loading.join()
        reader.dispose()
    assert asked > 10
    assert table(complaints_engine, "SELECT count(*) n FROM complaint")["n"].iat[0] == 120_001
