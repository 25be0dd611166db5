"""My township, for street offices: its hot spots, trend, place in the ranking and complaints."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import streamlit as st

from geo.act.categories import categories, departments
from geo.act.governance import RATES, composite_text, rate_text
from geo.act.projects import ProjectSpec
from geo.act.users import User
from geo.detect.rules import detect_rules
from geo.errors import WhistleError
from geo.i18n import _
from geo.show.dashboard_db import open_proactive_project
from geo.show.places import cell_places, in_cell
from geo.show.text import md_escape, month_label
from geo.show.words import CLASSES, GI_BINS, PATTERNS, category_name, department_name, word, words
from geo.show.words import RATES as RATE_WORDS
from layers.base import frame_bounds
from layers.cells import emerging_layer, emerging_legend, gi_layer, gi_legend, heat_layer, heat_legend
from layers.jurisdictions import district_layer
from views import data, filters, maps, messages
from views.overview import key_figures, trend
from views.session import page, require_user
from views.tables import table as show_table

HOT = ("new hot spot", "consecutive hot spot", "intensifying hot spot", "persistent hot spot")


def render() -> None:
    """The street office's page; city-wide users pick the township."""
    user = require_user()
    towns = data.jurisdictions("township")
    names = dict(zip(towns["code"], towns["name"], strict=True))
    if user.city_wide:
        code = st.sidebar.selectbox(_("Township"), sorted(names, key=lambda c: (names[c], c)), key="township_code",
                                    format_func=lambda c: names[c])
    elif len(user.townships) > 1:
        # An office whose township was split answers for each piece.
        code = st.sidebar.selectbox(_("Township"), list(user.townships), key="township_code",
                                    format_func=lambda c: names.get(c, c))
    else:
        code = user.township_code
    title = _("Township: {name}") if user.city_wide else _("My township: {name}")
    if user.city_wide:
        _breadcrumb(towns, code)
    st.title(title.format(name=md_escape(names.get(code, code))))
    days = data.days(user)
    if days is None or code not in names:
        st.warning(_("No complaints are stored yet, or the township's boundary is not loaded."))
        return
    selection, resolution = filters.selection(days, key="township", resolution=9)
    figures = st.container()  # filled after the map, which goes to the browser first (as on the overview)

    outline = towns[towns["code"] == code]
    cells = data.cell_volumes(user, selection, resolution, code, None)
    gi_run, emerging_run = data.latest_run(user, "gi"), data.latest_run(user, "emerging")
    gi = data.hotspot_cells(user, gi_run["id"], code) if gi_run else pd.DataFrame()
    emerging = data.hotspot_cells(user, emerging_run["id"], code) if emerging_run else pd.DataFrame()
    fmap = maps.new_map(frame_bounds(outline))
    # Each legend belongs to its layer: it shows while the layer does (the layer control's box).
    if len(cells):
        heat_legend(cells, resolution).add_to(heat_layer(cells, name=_("Complaints of the township")).add_to(fmap))
    if len(gi):
        gi_legend().add_to(gi_layer(gi[gi["bin"] != 0]).add_to(fmap))
    if len(emerging):
        emerging_legend(list(emerging["pattern"].unique())).add_to(emerging_layer(emerging, show=False).add_to(fmap))
    district_layer(outline, name=_("Township boundary")).add_to(fmap)
    maps.show(fmap, key=f"township_map_{code}", height=560)
    with figures:
        key_figures(user, selection, code)
    st.caption(_("Hot spots inside the township are solid, the ring of cells around it dashed and faint; "
                 "every count is of the township's own complaints (a cell on the line holds its neighbour's too)."))

    left, right = st.columns(2)
    with left:
        trend(user, selection, code)
    with right:
        _place_in_ranking(user, code)
    hot = _hotspots(gi, emerging)
    st.subheader(_("Hot spots in the township"))
    picked = None
    if hot.empty:
        st.caption(_("No significant hot spot in the township in the latest run."))
    else:
        hot = _named(user, gi_run["id"], code, hot, names.get(code, code))
        st.caption(_("Click a hot spot's row to list its complaints below."))
        picked = show_table(hot.assign(bin=words(GI_BINS, hot["bin"]), pattern=words(PATTERNS, hot["pattern"]))
                            .drop(columns=["h3", "label"]), select_key=f"township_hot_pick_{code}")
        _open_project(user, code, hot, selection)
    st.subheader(_("Complaints"))
    complaints = data.township_complaints(user, code, selection)
    if picked is not None:
        cell = int(hot["h3"].iloc[picked])
        complaints = complaints[in_cell(complaints["lon"], complaints["lat"], cell)]
        st.caption(_("The complaints of the hot spot {place} (its cell {cell}); click the row again to list all.")
                   .format(place=md_escape(hot["place"].iloc[picked]), cell=hot["cell"].iloc[picked]))
    else:
        st.caption(_("The newest {count:,} of the period; callers' phones are masked.").format(count=len(complaints)))
    show_table(complaints.drop(columns=["lon", "lat"]).assign(
        category=[category_name(c) for c in complaints["category"]]))


def _breadcrumb(towns, code: str) -> None:
    """全市概览 › district › township: the way back up."""
    districts = data.jurisdictions("district")
    parent = towns.loc[towns["code"] == code, "parent_code"]
    district = dict(zip(districts["code"], districts["name"], strict=True)).get(parent.iloc[0] if len(parent) else "")
    overview = page("overview")
    left, right = st.columns([1, 5])
    if overview is not None:
        left.page_link(overview, label=_("Overview"), icon="⬅️")
    right.caption(" › ".join(md_escape(n) for n in (_("Overview"), district) if n))


def _place_in_ranking(user: User, code: str) -> None:
    ranked = data.ranking(user)
    st.subheader(_("Place in the ranking"))
    row = ranked[ranked["township_code"] == code]
    if row.empty:
        st.caption(_("Not classified yet."))
        return
    row = row.iloc[0]
    month = month_label(pd.Timestamp(row["month"]).date())
    # Out of how many: the month's whole ranking, which a street office's own row carries.
    ranked_count, town_count = int(row["ranked_count"]), int(row["township_count"])
    rank = (_("unranked ({why})").format(why=composite_text(row)) if pd.isna(row["composite_rank"]) else
            _("{rank} of {count}").format(rank=int(row["composite_rank"]), count=ranked_count))
    st.metric(_("Composite rank, {month}").format(month=month), rank)
    st.markdown(_("**Class:** {label} · **volume rank** {rank} of {count}").format(
        label=word(CLASSES, row["label"]), rank=int(row["volume_rank"]), count=town_count))
    show_table(pd.DataFrame({"rate": [word(RATE_WORDS, r) for r in RATES],
                             "value": [rate_text(row[r], row.get(base)) for r, (_n, base) in RATES.items()]}))


def _hotspots(gi: pd.DataFrame, emerging: pd.DataFrame) -> pd.DataFrame:
    """The township's own hot cells: Gi* hot bins, with their emerging pattern."""
    if gi.empty:
        return pd.DataFrame()
    own = gi[gi["inside"] & (gi["bin"] > 0)][["h3", "count", "z", "bin"]]
    own = own.merge(emerging[["h3", "pattern"]], on="h3", how="left") if len(emerging) else own.assign(pattern=None)
    own = own.assign(cell=[format(int(c), "x") for c in own["h3"]], z=own["z"].round(2))
    # The counts are the township's own complaints; z only for a city-wide user (see hotspot_cells).
    columns = ["h3", "cell", "count", "bin", "pattern"] if own["z"].isna().all() else \
        ["h3", "cell", "count", "z", "bin", "pattern"]
    return own.sort_values(["bin", "count"], ascending=False)[columns].reset_index(drop=True)


def _named(user: User, run_id: int, code: str, hot: pd.DataFrame, township: str) -> pd.DataFrame:
    """The hot cells with where they are (their communities) and what (their top categories);
    the cell's id stays as a detail, last."""
    places = cell_places(hot["h3"].to_numpy(), data.communities(), within_m=detect_rules().hotspots.place_within_m)
    named = [township if p is None else (_("near {place}").format(place=p.names[0]) if p.near
                                         else _(", ").join(p.names)) for p in places]
    tops = data.hotspot_categories(user, run_id, tuple(int(c) for c in hot["h3"]), code)
    categories_text = [_(", ").join(category_name(c) for c in tops.get(int(cell), [])) for cell in hot["h3"]]
    labelled = [f"{place} · {what}" if what else place for place, what in zip(named, categories_text, strict=True)]
    return hot.assign(place=named, top_categories=categories_text, label=labelled)[
        ["place", "top_categories", *[c for c in hot.columns if c != "cell"], "cell", "label"]]


def _open_project(user, code: str, hot: pd.DataFrame, selection) -> None:
    """A form that opens a proactive project (主动治理) on one of the township's hot spots."""
    cats = categories()
    top = data.category_volumes(user, selection, code)["category"].head(3).tolist()
    with st.expander(_("🛠️ Open a proactive project (主动治理) on a hot spot"), expanded=False), \
            st.form("open_project", clear_on_submit=True):
        labels = dict(zip(hot["cell"], hot["label"], strict=True))
        cell = st.selectbox(_("Hot spot"), hot["cell"], key="project_cell", format_func=labels.get)
        wanted = st.multiselect(_("Categories"), sorted(cats), default=top, key="project_categories",
                                format_func=category_name)
        lead = st.selectbox(_("Lead department"), sorted(departments()), key="project_lead",
                            format_func=department_name)
        title = st.text_input(_("Title"), value=_("Proactive work on a hot spot"), max_chars=200,
                              key="project_title")
        today = data.today()
        ends = st.date_input(_("Ends on"), value=today + timedelta(days=90), min_value=today + timedelta(days=1),
                             key="project_ends", format="YYYY-MM-DD")
        target = st.number_input(_("Target: fewer complaints by (%)"), 1, 100, 30, key="project_target")
        if st.form_submit_button(_("Open the project"), type="primary", key="open_project_submit"):
            spec = ProjectSpec(kind="proactive", title=title, lead_department=lead, categories=wanted,
                               starts_on=today, ends_on=ends, cells=[int(cell, 16)],
                               targets={"reduction_pct": float(target)},
                               tasks=[{"title": _("Inspect the hot spot on site"), "owner": user.username,
                                       "due_on": today + timedelta(days=7)}])
            try:
                project_id = open_proactive_project(data.engine(), user, code, spec, now=data.now())
            except WhistleError as exc:
                messages.error(exc)
            else:
                st.success(_("Project {id} is open; it is listed under Projects.").format(id=project_id))
