"""Phones: never more than the last 4 digits, in any column, and a key made once however many start."""

from __future__ import annotations

import json
import multiprocessing
import os
import re
from pathlib import Path

import pandas as pd
import pytest

from geo.errors import ValidationError
from geo.ingest.mapping import Mapping
from geo.ingest.privacy import MIN_KEY_BYTES, hash_phones, mask_phone_text, mask_phone_texts, mask_phones, phone_key
from geo.ingest.validate import raw_for_storage
from geo.settings import load_settings

KEY = b"k" * 32


def _digits_shown(masked: str) -> str:
    return re.sub(r"[^0-9]", "", masked)


@pytest.mark.parametrize(("raw", "masked"), [
    ("13812345678", "*******5678"),
    ("+86 138-1234-5678", "*******5678"),
    ("008613812345678", "*******5678"),
    ("010-65123456", "*******3456"),
    ("(010) 6512 3456", "*******3456"),
    ("12345678", "****5678"),
    ("1234567", "****567"),  # was 123****4567: every digit shown
    ("12345", "***45"),
    ("13812345678*", "*******5678"),  # was stored verbatim
    ("138****5678", "*******5678"),  # the old mask, sent back in a fixed row
    ("*******5678", "*******5678"),  # masking twice changes nothing
    ("１３８１２３４５６７８", "*******5678"),  # full-width, as a Chinese keyboard types it (was lost)
    ("（０１０）６５１２３４５６", "*******3456"),
])
def test_no_more_than_the_last_four_digits_show(raw, masked):
    got = mask_phones(pd.Series([raw], dtype=object)).iat[0]
    assert got == masked
    assert len(_digits_shown(got)) <= 4
    assert mask_phones(pd.Series([got], dtype=object)).iat[0] == got


def test_a_number_hashes_alike_however_written_and_masked_values_not_at_all():
    hashed = hash_phones(pd.Series(["13812345678", "+86 138 1234 5678", "13812345678*", "138****5678", None,
                                    "13900000000", "１３８１２３４５６７８"], dtype=object), KEY)
    assert hashed[0] == hashed[1] == hashed[2] == hashed[6]
    assert hashed[3] is None
    assert hashed[4] is None
    assert hashed[5] != hashed[0]


@pytest.mark.parametrize(("text", "expected"), [
    ("请回电13812345678谢谢", "请回电*******5678谢谢"),
    ("号码：+86 139 1234 5678。", "号码：*******5678。"),
    ("家里 010-65123456，单位 6512 3456", "家里 *******3456，单位 ****3456"),
    ("电话１３８１２３４５６７８请回电", "电话*******5678请回电"),  # full-width digits were shown in full
    ("号码：＋８６ １３９ １２３４ ５６７８。", "号码：*******5678。"),
    # Not phones: an id, coordinates, a date and time, a longer number.
    ("BJ2026112200000012", "BJ2026112200000012"),
    ("116.3912345, 39.9123456", "116.3912345, 39.9123456"),
    ("2026-11-22 08:30:00", "2026-11-22 08:30:00"),
    ("订单1381234567890", "订单1381234567890"),
])
def test_phones_written_in_text_are_masked(text, expected):
    assert mask_phone_text(text) == expected
    assert mask_phone_texts(pd.Series([text])).iat[0] == expected


def test_a_rejected_raw_row_keeps_no_phone_in_any_column():
    mapping = Mapping({"phone": "来电号码", "id": "工单编号", "received_at": "受理时间"})
    rows = [{"工单编号": "BJ2026112200000012", "受理时间": "2026-11-22 08:30:00", "来电号码": "13812345678",
             "联系电话": "139-1234-5678", "备用": 13712345678, "描述": "请打 010 6512 3456",
             "nested": {"tel": ["13612345678"]}, "空": None, "nul": "a\x00b"}]
    stored = raw_for_storage(rows, mapping)[0]
    text = json.dumps(stored, ensure_ascii=False)
    assert not re.search(r"\d{5}", text.replace("BJ2026112200000012", "").replace("2026-11-22 08:30:00", ""))
    assert stored["来电号码"] == "*******5678"
    assert stored["联系电话"] == "*******5678"
    assert stored["备用"] == "*******5678"
    assert stored["工单编号"] == "BJ2026112200000012"
    assert stored["受理时间"] == "2026-11-22 08:30:00"
    assert stored["nul"] == "a\ufffdb"
    assert stored["空"] is None


def _key_in(home: str, barrier, results) -> None:
    os.environ.pop("WHISTLE_PHONE_KEY", None)
    os.environ["WHISTLE_HOME"] = home
    settings = load_settings()
    barrier.wait()
    try:
        results.put(phone_key(settings))
    except Exception as error:
        results.put(repr(error))


def test_many_processes_at_once_make_one_key(tmp_path: Path):
    # 160 processes asking for the key at the same instant (a barrier): one file, one key,
    # no crash, no empty key.
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(160), context.Queue()
    workers = [context.Process(target=_key_in, args=(str(tmp_path), barrier, results)) for _ in range(160)]
    for worker in workers:
        worker.start()
    keys = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join()
    assert len(set(keys)) == 1, set(keys)
    assert isinstance(keys[0], bytes)
    assert len(keys[0]) >= MIN_KEY_BYTES
    assert [p.name for p in (tmp_path / "var").iterdir()] == ["phone.key"]
    assert (tmp_path / "var" / "phone.key").stat().st_mode & 0o777 == 0o600


def test_an_empty_or_short_key_is_refused(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("WHISTLE_PHONE_KEY", raising=False)
    monkeypatch.setenv("WHISTLE_HOME", str(tmp_path))
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "phone.key").write_text("")
    with pytest.raises(ValidationError, match="needs at least"):
        phone_key(load_settings())
    monkeypatch.setenv("WHISTLE_PHONE_KEY", "short")
    with pytest.raises(ValidationError, match="WHISTLE_PHONE_KEY"):
        phone_key(load_settings())


def test_missing_phones_stay_missing_as_none():
    # None, not NaN: the masked values go into JSON (a rejected raw row), where NaN is invalid.
    got = mask_phones(pd.Series([None, "", "13812345678", "12345678"], dtype=object)).tolist()
    assert got == [None, None, "*******5678", "****5678"]
    assert json.dumps(got)
