"""Reports: the daily, weekly and monthly reports, on screen and to download."""

from __future__ import annotations

import io
import zipfile

import streamlit as st

from geo import i18n
from geo.act.reports import to_html, to_markdown
from geo.act.users import User
from geo.errors import WhistleError
from geo.i18n import N_, _
from geo.show import dashboard_db as dashboard
from geo.show.downloads import csv_bytes
from geo.show.pdf import report_pdf
from geo.show.words import headed
from views import data, messages
from views.session import require_user
from views.tables import table as show_table

KINDS = {"daily": N_("Daily bulletin (日通报)"), "weekly": N_("Weekly summary (周汇总)"),
         "monthly": N_("Monthly analysis (月分析)")}


@st.cache_data(ttl=300, show_spinner=False)
def _report(user: User, kind: str, day, language: str):
    return dashboard.report_for(data.engine(), user, kind, day, now=data.now())


def render() -> None:
    """Pick a report; read it here or download it as Markdown, HTML or CSV tables."""
    user = require_user()
    st.title(_("Reports"))
    days = data.days(user)
    if days is None:
        st.warning(_("No complaints are stored yet: there is nothing to report."))
        return
    kind = st.radio(_("Report"), list(KINDS), horizontal=True, key="reports_kind", format_func=lambda k: _(KINDS[k]))
    day = st.date_input(_("A day of the period"), value=days[1], min_value=days[0], max_value=days[1],
                        key="reports_day", format="YYYY-MM-DD")
    try:
        with st.spinner(_("Gathering the report…")):
            report = _report(user, kind, day, i18n.language())
    except WhistleError as exc:
        messages.error(exc)
        return
    markdown = to_markdown(report)
    columns = st.columns(4)
    columns[0].download_button(_("Markdown"), markdown, f"{report.stem}.md", "text/markdown", key="reports_md")
    columns[1].download_button(_("HTML page"), to_html(report), f"{report.stem}.html", "text/html",
                               key="reports_html")
    columns[2].download_button(_("CSV tables (zip)"), _zip(report), f"{report.stem}-tables.zip", "application/zip",
                               key="reports_zip")
    _pdf(columns[3], user, kind, day, report)
    with st.container(border=True):
        for section in report.sections:
            st.subheader(section.title)
            if section.figure is not None:
                # The platform's own drawing, every name in it escaped where it was drawn.
                st.html(section.figure.svg)
            for line in section.lines:
                st.text(line)
            if section.table is not None and len(section.table):
                show_table(section.table)


@st.cache_data(ttl=300, show_spinner=False, max_entries=20)
def _printed(user: User, kind: str, day, language: str) -> bytes:
    return report_pdf(_report(user, kind, day, language))


def _pdf(column, user: User, kind: str, day, report) -> None:
    """Print to PDF on request (Chromium takes a few seconds), then offer the file."""
    key = (kind, str(day), report.language)
    if st.session_state.get("reports_pdf_for") != key:
        if column.button(_("Print to PDF"), key="reports_pdf_make", icon="🖨️"):
            st.session_state["reports_pdf_for"] = key
            st.rerun()
        return
    try:
        with st.spinner(_("Printing the report…")):
            printed = _printed(user, kind, day, report.language)
    except WhistleError as exc:
        st.session_state.pop("reports_pdf_for", None)
        messages.error(exc)
        return
    column.download_button(_("PDF (A4)"), printed, f"{report.stem}.pdf", "application/pdf", key="reports_pdf",
                           type="primary")


def _zip(report) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for section in report.sections:
            if section.table is not None:
                with i18n.speaking(report.language):
                    archive.writestr(f"{report.stem}-{section.key}.csv", csv_bytes(headed(section.table)))
    return buffer.getvalue()
