"""Data intake: what came in, what was rejected and why, and a form to load an export."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from geo.act.users import User
from geo.errors import ValidationError, WhistleError
from geo.i18n import N_, _
from geo.settings import load_settings
from geo.show import dashboard_db as dashboard
from geo.show.dashboard_db import IngestSummary
from geo.show.downloads import csv_bytes, rejected_table
from geo.show.words import REASON_ALL, REASONS, word, words
from views import data, messages
from views.session import require_user
from views.tables import table as show_table

ALL = ""  # the choice of every reason
UPLOAD_TYPES = ["csv", "parquet", "jsonl", "ndjson", "json"]
CRS_NAMES = {None: N_("as the mapping says (WGS84 without one)"), "wgs84": N_("WGS84 (GPS)"),
             "gcj02": N_("GCJ-02 (Chinese map services)"), "bd09": N_("BD-09 (Baidu)")}


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
                raise ValidationError(_("the mapping file is {size:,} KB; a mapping is at most {largest} KB").format(
                    size=len(mapping[1]) >> 10, largest=largest >> 10))
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
    st.title(_("Data intake"))
    runs = data.ingest_runs(user)
    left, middle, right = st.columns(3)
    left.metric(_("Ingest runs"), f"{len(runs):,}")
    middle.metric(_("Rows accepted"), f"{int((runs['inserted']).sum()):,}" if len(runs) else "0")
    right.metric(_("Rows rejected"), f"{int(runs['rejected'].sum()):,}" if len(runs) else "0")
    _upload(user)
    st.subheader(_("Ingest runs"))
    if runs.empty:
        st.info(_("Nothing ingested yet: load an export above, or run `python -m geo ingest FILE`."))
    else:
        show_table(runs)
    _rejected(user)


def _uploader_words(limit_mb: int) -> None:
    """Streamlit's file uploader says "Upload" and "200MB per file" in English whatever the page's
    language (it has no option for its words): its own words are hidden, ours shown in their place."""
    button, limit = json.dumps(_("Choose a file"), ensure_ascii=False), json.dumps(
        _("Up to {mb:,} MB per file").format(mb=limit_mb), ensure_ascii=False)
    st.html(f"""<style>
        [data-testid="stFileUploaderDropzone"] button > * {{ display: none; }}
        [data-testid="stFileUploaderDropzone"] button::after {{ content: {button}; }}
        [data-testid="stFileUploaderDropzoneInstructions"] > * {{ display: none; }}
        [data-testid="stFileUploaderDropzoneInstructions"]::after {{ content: {limit}; font-size: 0.875rem;
                                                                    opacity: 0.7; }}
        </style>""")


def _upload(user: User) -> None:
    _uploader_words(load_settings().upload_limits.max_bytes >> 20)
    with st.form("intake_upload", clear_on_submit=True):
        limits = load_settings().upload_limits
        st.markdown(_("**Load an export** (CSV, Parquet or JSON Lines), with the platform's field names or with "
                      "a mapping that names the file's columns, time formats and values (see the README's "
                      "\"Another city\")."))
        st.caption(_("Up to {mb:,} MB and {rows:,} rows, each field up to {kb:,} KB; the file is read by a process "
                     "of its own and nothing is stored unless all of it is read.").format(
            mb=limits.max_bytes >> 20, rows=limits.max_rows, kb=limits.max_field_bytes >> 10))
        upload = st.file_uploader(_("Export file"), type=UPLOAD_TYPES, key="intake_file")
        mapping = st.file_uploader(_("Mapping (optional)"), type=["yaml", "yml", "json"], key="intake_mapping")
        crs_col, enc_col = st.columns(2)
        crs = crs_col.selectbox(_("Coordinates are in"), [None, "wgs84", "gcj02", "bd09"], key="intake_crs",
                                format_func=lambda c: _(CRS_NAMES[c]))
        encoding = enc_col.selectbox(_("Text encoding"), ["utf-8", "gbk"], key="intake_encoding")
        sent = st.form_submit_button(_("Ingest"), key="intake_submit")
    if not sent:
        return
    if upload is None:
        st.warning(_("Choose a file first."))
        return
    try:
        summary = ingest_upload(user, upload.name, upload.getvalue(), crs, encoding,
                                (mapping.name, mapping.getvalue()) if mapping is not None else None)
    except WhistleError as exc:
        messages.error(exc, _("Nothing was stored: "))
        return
    data.ingest_runs.clear()
    data.rejected.clear()
    st.success(_("{rows:,} rows: {inserted:,} inserted, {updated:,} updated, {unchanged:,} unchanged, "
                 "{rejected:,} rejected.").format(rows=summary.rows, inserted=summary.inserted,
                                                  updated=summary.updated, unchanged=summary.unchanged,
                                                  rejected=summary.rejected))
    if summary.unmapped:
        # The values as the file wrote them: user text, shown in a table, never as markup.
        st.warning(_("Category values that matched no category (filed as unclassified): map them under "
                     "values: category: in the mapping and load the file again."))
        show_table(pd.DataFrame(summary.unmapped.most_common(), columns=["value", "rows"]))


def _rejected(user: User) -> None:
    st.subheader(_("Rejected rows"))
    rows = data.rejected(user)
    if rows.empty:
        st.success(_("No rejected rows are waiting to be fixed."))
        return
    reasons = [ALL, *sorted(rows["reason_code"].unique())]
    chosen = st.selectbox(_("Reason"), reasons, key="intake_reason",
                          format_func=lambda r: word(REASONS, r) if r else _(REASON_ALL))
    shown = rows if chosen == ALL else rows[rows["reason_code"] == chosen]
    # Values are shown as data, never as markup: hostile text stays text.
    table = shown.assign(raw=shown["raw"].map(lambda r: json.dumps(r, ensure_ascii=False)),
                         reason_code=words(REASONS, shown["reason_code"]))
    show_table(table[["source", "line", "source_id", "reason_code", "reason", "raw"]])
    st.download_button(_("Download to fix and ingest again"), csv_bytes(rejected_table(shown)),
                       file_name="rejected.csv", mime="text/csv", key="intake_download")
