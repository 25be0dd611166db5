"""Data intake: what came in, what was rejected and why, and a form to load an export."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from geo.act.users import User
from geo.errors import ValidationError, WhistleError
from geo.settings import load_settings
from geo.show import dashboard_db as dashboard
from geo.show.dashboard_db import IngestSummary
from geo.show.downloads import csv_bytes, rejected_table
from views import data, messages
from views.session import require_user
from views.tables import table as show_table

ALL = "every reason"
UPLOAD_TYPES = ["csv", "parquet", "jsonl", "ndjson", "json"]


def ingest_upload(user: User, name: str, content: bytes, crs: str | None, encoding: str,
                  mapping: tuple[str, bytes] | None = None) -> IngestSummary:
    """Ingest an uploaded file: written under a safe name in a temporary folder, then loaded.

    The uploaded name is kept only as the file's suffix and its shown source name; a path in
    it (``../../etc/passwd``) never reaches the file system. ``mapping`` is an uploaded mapping
    file (its name and bytes), for an export with its own columns and values.
    """
    safe = Path(name).name or "upload.csv"
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / safe
        path.write_bytes(content)
        mapped = None
        if mapping is not None:
            largest = load_settings().upload_limits.max_mapping_bytes
            if len(mapping[1]) > largest:
                raise ValidationError(f"the mapping file is {len(mapping[1]) >> 10:,} KB; a mapping is at most "
                                      f"{largest >> 10} KB")
            # Its own name, never the upload's: the suffix says YAML or JSON.
            mapped = Path(folder) / ("mapping.json" if Path(mapping[0]).suffix.lower() == ".json" else "mapping.yaml")
            mapped.write_bytes(mapping[1])
        try:
            return dashboard.ingest_for(data.engine(), user, path, crs=crs, encoding=encoding, mapping=mapped)
        except ValidationError as exc:
            if mapped is None:
                raise
            # Named as the user knows it, not by the temporary folder it was read from.
            raise ValidationError(str(exc).replace(str(mapped), Path(mapping[0]).name or "the mapping")) from None


def render() -> None:
    """Show the ingest runs and the rejected rows, and take a new export."""
    user = require_user()
    st.title("Data intake")
    runs = data.ingest_runs(user)
    left, middle, right = st.columns(3)
    left.metric("Ingest runs", f"{len(runs):,}")
    middle.metric("Rows accepted", f"{int((runs['inserted']).sum()):,}" if len(runs) else "0")
    right.metric("Rows rejected", f"{int(runs['rejected'].sum()):,}" if len(runs) else "0")
    _upload(user)
    st.subheader("Ingest runs")
    if runs.empty:
        st.info("Nothing ingested yet: load an export above, or run `python -m geo ingest FILE`.")
    else:
        show_table(runs)
    _rejected(user)


def _upload(user: User) -> None:
    with st.form("intake_upload", clear_on_submit=True):
        limits = load_settings().upload_limits
        st.markdown("**Load an export** (CSV, Parquet or JSON Lines), with the platform's field names or with "
                    "a mapping that names the file's columns, time formats and values (see the README's "
                    "\"Another city\").")
        st.caption(f"Up to {limits.max_bytes >> 20:,} MB and {limits.max_rows:,} rows, each field up to "
                   f"{limits.max_field_bytes >> 10:,} KB; the file is read by a process of its own and nothing is "
                   "stored unless all of it is read.")
        upload = st.file_uploader("Export", type=UPLOAD_TYPES, key="intake_file")
        mapping = st.file_uploader("Mapping (optional)", type=["yaml", "yml", "json"], key="intake_mapping")
        crs_col, enc_col = st.columns(2)
        crs = crs_col.selectbox("Coordinates are in", [None, "wgs84", "gcj02", "bd09"], key="intake_crs",
                                format_func=lambda c: c or "as the mapping says (wgs84 without one)")
        encoding = enc_col.selectbox("Text encoding", ["utf-8", "gbk"], key="intake_encoding")
        sent = st.form_submit_button("Ingest")
    if not sent:
        return
    if upload is None:
        st.warning("Choose a file first.")
        return
    try:
        summary = ingest_upload(user, upload.name, upload.getvalue(), crs, encoding,
                                (mapping.name, mapping.getvalue()) if mapping is not None else None)
    except WhistleError as exc:
        messages.error(exc, "Nothing was stored: ")
        return
    data.ingest_runs.clear()
    data.rejected.clear()
    st.success(f"{summary.rows:,} rows: {summary.inserted:,} inserted, {summary.updated:,} updated, "
               f"{summary.unchanged:,} unchanged, {summary.rejected:,} rejected.")
    if summary.unmapped:
        # The values as the file wrote them: user text, shown in a table, never as markup.
        st.warning("Category values that matched no category (filed as unclassified): map them under "
                   "values: category: in the mapping and load the file again.")
        show_table(pd.DataFrame(summary.unmapped.most_common(), columns=["value", "rows"]))


def _rejected(user: User) -> None:
    st.subheader("Rejected rows")
    rows = data.rejected(user)
    if rows.empty:
        st.success("No rejected rows are waiting to be fixed.")
        return
    reasons = [ALL, *sorted(rows["reason_code"].unique())]
    chosen = st.selectbox("Reason", reasons, key="intake_reason")
    shown = rows if chosen == ALL else rows[rows["reason_code"] == chosen]
    # Values are shown as data, never as markup: hostile text stays text.
    table = shown.assign(raw=shown["raw"].map(lambda r: json.dumps(r, ensure_ascii=False)))
    show_table(table[["source", "line", "source_id", "reason", "raw"]])
    st.download_button("Download to fix and ingest again", csv_bytes(rejected_table(shown)),
                       file_name="rejected.csv", mime="text/csv", key="intake_download")
