"""A batch's checks give the same rows whatever shortcut a small batch takes: row hashes equal to
pandas' (the stored hashes were made with it) and a field no row gives checked as one the file
does not have."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from geo.ingest.mapping import Mapping
from geo.ingest.privacy import phone_key
from geo.ingest.readers import batch_from_rows
from geo.ingest.validate import Context, check_batch, row_hashes
from geo.settings import load_settings
from geo.strings import arrow_text, pandas_text

NOW = pd.Timestamp("2026-11-20 12:00", tz="UTC")
ODD = ["", " ", "a\x00b", "𠀋😀", "=1+2", "'quoted'", "line\nbreak", "12345678901", "0", "NaN", "None", "x" * 300]


def _pandas_hashes(frame: pd.DataFrame, reading: str) -> np.ndarray:
    """The hash as it was made before: pandas' own, over the sorted fields and the reading."""
    fields = sorted(frame.columns)
    return pd.util.hash_pandas_object(frame[fields].assign(__reading__=pd.Series(reading, index=frame.index)),
                                      index=False).to_numpy().view(np.int64)


def _rows(count: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    pick = lambda: None if rng.random() < 0.3 else ODD[rng.integers(len(ODD))]  # noqa: E731
    return [{"id": f"R{i}", "received_at": pick(), "category": pick(), "text": pick(), "address": None,
             "lon": f"{rng.uniform(116, 117):.6f}", "lat": pick(), "phone": pick()} for i in range(count)]


@pytest.mark.parametrize("count", [1, 3, 250])
@pytest.mark.parametrize("mapping", [Mapping(), Mapping(crs="gcj02", timezone="Asia/Urumqi"),
                                     Mapping(formats={"received_at": "%d/%m/%Y %H:%M"},
                                             values={"channel": {"电话": "phone"}})])
def test_row_hashes_are_pandas_hashes_bit_for_bit(count, mapping):
    frame = batch_from_rows(_rows(count, count)).frame
    reading = f"{mapping.crs}|{mapping.timezone}"
    if mapping.formats or mapping.values:
        reading += "|" + json.dumps([mapping.formats, mapping.values], sort_keys=True, ensure_ascii=False)
    assert (row_hashes(frame, mapping) == _pandas_hashes(frame, reading)).all()
    # A row's hash is its own: the same row in another batch, alone or among others, is the same.
    alone = batch_from_rows(_rows(count, count)[:1]).frame
    assert row_hashes(alone, mapping)[0] == row_hashes(frame, mapping)[0]


def test_row_hashes_of_no_rows_and_of_a_batch_subset():
    batch = batch_from_rows(_rows(40, 7))
    assert row_hashes(batch.frame.iloc[:0], Mapping()).size == 0
    part = batch.subset(np.arange(40) % 3 == 0)
    assert (row_hashes(part.frame, Mapping()) == row_hashes(batch.frame, Mapping())[::3]).all()


def test_text_columns_go_to_arrow_and_back_unchanged():
    values = pd.Series([*ODD, None], dtype="string")
    back = pandas_text(arrow_text(values), values.index)
    assert back.dtype == values.dtype
    assert back.equals(values)
    assert arrow_text(pd.Series(["a", None], dtype=object)).to_pylist() == ["a", None]
    assert arrow_text(values, pa.large_string()).type == pa.large_string()


@pytest.mark.db
def test_a_field_no_row_gives_is_checked_as_one_the_batch_lacks(boundary_index):
    """The API sends every field, most of them empty: the accepted rows and the reasons are the
    ones of the same rows without those fields."""
    settings = load_settings()
    base = [{"id": "A1", "received_at": "2026-11-20 08:00:00", "category": "illegal_parking", "text": "占道停车",
             "lon": "116.3655", "lat": "39.8950"},
            {"id": "A2", "received_at": "2026-11-20 08:01:00", "category": "噪音", "lon": "0", "lat": "0"},
            {"id": "A3", "received_at": "not a time", "category": "x", "lon": "116.3655", "lat": "39.8950"}]
    empty = dict.fromkeys(("address", "phone", "accuracy", "crs", "channel", "satisfaction", "resolved",
                           "responded_at", "resolved_at", "dispatches", "footprint"))
    checked = [check_batch(batch_from_rows(rows), Context(NOW, boundary_index, phone_key(settings), Mapping()))
               for rows in (base, [{**row, **empty} for row in base])]
    bare, full = checked
    columns = [c for c in bare.accepted.columns if c != "row_hash"]
    pd.testing.assert_frame_equal(bare.accepted[columns], full.accepted[columns])
    pd.testing.assert_frame_equal(bare.rejected, full.rejected)
    assert list(bare.rejected["source_id"]) == ["A2", "A3"]
