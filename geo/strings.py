"""Text columns in Arrow: to and from pandas, and written values looked up in a table.

The checks work on text in Arrow's kernels, in C, so that one request's value costs as little
as a file's column (pandas' per-call overhead was most of a one-row check). Channels,
satisfaction, yes/no, categories and coordinate systems are all written by people and source
systems in a handful of ways (``微信``, `` WeChat ``, ``wechat``): :func:`look_up` finds each
case-folded and trimmed.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.arrays import ArrowStringArray

_STRING = pa.string()
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
        return pa.array(values.array).cast(kind)
    return pa.array(values.astype("string").array, type=kind)


def pandas_text(text: pa.Array | pa.ChunkedArray, index: pd.Index | None = None) -> pd.Series:
    """An Arrow string array as a pandas string column, on ``index`` (a range when omitted)."""
    # Wrapped, not converted: pandas keeps its strings in Arrow's large strings (a fifth of
    # ``to_pandas``'s cost for a request's one value).
    return pd.Series(ArrowStringArray(text.cast(pa.large_string())), index=index, copy=False)


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
    given = np.asarray(pc.fill_null(pc.not_equal(keys, ""), False), dtype=bool)
    found = np.full(len(values), None, dtype=object)
    if table and given.any():
        where = pc.index_in(keys, value_set=pa.array(list(table), type=pa.string()))
        hit = np.asarray(pc.is_valid(where), dtype=bool)
        found[hit] = np.array(list(table.values()), dtype=object)[np.asarray(where.filter(pc.is_valid(where)))]
    return found, given
