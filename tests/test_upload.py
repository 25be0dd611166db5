"""Uploads are ingested in a bounded process of their own: bombs are refused, the server untouched."""

from __future__ import annotations

import resource

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from geo.errors import ValidationError
from geo.show import dashboard_db as dashboard
from tests.helpers import signed_in
from tests.test_ingest import row, write_csv


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _stored(engine) -> tuple[int, int]:
    with engine.connect() as conn:
        return tuple(conn.execute(sa.text("SELECT (SELECT count(*) FROM complaint), (SELECT count(*) FROM ingest_run)"
                                          )).one())


@pytest.fixture
def supervisor(complaints_db_url):
    return signed_in(complaints_db_url, "uploader", "supervisor")


def test_a_parquet_bomb_is_refused_outside_the_server(monkeypatch, complaints_engine, supervisor, tmp_path):
    # 300,000 rows of one 1,000-byte text, dictionary-encoded: a few kilobytes on disk, 300 MB read.
    monkeypatch.setenv("WHISTLE_UPLOAD_EXPANDED_MB", "100")
    size = 300_000
    text = pa.DictionaryArray.from_arrays(pa.array([0] * size, pa.int32()), pa.array(["长" * 333]))
    bomb = pa.table({"id": pa.array([f"B{i}" for i in range(size)]), "received_at": ["2026-11-01 08:00:00"] * size,
                     "lon": [116.34] * size, "lat": [39.885] * size, "text": text})
    path = tmp_path / "bomb.parquet"
    pq.write_table(bomb, path, compression="zstd")
    assert path.stat().st_size < 2_000_000
    before = _peak_rss_mb()
    with pytest.raises(ValidationError, match="expands to more than 100 MB"):
        dashboard.ingest_for(complaints_engine, supervisor, path)
    assert _peak_rss_mb() - before < 50  # the file was read by another process
    assert _stored(complaints_engine) == (0, 0)


@pytest.mark.parametrize(("setting", "value", "rows", "message"), [
    ("WHISTLE_UPLOAD_MAX_ROWS", "10", [row(id=f"R{i}") for i in range(20)], "more than 10 rows"),
    ("WHISTLE_UPLOAD_FIELD_KB", "1", [row(id="F", text="x" * 5_000)], "holds a value of"),
    ("WHISTLE_UPLOAD_MAX_MB", "0.001", [row(id="S", text="x" * 2_000)], "an upload may have 0 MB"),
    ("WHISTLE_UPLOAD_MEMORY_MB", "200", [row(id="M")], "needed more than the 200 MB"),
])
def test_each_bound_refuses_with_one_sentence_and_stores_nothing(monkeypatch, complaints_engine, supervisor,
                                                                 tmp_path, setting, value, rows, message):
    monkeypatch.setenv(setting, value)
    path = write_csv(tmp_path / "upload.csv", rows)
    with pytest.raises(ValidationError, match=message) as refused:
        dashboard.ingest_for(complaints_engine, supervisor, path)
    assert "Traceback" not in str(refused.value)
    assert "\n" not in str(refused.value)
    assert _stored(complaints_engine) == (0, 0)


def test_a_good_upload_lands_through_the_bounded_process(complaints_engine, supervisor, tmp_path):
    path = write_csv(tmp_path / "good.csv", [row(id="G1"), row(id="G2", lon=39.885, lat=116.34)])
    summary = dashboard.ingest_for(complaints_engine, supervisor, path, crs="wgs84")
    assert (summary.inserted, summary.rejected, dict(summary.rejected_by_reason)) == (1, 1, {"swapped": 1})
    assert _stored(complaints_engine) == (1, 1)
