"""What a user downloads: CSV that a spreadsheet opens as data, never as a formula.

Pure. A cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is run by
Excel, LibreOffice and WPS as a formula (``=HYPERLINK(...)``, ``+cmd|...``, ``@SUM(...)``):
such text gets a leading ``'``, which the spreadsheet shows as text (OWASP's advice for CSV
injection). Plain numbers (``-73.98``) are left as they are, so coordinates survive the trip.
Every CSV the platform writes (report tables, rejected rows on the command line and in the
app) goes through :func:`safe_csv`, and is written as :func:`csv_bytes`: UTF-8 with a byte-order
mark, which Excel on a Chinese Windows needs to read it as UTF-8 rather than GBK (without it,
every Chinese name is mojibake); the ingest's reader skips the mark when a file comes back.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from geo.strings import arrow_text

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_QUOTED = re.compile(r"^'(?=[=+\-@\t\r])")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def safe_cell(value: object) -> object:
    """A cell as a spreadsheet should take it: formula-like text quoted, lists joined by ``;``."""
    if isinstance(value, list | tuple | np.ndarray):
        value = ";".join(str(v) for v in value)
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def unquote_cells(values: pd.Series) -> pd.Series:
    """Undo :func:`safe_cell` on text sent back (a fixed rejected row ingested again)."""
    # Only the few values that start with a quote go through the pattern.
    quoted = np.asarray(pc.fill_null(pc.starts_with(arrow_text(values), "'"), False), dtype=bool)
    if not quoted.any():
        return values
    out = values.copy()
    out[quoted] = values[quoted].str.replace(_QUOTED, "", regex=True)
    return out


def safe_csv(table: pd.DataFrame) -> str:
    """``table`` as CSV text, every text cell through :func:`safe_cell`.

    Parameters
    ----------
    table : pandas.DataFrame
        Any table; its index is not written.

    Returns
    -------
    str
        The CSV, header first.
    """
    safe = table.copy()
    for name in safe.columns:
        if safe[name].dtype == object or pd.api.types.is_string_dtype(safe[name]):
            safe[name] = [safe_cell(v) for v in safe[name]]
    safe.columns = [safe_cell(str(c)) for c in safe.columns]
    return safe.to_csv(index=False)


def csv_bytes(table: pd.DataFrame) -> bytes:
    """``table`` as :func:`safe_csv` writes it, encoded as UTF-8 with a byte-order mark (for Excel)."""
    return safe_csv(table).encode("utf-8-sig")


def write_csv(path, table: pd.DataFrame) -> None:
    """Write ``table`` to ``path`` as :func:`csv_bytes`."""
    Path(path).write_bytes(csv_bytes(table))


def rejected_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Rejected rows in their own columns, ready to fix and ingest again.

    The columns are the raw rows' columns, then ``rejected_line`` and ``rejected_reason``
    (which a re-ingest ignores).
    """
    table = pd.DataFrame(list(rows["raw"]), index=range(len(rows))) if len(rows) else pd.DataFrame()
    table["rejected_line"] = rows["line"].to_numpy()
    table["rejected_reason"] = rows["reason"].to_numpy()
    return table
