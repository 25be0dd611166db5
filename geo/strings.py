"""Text columns in Arrow: to and from pandas, and written values looked up in a table.

The checks work on text in Arrow's kernels, in C, so that one request's value costs as little
as a file's column (pandas' per-call overhead was most of a one-row check). Channels,
satisfaction, yes/no, categories and coordinate systems are all written by people and source
systems in a handful of ways (``微信``, `` WeChat ``, ``wechat``): :func:`look_up` finds each
case-folded and trimmed.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.arrays import ArrowStringArray

TEXT = pa.large_string()
"""The Arrow type text is kept in, pandas' own (its string columns wrap large strings): a cast
between Arrow's two string types cost 20 µs a call, of which a request's row made dozens."""
NO_TEXT = pa.scalar(None, TEXT)
BLANK = pa.scalar("", TEXT)
"""Scalars made once: a Python value given to a kernel is made a scalar at each call (40 µs)."""
_STRING = TEXT
_TEXT = pd.StringDtype()


def string_series(values: pd.Series) -> pd.Series:
    """A column as pandas' string dtype (missing values ``NA``): itself when it is one already
    (``astype`` copies it anyway, 0.1 ms a call)."""
    return values if values.dtype == _TEXT else values.astype(_TEXT)


def arrow_text(values: pd.Series, kind: pa.DataType = _STRING) -> pa.Array:
    """A column as an Arrow string array (missing values null), of ``kind`` (``pa.string()``
    or ``pa.large_string()``, which pandas keeps its strings in: no copy)."""
    if isinstance(values.array, ArrowStringArray):
        # Already Arrow inside: its array as is (``astype`` alone cost 50 µs a call).
        text = pa.array(values.array)
        return text if text.type == kind else text.cast(kind)
    return pa.array(values.astype("string").array, type=kind)


def pandas_text(text: pa.Array | pa.ChunkedArray, index: pd.Index | None = None) -> pd.Series:
    """An Arrow string array as a pandas string column, on ``index`` (a range when omitted)."""
    # Wrapped, not converted: pandas keeps its strings in Arrow's large strings (a fifth of
    # ``to_pandas``'s cost for a request's one value).
    return pd.Series(ArrowStringArray(text if text.type == TEXT else text.cast(TEXT)), index=index, copy=False)


def missing(values: pd.Series) -> np.ndarray:
    """Where a column's values are missing, as NumPy booleans, asked of its array: the Series'
    own ``isna().to_numpy()`` makes a Series on the way (25 µs a call, 50 for ``notna``)."""
    return np.asarray(values.array.isna(), dtype=bool)


def joined(*parts: pa.Array | str) -> pa.Array:
    """Text arrays and literals joined row by row (Arrow's ``binary_join_element_wise``, whose last
    part is the separator), the literals as :data:`TEXT` so that one kernel takes them all."""
    return pc.binary_join_element_wise(*(pa.scalar(p, TEXT) if isinstance(p, str) else p for p in parts))


def holds(values: pd.Series, part: str) -> np.ndarray:
    """Where a text column holds ``part`` (False where missing), in Arrow (pandas' ``str``
    accessor cost a request's value 0.17 ms)."""
    return np.asarray(pc.fill_null(pc.match_substring(arrow_text(values), part), False), dtype=bool)


# A number as pandas and Arrow both read it, alike: Arrow's cast, ten times faster for a
# request's value, runs only when every value is of this form (and pandas' otherwise).
_DECIMAL = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"


def numbers(values: pd.Series) -> np.ndarray:
    """A text column as float64 (NaN where missing or not a number, as ``pd.to_numeric``'s
    ``errors="coerce"``); a fresh array the caller may change."""
    text = arrow_text(values)
    plain = pc.match_substring_regex(text, _DECIMAL)
    if pc.all(pc.or_kleene(plain, pc.is_null(text))).as_py() is not False:
        return pc.cast(text, pa.float64()).to_numpy(zero_copy_only=False).copy()
    return pd.to_numeric(values, errors="coerce").astype("float64").to_numpy(na_value=np.nan, copy=True)


def look_up(values: pd.Series, table: Mapping[str, object], *, drop: str = "") -> tuple[np.ndarray, np.ndarray]:
    """Map each written value to its table entry.

    Parameters
    ----------
    values : pandas.Series
        The values as written; missing values allowed.
    table : mapping
        Accepted spellings (lower case, trimmed, without ``drop``) to what they mean.
    drop : str
        Characters removed from a value before it is looked up (``"-"`` for ``gcj-02``).

    Returns
    -------
    found : numpy.ndarray of object
        The table's entry per value; None where the value is missing or not in the table.
    given : numpy.ndarray of bool
        Where a value was written (not missing, not blank).
    """
    keys = pc.utf8_lower(pc.utf8_trim_whitespace(arrow_text(values)))
    for character in drop:
        keys = pc.replace_substring(keys, character, "")
    given = np.asarray(pc.fill_null(pc.not_equal(keys, BLANK), False), dtype=bool)
    found = np.full(len(values), None, dtype=object)
    if table and given.any():
        spellings, meanings = _table_arrays(table)
        where = pc.index_in(keys, value_set=spellings)
        hit = np.asarray(pc.is_valid(where), dtype=bool)
        found[hit] = meanings[np.asarray(where.filter(pc.is_valid(where)))]
    return found, given


_TABLES: dict[int, tuple[Mapping, pa.Array, np.ndarray]] = {}
_TABLES_LOCK = threading.Lock()


def _table_arrays(table: Mapping[str, object]) -> tuple[pa.Array, np.ndarray]:
    # A table's spellings and meanings as arrays, made once per table (the same dict serves
    # every batch; a table is never changed once used): the category table's hundreds of
    # spellings were an Arrow array made afresh for each request.
    with _TABLES_LOCK:
        kept = _TABLES.get(id(table))
        if kept is not None and kept[0] is table and len(kept[1]) == len(table):
            return kept[1], kept[2]
        if len(_TABLES) >= 64:
            _TABLES.pop(next(iter(_TABLES)))
        kept = _TABLES[id(table)] = (table, pa.array(list(table), type=pa.string()),
                                     np.array(list(table.values()), dtype=object))
        return kept[1], kept[2]
