"""Moments as exports write them: exact, or NaT so that the row is named."""

from __future__ import annotations

import pandas as pd
import pytest

from geo.ingest.timeparse import YEARS, parse_moments


@pytest.mark.parametrize(("text", "utc"), [
    ("2026-11-01 08:30:00", "2026-11-01T00:30:00Z"),
    ("2026-11-01 08:30", "2026-11-01T00:30:00Z"),
    ("2026/11/01 08:30:00.123", "2026-11-01T00:30:00Z"),
    ("2026-11-01T08:30:00+08:00", "2026-11-01T00:30:00Z"),
    ("2026-11-01T00:30:00Z", "2026-11-01T00:30:00Z"),
    ("2024-02-29 12:00:00", "2024-02-29T04:00:00Z"),
])
def test_good_moments(text, utc):
    assert parse_moments(pd.Series([text]), "Asia/Shanghai").iat[0] == pd.Timestamp(utc)


@pytest.mark.parametrize("text", [
    "2026-02-30 10:00:00",  # was 2026-03-02 on the fast path
    "2025-02-29 10:00:00", "2026-13-01 10:00:00", "2026-11-31 10:00",
    "0001-01-01 00:00:00", "1600-06-01 10:00:00", "3000-01-01 00:00:00", "9999-12-31 23:59:59",
    "9999-12-31T00:00:00Z", "0001-01-01", "2026-11-01 24:00:00", "never", "",
])
def test_impossible_or_unrepresentable_moments_are_nat(text):
    assert pd.isna(parse_moments(pd.Series([text, "2026-11-01 08:30:00"]), "Asia/Shanghai").iat[0])


def test_the_years_fit_a_timestamp_whatever_the_zone():
    edges = pd.Series([f"{YEARS[0]}-01-01 00:00:00", f"{YEARS[1]}-12-31 23:59:59"])
    for zone in ("Asia/Shanghai", "Pacific/Kiritimati", "Pacific/Pago_Pago"):
        assert parse_moments(edges, zone).notna().all()
