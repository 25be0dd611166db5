"""Status updates recorded in batches (geo.ingest.updates_db): a batch equals its updates one by one."""

from __future__ import annotations

import threading
import time

import pandas as pd
import pytest
import sqlalchemy as sa

from geo.api.keys_db import add_key, caller_of
from geo.errors import ValidationError
from geo.ingest.run_db import ingest_rows
from geo.ingest.updates import check_updates
from geo.ingest.updates_db import Recorded, UnknownRequestError, record_updates
from geo.store.tally import refresh_tally

pytestmark = pytest.mark.db
ZONE = "Asia/Shanghai"
RECEIVED = pd.Timestamp("2026-11-30 09:00", tz=ZONE)
NOW = pd.Timestamp("2026-11-30 18:00", tz=ZONE)
TALLIES = ("township_day", "city_day", "cell_day", "township_half", "cell_week")
STATE = ("dispatches", "dispatched_at", "returned_count", "responded_at", "resolved", "resolved_at", "satisfaction")


def _at(minutes: int) -> str:
    return (RECEIVED + pd.Timedelta(minutes=minutes)).isoformat()


def _fields(rid: str, uid: str, kind: str, minutes: int, unit: str | None = None) -> dict:
    return {"source_id": rid, "external_id": uid, "kind": kind, "at": _at(minutes), "unit": unit,
            "description": "处理中"}


def _story(rid: str, prefix: str) -> list[dict]:
    """A complaint handed on, sent back, handed on again, answered, resolved; in that order."""
    return [_fields(rid, f"{prefix}1", "dispatched", 5, "110102020"),
            _fields(rid, f"{prefix}2", "returned", 20, "110102020"),
            _fields(rid, f"{prefix}3", "dispatched", 25, "110106002"),
            _fields(rid, f"{prefix}4", "responded", 40),
            _fields(rid, f"{prefix}5", "resolved", 300)]


def _state(engine, rid: str) -> tuple:
    with engine.connect() as conn:
        return tuple(conn.execute(sa.text(f"SELECT {', '.join(STATE)} FROM complaint WHERE source_id = :r"),
                                  {"r": rid}).one())


def _tallies(engine) -> dict[str, list]:
    with engine.connect() as conn:
        return {t: sorted(map(tuple, conn.execute(sa.text(f"SELECT * FROM {t}")).all())) for t in TALLIES}


def _record(engine, key_id: int, fields: list[dict]) -> list:
    checked = check_updates(fields, sender="department", now=NOW.tz_convert("UTC"), timezone=ZONE)
    valid = [(u, "open") for u in checked if not isinstance(u, Exception)]
    recorded = iter(record_updates(engine, valid, key_id=key_id, timezone=ZONE))
    return [u if isinstance(u, Exception) else next(recorded) for u in checked]


def test_a_batch_of_updates_equals_the_same_updates_one_at_a_time(complaints_engine):
    engine = complaints_engine
    rows = [{"id": rid, "category": "construction_noise", "lat": "39.9087", "lon": "116.3975",
             "received_at": RECEIVED.strftime("%Y-%m-%d %H:%M:%S"), "text": "夜间施工", "channel": "app"}
            for rid in ("U-BATCH", "U-ONE", "U-LATE")]
    assert ingest_rows(engine, rows, source="api:test", now=NOW, timezone=ZONE).inserted == 3
    key = caller_of(engine, add_key(engine, "district-office", "department")).id

    batch = [*_story("U-BATCH", "b"),
             _fields("NO-SUCH", "x1", "responded", 10),
             _fields("U-LATE", "l1", "responded", -60),  # before the complaint was received
             _fields("U-LATE", "l2", "teleported", 10),  # no such kind: refused by the check
             _fields("U-LATE", "l3", "responded", 30)]
    answers = _record(engine, key, batch)
    assert [type(a) for a in answers] == [Recorded] * 5 + [UnknownRequestError, ValidationError,
                                                          ValidationError, Recorded]
    assert "NO-SUCH" in str(answers[5])
    assert "before the complaint was received" in str(answers[6])
    assert all(a.new for a in answers if isinstance(a, Recorded))
    assert len({a.id for a in answers if isinstance(a, Recorded)}) == 6

    for fields in _story("U-ONE", "o"):
        assert isinstance(_record(engine, key, [fields])[0], Recorded)
    batched, one_by_one = _state(engine, "U-BATCH"), _state(engine, "U-ONE")
    assert batched == one_by_one
    assert [h["action"] for h in batched[0]] == ["dispatched", "returned", "dispatched"]
    assert batched[2] == 1
    assert batched[4] is True
    assert _state(engine, "U-LATE")[3] == (RECEIVED + pd.Timedelta(minutes=30)).to_pydatetime()

    live = _tallies(engine)
    refresh_tally(engine)
    assert live == _tallies(engine), "the batch moved the tallies as a recount counts them"

    again = _record(engine, key, batch)
    assert [a.id for a in again if isinstance(a, Recorded)] == [a.id for a in answers if isinstance(a, Recorded)]
    assert not any(a.new for a in again if isinstance(a, Recorded))
    assert _state(engine, "U-BATCH") == batched, "the same batch again changes nothing"
    assert _tallies(engine) == live
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM request_update")).scalar() == 11


def test_one_sender_batch_has_distinct_update_ids(complaints_engine):
    checked = check_updates([_fields("A", "same", "responded", 5)] * 2, sender="department",
                            now=NOW.tz_convert("UTC"), timezone=ZONE)
    with pytest.raises(ValueError, match="distinct"):
        record_updates(complaints_engine, [(u, "open") for u in checked], key_id=1, timezone=ZONE)


def test_an_update_that_waits_for_the_tallies_adds_to_what_their_holder_wrote(complaints_engine):
    """The update's one statement takes the tallies' lock after its snapshot: it waits for a load
    of the same township-day, then adds to the row that load wrote (a recount agrees)."""
    engine = complaints_engine
    row = {"category": "construction_noise", "lat": "39.8950", "lon": "116.3560", "text": "夜间施工",
           "received_at": RECEIVED.strftime("%Y-%m-%d %H:%M:%S"), "channel": "app"}
    assert ingest_rows(engine, [{**row, "id": "U-WAIT-1"}], source="api:test", now=NOW, timezone=ZONE).inserted == 1
    key = caller_of(engine, add_key(engine, "waiting-office", "department")).id
    answers: list = []
    with engine.connect() as holder:
        with holder.begin():
            # A second complaint of the same day, township and category, loaded and not committed:
            # its load holds the tallies' lock and has added to their rows.
            assert ingest_rows(holder, [{**row, "id": "U-WAIT-2"}], source="api:test", now=NOW,
                               timezone=ZONE).inserted == 1
            waiting = threading.Thread(target=lambda: answers.extend(
                _record(engine, key, [_fields("U-WAIT-1", "w1", "dispatched", 5, "110102020")])))
            waiting.start()
            with engine.connect() as conn:
                for _ in range(200):
                    if conn.execute(sa.text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                                            "AND NOT granted")).scalar():
                        break
                    time.sleep(0.05)
                else:
                    pytest.fail("the update did not wait for the tallies' lock")
            assert not answers
        waiting.join(30)
    assert [type(a) for a in answers] == [Recorded]
    live = _tallies(engine)
    refresh_tally(engine)
    assert live == _tallies(engine), "the waiting update added to the rows its holder wrote"
    with engine.connect() as conn:
        volume, dispatched = conn.execute(sa.text(
            "SELECT sum(volume), sum(dispatched) FROM township_day t JOIN complaint c ON c.township_code = "
            "t.township_code AND c.category = t.category AND t.day = :d WHERE c.source_id = 'U-WAIT-1'"),
            {"d": RECEIVED.date()}).one()
    assert (volume, dispatched) >= (2, 1)
