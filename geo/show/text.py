"""User text shown as text: in Markdown (reports) and in Streamlit's labels, captions and headers.

Pure. Streamlit reads Markdown in titles, headers, captions, widget labels, expanders, metrics
and help texts; a project title of ``![x](https://evil.example/t.png)`` became an image the
browser fetched, ``**x**`` bold, ``$x$`` maths and ``:red[x]`` colour. Every piece of text a
user (or a boundary file, or an export) supplied goes through :func:`md_escape` before it
reaches one of those.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime

import pandas as pd

# The characters that Markdown, Streamlit's maths ($) and colours (:red[...]), an HTML tag or
# an entity could read anywhere in a line; CommonMark lets a backslash make each literal.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~$&])")
# What starts a list or a rule only at the start of a line: "- x", "---", "1. x", "2) x".
_MD_LEADING = re.compile(r"^(\d{1,9}(?=[.)](?:\s|$))|(?=-(?:\s|$|-)))")
# What GitHub-flavoured Markdown turns into a link by itself: "https://…", "www.…", "a@b.cn".
_AUTOLINK = re.compile(r"(?<=[a-zA-Z])(:)(?=//)|(?<=\bwww)(\.)|(@)")


def md_escape(value: object) -> str:
    """Text as Markdown that shows it literally (one line; markup characters escaped).

    Parameters
    ----------
    value : object
        Any value; None and NaN give an empty string.

    Returns
    -------
    str
        The text on one line, every Markdown character behind a backslash.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    text = _MD_SPECIAL.sub(r"\\\1", " ".join(str(value).split()))
    text = _AUTOLINK.sub(lambda m: "\\" + m.group(0), text)
    return _MD_LEADING.sub(lambda m: m.group(0) + "\\", text, count=1)


TIME_FORMAT = "%Y-%m-%d %H:%M"
"""How a moment is shown: in the city's zone, to the minute (``2026-11-20 09:30``)."""
DAY_FORMAT = "%Y-%m-%d"


def short_day(day: date) -> str:
    """A day in a short label: ``11月20日`` in Chinese, ``20 Nov`` in English."""
    from geo.i18n import in_language

    return in_language(f"{day.month}月{day.day}日", f"{day.day} {_MONTHS[day.month - 1][:3]}")


def month_label(day: date) -> str:
    """A month: ``2026年11月`` in Chinese, ``November 2026`` in English."""
    from geo.i18n import in_language

    return in_language(f"{day.year}年{day.month}月", f"{_MONTHS[day.month - 1]} {day.year}")


def chart_day_format() -> str:
    """A chart's day axis in d3's time format: ``11月3日`` in Chinese, ``Nov 3`` in English (a chart
    would otherwise name days and months in English whatever the language)."""
    from geo.i18n import in_language

    return in_language("%-m月%-d日", "%b %-d")


def period_label(start: date, end: date) -> str:
    """A period of days, ``2026-10-23 – 2026-11-21`` (one day alone when they are equal)."""
    return f"{start:{DAY_FORMAT}}" if start == end else f"{start:{DAY_FORMAT}} – {end:{DAY_FORMAT}}"


# English month names, whatever the machine's locale (strftime's %B follows it).
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")


def local_times(frame: pd.DataFrame, zone: str) -> pd.DataFrame:
    """A table with every moment shown in the city's zone as ``YYYY-MM-DD HH:mm``.

    Parameters
    ----------
    frame : pandas.DataFrame
        Any table; columns of timezone-aware datetimes, and object columns holding aware
        datetimes (as a database driver returns them), are converted; naive datetimes are taken
        as wall times already (a column of whole days is left as it is); a missing moment is blank.
    zone : str
        The city's IANA zone.

    Returns
    -------
    pandas.DataFrame
        A copy with those columns as text; the other columns untouched.
    """
    out = frame.copy()
    for name in out.columns:
        column = out[name]
        if pd.api.types.is_datetime64_dtype(column.dtype):
            # Naive: a wall time already (the reports' tables); a column of days stays days.
            if (column.dropna() == column.dropna().dt.normalize()).all():
                continue
            out[name] = column.dt.strftime(TIME_FORMAT).where(column.notna(), "")
            continue
        if isinstance(column.dtype, pd.DatetimeTZDtype):
            moments = column
        elif column.dtype == object and len(column):
            aware = column.map(_is_aware)
            # Only a column of moments (and blanks): one of mixed values is text.
            if not aware.any() or not (aware | column.isna()).all():
                continue
            moments = pd.to_datetime(column, utc=True)
        else:
            continue
        shown = moments.dt.tz_convert(zone).dt.strftime(TIME_FORMAT)
        out[name] = shown.where(moments.notna(), "")
    return out


def _is_aware(value: object) -> bool:
    return isinstance(value, datetime) and value.tzinfo is not None
