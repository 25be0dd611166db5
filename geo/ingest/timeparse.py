"""Parse the many ways a hotline export writes a moment, vectorised.

Accepted: ``2026-11-01 08:30``, ``2026-11-01 08:30:00``, ``2026/11/01 08:30:00.123``,
``2026-11-01T08:30:00+08:00``, ``...Z``, and a bare date. A moment without a zone is in the
file's zone (Asia/Shanghai unless the mapping says otherwise). Anything else, including an
impossible date such as 2026-02-30 and a year outside ``YEARS``, becomes NaT so that the
caller can name the row.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

_PATTERN = (r"^(?P<year>\d{4})[-/](?P<month>\d{1,2})[-/](?P<day>\d{1,2})"
            r"(?:[T ](?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.\d+)?)?)?"
            r"\s*(?P<zone>Z|[+-]\d{2}:?\d{2})?$")


def parse_moments(values: pd.Series, timezone: str) -> pd.Series:
    """Parse texts into UTC timestamps.

    Parameters
    ----------
    values : pandas.Series of str
        The texts; NA allowed.
    timezone : str
        The zone of a text that names none (an IANA name such as ``Asia/Shanghai``).

    Returns
    -------
    pandas.Series of datetime64[ns, UTC]
        NaT where the text is missing or is not a moment.
    """
    text = values.astype("string").str.strip()
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns, UTC]")
    # The common form goes through Arrow's strptime in C; the rest through the pattern.
    arrow_text = pa.array(text.array)
    fast = pc.strptime(arrow_text, format="%Y-%m-%d %H:%M:%S", unit="s", error_is_null=True)
    exact = _as_written(arrow_text, fast)
    fast = pd.Series(pc.if_else(exact, fast, None).to_pandas(), index=values.index)
    done = fast.notna().to_numpy()
    if done.any():
        out[done] = _localize(fast[done], timezone)
    rest = ~done & text.notna().to_numpy()
    if rest.any():
        out[rest] = _slow(text[rest], timezone)
    return out


YEARS = (1700, 2200)
"""The years a moment may have: well inside what a nanosecond timestamp holds (1677–2262), so
that a zone's offset cannot push one out; others are NaT (the checks say why)."""


_LAYOUT = r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$"
# Each field of the common form and where it is written.
_FIELDS = ((pc.year, 0, 4), (pc.month, 5, 7), (pc.day, 8, 10), (pc.hour, 11, 13), (pc.minute, 14, 16),
           (pc.second, 17, 19))


def _as_written(text: pa.Array, parsed: pa.Array) -> pa.Array:
    """True where ``parsed`` holds exactly the moment written, in range.

    strptime rolls an impossible day over (2026-02-30 became 2026-03-02), and a year outside
    what a timestamp holds would overflow. Each field is compared with its digits in the text
    (formatting every moment back to text to compare cost 18 times the parse).
    """
    laid_out = pc.fill_null(pc.match_substring_regex(text, _LAYOUT), False)
    digits = pc.if_else(laid_out, text, pa.scalar("0000-00-00 00:00:00"))
    exact = pc.and_(laid_out, _in_range(pc.year(parsed)))
    for field, start, stop in _FIELDS:
        written = pc.cast(pc.utf8_slice_codeunits(digits, start, stop), pa.int64())
        exact = pc.and_(exact, pc.equal(field(parsed), written))
    return pc.fill_null(exact, False)


def _in_range(years: pa.Array) -> pa.Array:
    return pc.and_(pc.greater_equal(years, YEARS[0]), pc.less_equal(years, YEARS[1]))


def _localize(naive: pd.Series, timezone: str) -> pd.Series:
    # Asia/Shanghai has no daylight saving now, but other zones do: an hour that does not
    # exist, or exists twice, is taken as NaT rather than guessed.
    return naive.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="NaT").dt.tz_convert("UTC")


def _slow(text: pd.Series, timezone: str) -> pd.Series:
    parts = text.str.extract(_PATTERN)
    numbers = parts.drop(columns="zone").apply(pd.to_numeric, errors="coerce").astype("float64")
    # Out-of-range parts would roll over (minute 99 into the next hour): refuse them instead.
    matched = (numbers["year"].between(*YEARS) & numbers["hour"].fillna(0).between(0, 23)
               & numbers["minute"].fillna(0).between(0, 59) & numbers["second"].fillna(0).between(0, 59))
    # Unmatched rows get a placeholder date, masked again below: the assembly wants numbers.
    numbers = numbers.fillna({"year": 1970, "month": 1, "day": 1, "hour": 0, "minute": 0, "second": 0})
    local = pd.to_datetime(numbers[["year", "month", "day", "hour", "minute", "second"]], errors="coerce")
    local = local.where(matched)
    zone = parts["zone"]
    has_zone = zone.notna().to_numpy()
    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns, UTC]")
    if (~has_zone).any():
        out[~has_zone] = _localize(local[~has_zone], timezone)
    if has_zone.any():
        offset = zone[has_zone].str.replace("Z", "+00:00").str.replace(":", "")
        sign = offset.str[0].map({"+": 1, "-": -1}).astype(float)
        minutes = sign * (offset.str[1:3].astype(float) * 60 + offset.str[3:5].astype(float))
        utc = local[has_zone] - pd.to_timedelta(minutes, unit="min")
        out[has_zone] = utc.dt.tz_localize("UTC")
    return out
