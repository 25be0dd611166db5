"""My township, for street offices: its hot spots, trend, place in the ranking and complaints."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import streamlit as st

from geo.act.categories import categories, departments
from geo.act.governance import RATES, composite_text, rate_text
from geo.act.projects import ProjectSpec
from geo.act.users import User
from geo.errors import WhistleError
from geo.show.dashboard_db import open_proactive_project
from geo.show.text import md_escape
from layers.base import frame_bounds
from layers.cells import emerging_layer, emerging_legend, gi_layer, gi_legend, heat_layer, heat_legend
from layers.governance import LABEL_NAMES
from layers.jurisdictions import district_layer
from views import data, filters, maps, messages
from views.overview import RATE_NAMES, key_figures, trend
from views.session import require_user
from views.tables import table as show_table

HOT = ("new hot spot", "consecutive hot spot", "intensifying hot spot", "persistent hot spot")


def render() -> None:
    """The street office's page; city-wide users pick the township."""
    user = require_user()
    towns = data.jurisdictions("township")
    names = dict(zip(towns["code"], towns["name"], strict=True))
    if user.city_wide:
        code = st.sidebar.selectbox("Township", sorted(names, key=lambda c: (names[c], c)), key="township_code",
                                    format_func=lambda c: f"{names[c]} ({c})")
    elif len(user.townships) > 1:
        # An office whose township was split answers for each piece.
        code = st.sidebar.selectbox("Township", list(user.townships), key="township_code",
                                    format_func=lambda c: f"{names.get(c, c)} ({c})")
    else:
        code = user.township_code
    st.title(f"{'My township' if not user.city_wide else 'Township'}: {md_escape(names.get(code, code))}")
    days = data.days(user)
    if days is None or code not in names:
        st.warning("No complaints are stored yet, or the township's boundary is not loaded.")
        return
    selection, resolution = filters.selection(days, key="township", resolution=9)
    figures = st.container()  # filled after the map, which goes to the browser first (as on the overview)

    outline = towns[towns["code"] == code]
    cells = data.cell_volumes(user, selection, resolution, code, None)
    gi_run, emerging_run = data.latest_run(user, "gi"), data.latest_run(user, "emerging")
    gi = data.hotspot_cells(user, gi_run["id"], code) if gi_run else pd.DataFrame()
    emerging = data.hotspot_cells(user, emerging_run["id"], code) if emerging_run else pd.DataFrame()
    fmap = maps.new_map(frame_bounds(outline))
    if len(cells):
        heat_layer(cells, name="Complaints of the township").add_to(fmap)
        heat_legend(cells, resolution).add_to(fmap)
    if len(gi):
        gi_layer(gi[gi["bin"] != 0]).add_to(fmap)
        gi_legend().add_to(fmap)
    if len(emerging):
        emerging_layer(emerging, show=False).add_to(fmap)
        emerging_legend(list(emerging["pattern"].unique())).add_to(fmap)
    district_layer(outline, name="Township boundary").add_to(fmap)
    maps.show(fmap, key=f"township_map_{code}", height=560)
    with figures:
        key_figures(user, selection, code)
    st.caption("Hot spots inside the township are solid, the ring of cells around it dashed and faint; "
               "every count is of the township's own complaints (a cell on the line holds its neighbour's too).")

    left, right = st.columns(2)
    with left:
        trend(user, selection, code)
    with right:
        _place_in_ranking(user, code)
    hot = _hotspots(gi, emerging)
    st.subheader("Hot spots in the township")
    if hot.empty:
        st.caption("No significant hot spot in the township in the latest run.")
    else:
        show_table(hot)
        _open_project(user, code, hot, selection)
    st.subheader("Complaints")
    complaints = data.township_complaints(user, code, selection)
    st.caption(f"The newest {len(complaints):,} of the period; callers' phones are masked.")
    show_table(complaints.drop(columns=["lon", "lat"]))


def _place_in_ranking(user: User, code: str) -> None:
    ranked = data.ranking(user)
    st.subheader("Place in the ranking")
    row = ranked[ranked["township_code"] == code]
    if row.empty:
        st.caption("Not classified yet.")
        return
    row = row.iloc[0]
    month = pd.Timestamp(row["month"]).strftime("%B %Y")
    rank = f"unranked ({composite_text(row)})" if pd.isna(row["composite_rank"]) else \
        f"{int(row['composite_rank'])} of {int(ranked['composite_rank'].notna().sum())}"
    st.metric(f"Composite rank, {month}", rank)
    st.markdown(f"**Class:** {LABEL_NAMES.get(row['label'], row['label'])} · **volume rank** "
                f"{int(row['volume_rank'])} of {len(ranked)}")
    show_table(pd.DataFrame({"rate": [RATE_NAMES[r] for r in RATES],
                             "value": [rate_text(row[r], row.get(base)) for r, (_n, base) in RATES.items()]}))


def _hotspots(gi: pd.DataFrame, emerging: pd.DataFrame) -> pd.DataFrame:
    """The township's own hot cells: Gi* hot bins, with their emerging pattern."""
    if gi.empty:
        return pd.DataFrame()
    own = gi[gi["inside"] & (gi["bin"] > 0)][["h3", "count", "z", "bin"]]
    own = own.merge(emerging[["h3", "pattern"]], on="h3", how="left") if len(emerging) else own.assign(pattern=None)
    own = own.assign(cell=[format(int(c), "x") for c in own["h3"]], z=own["z"].round(2))
    # The counts are the township's own complaints; z only for a city-wide user (see hotspot_cells).
    columns = ["cell", "count", "bin", "pattern"] if own["z"].isna().all() else ["cell", "count", "z", "bin", "pattern"]
    return own.sort_values(["bin", "count"], ascending=False)[columns].reset_index(drop=True)


def _open_project(user, code: str, hot: pd.DataFrame, selection) -> None:
    """A form that opens a proactive project (主动治理) on one of the township's hot spots."""
    cats = categories()
    top = data.category_volumes(user, selection, code)["category"].head(3).tolist()
    with st.expander("🛠️ Open a proactive project on a hot spot", expanded=False), \
            st.form("open_project", clear_on_submit=True):
        cell = st.selectbox("Hot spot (H3 cell)", hot["cell"], key="project_cell")
        wanted = st.multiselect("Categories", sorted(cats), default=top, key="project_categories",
                                format_func=lambda c: cats[c].name_en)
        depts = departments()
        lead = st.selectbox("Lead department", sorted(depts), key="project_lead",
                            format_func=lambda d: f"{depts[d][1]} ({depts[d][0]})")
        title = st.text_input("Title", value="Proactive work on a hot spot", max_chars=200, key="project_title")
        today = data.today()
        ends = st.date_input("Ends on", value=today + timedelta(days=90), min_value=today + timedelta(days=1),
                             key="project_ends")
        target = st.number_input("Target: fewer complaints by (%)", 1, 100, 30, key="project_target")
        if st.form_submit_button("Open the project", type="primary"):
            spec = ProjectSpec(kind="proactive", title=title, lead_department=lead, categories=wanted,
                               starts_on=today, ends_on=ends, cells=[int(cell, 16)],
                               targets={"reduction_pct": float(target)},
                               tasks=[{"title": "Inspect the hot spot on site", "owner": user.username,
                                       "due_on": today + timedelta(days=7)}])
            try:
                project_id = open_proactive_project(data.engine(), user, code, spec, now=data.now())
            except WhistleError as exc:
                messages.error(exc)
            else:
                st.success(f"Project {project_id} is open; it is listed under Projects.")
