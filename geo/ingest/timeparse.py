"""Parse the many ways a hotline export writes a moment, vectorised.

Accepted: ``2026-11-01 08:30``, ``2026-11-01 08:30:00``, ``2026/11/01 08:30:00.123``,
``2026-11-01T08:30:00+08:00``, ``...Z``, and a bare date. A moment without a zone is in the
file's zone (Asia/Shanghai unless the mapping says otherwise). Anything else, including an
impossible date such as 2026-02-30 and a year outside ``YEARS``, becomes NaT so that the
caller can name the row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from geo.strings import arrow_text, joined

_PATTERN = (r"^(?P<year>\d{4})[-/](?P<month>\d{1,2})[-/](?P<day>\d{1,2})"
            r"(?:[T ](?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.\d+)?)?)?"
            r"\s*(?P<zone>Z|[+-]\d{2}:?\d{2})?$")


def parse_moments(values: pd.Series, timezone: str, written: str | None = None) -> pd.Series:
    """Parse texts into UTC timestamps.

    Parameters
    ----------
    values : pandas.Series of str
        The texts; NA allowed.
    timezone : str
        The zone of a text that names none (an IANA name such as ``Europe/Paris``).
    written : str, optional
        A strptime format the file writes its times in (e.g. ``%m/%d/%Y %I:%M:%S %p``), read
        in ``timezone``; a text it does not fit is read in the accepted forms still.

    Returns
    -------
    pandas.Series of datetime64[ns, UTC]
        NaT where the text is missing or is not a moment.
    """
    text = pc.utf8_trim_whitespace(arrow_text(values))
    given = np.asarray(pc.is_valid(text), dtype=bool)
    missing = lambda: pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns, UTC]")  # noqa: E731
    if not given.any():
        return missing()
    # The common form (or the file's own) goes through Arrow's strptime in C; the rest through
    # the pattern.
    if written is None:
        fast = pc.strptime(text, format="%Y-%m-%d %H:%M:%S", unit="s", error_is_null=True)
        exact = _as_written(text, fast)
    else:
        fast = pc.strptime(text, format=written, unit="s", error_is_null=True)
        exact = _round_trip(text, fast, written)
    done = np.asarray(exact, dtype=bool)
    if done.all():
        # Every text in the common form (a request's, most files'): no partial assignment.
        naive = pd.Series(fast.cast(pa.timestamp("ns")).to_numpy(zero_copy_only=False), index=values.index)
        return _localize(naive, timezone)
    out = missing()
    if done.any():
        naive = pd.Series(fast.filter(exact).to_numpy(zero_copy_only=False), index=values.index[done])
        out[done] = _localize(naive, timezone)
    rest = given & ~done
    if rest.any():
        out[rest] = _slow(text.filter(pa.array(rest)), values.index[rest], timezone)
    return out


YEARS = (1700, 2200)
"""The years a moment may have: well inside what a nanosecond timestamp holds (1677–2262), so
that a zone's offset cannot push one out; others are NaT (the checks say why)."""


_LAYOUT = r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$"


def _as_written(text: pa.Array, parsed: pa.Array) -> pa.Array:
    """True where ``parsed`` holds exactly the moment written, in range.

    strptime rolls an impossible day over (2026-02-30 became 2026-03-02), and a year outside
    what a timestamp holds would overflow. The moment cast back to text is the common form
    itself, so it equals the text exactly when nothing rolled over (formatting it with
    strftime cost 18 times the parse; the cast, a third of comparing field by field).
    """
    laid_out = pc.fill_null(pc.match_substring_regex(text, _LAYOUT), False)
    exact = pc.and_(laid_out, _in_range(pc.year(parsed)))
    return pc.fill_null(pc.and_(exact, pc.equal(pc.cast(parsed, pa.string()), text)), False)


def _round_trip(text: pa.Array, parsed: pa.Array, written: str) -> pa.Array:
    """True where ``parsed``, written again in the file's format, is the text (leading zeros and
    case aside): strptime takes 02/30 and rolls it over to March."""
    def plain(values: pa.Array) -> pa.Array:
        return pc.utf8_upper(pc.replace_substring_regex(values, r"(^|[^0-9])0+([0-9])", r"\1\2"))

    again = pc.strftime(parsed, format=written)
    return pc.fill_null(pc.and_(pc.equal(plain(again), plain(text)), _in_range(pc.year(parsed))), False)


def _in_range(years: pa.Array) -> pa.Array:
    return pc.and_(pc.greater_equal(years, YEARS[0]), pc.less_equal(years, YEARS[1]))


def _localize(naive: pd.Series, timezone: str) -> pd.Series:
    # Where clocks change, a wall-clock time written without its offset may be there twice (the
    # hour repeated in autumn) or not at all (the hour skipped in spring). A complaint is not
    # refused for it: a repeated time is read as its first occurrence (summer time, as Python's
    # fold=0 reads it) and a skipped one as the first moment after the gap; either is at most
    # the change's hour off. A time written with its offset is exact.
    summer = np.ones(len(naive), dtype=bool)
    # On the array: the ``.dt`` accessor cost a request's one moment four times as much.
    local = naive.array.tz_localize(timezone, ambiguous=summer, nonexistent="shift_forward")
    return pd.Series(local.tz_convert("UTC"), index=naive.index)


def _slow(text: pa.Array, index: pd.Index, timezone: str) -> pd.Series:
    # The pattern's parts, written again in the common form, go through the fast path's
    # parse and its check (in Arrow: a request's one moment costs as little as a file's many).
    parts = pc.extract_regex(text, _PATTERN)
    part = lambda name, default: pc.fill_null(pc.struct_field(parts, name), default)  # noqa: E731
    padded = lambda name: pc.utf8_lpad(pc.if_else(pc.equal(got := part(name, ""), ""), "0", got), 2, "0")  # noqa: E731
    common = joined(
        part("year", "0000"), "-", padded("month"), "-", padded("day"), " ", padded("hour"), ":",
        padded("minute"), ":", padded("second"), "")
    parsed = pc.strptime(common, format="%Y-%m-%d %H:%M:%S", unit="s", error_is_null=True)
    local = pd.Series(pc.if_else(pc.and_(parts.is_valid(), _as_written(common, parsed)), parsed, None)
                      .to_numpy(zero_copy_only=False), index=index)
    zone = pc.replace_substring(pc.replace_substring(part("zone", ""), "Z", "+00:00"), ":", "")
    has_zone = np.asarray(pc.not_equal(zone, ""), dtype=bool)
    out = pd.Series(pd.NaT, index=index, dtype="datetime64[ns, UTC]")
    if (~has_zone).any():
        out[~has_zone] = _localize(local[~has_zone], timezone)
    if has_zone.any():
        offset = zone.filter(pa.array(has_zone))
        sign = np.where(np.asarray(pc.starts_with(offset, "-"), dtype=bool), -1, 1)
        minutes = sign * (_number(offset, 1, 3) * 60 + _number(offset, 3, 5))
        utc = local[has_zone] - pd.to_timedelta(minutes, unit="min")
        out[has_zone] = utc.dt.tz_localize("UTC")
    return out


def _number(text: pa.Array, start: int, stop: int) -> np.ndarray:
    return np.asarray(pc.cast(pc.utf8_slice_codeunits(text, start, stop), pa.int64()))
