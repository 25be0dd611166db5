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


@pytest.mark.parametrize(("zone", "text", "written", "utc"), [
    # The hour that repeats when clocks go back: its first occurrence (summer time).
    ("America/Los_Angeles", "11/01/2026 01:18:08 AM", "%m/%d/%Y %I:%M:%S %p", "2026-11-01T08:18:08Z"),
    ("Australia/Sydney", "2026-04-05 02:30:00", None, "2026-04-04T15:30:00Z"),
    # The hour skipped when clocks go forward: the first moment after the gap.
    ("America/Los_Angeles", "2026-03-08 02:30:00", None, "2026-03-08T10:00:00Z"),
    # With its offset, the second occurrence is exact.
    ("America/Los_Angeles", "2026-11-01T01:18:08-08:00", None, "2026-11-01T09:18:08Z"),
])
def test_a_time_where_clocks_change_is_read_not_refused(zone, text, written, utc):
    """A US export's November night held six such rows; each is a complaint, at most an hour off."""
    parsed = parse_moments(pd.Series([text, text]), zone, written)
    assert (parsed == pd.Timestamp(utc)).all()
